"""The engines that run a job's shards: in this process, or on Ray.

Both call ``task(table_slice, first_record)`` once per shard (it returns JSON lines or a numpy
array with one row per record), with ``task`` built
once per worker from ``task_class(*task_args)`` (so a model loads once per worker), and hand the
lines to the parts directory in shard order.

The Ray engine puts the shards into Ray's object store as Arrow tables (one block per shard),
runs ``map_batches`` over an actor pool of ``workers`` actors with ``batch_size=None`` (one call
per block), keeps the order (``preserve_order``) and writes each shard as it arrives — so a
killed job keeps every shard already returned.  With GPUs Ray demands a numeric batch size: the
largest shard's, which every shard but the last has, so a call still holds one shard; a call
whose rows span shards anyway is split into one task call per run of one shard's rows (each row
carries its record index).  Each actor asks for ``(CPUs − ½) / workers``
CPUs (at least 0.1): Ray Data's own tasks (splitting, collecting) need CPU too, and on a 2-core
machine two one-CPU actors would leave none and stall.  An actor runs ``⌈its CPUs⌉`` compute
threads (``OMP_NUM_THREADS`` and torch's intra-op threads, which the ONNX encoder follows), so
one worker on 2 cores uses both, as the local engine does, and two use one each.

GPUs: ``gpus_per_worker`` (``--gpus-per-worker``) is each actor's ``num_gpus``.  Ray then sets
the actor's ``CUDA_VISIBLE_DEVICES`` to the GPU(s) it assigned, so ``cuda`` inside the actor is
that GPU; a fraction (0.5) lets actors share one GPU (two per GPU), and a share above one must
be whole (Ray's rule).  Without ``--workers`` the pool holds as many actors as fit on the
cluster's GPUs (:func:`gpu_workers`, at most one per CPU); an explicit ``--workers`` that does
not fit, or a share larger than every node, is one line naming the cluster's GPUs — Ray itself
would wait for them forever.  Tasks that run torch choose their device with
:func:`worker_device`; the local engine takes no GPU share (it runs in this process, on the
devices the job names).
"""

from __future__ import annotations

import itertools
import math
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pyarrow as pa

from prefkit.errors import DataError, PrefkitError

ENGINES = ("local", "ray")

_SHARD, _RECORD = "__prefkit_shard", "__prefkit_record"


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
    gpus_per_worker: float = 0.0,
) -> None:
    """Run ``shards`` of ``table`` on ``engine``; every finished shard goes to ``parts``.

    ``gpus_per_worker``: each Ray actor's GPU share (module docstring); 0 on the local engine.
    """
    gpus = check_gpu_share(engine, gpus_per_worker)
    if engine == "local":
        task = preloaded if preloaded is not None else task_class(*task_args)
        for k, shard in enumerate(shards):
            lines = task(table.slice(shard.start, shard.stop - shard.start), shard.start)
            parts.write(shard, lines)
            if on_shard is not None:
                on_shard(shard.stop - shard.start, len(shards) - k - 1)
        return
    if engine == "ray":
        _run_on_ray(task_class, task_args, table, shards, parts, workers, on_shard, gpus)
        return
    raise DataError(f"unknown engine {engine!r} (expected one of {', '.join(ENGINES)})")


def shards_to_run(shards: list[Any], done: Any,
                  on_shard: Callable[[int, int], None] | None) -> list[Any]:
    """The shards not in ``done``; the records of the done ones are reported to ``on_shard``
    first (one call), so a resumed job's progress starts where the last run stopped."""
    todo = [s for s in shards if s.index not in done]
    resumed = sum(s.stop - s.start for s in shards if s.index in done)
    if on_shard is not None and resumed:
        on_shard(resumed, len(todo))
    return todo


def check_gpu_share(engine: str, gpus_per_worker: float) -> float:
    """``gpus_per_worker`` checked: finite, ≥ 0, whole above 1 (Ray's rule), 0 on ``local``."""
    share = float(gpus_per_worker)
    if not math.isfinite(share) or share < 0:
        raise DataError(f"must be ≥ 0, not {gpus_per_worker}", field="--gpus-per-worker")
    if share > 1 and not share.is_integer():
        raise DataError(f"a share above one GPU must be whole (Ray's rule), not {share:g}",
                        field="--gpus-per-worker")
    if share > 0 and engine != "ray":
        raise DataError(f"{share:g} needs --engine ray (the local engine runs in this process, "
                        "on the device the job names)", field="--gpus-per-worker")
    return share


def gpu_workers(share: float, node_gpus: Iterable[float]) -> int:
    """Actors of ``share`` GPUs that fit at once: per node ``⌊GPUs / share⌋`` for a whole share;
    for a fraction each whole GPU holds ``⌊1 / share⌋`` (Ray keeps a fractional actor on one
    GPU, so 0.4 fits twice per GPU, not five times on two)."""
    total = 0
    for gpus in node_gpus:
        whole = math.floor(float(gpus) + 1e-9)
        if share >= 1:
            total += whole // round(share)
        else:
            total += whole * math.floor(1.0 / share + 1e-9)
    return total


