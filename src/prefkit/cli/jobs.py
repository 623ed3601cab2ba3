"""``prefkit jobs …``: batch jobs over whole files, in this process or on a Ray cluster.

* ``prefkit jobs judge PAIRS --model M --out J.jsonl [--engine ray]`` — every pair judged in
  both orders (an OpenAI-compatible endpoint, ``hf:DIR`` or ``rm:DIR``), the lines of
  ``prefkit judge pairwise`` in input order;
* ``prefkit jobs generate PROMPTS --model DIR --out G.jsonl [--engine ray]`` — ``--n``
  responses per prompt from a local causal LM, seeded per record.

``prefkit jobs score`` and ``prefkit jobs encode`` are ``prefkit rm score`` and ``prefkit rm
encode`` (the same commands, named again so that every batch job sits in one place).  All four run
in shards kept in ``OUT.parts/`` until ``OUT`` is whole (a killed run resumes) and write the
same output with ``--engine local`` and ``--engine ray`` (see :mod:`prefkit.jobs`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from prefkit.cli.options import FormatOpt, JsonOpt, LabelMapOpt, MapOpt, SeedOpt, out_file
from prefkit.cli.rm import Engine, EngineOpt, GpusOpt, WorkersOpt, encode_command, score_command

jobs_app = typer.Typer(
    help="Batch jobs (score, encode, judge, generate) over whole files, locally or on Ray.",
    no_args_is_help=True,
    add_completion=False,
)

jobs_app.command(
    "score",
    help="Score every record of DATA with a saved model: the same command as 'prefkit rm "
    "score' (r_a, r_b, P(a ≻ b) per record; shards in OUT.parts/ until OUT is whole).",
    epilog="Example: prefkit jobs score rm/ test.jsonl --out scores.jsonl --engine ray",
)(score_command)
jobs_app.command(
    "encode",
    help="Embed every response of DATA into a .npy file and the cache: the same command as "
    "'prefkit rm encode'.",
    epilog="Example: prefkit jobs encode pairs.jsonl --out pairs.npy --engine ray --workers 4",
)(encode_command)

OrdersOpt = Annotated[str, typer.Option(
    "--orders", metavar="ORDERS", help="Orders to ask: both, ab or ba.")]


def _summary_line(verb: str, summary: dict[str, int], out: Path) -> str:
    resumed = f" ({summary['resumed']} shard(s) resumed)" if summary["resumed"] else ""
    return f"{verb} {summary['records']:,} records -> {out}{resumed}"


@jobs_app.command("judge")
def judge_command(
    data: Annotated[Path, typer.Argument(help="Pairs to judge (JSONL, Parquet, any format).")],
    model: Annotated[list[str], typer.Option(
        "--model", metavar="NAME",
        help="Judge: a model NAME at --endpoint, hf:DIR or rm:DIR. Repeat for a jury.")],
    out: Annotated[Path, out_file("Judgments JSONL (prefkit judge analyze reads it).")],
    endpoint: Annotated[str | None, typer.Option(
        "--endpoint", metavar="URL", help="OpenAI-compatible base URL (NAME models).")] = None,
    template: Annotated[str, typer.Option(
        "--template", metavar="T", help="Built-in template name or a .jinja file.")
    ] = "pairwise",
    orders: OrdersOpt = "both",
    engine: EngineOpt = Engine.local,
    shard_rows: Annotated[int, typer.Option(
        "--shard-rows", min=1, help="Pairs per shard: the unit of work and of resuming.")] = 256,
    workers: WorkersOpt = None,
    concurrency: Annotated[int, typer.Option(
        "--concurrency", metavar="N", min=1, help="Requests in flight per worker.")] = 16,
    api_key_env: Annotated[str, typer.Option(
        "--api-key-env", metavar="VAR", help="Environment variable holding the API key.")
    ] = "OPENAI_API_KEY",
    timeout: Annotated[float, typer.Option(
        "--timeout", metavar="S", help="Per-request time-out (seconds).")] = 60.0,
    max_attempts: Annotated[int, typer.Option(
        "--max-attempts", metavar="N", min=1, help="Attempts per request.")] = 6,
    reask: Annotated[int, typer.Option(
        "--reask", metavar="N", min=0, help="Re-ask an unparsed answer N times.")] = 0,
    temperature: Annotated[float, typer.Option("--temperature", metavar="T")] = 0.0,
    max_tokens: Annotated[int | None, typer.Option(
        "--max-tokens", metavar="N", help="Reply length limit.")] = None,
    batch_size: Annotated[int, typer.Option(
        "--batch-size", metavar="N", min=1, help="Prompts per forward pass (hf:).")] = 8,
    device: Annotated[str, typer.Option(
        "--device", metavar="D", help="hf: device (auto, cpu, cuda).")] = "auto",
    cache: Annotated[Path | None, typer.Option(
        "--cache", metavar="FILE", help="SQLite reply cache (default: OUT + .cache.sqlite).")
    ] = None,
    fmt: FormatOpt = "auto",
    mapping: MapOpt = None,
    label_map: LabelMapOpt = None,
    json_out: JsonOpt = False,
    gpus_per_worker: GpusOpt = 0.0,
) -> None:
    """Judge every pair of DATA in both orders as a sharded, resumable batch job.

    Same judgments as 'prefkit judge pairwise', in input order; with --engine ray each Ray
    actor holds its own judge (a local model loads once per actor) and its own --concurrency.

    Example: prefkit jobs judge pairs.jsonl --model rm:rm/ --out j.jsonl --engine ray
    """
    from prefkit.cli._common import about, echo_json, load
    from prefkit.core.progress import progress_bar
    from prefkit.errors import DataError
    from prefkit.jobs.engines import check_gpu_share
    from prefkit.jobs.judge import run_judge_job
    from prefkit.judge.run import read_pairs_jsonl

    check_gpu_share(engine.value, gpus_per_worker)
    from prefkit.jobs.parts import check_job_output

    local_models = [m[3:] for m in model if m.startswith(("hf:", "rm:"))]
    check_job_output(out, (data, cache, template, *local_models))
    if cache is not None:  # the reply cache is written too
        check_job_output(cache, (data, template, *local_models))
    choices = {"both": ("ab", "ba"), "ab": ("ab",), "ba": ("ba",)}
    if orders not in choices:
        raise DataError(f"--orders must be both, ab or ba, not {orders!r}", field="--orders")
    if not timeout > 0:  # NaN too
        raise DataError("--timeout must be > 0", field="--timeout")
    if fmt == "auto" and not mapping and data.suffix == ".jsonl" and data.is_file():
        pairs: Any = read_pairs_jsonl(data)  # unlabelled pairs: no winner needed
    else:
        pairs = load(data, fmt, mapping=mapping, label_map=label_map)
    options: dict[str, Any] = {
        "endpoint": endpoint, "api_key_env": api_key_env, "temperature": temperature,
        "max_tokens": max_tokens, "concurrency": concurrency, "timeout": timeout,
        "max_attempts": max_attempts, "batch_size": batch_size, "device": device}
    with about(data), progress_bar(not json_out, len(pairs), "judge", unit="pairs") as advance:
        summary = run_judge_job(
            pairs, model, out, engine=engine.value, template=template, orders=choices[orders],
            backend_options=options, cache=cache, reask=reask, shard_rows=shard_rows,
            workers=workers, on_shard=lambda rows, _left: advance(rows),
            gpus_per_worker=gpus_per_worker)
    if json_out:
        echo_json({**summary, "out": str(out), "engine": engine.value})
    else:
        typer.echo(_summary_line("judged", summary, out))


@jobs_app.command("generate")
def generate_command(
    prompts: Annotated[Path, typer.Argument(
        help="Prompts: JSONL ('prompt' or chat 'messages', optional 'id'), Parquet with a "
        "'prompt' column, or text with one prompt per line.")],
    model: Annotated[Path, typer.Option(
        "--model", metavar="DIR", help="A Hugging Face causal LM directory.")],
    out: Annotated[Path, out_file("JSONL: record, id, prompt, responses, model per prompt.")],
    n: Annotated[int, typer.Option("--n", metavar="N", min=1, help="Responses per prompt.")] = 1,
    max_new_tokens: Annotated[int, typer.Option(
        "--max-new-tokens", metavar="N", min=1, help="Tokens per response at most.")] = 64,
    temperature: Annotated[float, typer.Option(
        "--temperature", metavar="T", min=0.0, help="Sampling temperature (0: greedy).")] = 1.0,
    seed: SeedOpt = 0,
    device: Annotated[str | None, typer.Option(
        "--device", metavar="D", help="Torch device of each worker: auto, cpu, cuda (default: "
        "cpu, or auto with --gpus-per-worker).")] = None,
    engine: EngineOpt = Engine.local,
    shard_rows: Annotated[int, typer.Option(
        "--shard-rows", min=1, help="Prompts per shard: the unit of work and of resuming.")
    ] = 64,
    workers: WorkersOpt = None,
    json_out: JsonOpt = False,
    gpus_per_worker: GpusOpt = 0.0,
) -> None:
    """Generate --n responses to every prompt with a local causal LM, as a batch job.

    Sampling is seeded per record, so every engine, worker count and shard size gives the
    same file; a killed run resumes from OUT.parts/.

    Example: prefkit jobs generate prompts.jsonl --model policy/ --n 4 --out g.jsonl
    """
    from prefkit.cli._common import echo_json
    from prefkit.core.progress import progress_bar
    from prefkit.jobs.engines import check_gpu_share
    from prefkit.jobs.generate import read_prompt_table, run_generate_job

    check_gpu_share(engine.value, gpus_per_worker)
    from prefkit.jobs.parts import check_job_output

    check_job_output(out, (prompts, model))
    table = read_prompt_table(prompts)
    with progress_bar(not json_out, table.num_rows, "generate", unit="prompts") as advance:
        summary = run_generate_job(
            table, model, out, engine=engine.value, n=n, max_new_tokens=max_new_tokens,
            temperature=temperature, seed=seed, device=device, shard_rows=shard_rows,
            workers=workers, on_shard=lambda rows, _left: advance(rows),
            gpus_per_worker=gpus_per_worker)
    if json_out:
        echo_json({**summary, "out": str(out), "engine": engine.value})
    else:
        typer.echo(_summary_line("generated for", summary, out))
