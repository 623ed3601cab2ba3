"""``prefkit align dpa`` and ``prefkit align rps``: directional preference alignment (RSF with
the direction in the system prompt) and robust preference selection (registered on the ``align``
group by :func:`register`).  Library: :mod:`prefkit.align.dpa`, :mod:`prefkit.plural.rps`.

The objectives come from a saved multi-objective reward model (``prefkit rm train`` with the
``multi`` head): ``--objectives`` names its attributes in the order the direction uses.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from prefkit.cli._common import echo_json, guard
from prefkit.cli.options import ForceOpt, SeedOpt, json_flag, out_dir, out_file
from prefkit.errors import DataError

AngleOpt = Annotated[list[float] | None, typer.Option(
    "--angle", help="A direction as θ in degrees, v = (cos θ, sin θ) over two objectives "
    "(repeatable; write negative angles as --angle=-30).")]
DirectionOpt = Annotated[list[str] | None, typer.Option(
    "--direction", help="A direction as comma-separated weights, e.g. 0.9,-0.3 (repeatable; "
    "normalised to unit length).")]
RewardOpt = Annotated[Path, typer.Option(
    "--reward", help="Saved multi-objective reward model directory (prefkit rm train, multi "
    "head).")]
ObjectivesOpt = Annotated[str | None, typer.Option(
    "--objectives", help="Comma-separated attribute names of the reward model, in the order of "
    "the direction's weights (default: all of its attributes).")]
PromptsOpt = Annotated[Path, typer.Option(
    "--prompts", help="Prompts: JSON lines with 'prompt' (or chat 'messages'), or one prompt per "
    "text line.")]


def _directions(angles: list[float] | None, vectors: list[str] | None) -> list[list[float]]:
    from prefkit.plural.directions import direction_from_angle, unit_direction

    out = [direction_from_angle(a).tolist() for a in angles or []]
    for text in vectors or []:
        try:
            weights = [float(x) for x in text.split(",")]
        except ValueError:
            raise DataError(f"--direction {text!r}: expected comma-separated numbers",
                            field="direction") from None
        out.append(unit_direction(weights).tolist())
    if not out:
        raise DataError("give at least one --angle or --direction", field="direction")
    if len({len(v) for v in out}) != 1:
        raise DataError("all directions must have the same number of objectives",
                        field="direction")
    return out


def _rewards(reward: Path, objectives: str | None, width: int) -> tuple[Any, list[str]]:
    import prefkit
    from prefkit.align.dpa import multi_objective_rewards

    if not reward.is_dir():
        raise DataError(f"{reward}: --reward needs a saved reward model directory")
    rm = prefkit.load(reward)
    names = [n.strip() for n in objectives.split(",")] if objectives else None
    fn = multi_objective_rewards(rm, names)
    names = names or list(rm.head.params["attributes"] or [])
    if len(names) != width:
        raise DataError(f"the directions have {width} weights but the objectives are {names}; "
                        "choose them with --objectives", field="objectives")
    return fn, names


def _policy(policy: str, seed: int) -> tuple[Any, Any]:
    if policy == "tiny":
        from prefkit.align.tiny import build_tiny

        return build_tiny(seed=seed)
    from prefkit.cli.align import _load_base

    model, tokenizer, _ = _load_base(policy, Path("."), seed)
    return model, tokenizer


def dpa_command(
    policy: Annotated[str, typer.Argument(help="Local causal-LM directory, or 'tiny'.")],
    reward: RewardOpt,
    prompts: PromptsOpt,
    out: Annotated[Path, out_dir("Output directory (policy/, dpa_history.json).")],
    angle: AngleOpt = None,
    direction: DirectionOpt = None,
    objectives: ObjectivesOpt = None,
    iterations: Annotated[int, typer.Option("--iterations", help="RSF rounds.")] = 2,
    n: Annotated[int, typer.Option("--n", help="Samples per prompt and direction (K).")] = 8,
    sft_epochs: Annotated[int, typer.Option("--sft-epochs")] = 2,
    batch_size: Annotated[int, typer.Option("--batch-size")] = 16,
    lr: Annotated[float, typer.Option("--lr", help="SFT learning rate.")] = 1e-5,
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens")] = 64,
    temperature: Annotated[float, typer.Option("--temperature")] = 1.0,
    seed: SeedOpt = 0,
    force: ForceOpt = False,
    as_json: Annotated[bool, json_flag("Print the round summaries as JSON.")] = False,
) -> None:
    """Directional preference alignment: per round, sample --n responses per prompt with each
    direction in the system prompt, keep the best by vᵀr, fine-tune on the kept ones.

    Example: prefkit align dpa tiny --reward rm_multi --prompts prompts.txt --angle 45
    --angle=-30 --objectives helpfulness,verbosity --out dpa_run
    """
    from prefkit.align.dpa import DPAConfig, train_dpa
    from prefkit.align.online.prompts import read_prompts
    from prefkit.core.atomic import atomic_write_json, check_output_dir, publish_dir

    if iterations < 1 or n < 1 or sft_epochs < 1 or batch_size < 1:
        raise typer.BadParameter("--iterations, --n, --sft-epochs and --batch-size must be ≥ 1")
    dirs = _directions(angle, direction)
    check_output_dir(out, overwrite=force)
    texts = read_prompts(prompts)
    rewards, names = _rewards(reward, objectives, len(dirs[0]))
    config = DPAConfig(iterations=iterations, n_samples=n, sft_epochs=sft_epochs,
                       batch_size=batch_size, lr=lr, max_new_tokens=max_new_tokens,
                       temperature=temperature, names=tuple(names), seed=seed)
    from prefkit.cli.align import _quiet

    _quiet()
    model, tokenizer = _policy(policy, seed)
    history = train_dpa(model, tokenizer, texts, dirs, rewards, config, progress=None)

    def build(tmp: Path) -> None:
        model.save_pretrained(os.fspath(tmp / "policy"))
        tokenizer.save_pretrained(os.fspath(tmp / "policy"))
        atomic_write_json(tmp / "dpa_history.json", {
            "policy": policy, "reward": os.fspath(reward), "objectives": names,
            "directions": dirs, "config": {**config.__dict__, "names": names},
            "rounds": history})

    publish_dir(build, out, overwrite=force)
    if as_json:
        echo_json(history)
        return
    last = history[-1]
    shown = ", ".join(f"{k} {v:.3g}" for k, v in zip(names, last["kept_reward"], strict=True))
    typer.echo(f"{len(history)} DPA rounds; kept responses' mean {shown} → {out}/policy")


def rps_command(
    policy: Annotated[str, typer.Argument(help="Local causal-LM directory (e.g. OUT/policy of "
                                         "'prefkit align dpa'), or 'tiny'.")],
    reward: RewardOpt,
    prompts: PromptsOpt,
    angle: AngleOpt = None,
    direction: DirectionOpt = None,
    objectives: ObjectivesOpt = None,
    k: Annotated[int, typer.Option("--k", help="Directions in the neighbourhood.")] = 5,
    n: Annotated[int, typer.Option("--n", help="Samples per direction.")] = 2,
    max_angle: Annotated[float, typer.Option(
        "--max-angle", help="Neighbourhood half-angle Δ in degrees (0: the multi-sample "
        "baseline, all draws at v).")] = 15.0,
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens")] = 64,
    temperature: Annotated[float, typer.Option("--temperature")] = 1.0,
    seed: SeedOpt = 0,
    out: Annotated[Path | None, out_file("JSONL file (default stdout).")] = None,
) -> None:
    """Robust preference selection: draw responses at directions near v, keep the best under v
    (one JSON line per prompt and direction).

    Example: prefkit align rps dpa_run/policy --reward rm_multi --prompts prompts.txt --angle 70
    --k 5 --max-angle 15 -o picks.jsonl
    """
    import functools

    import torch

    from prefkit.align.dpa import generate_conditioned
    from prefkit.align.online.prompts import read_prompts
    from prefkit.core.atomic import atomic_write_text
    from prefkit.plural.rps import robust_preference_selection

    if k < 1 or n < 1:
        raise typer.BadParameter("--k and --n must be ≥ 1")
    dirs = _directions(angle, direction)
    texts = read_prompts(prompts)
    rewards, names = _rewards(reward, objectives, len(dirs[0]))
    from prefkit.cli.align import _quiet

    _quiet()
    model, tokenizer = _policy(policy, seed)
    torch.manual_seed(seed)
    generate = functools.partial(generate_conditioned, model, tokenizer, names=names,
                                 max_new_tokens=max_new_tokens, temperature=temperature)
    lines = []
    for v in dirs:
        for prompt in texts:
            rec = robust_preference_selection(
                prompt, v, lambda p, d, m: generate(p, d, m), rewards, k=k, n_per_direction=n,
                max_angle=max_angle, seed=seed)
            lines.append(json.dumps({"target": v, **rec}, ensure_ascii=False))
    if out is None:
        for line in lines:
            typer.echo(line)
        return
    atomic_write_text(out, "\n".join(lines) + "\n")
    typer.echo(f"wrote {len(lines)} selections → {out}")


def register(app: typer.Typer) -> None:
    """Add ``dpa`` and ``rps`` to the ``align`` group."""
    app.command("dpa")(guard(dpa_command))
    app.command("rps")(guard(rps_command))
