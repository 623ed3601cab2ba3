"""``prefkit rm``: train, evaluate and apply reward models on preference files.

    prefkit rm train pairs.jsonl --out rm/ [--head linear|mlp|ensemble|multi|gpm] [--finetune]
    prefkit rm eval rm/ test.jsonl --json          # {"accuracy", "log_loss", "ece", "n"}
    prefkit rm score rm/ test.jsonl --out scores.jsonl
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from prefkit.cli._common import about
from prefkit.data import read
from prefkit.data.io import atomic_path
from prefkit.encode.relevance import DEFAULT_INPUTS
from prefkit.errors import DataError

rm_app = typer.Typer(help="Reward models: train, evaluate and score.", no_args_is_help=True)

FormatOption = Annotated[str, typer.Option("--format", help="Input format (auto sniffs).")]
HEAD_NAMES = ("linear", "mlp", "ensemble", "multi", "gpm")


def _pairs(path: Path, fmt: str, *, keep_ratings: bool = False) -> Any:
    with about(path):
        ds = read(str(path), format=fmt)
        if ds.kind == "pairwise" or (keep_ratings and ds.kind == "rating"):
            return ds
        return ds.to_pairs()


def _encoder(path: Path | None) -> Any:
    from prefkit.encode import CachedEncoder, SentenceEncoder, default_encoder

    return default_encoder() if path is None else CachedEncoder(SentenceEncoder(path))


def _save_atomic(model: Any, out: Path) -> None:
    """Write the model into a temporary directory beside ``out``, then move it into place."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        model.save(tmp)
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


@rm_app.command("train")
def train(
    data: Annotated[Path, typer.Argument(help="Preference file (pairs with texts).")],
    out: Annotated[Path, typer.Option("--out", help="Directory for the trained model.")],
    head: Annotated[str, typer.Option(help="linear | mlp | ensemble | multi | gpm")] = "linear",
    inputs: Annotated[
        str,
        typer.Option(
            help="Candidate features: packed+cosine (default) | packed | relevance | "
            "packed+relevance."
        ),
    ] = DEFAULT_INPUTS,
    finetune: Annotated[
        bool, typer.Option("--finetune", help="Fine-tune the encoder as a sequence classifier.")
    ] = False,
    encoder: Annotated[
        Path | None, typer.Option(help="Local encoder / HF model directory (default: MiniLM).")
    ] = None,
    epochs: Annotated[
        int | None, typer.Option(help="Passes over the data (default 300 heads, 1 fine-tune).")
    ] = None,
    batch_size: Annotated[int | None, typer.Option(help="Pairs per step (default: full).")] = None,
    lr: Annotated[float | None, typer.Option(help="Learning rate.")] = None,
    weight_decay: Annotated[
        float | None,
        typer.Option(min=0.0, help="L2 weight decay (default 1e-4 heads, 0 fine-tune; 1e-3 "
                     "transfers better from a few thousand pairs, docs/reward.md)."),
    ] = None,
    members: Annotated[int, typer.Option(help="Ensemble size.")] = 5,
    aggregation: Annotated[str, typer.Option(help="Ensemble: mean | min | uwo.")] = "mean",
    ties: Annotated[bool, typer.Option("--ties", help="Davidson ties (linear/mlp/ensemble).")] = (
        False
    ),
    margin: Annotated[bool, typer.Option("--margin", help="Use the data's margins.")] = False,
    label_smoothing: Annotated[float, typer.Option(help="Label smoothing ε.")] = 0.0,
    center: Annotated[float, typer.Option(help="Reward-centring coefficient.")] = 0.0,
    k: Annotated[int, typer.Option(help="GPM: half the embedding size.")] = 4,
    max_length: Annotated[int, typer.Option(help="Fine-tune: tokens per text.")] = 256,
    lora: Annotated[bool, typer.Option("--lora", help="Fine-tune LoRA adapters.")] = False,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    debias: Annotated[
        str | None,
        typer.Option(help="multi: decorrelate objectives from this verbosity attribute "
                     "('length' = response length, computed when the data lack it)."),
    ] = None,
    fmt: FormatOption = "auto",
) -> None:
    """Train a reward model on DATA and save it to --out."""
    if finetune:
        from prefkit.reward import TransformerRewardModel

        ds = _pairs(data, fmt)
        options: dict[str, Any] = {
            "epochs": epochs or 1, "max_length": max_length, "lora": lora, "margin": margin,
            "label_smoothing": label_smoothing, "center": center, "seed": seed,
        }
        if batch_size:
            options["batch_size"] = batch_size
        if lr:
            options["lr"] = lr
        if weight_decay is not None:
            options["weight_decay"] = weight_decay
        model: Any = TransformerRewardModel(encoder, **options).fit(ds)
        what = "fine-tuned transformer"
    else:
        from prefkit.reward import RewardModel

        if head not in HEAD_NAMES:
            raise DataError(f"unknown head {head!r} (expected {', '.join(HEAD_NAMES)})",
                            field="--head")
        ds = _pairs(data, fmt, keep_ratings=head == "multi")
        opts: dict[str, Any] = {"epochs": epochs or 300, "seed": seed, "batch_size": batch_size}
        if lr:
            opts["lr"] = lr
        if weight_decay is not None:
            opts["weight_decay"] = weight_decay
        if head in ("linear", "mlp", "ensemble"):
            opts.update(ties=ties, margin=margin, label_smoothing=label_smoothing, center=center)
        if head == "ensemble":
            opts.update(members=members, aggregation=aggregation)
        if head == "gpm":
            opts.update(k=k, label_smoothing=label_smoothing)
        if debias is not None:
            if head != "multi":
                raise DataError("--debias applies to the multi head", field="--debias")
            opts.update(debias=debias)
        with about(data):
            model = RewardModel(_encoder(encoder), head, inputs=inputs, **opts).fit(ds)
        what = f"{head} head"
    _save_atomic(model, out)
    typer.echo(f"trained {what} on {len(ds):,} records -> {out}")


