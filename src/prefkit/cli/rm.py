"""``prefkit rm``: train, evaluate and apply reward models on preference files.

    prefkit rm train pairs.jsonl --out rm/ [--head linear|mlp|ensemble|multi|gpm] [--finetune]
    prefkit rm eval rm/ test.jsonl --json    # {"accuracy", "log_loss", "ece", "ece_symmetric", "n"}
    prefkit rm score rm/ test.jsonl --out scores.jsonl
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from prefkit.cli._common import about, load
from prefkit.cli._eval import DEFAULT_MIN_GROUP_SIZE, ByOption, MinGroupSizeOption
from prefkit.cli.options import (
    ForceOpt,
    FormatOpt,
    JsonOpt,
    LabelMapOpt,
    MapOpt,
    SeedOpt,
    TieModelOpt,
    out_dir,
    out_file,
)
from prefkit.encode.relevance import DEFAULT_INPUTS
from prefkit.errors import DataError

rm_app = typer.Typer(help="Reward models: train, evaluate and score.", no_args_is_help=True)

FormatOption = FormatOpt  # the shared --format/-f (prefkit.cli.options)


class Head(str, Enum):
    """Reward heads on frozen embeddings (docs/reward.md)."""

    linear = "linear"
    mlp = "mlp"
    ensemble = "ensemble"
    multi = "multi"
    gpm = "gpm"


class Aggregation(str, Enum):
    """How an ensemble combines its members' rewards."""

    mean = "mean"
    min = "min"
    uwo = "uwo"


class Inputs(str, Enum):
    """Candidate features (prefkit.encode.relevance.INPUTS)."""

    packed_cosine = "packed+cosine"
    packed = "packed"
    relevance = "relevance"
    packed_relevance = "packed+relevance"


HEAD_NAMES = tuple(h.value for h in Head)


def _pairs(
    path: Path, fmt: str, *, keep_ratings: bool = False, mapping: Any = None, label_map: Any = None
) -> Any:
    ds = load(path, fmt, mapping=mapping, label_map=label_map)
    with about(path):
        if ds.kind == "pairwise" or (keep_ratings and ds.kind == "rating"):
            return ds
        return ds.to_pairs()


def _encoder(path: Path | None, backend: str = "torch") -> Any:
    from prefkit.encode.onnx_encoder import cached_encoder

    return cached_encoder(path, backend)


class EncoderBackend(str, Enum):
    """Where the sentence encoder runs (docs/scale.md)."""

    torch = "torch"
    onnx = "onnx"


EncoderBackendOpt = Annotated[EncoderBackend, typer.Option(
    "--encoder-backend", help="torch: sentence-transformers; onnx: the same model on ONNX "
    "Runtime with int8 weights (faster on CPU, cosine ≥ 0.99; pip install 'prefkit[onnx]').")]


def _fit_summary(model: Any, validation: Any) -> list[str]:
    """Lines of the fit summary: training (and held-out) log-loss / accuracy, chosen decay."""
    report = dict(getattr(model, "fit_report_", None) or {})
    lines = []
    parts = {"training": report.get("train")}
    if validation is not None:
        parts["validation"] = model.evaluate_fit(validation)
    for name, m in parts.items():
        if m:
            lines.append(f"  {name:10s} log-loss {m['log_loss']:.4f}  accuracy "
                         f"{m['accuracy']:.3f}  ({m['n']:,} records)")
    search = report.get("weight_decay_search")
    if search:
        lines.append(f"  weight decay {search['chosen']:g} (auto: {search['method']}, held-out "
                     "log-loss " + ", ".join(f"{g:g}: {v:.4f}" for g, v in
                                            zip(search["grid"], search["held_out_log_loss"],
                                                strict=True)) + ")")
    elif "weight_decay" in report:
        lines.append(f"  weight decay {report['weight_decay']:g}")
    return lines


