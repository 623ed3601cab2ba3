"""The engines that run a job's shards: in this process, or on Ray.

Both call ``task(table_slice, first_record)`` once per shard (it returns JSON lines or a numpy
array with one row per record), with ``task`` built
once per worker from ``task_class(*task_args)`` (so a model loads once per worker), and hand the
lines to the parts directory in shard order.

The Ray engine puts the shards into Ray's object store as Arrow tables (one block per shard),
runs ``map_batches`` over an actor pool of ``workers`` actors with ``batch_size=None`` (one call
per block), keeps the order (``preserve_order``) and writes each shard as it arrives — so a
killed job keeps every shard already returned.  Each actor asks for ``(CPUs − ½) / workers``
CPUs (at least 0.1): Ray Data's own tasks (splitting, collecting) need CPU too, and on a 2-core
machine two one-CPU actors would leave none and stall.  An actor runs ``⌈its CPUs⌉`` compute
threads (``OMP_NUM_THREADS`` and torch's intra-op threads, which the ONNX encoder follows), so
one worker on 2 cores uses both, as the local engine does, and two use one each.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa

from prefkit.errors import DataError, PrefkitError

ENGINES = ("local", "ray")

_SHARD, _START = "__prefkit_shard", "__prefkit_start"


def run_shards(
    task_class: type,
    task_args: tuple[Any, ...],
    table: pa.Table,
    shards: list[Any],
    parts: Any,
    *,
    engine: str = "local",
    workers: int | None = None,
    preloaded: Any = None,
    on_shard: Callable[[int, int], None] | None = None,
) -> None:
    """Run ``shards`` of ``table`` on ``engine``; every finished shard goes to ``parts``."""
    if engine == "local":
        task = preloaded if preloaded is not None else task_class(*task_args)
        for k, shard in enumerate(shards):
            lines = task(table.slice(shard.start, shard.stop - shard.start), shard.start)
            parts.write(shard, lines)
            if on_shard is not None:
                on_shard(shard.stop - shard.start, len(shards) - k - 1)
        return
    if engine == "ray":
        _run_on_ray(task_class, task_args, table, shards, parts, workers, on_shard)
        return
    raise DataError(f"unknown engine {engine!r} (expected one of {', '.join(ENGINES)})")


def ray_module() -> Any:
    """``ray``, started on this machine when no cluster is connected; one line if missing."""
    try:
        import ray
    except ImportError:
        raise DataError("--engine ray needs Ray: pip install 'prefkit[ray]'") from None
    if not ray.is_initialized():
        address = os.environ.get("RAY_ADDRESS")
        ray.init(address=address or None, include_dashboard=False, log_to_driver=False,
                 configure_logging=False)
    return ray


def actor_cpus(cluster_cpus: float, workers: int, node_cpus: float | None = None) -> float:
    """CPU share per actor: ``(CPUs − ½) / workers``, at least 0.1 and at most the CPUs of the
    largest node (an actor lives on one node) (module docstring)."""
    share = max(0.1, (float(cluster_cpus) - 0.5) / max(workers, 1))
    return share if node_cpus is None else min(share, float(node_cpus))


def actor_threads(cpus: float) -> int:
    """Compute threads of an actor holding ``cpus`` CPUs: ``⌈cpus⌉``."""
    return max(1, math.ceil(cpus - 1e-9))


class _BatchAdapter:
    """Ray Data's callable class: one ``task`` per actor, one shard per call."""

    def __init__(self, task_class: type, task_args: tuple[Any, ...], threads: int = 1) -> None:
        os.environ["OMP_NUM_THREADS"] = str(threads)  # read when torch is first imported
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(threads)
        self.task = task_class(*task_args)

    def __call__(self, batch: pa.Table) -> pa.Table:
        shard = batch.column(_SHARD)[0].as_py()
        start = batch.column(_START)[0].as_py()
        records = batch.drop_columns([_SHARD, _START])
        payload = self.task(records, start)
        if len(payload) != records.num_rows:  # the engines count a shard's rows by its records
            raise ValueError(f"a task returned {len(payload)} rows for {records.num_rows} records")
        if isinstance(payload, np.ndarray):  # one flattened row per record, shape kept aside
            rows = payload.reshape(payload.shape[0], -1)
            column = pa.FixedSizeListArray.from_arrays(rows.ravel(), rows.shape[1])
            shape = pa.array([list(payload.shape[1:])] * len(rows), pa.list_(pa.int64()))
            return pa.table({_SHARD: pa.array([shard] * len(rows), pa.int64()),
                             "row": column, "shape": shape})
        return pa.table({_SHARD: pa.array([shard] * len(payload), pa.int64()),
                         "line": pa.array(payload, pa.large_string())})