def _load(model_dir: Path) -> Any:
    from prefkit.reward import load_model

    return load_model(model_dir)


@rm_app.command("eval")
def evaluate_command(
    model_dir: Annotated[Path, typer.Argument(help="Directory written by 'prefkit rm train'.")],
    data: Annotated[Path, typer.Argument(help="Preference file to evaluate on.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    rewardbench: Annotated[
        bool, typer.Option("--rewardbench", help="RewardBench-v1 sections by --subset column.")
    ] = False,
    subset: Annotated[str, typer.Option(help="Subset column for --rewardbench.")] = "subset",
    by: Annotated[str | None, typer.Option(
        "--by", help="Also report the metrics per value of this column (e.g. subset).")] = None,
    plot: Annotated[Path | None, typer.Option(
        "--plot", help="Write a reliability diagram (PNG/PDF/SVG by suffix).")] = None,
    fmt: FormatOption = "auto",
) -> None:
    """Accuracy, log-loss and ECE of a saved reward model on DATA."""
    from prefkit.evaluate import evaluate

    model = _load(model_dir)
    ds = _pairs(data, fmt)
    if by is not None and not ds.has(by):
        raise DataError(f"no column {by!r} to group by", source=str(data), field="--by")
    keys = ("accuracy", "log_loss", "ece", "n")
    with about(data):
        if rewardbench:
            from prefkit.reward import rewardbench_v1

            result: dict[str, Any] = rewardbench_v1(model, ds, subset_column=subset)
        else:
            metrics = evaluate(model, ds, groups=by)
            result = {k: metrics[k] for k in keys}
            if by is not None:
                result["by"] = {str(group): {k: m[k] for k in keys}
                                for group, m in metrics["per_group"][by].items()}
        if plot is not None:
            from prefkit.evaluate import reliability_diagram

            diagram = reliability_diagram(ds.outcomes(), model.predict_proba(ds),
                                          sample_weight=ds.weights())  # the ECE reported above
            diagram.plot(plot, title=model_dir.name)
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
        return
    for key, value in result.items():
        if key == "by":
            for group, metrics in value.items():
                cells = ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                                  for k, v in metrics.items())
                typer.echo(f"  {by}={group}: {cells}")
        elif isinstance(value, float):
            typer.echo(f"{key:10s} {value:.4f}")
        else:
            typer.echo(f"{key:10s} {value}")


@rm_app.command("score")
def score_command(
    model_dir: Annotated[Path, typer.Argument(help="Directory written by 'prefkit rm train'.")],
    data: Annotated[Path, typer.Argument(help="Preference file to score.")],
    out: Annotated[Path, typer.Option("--out", help="JSON-lines file of per-record rewards.")],
    fmt: FormatOption = "auto",
) -> None:
    """Write r_a, r_b (scalar models) and P(a ≻ b) for every record of DATA."""
    import numpy as np

    model = _load(model_dir)
    ds = _pairs(data, fmt)
    with about(data):
        full = (
            model.predict_outcome_proba(ds)
            if hasattr(model, "predict_outcome_proba")
            else np.column_stack([model.predict_proba(ds), np.zeros(len(ds)), np.zeros(len(ds))])
        )
        scalar = getattr(getattr(model, "head", None), "scalar", True)
        ra, rb = model.score(ds) if scalar else (None, None)
    ties = bool(getattr(getattr(model, "head", None), "ties", False))
    with atomic_path(out) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for k in range(len(ds)):
            rec: dict[str, Any] = {"record": k, "p_a": float(full[k, 0])}
            if ties:
                rec["p_tie"] = float(full[k, 2])
            if ra is not None:
                rec.update(r_a=float(ra[k]), r_b=float(rb[k]))
            fh.write(json.dumps(rec) + "\n")
    typer.echo(f"scored {len(ds):,} records -> {out}")