@rm_app.command("train")
def train(
    data: Annotated[Path, typer.Argument(help="Preference file (pairs with texts).")],
    out: Annotated[Path, out_dir("Directory for the trained model.")],
    head: Annotated[Head, typer.Option(help="Reward head on frozen embeddings.")] = Head.linear,
    inputs: Annotated[
        Inputs, typer.Option(help="Candidate features (docs/reward.md).")
    ] = Inputs(DEFAULT_INPUTS),
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
        typer.Option(min=0.0, help="L2 weight decay (default: heads choose it by 3-fold CV by "
                     "prompt over 1e-4…1e-1, reported in the summary; fine-tune 0)."),
    ] = None,
    validation: Annotated[
        Path | None, typer.Option(help="Held-out preference file: its log-loss/accuracy are "
                                  "printed in the fit summary.")
    ] = None,
    force: ForceOpt = False,
    members: Annotated[int, typer.Option(metavar="INT", help="Ensemble size.")] = 5,
    aggregation: Annotated[
        Aggregation, typer.Option(help="Ensemble: how members' rewards combine.")
    ] = Aggregation.mean,
    tie_model: TieModelOpt = False,
    margin: Annotated[bool, typer.Option("--margin", help="Use the data's margins.")] = False,
    label_smoothing: Annotated[float, typer.Option(help="Label smoothing ε.")] = 0.0,
    center: Annotated[float, typer.Option(help="Reward-centring coefficient.")] = 0.0,
    k: Annotated[int, typer.Option(help="GPM: half the embedding size.")] = 4,
    max_length: Annotated[int, typer.Option(help="Fine-tune: tokens per text.")] = 256,
    lora: Annotated[bool, typer.Option("--lora", help="Fine-tune LoRA adapters.")] = False,
    seed: SeedOpt = 0,
    debias: Annotated[
        str | None,
        typer.Option(help="multi: decorrelate objectives from this verbosity attribute "
                     "('length' = response length, computed when the data lack it)."),
    ] = None,
    fmt: FormatOption = "auto",
    mapping: MapOpt = None,
    label_map: LabelMapOpt = None,
    encoder_backend: EncoderBackendOpt = EncoderBackend.torch,
) -> None:
    """Train a reward model on DATA and save it to --out.

    Example: prefkit rm train pairs.jsonl --out rm/ --head linear --validation dev.jsonl
    """
    from prefkit.core.atomic import check_output_dir
    from prefkit.core.persist import save
    from prefkit.reward.model import require_texts

    head, aggregation = Head(head).value, Aggregation(aggregation).value  # the plain names
    inputs = Inputs(inputs).value
    check_output_dir(out, overwrite=force)  # a bad --out fails before any training
    if finetune:
        from prefkit.reward import TransformerRewardModel

        ds = _pairs(data, fmt, mapping=mapping, label_map=label_map)
        with about(data):
            require_texts(ds)
            if margin and "margin" not in ds.columns:
                raise DataError("--margin needs a 'margin' column; the records have none",
                                field="margin")
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

        ds = _pairs(data, fmt, keep_ratings=head == "multi", mapping=mapping,
                    label_map=label_map)
        with about(data):
            require_texts(ds)
        if margin and ds.kind == "pairwise" and "margin" not in ds.columns:
            raise DataError("--margin needs a 'margin' column; the records have none",
                            source=str(data), field="margin")
        opts: dict[str, Any] = {"epochs": epochs or 300, "seed": seed, "batch_size": batch_size}
        if lr:
            opts["lr"] = lr
        if weight_decay is not None:
            opts["weight_decay"] = weight_decay
        if head in ("linear", "mlp", "ensemble"):
            opts.update(ties=tie_model, margin=margin, label_smoothing=label_smoothing,
                        center=center)
        if head == "ensemble":
            opts.update(members=members, aggregation=aggregation)
        if head == "gpm":
            opts.update(k=k, label_smoothing=label_smoothing)
        if debias is not None:
            if head != "multi":
                raise DataError("--debias applies to the multi head", field="--debias")
            opts.update(debias=debias)
        with about(data):
            model = RewardModel(_encoder(encoder, EncoderBackend(encoder_backend).value), head,
                                inputs=inputs, **opts).fit(ds)
        what = f"{head} head"
    held_out = (
        None if validation is None
        else _pairs(validation, fmt, mapping=mapping, label_map=label_map)
    )
    lines: list[str] = []
    if not finetune:
        with about(validation or data):
            lines = _fit_summary(model, held_out)
    if finetune and getattr(model, "loss_curve_", None):
        lines.append(f"  training   loss {model.loss_curve_[-1]:.4f} (last epoch, "
                     f"first {model.loss_curve_[0]:.4f})")
    if finetune and held_out is not None:
        from prefkit.reward.model import fit_metrics

        with about(validation):
            p = model.predict_proba(held_out)
            m = fit_metrics(p, held_out.outcomes(), held_out.weights())
            lines.append(f"  validation log-loss {m['log_loss']:.4f}  accuracy "
                         f"{m['accuracy']:.3f}  ({m['n']:,} records)")
    save(model, out, overwrite=force)
    typer.echo(f"trained {what} on {len(ds):,} records -> {out}")
    for line in lines:
        typer.echo(line)