def _run_on_ray(
    task_class: type,
    task_args: tuple[Any, ...],
    table: pa.Table,
    shards: list[Any],
    parts: Any,
    workers: int | None,
    on_shard: Callable[[int, int], None] | None,
) -> None:
    ray = ray_module()
    from ray import data as ray_data

    cluster_cpus = float(ray.cluster_resources().get("CPU", 1.0))
    workers = max(1, min(workers or int(cluster_cpus), len(shards)))
    node_cpus = max((float(node["Resources"].get("CPU", 0.0)) for node in ray.nodes()
                     if node.get("Alive")), default=cluster_cpus)
    cpus = actor_cpus(cluster_cpus, workers, node_cpus)
    context = ray_data.DataContext.get_current()
    context.execution_options.preserve_order = True
    context.enable_progress_bars = False
    blocks = []
    for shard in shards:
        piece = table.slice(shard.start, shard.stop - shard.start)
        n = piece.num_rows
        piece = piece.append_column(_SHARD, pa.array([shard.index] * n, pa.int64()))
        blocks.append(piece.append_column(_START, pa.array([shard.start] * n, pa.int64())))
    by_index = {shard.index: shard for shard in shards}
    results = ray_data.from_arrow(blocks).map_batches(
        _BatchAdapter,
        fn_constructor_args=(task_class, task_args, actor_threads(cpus)),
        batch_format="pyarrow",
        batch_size=None,
        concurrency=workers,
        num_cpus=cpus,
    )
    pending: dict[int, list[Any]] = {}
    finished = 0
    try:
        for batch in results.iter_batches(batch_format="pyarrow", batch_size=None):
            for index, lines in _group(batch).items():
                pending.setdefault(index, []).extend(lines)
                shard = by_index[index]
                if len(pending[index]) == shard.stop - shard.start:
                    parts.write(shard, _payload(pending.pop(index)))
                    finished += 1
                    if on_shard is not None:
                        on_shard(shard.stop - shard.start, len(shards) - finished)
    except ray.exceptions.RayError as err:
        cause = getattr(err, "cause", None)
        if isinstance(cause, PrefkitError):
            raise cause from None
        raise DataError(f"a Ray worker failed ({type(err).__name__}: {str(err)[:200]}); "
                        f"{finished} of {len(shards)} shards were kept: run the job again "
                        "to resume") from None


def _group(batch: pa.Table) -> dict[int, list[Any]]:
    """Rows of a result batch by shard: JSON lines, or (row vector, shape) pairs."""
    out: dict[int, list[Any]] = {}
    shards = batch.column(_SHARD).to_pylist()
    if "line" in batch.column_names:
        rows: list[Any] = batch.column("line").to_pylist()
    else:
        flat = batch.column("row").combine_chunks()
        width = flat.type.list_size
        vectors = flat.flatten().to_numpy(zero_copy_only=False).reshape(-1, width)
        rows = list(zip(vectors, batch.column("shape").to_pylist(), strict=True))
    for index, row in zip(shards, rows, strict=True):
        out.setdefault(index, []).append(row)
    return out


def _payload(rows: list[Any]) -> Any:
    """A shard's collected rows as the task returned them (lines, or one array)."""
    if rows and isinstance(rows[0], tuple):
        shape = tuple(rows[0][1])
        return np.stack([vector for vector, _ in rows]).reshape(len(rows), *shape)
    return rows
