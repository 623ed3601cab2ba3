"""Sharded counting of battle logs: per-shard rate vs one file, and the merge time.

    .venv/bin/python benchmarks/scale_count_shards.py [--records 2000000] [--shards 4]
        [--workers 1,2] [--repeats 3] [--items 200] [--layout arena|plain]

Writes one Parquet file of ``--records`` simulated arena battles and the same battles split into
``--shards`` files; times (1) ``count_files([whole])`` (one process), (2)
``count_files(shards, workers=w)`` for each ``w``, (3) ``merge_counts`` of the shard tables
alone.  Prints battles/s, the per-shard rate relative to the single-file rate, and checks the
merged table equals the single-file one.  Goal (issue 18): per-shard rate within 1.5× of the
single-file rate; merge time negligible.  Medians of ``--repeats`` (the machine is shared).

``--layout arena`` (default) writes LMArena's columns (``model_a``, ``model_b``, ``winner`` =
``model_a``/``model_b``/``tie``), read and validated by the general reader; ``--layout plain``
writes prefkit's ``a``, ``b``, ``winner`` = ``a``/``b``/``tie``, which
:func:`prefkit.choice.shards.count_file` counts straight from Arrow's dictionary codes.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from prefkit.choice.shards import _count_one, count_files, merge_counts


def battles(n: int, n_items: int, seed: int, layout: str = "arena") -> pa.Table:
    rng = np.random.default_rng(seed)
    names = np.array([f"model-{i:03d}" for i in range(n_items)])
    a = rng.integers(0, n_items, n)
    b = (a + rng.integers(1, n_items, n)) % n_items
    if layout == "plain":
        winner = np.array(["a", "b", "tie"])[rng.integers(0, 3, n)]
        return pa.table({"a": names[a], "b": names[b], "winner": winner})
    winner = np.array(["model_a", "model_b", "tie"])[rng.integers(0, 3, n)]
    return pa.table({"model_a": names[a], "model_b": names[b], "winner": winner})


def same_table(x, y) -> bool:
    """Equal count tables (rows in any order)."""
    def rows(c):
        order = np.lexsort((c.j, c.i))
        return [np.asarray(a)[order] for a in (c.i, c.j, c.wi, c.wj, c.t)]
    return x.items == y.items and all(np.array_equal(a, b)
                                      for a, b in zip(rows(x), rows(y), strict=True))


def timed(fn, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2_000_000)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--layout", choices=["arena", "plain"], default="arena")
    args = parser.parse_args()
    n = args.records
    with tempfile.TemporaryDirectory() as tmp:
        table = battles(n, args.items, 0, args.layout)
        whole = Path(tmp) / "all.parquet"
        pq.write_table(table, whole)
        bounds = np.linspace(0, n, args.shards + 1).astype(int)
        shards = []
        for k in range(args.shards):
            path = Path(tmp) / f"shard-{k:03d}.parquet"
            pq.write_table(table.slice(bounds[k], bounds[k + 1] - bounds[k]), path)
            shards.append(str(path))
        single, reference = timed(lambda: count_files([str(whole)], workers=1), args.repeats)
        print(f"{n:,} battles ({args.layout} layout), {args.items} items, {args.shards} shards of "
              f"{n // args.shards:,}; medians of {args.repeats}")
        print(f"one file, one process      {single:7.2f} s  {n / single:12,.0f} battles/s")
        one_shard, _ = timed(lambda: _count_one(shards[0], "auto"), args.repeats)
        per_shard = (bounds[1] - bounds[0]) / one_shard
        print(f"one shard (read + count)   {one_shard:7.2f} s  {per_shard:12,.0f} battles/s  "
              f"single-file / per-shard rate {n / single / per_shard:.2f}×")
        tables = [_count_one(s, "auto") for s in shards]
        merge, merged = timed(lambda: merge_counts(tables), args.repeats)
        print(f"merge {args.shards} tables          {merge * 1000:7.1f} ms "
              f"({merge / single * 100:.2f} % of the single-file count)")
        for workers in [int(w) for w in args.workers.split(",")]:
            sharded, counts = timed(lambda w=workers: count_files(shards, workers=w),
                                    args.repeats)
            same = same_table(counts, reference)
            print(f"{args.shards} shards, {workers} worker(s)   {sharded:7.2f} s  "
                  f"{n / sharded:12,.0f} battles/s  speed-up vs one file "
                  f"{single / sharded:.2f}×  equal table: {same}")
        assert same_table(merged, reference)


if __name__ == "__main__":
    main()