def _load(model_dir: Path, encoder: Path | None = None) -> Any:
    """Any saved model directory (:func:`prefkit.load`); ``encoder``: an encoder the user passed
    explicitly (a saved model never follows a path outside its own directory)."""
    from prefkit.core.persist import load

    kwargs = {"encoder": _encoder(encoder)} if encoder is not None else {}
    return load(model_dir, **kwargs)


@rm_app.command("eval")
def evaluate_command(
    model_dir: Annotated[Path, typer.Argument(help="Directory written by 'prefkit rm train'.")],
    data: Annotated[Path, typer.Argument(help="Preference file to evaluate on.")],
    as_json: JsonOpt = False,
    rewardbench: Annotated[
        bool, typer.Option("--rewardbench", help="RewardBench-v1 sections by --subset column.")
    ] = False,
    subset: Annotated[str, typer.Option(help="Subset column for --rewardbench.")] = "subset",
    by: ByOption = None,
    min_group_size: MinGroupSizeOption = DEFAULT_MIN_GROUP_SIZE,
    plot: Annotated[Path | None, typer.Option(
        "--plot", help="Write a reliability diagram (PNG/PDF/SVG by suffix; a/b-symmetric, "
        "like the ECE).")] = None,
    fmt: FormatOption = "auto",
    mapping: MapOpt = None,
    label_map: LabelMapOpt = None,
) -> None:
    """Accuracy, log-loss and ECE (a/b-symmetric) of a saved reward model on DATA.

    Example: prefkit rm eval rm/ test.jsonl --by subset --json
    """
    from prefkit.cli._eval import echo_report, group_column, model_report

    model = _load(model_dir)
    ds = _pairs(data, fmt, mapping=mapping, label_map=label_map)
    if by is not None:
        group_column(ds, by, str(data))
    with about(data):
        if rewardbench:
            from prefkit.reward import rewardbench_v1

            result: dict[str, Any] = rewardbench_v1(model, ds, subset_column=subset)
        else:
            result = model_report(model, ds, by=by, min_group_size=min_group_size,
                                  source=str(data))
        if plot is not None:
            from prefkit.evaluate import as_p_a, predict_outcome_proba, reliability_diagram

            diagram = reliability_diagram(ds.outcomes(), as_p_a(predict_outcome_proba(model, ds)),
                                          sample_weight=ds.weights())  # the ECE reported above
            diagram.plot(plot, title=model_dir.name)
    echo_report(result, as_json=as_json, by=by)


class Engine(str, Enum):
    """Where a batch job runs."""

    local = "local"
    ray = "ray"


EngineOpt = Annotated[Engine, typer.Option(
    "--engine", help="local: this process; ray: a Ray cluster (RAY_ADDRESS, or a local one), "
    "one model per actor. Same output, same order.")]
ShardRowsOpt = Annotated[int, typer.Option(
    "--shard-rows", min=1, help="Records per shard: the unit of work and of resuming.")]
WorkersOpt = Annotated[int | None, typer.Option(
    "--workers", min=1, help="Ray actors (default: one per CPU of the cluster).")]
GpusOpt = Annotated[float, typer.Option(
    "--gpus-per-worker", metavar="FLOAT", min=0.0,
    help="GPUs each Ray actor reserves and runs its model on (0.5: two actors share a GPU; "
    "--engine ray only).")]


