"""Training embedding heads on 100,000 cached pairs (384-d, the MiniLM size) on CPU.

    .venv/bin/python benchmarks/reward_head.py [--pairs 100000]

Candidates are random unit vectors with a known linear reward; the 200,000 candidate vectors are
first written to an on-disk embedding cache and read back (what a cached run does), then each head
is fitted.  Goal (issue #4): under 30 s per head on 2 cores.  Wall time depends on what else runs
on the machine, so the table also gives the process CPU time and the load average; minibatch fits
stop on a plateau of the per-pass training loss (``tol``, :mod:`prefkit.reward._train`).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
import torch

from prefkit.core.mathfn import sigmoid
from prefkit.encode import EmbeddingCache
from prefkit.reward import PairFeatures, make_head


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=384)
    args = parser.parse_args()
    n, d = args.pairs, args.dim
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2 * n, d)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    w = rng.normal(size=d) * 3
    r = x @ w
    gap = r[:n] - r[n:]
    y = (rng.random(n) < sigmoid(gap)).astype(float)
    keys = np.array([i.to_bytes(20, "little") for i in range(2 * n)], dtype="S20")
    with tempfile.TemporaryDirectory() as root:
        EmbeddingCache("bench", root).add(keys, x)
        t = time.perf_counter()
        cached = EmbeddingCache("bench", root).get(keys)
        t_read = time.perf_counter() - t
    np.testing.assert_array_equal(cached, x)
    print(f"{n:,} pairs, {d}-d; torch threads {torch.get_num_threads()}; "
          f"reading {2 * n:,} vectors from the cache: {t_read:.2f} s; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    test = rng.normal(size=(20_000, d)).astype(np.float32)
    test /= np.linalg.norm(test, axis=1, keepdims=True)
    feats = PairFeatures(cached[:n], cached[n:], y=y)
    print("| head | settings | fit wall (s) | fit CPU (s) | passes | corr(r̂, r) on new candidates "
          "| train acc |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, options in [
        ("linear", {}),
        ("linear", {"epochs": 300, "batch_size": n}),
        ("mlp", {"hidden": 128}),
        ("mlp", {}),
        ("ensemble", {"members": 5}),
        ("gpm", {"k": 4}),
    ]:
        head = make_head(name, **options)
        t, cpu = time.perf_counter(), time.process_time()
        head.fit(feats)
        took, cpu = time.perf_counter() - t, time.process_time() - cpu
        p = head.predict_proba(feats)
        acc = np.mean((p > 0.5) == (y > 0.5))
        corr = np.corrcoef(head.reward(test), test @ w)[0, 1] if head.scalar else float("nan")
        settings = ", ".join(f"{k}={v}" for k, v in options.items()) or "defaults"
        passes = len(head.loss_curve_)
        cells = f"{took:.1f} | {cpu:.1f} | {passes} | {corr:.3f} | {acc:.3f}"
        print(f"| {name} | {settings} | {cells} |", flush=True)


if __name__ == "__main__":
    main()
