"""``prefkit demo`` — the main job of ``make run``: the whole path on the built-in simulator.

1. simulate arena battles among items with known strengths (Davidson model, ties included);
2. write them as canonical JSON lines and read them back with format sniffing;
3. split by record, fit a leaderboard (Bradley–Terry with Davidson ties, bootstrap intervals)
   on the training part;
4. evaluate held-out predictions (accuracy, log-loss, ECE) and compare the fitted ratings with the
   truth (Kendall τ, interval coverage).
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from prefkit.cli.options import SeedOpt, json_flag


def run_demo(
    n_items: int = 30,
    n_comparisons: int = 200_000,
    bootstrap: int = 200,
    seed: int = 0,
    workdir: str | Path | None = None,
) -> dict[str, Any]:
    """Run the demo and return its numbers (see the module docstring)."""
    import numpy as np

    from prefkit.choice import leaderboard
    from prefkit.data import read
    from prefkit.data.simulate import simulate_items
    from prefkit.evaluate import evaluate, kendall_tau

    start = time.perf_counter()
    sim = simulate_items(
        n_items=n_items, n_comparisons=n_comparisons, model="davidson", tie_param=0.5, seed=seed
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(workdir or tmp) / "battles.jsonl"
        sim.dataset.write(path)
        data = read(path)
    train, test = data.split(by="random", test_size=0.2, seed=seed)
    board = leaderboard(train, model="bt", ties="model", bootstrap=bootstrap, seed=seed)
    metrics = evaluate(board.estimator, test)
    truth = dict(zip(sim.truth["items"], np.asarray(sim.truth["log_strength"]), strict=True))
    fitted = {r["name"]: r for r in board.rows}
    names = sorted(truth)
    true = np.array([truth[n] for n in names])
    rating = np.array([fitted[n]["rating"] for n in names])
    shift = true.mean() - rating.mean()  # both scales are identified only up to a shift
    low = np.array([fitted[n]["ci_low"] for n in names]) + shift
    high = np.array([fitted[n]["ci_high"] for n in names]) + shift
    return {
        "records": len(data),
        "format": data.metadata.get("format"),
        "describe": data.describe(),
        "leaderboard": board,
        "test": {k: metrics[k] for k in ("accuracy", "log_loss", "brier", "ece", "n")},
        "kendall_tau_vs_truth": float(kendall_tau(rating, true)),
        "max_abs_error": float(np.max(np.abs(rating + shift - true))),
        "interval_coverage": float(np.mean((low <= true) & (true <= high))),
        "seconds": time.perf_counter() - start,
    }


def demo_command(
    n_items: Annotated[
        int, typer.Option("--items", metavar="INT", min=2, help="Number of simulated items.")
    ] = 30,
    n_comparisons: Annotated[
        int, typer.Option("--n", metavar="INT", min=1, help="Number of simulated battles.")
    ] = 200_000,
    bootstrap: Annotated[
        int,
        typer.Option(
            "--bootstrap", metavar="INT", min=0, help="Bootstrap rounds for the intervals."
        ),
    ] = 200,
    seed: SeedOpt = 0,
    as_json: Annotated[bool, json_flag("Print the numbers as JSON.")] = False,
) -> None:
    """Simulate battles, fit a leaderboard with intervals, and check it against the truth.

    Example: prefkit demo --n 20000 --bootstrap 50
    """
    from rich.console import Console
    from rich.table import Table

    result = run_demo(n_items, n_comparisons, bootstrap, seed)
    board = result.pop("leaderboard")
    if as_json:
        typer.echo(json.dumps({**result, "leaderboard": board.to_dict()}))
        return
    console = Console()
    info = result["describe"]
    console.print(
        f"[bold]prefkit demo[/bold]: {info['records']:,} simulated battles among {info['items']} "
        f"items ({info['ties']:,} ties), read back as format '{result['format']}'"
    )
    table = Table(title=f"Leaderboard ({board.model}, {bootstrap} bootstrap rounds), top 10")
    for col in ("rank", "item", "rating", "95% interval"):
        table.add_column(col, justify="right" if col != "item" else "left")
    for row in board.rows[:10]:
        table.add_row(
            str(row["rank"]),
            row["name"],
            f"{row['rating']:.3f}",
            f"[{row['ci_low']:.3f}, {row['ci_high']:.3f}]",
        )
    console.print(table)
    t = result["test"]
    console.print(
        f"held-out ({t['n']:,} battles): accuracy {t['accuracy']:.3f}, log-loss "
        f"{t['log_loss']:.4f}, ECE {t['ece']:.4f}"
    )
    console.print(
        f"against the truth: Kendall τ {result['kendall_tau_vs_truth']:.3f}, max |error| "
        f"{result['max_abs_error']:.3f}, 95% intervals cover {result['interval_coverage']:.0%} "
        f"of true strengths  ({result['seconds']:.1f} s)"
    )