@rm_app.command("score")
def score_command(
    model_dir: Annotated[Path, typer.Argument(help="Directory written by 'prefkit rm train'.")],
    data: Annotated[Path, typer.Argument(help="Preference file to score.")],
    out: Annotated[Path, out_file("JSON-lines file of per-record rewards.")],
    encoder: Annotated[Path | None, typer.Option(
        help="Encoder directory to use (overrides the one saved with the model).")] = None,
    engine: EngineOpt = Engine.local,
    shard_rows: ShardRowsOpt = 4096,
    workers: WorkersOpt = None,
    fmt: FormatOption = "auto",
    mapping: MapOpt = None,
    label_map: LabelMapOpt = None,
    encoder_backend: EncoderBackendOpt = EncoderBackend.torch,
    gpus_per_worker: GpusOpt = 0.0,
) -> None:
    """Write r_a, r_b (scalar models) and P(a ≻ b) for every record of DATA.

    The job runs in shards; finished shards are kept in OUT.parts/ until OUT is whole, so a
    killed run resumes where it stopped.

    Example: prefkit rm score rm/ test.jsonl --out scores.jsonl --engine ray
    """
    from prefkit.core.progress import progress_bar
    from prefkit.jobs.engines import check_gpu_share
    from prefkit.jobs.score import run_score_job

    check_gpu_share(engine.value, gpus_per_worker)  # before loading anything
    from prefkit.jobs.parts import check_job_output

    check_job_output(out, (data, model_dir, encoder))
    backend = EncoderBackend(encoder_backend).value
    model = (_load(model_dir, encoder) if engine is Engine.local and backend == "torch"
             else None)
    ds = _pairs(data, fmt, mapping=mapping, label_map=label_map)
    with about(data), progress_bar(True, len(ds), "scoring", unit="records") as advance:
        summary = run_score_job(
            model_dir, ds, out, engine=engine.value, encoder_dir=encoder, shard_rows=shard_rows,
            workers=workers, model=model, on_shard=lambda rows, _left: advance(rows),
            encoder_backend=backend, gpus_per_worker=gpus_per_worker,
        )
    resumed = f" ({summary['resumed']} shard(s) resumed)" if summary["resumed"] else ""
    typer.echo(f"scored {len(ds):,} records -> {out}{resumed}")


@rm_app.command("encode")
def encode_command(
    data: Annotated[Path, typer.Argument(help="Pairwise file whose responses to embed.")],
    out: Annotated[Path, out_file("A .npy array (records, 2, dim): the a and b embeddings.")],
    encoder: Annotated[Path | None, typer.Option(
        help="Encoder directory (default: the bundled MiniLM).")] = None,
    engine: EngineOpt = Engine.local,
    shard_rows: ShardRowsOpt = 1024,
    workers: WorkersOpt = None,
    fmt: FormatOption = "auto",
    mapping: MapOpt = None,
    label_map: LabelMapOpt = None,
    encoder_backend: EncoderBackendOpt = EncoderBackend.torch,
    gpus_per_worker: GpusOpt = 0.0,
) -> None:
    """Embed every response of DATA (packed with its prompt) into a .npy file and the cache.

    The vectors also fill the shared embedding cache, so a later 'rm train' or 'rm score' on
    the same texts encodes nothing. Killed runs resume from OUT.parts/.

    Example: prefkit rm encode pairs.jsonl --out pairs.npy --engine ray --workers 4
    """
    from prefkit.core.progress import progress_bar
    from prefkit.jobs.encode import run_encode_job
    from prefkit.jobs.engines import check_gpu_share

    check_gpu_share(engine.value, gpus_per_worker)  # before reading anything
    if out.suffix != ".npy":
        raise DataError(f"{out}: the output is a numpy array; name it *.npy")
    from prefkit.jobs.parts import check_job_output

    check_job_output(out, (data, encoder))
    ds = _pairs(data, fmt, mapping=mapping, label_map=label_map)
    with about(data), progress_bar(True, len(ds), "encoding", unit="records") as advance:
        summary = run_encode_job(
            ds, out, engine=engine.value, encoder_dir=encoder, shard_rows=shard_rows,
            workers=workers, on_shard=lambda rows, _left: advance(rows),
            encoder_backend=EncoderBackend(encoder_backend).value,
            gpus_per_worker=gpus_per_worker,
        )
    resumed = f" ({summary['resumed']} shard(s) resumed)" if summary["resumed"] else ""
    typer.echo(f"encoded {len(ds):,} records -> {out}{resumed}")
