"""The price of the Ray engine: one encode job in-process vs on a local Ray cluster with 1 and
2 workers, same output.

    .venv/bin/python benchmarks/scale_ray_encode.py [--records 500] [--backend onnx]
        [--shard-rows 100] [--cpus 2] [--repeats 1]

The issue's job is 20,000 texts (``--records 10000``: two responses each); the default is
smaller so that the script ends in a few minutes on a loaded 2-core machine.  Each run encodes
texts no run encoded before (a run tag in every text), so the embedding cache never helps.  The
Ray cluster (``ray.init(num_cpus=--cpus)``) is started once, outside the timings, and its start
time printed apart; a job's time includes starting its actors (each loads the encoder once).
Prints the ratio ray / local per worker count.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reward_encode import corpus

from prefkit.data import PreferenceDataset
from prefkit.jobs.encode import run_encode_job


def records(n: int, tag: str) -> PreferenceDataset:
    prompts, texts = corpus(2 * n)
    while len(texts) < 2 * n:  # small corpora: reuse texts under new tags
        texts = texts + [f"{t} (again {len(texts)})" for t in texts]
        prompts = prompts + prompts
    return PreferenceDataset(pa.table({
        "prompt": [p or "" for p in prompts[:n]],
        "a_text": [f"{t} [{tag}]" for t in texts[:n]],
        "b_text": [f"{t} [{tag}]" for t in texts[n:2 * n]],
        "winner": ["a"] * n}), "pairwise")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=500)
    parser.add_argument("--backend", default="onnx", choices=["torch", "onnx"])
    parser.add_argument("--shard-rows", type=int, default=100)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    import ray

    from prefkit.encode.onnx_encoder import make_encoder

    if args.backend == "onnx":
        make_encoder(None, "onnx").session  # noqa: B018 - export before any timing
    start = time.perf_counter()
    ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
    print(f"ray.init(num_cpus={args.cpus}): {time.perf_counter() - start:.1f} s (once per "
          f"cluster, not counted); {args.records:,} records = {2 * args.records:,} texts, "
          f"backend {args.backend}, shards of {args.shard_rows}")
    runs: dict[str, list[float]] = {}
    arrays: dict[str, np.ndarray] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for rep in range(args.repeats):
                for name, engine, workers in [("local", "local", None), ("ray, 1 worker", "ray", 1),
                                              ("ray, 2 workers", "ray", 2)]:
                    tag = f"{rep}-{name}-{time.time_ns()}"
                    ds = records(args.records, tag)
                    out = Path(tmp) / f"{rep}-{engine}-{workers}.npy"
                    start = time.perf_counter()
                    run_encode_job(ds, out, engine=engine, workers=workers,
                                   shard_rows=args.shard_rows, encoder_backend=args.backend)
                    runs.setdefault(name, []).append(time.perf_counter() - start)
                    arrays[name] = np.load(out)
    finally:
        ray.shutdown()
    base = statistics.median(runs["local"])
    for name, times in runs.items():
        med = statistics.median(times)
        shape = arrays[name].shape
        print(f"{name:16s} {med:8.2f} s  {2 * args.records / med:7.1f} texts/s  "
              f"time / local {med / base:5.2f}  output {shape}")
    print("(texts differ between runs, so outputs are not compared here: equality is tested in "
          "tests/jobs/test_ray_engine.py and benchmarks/scale_two_node.py)")


if __name__ == "__main__":
    main()