def worker_device(requested: str = "auto") -> str:
    """The torch device a task runs on: ``auto`` is ``cuda`` when torch sees a GPU (in a Ray
    actor given a GPU share: the GPU Ray assigned, through ``CUDA_VISIBLE_DEVICES``), else
    ``cpu``; ``cuda`` where torch sees none is one line naming ``CUDA_VISIBLE_DEVICES``."""
    if requested == "cpu":
        return "cpu"
    try:
        import torch
    except ImportError:
        if requested == "auto":
            return "cpu"
        raise DataError(f"device {requested!r} needs torch", field="--device") from None
    available = torch.cuda.is_available()
    if requested == "auto":
        return "cuda" if available else "cpu"
    if requested.startswith("cuda") and not available:
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        raise DataError(f"{requested}: torch sees no GPU here (CUDA_VISIBLE_DEVICES="
                        f"{visible!r}; torch {torch.__version__})", field="--device")
    return requested


def ray_module() -> Any:
    """``ray``, started on this machine when no cluster is connected; one line if missing."""
    try:
        import ray
    except ImportError:
        raise DataError("--engine ray needs Ray: pip install 'prefkit[ray]'") from None
    if not ray.is_initialized():
        address = os.environ.get("RAY_ADDRESS")
        from prefkit.choice.shards import check_ray_address

        check_ray_address(address)  # a dead address: one line, not minutes of retries
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


def _quiet_ray_data() -> None:
    """Ray Data's INFO lines (plans, log paths, "progress bars disabled") off stderr: the job's
    own progress and its one-line errors are what a user reads; warnings and errors stay."""
    import logging

    for name in ("ray.data", "ray.data._internal"):
        logging.getLogger(name).setLevel(logging.ERROR)


class _BatchAdapter:
    """Ray Data's callable class: one ``task`` per actor, one shard (or run of one shard's
    rows) per task call."""

    #: ``(task_class, task_args, threads)``, set on the per-job subclass (``_run_on_ray``)
    args: tuple[type, tuple[Any, ...], int]

    def __init__(self) -> None:
        task_class, task_args, threads = self.args
        os.environ["OMP_NUM_THREADS"] = str(threads)  # read when torch is first imported
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(threads)
        self.task = task_class(*task_args)

    def __call__(self, batch: pa.Table) -> pa.Table:
        shards = batch.column(_SHARD).to_numpy()
        first = batch.column(_RECORD).to_numpy()
        records = batch.drop_columns([_SHARD, _RECORD])
        # one task call per run of rows of one shard: the whole batch, unless Ray joined blocks
        bounds = [0, *(np.flatnonzero(np.diff(shards)) + 1).tolist(), len(shards)]
        pieces = [self._run(records.slice(a, b - a), int(shards[a]), int(first[a]))
                  for a, b in itertools.pairwise(bounds)]
        return pieces[0] if len(pieces) == 1 else pa.concat_tables(pieces)

    def _run(self, records: pa.Table, shard: int, start: int) -> pa.Table:
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
    gpus: float = 0.0,
) -> None:
    ray = ray_module()
    from ray import data as ray_data

    cluster_cpus = float(ray.cluster_resources().get("CPU", 1.0))
    nodes = [node["Resources"] for node in ray.nodes() if node.get("Alive")]
    asked = workers
    workers = max(1, min(workers or int(cluster_cpus), len(shards)))
    if gpus > 0:
        workers = _fit_gpu_workers(gpus, asked, workers, nodes)
    node_cpus = max((float(node.get("CPU", 0.0)) for node in nodes), default=cluster_cpus)
    cpus = actor_cpus(cluster_cpus, workers, node_cpus)
    context = ray_data.DataContext.get_current()
    context.execution_options.preserve_order = True
    context.enable_progress_bars = False
    blocks = []
    for shard in shards:
        piece = table.slice(shard.start, shard.stop - shard.start)
        n = piece.num_rows
        piece = piece.append_column(_SHARD, pa.array([shard.index] * n, pa.int64()))
        blocks.append(piece.append_column(_RECORD, pa.array(range(shard.start, shard.stop),
                                                            pa.int64())))
    by_index = {shard.index: shard for shard in shards}
    _quiet_ray_data()
    # the actor class carries its arguments (no constructor arguments in the object store,
    # which Ray's core worker warns about for restartable actors)
    adapter = type("_Adapter", (_BatchAdapter,),
                   {"args": (task_class, task_args, actor_threads(cpus))})
    results = ray_data.from_arrow(blocks).map_batches(
        adapter,
        batch_format="pyarrow",
        batch_size=max(s.stop - s.start for s in shards) if gpus > 0 else None,
        compute=ray_data.ActorPoolStrategy(size=workers),
        num_cpus=cpus,
        **({"num_gpus": gpus} if gpus > 0 else {}),
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


def _fit_gpu_workers(share: float, asked: int | None, workers: int,
                     nodes: list[dict[str, Any]]) -> int:
    """The actor count for a GPU share: ``workers`` capped at what fits (:func:`gpu_workers`);
    a share or an explicit ``--workers`` the cluster cannot hold is one line."""
    node_gpus = [float(node.get("GPU", 0.0)) for node in nodes]
    total = sum(node_gpus)
    fit = gpu_workers(share, node_gpus)
    if fit == 0:
        largest = max(node_gpus, default=0.0)
        raise DataError(f"{share:g} GPU(s) per worker: the cluster has {total:g} GPU(s) "
                        f"(at most {largest:g} on one node)", field="--gpus-per-worker")
    if asked is not None and workers > fit:
        raise DataError(f"{workers} workers of {share:g} GPU(s) do not fit on the cluster's "
                        f"{total:g} GPU(s): at most {fit} do (a fractional share stays on one "
                        "GPU)", field="--gpus-per-worker")
    return min(workers, fit)


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
