"""``prefkit evaluate-forward FILE --time COL --train-until VALUE``: fit on the past, score after.

Registered on the main app as ``app.command("evaluate-forward")(guard(forward_command))``.
The predictions come from :func:`prefkit.choice.forward.forward_predictions`; the metrics
(log-loss, Brier, accuracy with ties excluded, a/b-symmetric ECE and the reliability bins) from
:mod:`prefkit.evaluate`.  Bad input: one ``error:`` line, exit status 2.
"""

from __future__ import annotations

import json
import math
import sys
from enum import Enum
from typing import Annotated, Any

import typer

from prefkit.cli.options import DataFileArg, FormatOpt, JsonOpt, LabelMapOpt, MapOpt, TiesOpt
from prefkit.errors import DataError


class ForwardModel(str, Enum):
    """Models ``evaluate-forward`` can score."""

    bt = "bt"
    thurstone = "thurstone"
    davidson = "davidson"
    rao_kupper = "rao-kupper"
    elo = "elo"


def _finite(value: Any) -> Any:
    """NaN (a metric undefined on these records) → None, so the JSON stays valid."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def forward_command(
    file: DataFileArg,
    time: Annotated[
        str, typer.Option("--time", metavar="COLUMN", help="Column with the time (number/date).")
    ],
    train_until: Annotated[
        str,
        typer.Option("--train-until", metavar="VALUE",
                     help="Fit on the records with time <= VALUE; score the later ones."),
    ],
    model: Annotated[
        list[ForwardModel] | None,
        typer.Option("--model", help="Model to score; repeat to compare (default: bt and elo)."),
    ] = None,
    format: FormatOpt = "auto",
    train_from: Annotated[
        str | None,
        typer.Option("--train-from", metavar="VALUE", help="Ignore records before VALUE."),
    ] = None,
    ties: TiesOpt = None,
    k: Annotated[
        float | None,
        typer.Option("--k", metavar="FLOAT",
                     help="Elo's K (default 4 as LMArena; sports: 20-32)."),
    ] = None,
    home: Annotated[
        str | None,
        typer.Option("--home", metavar="COLUMN",
                     help="Column: +1 first at home, 0 neutral, -1 away."),
    ] = None,
    prior_var: Annotated[
        float | None,
        typer.Option("--prior-var", metavar="FLOAT", help="N(0, v) prior on batch ratings."),
    ] = None,
    bins: Annotated[int, typer.Option("--bins", metavar="INT", help="Calibration bins.")] = 10,
    json_out: JsonOpt = False,
    mapping: MapOpt = None,
    label_map: LabelMapOpt = None,
) -> None:
    """Fit each model on the records up to --train-until and score its predictions of the rest.

    Example: prefkit evaluate-forward nfl.csv --time date --train-until 2015-03-01 --k 20 --json
    """
    from prefkit.choice.forward import forward_predictions
    from prefkit.cli._common import load
    from prefkit.evaluate import pairwise_metrics, reliability_diagram

    try:
        if bins < 1:
            raise DataError("--bins must be ≥ 1")
        names = [m.value for m in model] if model else ["bt", "elo"]
        dataset = load(file, format, mapping=mapping, label_map=label_map)
        results: dict[str, Any] = {}
        n_train = n_test = 0
        unseen: list[str] = []
        for name in names:
            fp = forward_predictions(
                dataset, time_column=time, train_until=train_until, model=name,
                ties=None if ties is None else ties.value,
                elo_k=k, prior_var=prior_var, train_from=train_from, home=home,
            )
            metrics = pairwise_metrics(fp.outcome, fp.proba, sample_weight=fp.weight,
                                       n_bins=bins)
            diagram = reliability_diagram(fp.outcome, fp.proba, sample_weight=fp.weight,
                                          n_bins=bins)
            metrics = {key: _finite(v) for key, v in metrics.items()}
            metrics["calibration"] = {
                "symmetric": True,
                "bin_edges": [float(x) for x in diagram.edges],
                "mean_predicted": [_finite(float(x)) for x in diagram.mean_predicted],
                "observed": [_finite(float(x)) for x in diagram.observed],
                "counts": [float(x) for x in diagram.counts],
            }
            results[fp.model] = metrics
            n_train, n_test, unseen = fp.n_train, len(fp.proba), fp.unseen_items
    except DataError as err:
        raise err.with_context(source=str(file)) from None
    except ValueError as err:
        raise DataError(str(err), source=str(file)) from None
    doc = {
        "time_column": time,
        "train_until": train_until,
        "train_from": train_from,
        "n_train": n_train,
        "n_test": n_test,
        "unseen_items": unseen[:50],
        "models": results,
    }
    if json_out:
        sys.stdout.write(json.dumps(doc, indent=2, allow_nan=False) + "\n")
        return
    lines = [
        f"fit on {n_train} records up to {train_until}, scored on the next {n_test}"
        + (f" ({len(unseen)} items first seen in the future)" if unseen else ""),
        "",
        "| model | log-loss | Brier | accuracy | ECE (symmetric) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, m in results.items():
        cells = [m["log_loss"], m["brier"], m["accuracy"], m["ece"]]
        lines.append(f"| {name} | " + " | ".join("—" if c is None else f"{c:.4f}" for c in cells)
                     + " |")
    sys.stdout.write("\n".join(lines) + "\n")
