"""``prefkit jobs judge``: pairwise judgments of every pair of a file, as a sharded batch job.

The per-shard function is the judge runner itself (:func:`prefkit.judge.run.judge_records`): each
pair is shown in the requested orders to every judge (an OpenAI-compatible endpoint, ``hf:DIR``
or ``rm:DIR``, :func:`prefkit.judge.live.make_backend`), answers come from the SQLite reply cache
when it has them, and the verdicts are parsed with the template's protocol.  The lines written are
``prefkit-judgment`` records (``prefkit judge analyze`` reads them), sorted within a shard by
(pair, order, judge) so that the output does not depend on which answer arrived first — the
local and Ray engines write the same file (tests/jobs).

Pair ids are fixed before sharding (``pair_id`` of the input, else the record's index in the
whole file), so a shard judged on any worker names its pairs as the whole-file run would.  A
shard with a failed request (after the backend's retries) is not kept: the job stops naming the
shard's records, and a rerun asks only the shards not yet finished.  Each worker opens the reply
cache itself (SQLite in WAL mode: concurrent workers on one machine share it; on several
machines give ``--cache`` a path on shared storage, or accept one cache per node).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from prefkit.errors import DataError
from prefkit.jobs.engines import ENGINES, check_gpu_share, run_shards, shards_to_run
from prefkit.jobs.parts import PartsDirectory, plan_shards

#: the columns of a pairs table, as :class:`prefkit.judge.run.PairsToJudge` holds them
PAIR_COLUMNS = ("pair_id", "prompt", "a", "b", "a_text", "b_text")
#: pairs per shard by default (each pair is asked ``orders × judges`` times)
DEFAULT_JUDGE_SHARD_ROWS = 256


def pairs_table(pairs: Any) -> pa.Table:
    """The pairs of a :class:`~prefkit.data.PreferenceDataset` or
    :class:`~prefkit.judge.run.PairsToJudge` as one string table, ids fixed (``pair_id``, else
    the record's index) and checked: texts present, ids unique."""
    from prefkit.judge.run import PairsToJudge, check_pairs

    check_pairs(pairs)  # the DataError of a whole-file run: missing texts, repeated ids
    if isinstance(pairs, PairsToJudge):
        columns = pairs.columns
    else:
        n = len(pairs)
        columns = {name: (list(pairs.column(name)) if pairs.has(name) else [None] * n)
                   for name in PAIR_COLUMNS}
    ids = [str(v) if v is not None else str(i) for i, v in enumerate(columns["pair_id"])]
    data = {"pair_id": ids}
    for name in PAIR_COLUMNS[1:]:
        data[name] = [None if v is None else str(v) for v in columns[name]]
    return pa.table({name: pa.array(values, pa.string()) for name, values in data.items()})


class JudgeTask:
    """The per-worker state of a judging job: the backends (a local model loads once per
    worker), the template and the reply cache."""

    def __init__(self, models: Sequence[str], backend_options: dict[str, Any], template: str,
                 orders: Sequence[str], cache_path: str | None, reask: int = 0) -> None:
        from prefkit.judge.live import make_backend
        from prefkit.judge.templates import load_template

        self.backends = [make_backend(spec, **backend_options) for spec in models]
        self.template = load_template(template)
        self.orders = tuple(orders)
        self.reask = reask
        self.cache_path = cache_path

    def __call__(self, table: pa.Table, first_record: int) -> list[str]:
        import contextlib

        from prefkit.judge.backends.openai_http import JudgeBackendError
        from prefkit.judge.cache import JudgeCache
        from prefkit.judge.run import PairsToJudge, RunSummary, judge_records

        columns = {name: table.column(name).to_pylist() for name in PAIR_COLUMNS}
        pairs = PairsToJudge(f"records {first_record}…", columns, None)
        summary = RunSummary()
        backend = self.backends if len(self.backends) > 1 else self.backends[0]
        # opened per shard: an SQLite connection belongs to one thread, and Ray Data calls an
        # actor from a thread of its own
        with (JudgeCache(self.cache_path) if self.cache_path
              else contextlib.nullcontext()) as cache:
            records = judge_records(pairs, backend, template=self.template, orders=self.orders,
                                    cache=cache, reask=self.reask, summary=summary)
        if summary.errors:
            last = first_record + table.num_rows - 1
            raise JudgeBackendError(
                f"records {first_record}–{last}: {summary.errors} request(s) failed (e.g. "
                f"{summary.error_examples[0]}); finished shards are kept: run the job again "
                "to resume")
        position = {pair_id: k for k, pair_id in enumerate(columns["pair_id"])}
        judges = {str(b.name): k for k, b in enumerate(self.backends)}
        records.sort(key=lambda r: (position[str(r["pair_id"])], self.orders.index(r["order"]),
                                    judges.get(str(r.get("annotator_id")), 0)))
        # one entry per pair (the engines count a shard's rows by its records): the pair's
        # judgment lines joined
        per_pair: list[list[str]] = [[] for _ in range(table.num_rows)]
        for r in records:
            per_pair[position[str(r["pair_id"])]].append(json.dumps(r, ensure_ascii=False))
        return ["\n".join(lines) for lines in per_pair]


def _model_key(spec: str) -> str:
    """A judge's part of the job key: the spec, and the content of a local model directory."""
    from prefkit.encode.fingerprint import directory_fingerprint

    for prefix in ("hf:", "rm:"):
        if spec.startswith(prefix) and Path(spec[3:]).is_dir():
            return f"{spec}@{directory_fingerprint(Path(spec[3:]))}"
    return spec


def judge_job_key(models: Sequence[str], backend_options: dict[str, Any], template_hash: str,
                  orders: Sequence[str], reask: int) -> str:
    """What a finished shard depends on besides its pairs: judges, settings, template."""
    settings = {k: v for k, v in sorted(backend_options.items())
                if k not in ("concurrency", "timeout", "rpm", "max_attempts", "api_key_env")}
    doc = json.dumps({"models": [_model_key(m) for m in models], "settings": settings,
                      "template": template_hash, "orders": list(orders), "reask": reask},
                     sort_keys=True, default=str)
    return "judge:" + hashlib.sha256(doc.encode()).hexdigest()


def run_judge_job(
    pairs: Any,
    models: Sequence[str],
    out: str | os.PathLike[str],
    *,
    engine: str = "local",
    template: str = "pairwise",
    orders: Sequence[str] = ("ab", "ba"),
    backend_options: dict[str, Any] | None = None,
    cache: str | os.PathLike[str] | None = None,
    reask: int = 0,
    shard_rows: int = DEFAULT_JUDGE_SHARD_ROWS,
    workers: int | None = None,
    on_shard: Callable[[int, int], None] | None = None,
    gpus_per_worker: float = 0.0,
) -> dict[str, int]:
    """Judge every pair of ``pairs`` by each of ``models`` into ``out`` (``prefkit-judgment``
    JSON lines, in input order).

    Args:
        pairs: a pairwise :class:`~prefkit.data.PreferenceDataset` or the
            :class:`~prefkit.judge.run.PairsToJudge` of :func:`~prefkit.judge.run.read_pairs_jsonl`.
        models: judge specs (``NAME`` with ``backend_options["endpoint"]``, ``hf:DIR``,
            ``rm:DIR``); several make a jury.
        out: the output; written atomically once every shard is done.
        engine: ``"local"`` or ``"ray"`` (see :mod:`prefkit.jobs`).
        template: built-in template name or a ``.jinja`` file (readable by every worker).
        orders: ``("ab", "ba")`` (both), ``("ab",)`` or ``("ba",)``.
        backend_options: keyword arguments of :func:`prefkit.judge.live.make_backend`.
        cache: the SQLite reply cache (default: ``OUT.cache.sqlite``; pass one path to share
            answers between jobs).
        reask: re-ask an unparsed answer this many times.
        shard_rows: pairs per shard (the unit of work and of resumption).
        workers: Ray actors (default: one per CPU of the cluster); ignored by ``local``.
        on_shard: called with (shard pairs, shards still to do) as each shard finishes.
        gpus_per_worker: each Ray actor's GPU share; an ``hf:`` judge with device ``auto``
            then runs on the actor's GPU (Ray sets its ``CUDA_VISIBLE_DEVICES``).

    Returns ``{"records", "shards", "resumed", "judgments"}``.
    """
    from prefkit.judge.run import ORDERS
    from prefkit.judge.templates import load_template

    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r} (expected one of {', '.join(ENGINES)})")
    gpus = check_gpu_share(engine, gpus_per_worker)
    orders = tuple(orders)
    if not orders or set(orders) - set(ORDERS):
        raise DataError(f"orders must be among {ORDERS}", field="--orders")
    if not models or len(set(models)) != len(models):
        raise DataError("give one or more distinct judges", field="--model")
    options = dict(backend_options or {})
    tmpl = load_template(template)  # a bad template is one line before any work
    if any(str(m).startswith("hf:") for m in models):  # checked here, not in a Ray actor
        from prefkit.core.devices import check_device

        check_device(str(options.get("device", "auto")))
    table = pairs_table(pairs)
    out = Path(out)
    cache_path = os.fspath(cache) if cache is not None else os.fspath(
        out.with_name(out.name + ".cache.sqlite"))
    key = judge_job_key(models, options, tmpl.hash, orders, reask)
    shards = plan_shards(table, key, shard_rows)
    parts = PartsDirectory(out, ".jsonl")
    done = parts.done(shards)
    todo = shards_to_run(shards, done, on_shard)
    if todo:
        task_args = (list(models), options, template, orders, cache_path, reask)
        run_shards(JudgeTask, task_args, table, todo, parts, engine=engine, workers=workers,
                   on_shard=on_shard, gpus_per_worker=gpus)
    parts.join(shards)
    return {"records": table.num_rows, "shards": len(shards), "resumed": len(done),
            "judgments": table.num_rows * len(orders) * len(models)}
