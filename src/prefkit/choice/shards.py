"""Counting battle logs split over many files: count each shard, merge the tables exactly.

A pairwise model's likelihood depends on the data only through the win/tie count table
(:mod:`prefkit.choice.counts`), and count tables add: the table of a union of shards is the sum
of the shards' tables once their item codes are mapped to one shared item list.  So a log of
10⁹ battles in N files is read and counted shard by shard — in parallel worker processes, or as
Ray tasks on a cluster (``engine="ray"``, ``pip install 'prefkit[ray]'``) — and only tables of at
most n(n−1)/2 rows travel back to be merged.  The merged table fits to exactly the ratings of a
single-process count of all battles (covariate-free models; style control needs the raw
per-battle features and is not sharded).

Example:
    >>> from prefkit.choice import BradleyTerry
    >>> from prefkit.choice.shards import count_files
    >>> counts = count_files(["day1.parquet", "day2.parquet"], workers=2)  # doctest: +SKIP
    >>> model = BradleyTerry().fit_counts(counts)                           # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

from prefkit.choice.counts import PairCounts, count_outcomes
from prefkit.errors import DataError, PrefkitError

ENGINES = ("local", "ray")


def merge_counts(tables: Sequence[PairCounts]) -> PairCounts:
    """The exact sum of covariate-free count tables over one sorted item list.

    Rows are keyed by the unordered pair {i, j} (a row's ``i < j`` orientation is re-applied
    after mapping to the shared item codes, swapping the win columns where it flips).
    """
    tables = [t for t in tables if t.n_rows or t.items]
    if any(t.Z is not None and t.Z.size for t in tables):
        raise DataError("count tables with covariates (style control) cannot be merged exactly")
    items = sorted(set().union(*(t.items for t in tables))) if tables else []
    n = len(items)
    position = {name: k for k, name in enumerate(items)}
    codes, lo_wins, hi_wins, ties = [], [], [], []
    for table in tables:
        remap = np.array([position[name] for name in table.items], dtype=np.int64)
        i, j = remap[table.i], remap[table.j]
        flip = i > j
        lo, hi = np.where(flip, j, i), np.where(flip, i, j)
        codes.append(lo * n + hi)
        lo_wins.append(np.where(flip, table.wj, table.wi))
        hi_wins.append(np.where(flip, table.wi, table.wj))
        ties.append(table.t)
    if not codes or not sum(c.size for c in codes):
        return PairCounts(items, *(np.zeros(0, dtype=np.int64) for _ in range(2)),
                          *(np.zeros(0) for _ in range(3)))
    code = np.concatenate(codes)
    if n * n <= DENSE_MERGE_BINS:  # one bincount per column over the pair codes, no sort
        unique = np.flatnonzero(np.bincount(code, minlength=n * n))

        def add(parts: list[np.ndarray]) -> np.ndarray:
            return np.bincount(code, weights=np.concatenate(parts), minlength=n * n)[unique]
    else:
        unique, inverse = np.unique(code, return_inverse=True)

        def add(parts: list[np.ndarray]) -> np.ndarray:
            return np.bincount(inverse, weights=np.concatenate(parts), minlength=unique.size)

    return PairCounts(items, unique // n, unique % n, add(lo_wins), add(hi_wins), add(ties))


#: item pairs up to which :func:`merge_counts` sums on a dense pair-code table (else it sorts)
DENSE_MERGE_BINS = 1 << 24


def count_file(
    path: str | os.PathLike[str], file_format: str = "auto", *, ids_as_text: bool = False
) -> PairCounts:
    """The count table of one battle file.

    A plain ``a``/``b``/``winner`` log (Parquet or JSON lines) is counted straight from its
    dictionary codes (:func:`prefkit.data.battles.read_battle_codes`, one integer
    ``np.bincount``); any other file is read and validated by :func:`prefkit.data.read`.  Both
    give the same table as ``BradleyTerry().counts(read(path))``.
    """
    from prefkit.data.battles import read_battle_codes

    name = os.fspath(path)
    codes = read_battle_codes(name, file_format, ids_as_text=ids_as_text)
    if codes is not None:
        return count_outcomes(len(codes.items), codes.ia, codes.ib, codes.outcome,
                              items=codes.items)
    return _count_read(name, file_format, ids_as_text)


def _count_one(path: str, file_format: str, ids_as_text: bool = False) -> PairCounts:
    """Read and count one shard (runs in a worker process or a Ray task)."""
    return count_file(path, file_format, ids_as_text=ids_as_text)


def _count_read(path: str, file_format: str, ids_as_text: bool = False) -> PairCounts:
    from prefkit.choice.bradley_terry import BradleyTerry
    from prefkit.data import read

    dataset = read(path, format=file_format, ids_as_text=ids_as_text)
    if dataset.kind != "pairwise":
        raise DataError(f"a sharded count needs pairwise records, this file holds {dataset.kind}",
                        source=path)
    return BradleyTerry().counts(dataset)  # the table keeps ties apart; fits apply a convention


def count_files(
    paths: Sequence[str | os.PathLike[str]],
    *,
    file_format: str = "auto",
    workers: int | None = None,
    engine: str = "local",
    on_shard: Callable[[int], None] | None = None,
    ids_as_text: bool = False,
) -> PairCounts:
    """Count every shard in ``paths`` (in ``workers`` processes, or Ray tasks) and merge.

    Args:
        paths: the shard files (any format ``prefkit.read`` reads).
        file_format: their format (``"auto"`` sniffs each one).
        workers: worker processes for ``engine="local"`` (default: one per CPU, at most one
            per shard; 1 counts in this process).
        engine: ``"local"`` or ``"ray"`` (the current Ray cluster, or a local one).
        on_shard: called with the shard's index as each one finishes (progress bars).
        ids_as_text: read integer ids as their decimal text (``prefkit.data.ids``).

    Errors name the shard: a :class:`~prefkit.errors.DataError` from any shard is re-raised with
    its file; the tables of the shards already counted are not kept (nothing is written).
    """
    names = [os.fspath(p) for p in paths]
    if not names:
        raise DataError("no shard files to count")
    if engine not in ENGINES:
        raise DataError(f"unknown engine {engine!r} (expected one of {', '.join(ENGINES)})")
    merged = _Merger()
    if engine == "ray":
        _count_with_ray(names, file_format, on_shard, merged.add, ids_as_text)
        return merged.result()
    workers = min(workers or os.cpu_count() or 1, len(names))
    if workers <= 1:
        for k, name in enumerate(names):
            merged.add(_count_one(name, file_format, ids_as_text))
            if on_shard is not None:
                on_shard(k)
        return merged.result()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures: list[Any] = [pool.submit(_count_one, name, file_format, ids_as_text)
                                for name in names]
        for k in range(len(futures)):
            merged.add(_result(futures[k], names[k]))
            futures[k] = None  # the table is merged: let it go
            if on_shard is not None:
                on_shard(k)
    return merged.result()


#: count tables held before they are merged into one (bounds the driver's memory: 10⁹ battles
#: in 2,000 shards would otherwise keep 2,000 tables of up to n(n−1)/2 rows)
MERGE_EVERY = 64


class _Merger:
    """Merges count tables as they arrive, ``MERGE_EVERY`` at a time (sums of counts do not
    depend on the grouping)."""

    def __init__(self) -> None:
        self.pending: list[PairCounts] = []

    def add(self, table: PairCounts) -> None:
        self.pending.append(table)
        if len(self.pending) >= MERGE_EVERY:
            self.pending = [merge_counts(self.pending)]

    def result(self) -> PairCounts:
        return merge_counts(self.pending)


def _result(future: Any, name: str) -> PairCounts:
    try:
        return future.result()
    except PrefkitError:
        raise
    except Exception as err:  # a worker that died: say which shard
        raise DataError(f"counting failed ({type(err).__name__}: {err})", source=name) from None


def _count_with_ray(
    names: list[str], file_format: str, on_shard: Callable[[int], None] | None,
    add: Callable[[PairCounts], None], ids_as_text: bool = False,
) -> None:
    try:
        import ray
    except ImportError:
        raise DataError("engine 'ray' needs Ray: pip install 'prefkit[ray]'") from None
    if not ray.is_initialized():
        check_ray_address(os.environ.get("RAY_ADDRESS"))
        # no num_cpus: Ray refuses it when joining a cluster (RAY_ADDRESS, or `ray start`)
        ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
    task = ray.remote(num_cpus=1)(_count_one)
    refs: list[Any] = [task.remote(name, file_format, ids_as_text) for name in names]
    for k in range(len(refs)):
        try:
            add(ray.get(refs[k]))
            refs[k] = None
        except ray.exceptions.RayTaskError as err:
            cause = err.as_instanceof_cause()
            if isinstance(cause, PrefkitError):
                raise cause from None
            raise DataError(f"counting failed ({type(cause).__name__})", source=names[k]) from None
        except ray.exceptions.RayError as err:  # a worker or node that died: name the shard
            raise DataError(f"counting failed: the Ray worker died ({type(err).__name__})",
                            source=names[k]) from None
        if on_shard is not None:
            on_shard(k)


def check_ray_address(address: str | None, timeout_s: float = 5.0) -> None:
    """Fail in one line, within seconds, when ``RAY_ADDRESS`` names a ``host:port`` where nothing
    listens (``ray.init`` would retry for minutes, printing log lines).  ``auto``, ``local`` and
    unset are left to Ray."""
    import socket

    if not address or address in ("auto", "local"):
        return
    host, sep, port = address.split("://", 1)[-1].rpartition(":")
    if not sep or not port.isdigit():
        return  # Ray names a malformed address itself
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as err:
        raise DataError(f"cannot reach a Ray cluster at {address} ({err.strerror or err}); "
                        "start one (ray start --head) or unset RAY_ADDRESS",
                        source="RAY_ADDRESS") from None
