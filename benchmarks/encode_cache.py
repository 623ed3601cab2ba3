"""On-disk embedding cache under a stream of small batches of unique texts (a scoring server).

    .venv/bin/python benchmarks/encode_cache.py [--calls 2000] [--batch 8] [--dim 384]

A stand-in encoder (deterministic vectors from each text's hash, ~µs per text) isolates the cache:

1. *stream*: ``calls`` calls of ``CachedEncoder.encode`` with ``batch`` new texts each; time per
   call over the first and the last 10 % of calls (should stay flat), shards on disk at the end;
2. *re-open*: a fresh ``CachedEncoder`` on the same directory (what a new process pays);
3. *hit rate*: ``calls / 4`` calls of ``batch`` texts, half seen in (1) and half new: the fraction
   the encoder did not have to encode, and that every cached vector is bit-identical to (1).
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from prefkit.encode import CachedEncoder


class HashEncoder:
    """Fast stand-in encoder: a text's vector is a function of its SHA-256."""

    id = "bench-hash-encoder-v1"

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.encoded = 0

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.encoded += len(texts)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            seed = int.from_bytes(hashlib.sha256(t.encode()).digest()[:8], "little")
            out[i] = np.random.default_rng(seed).standard_normal(self.dim, dtype=np.float32)
        return out


def shard_count(root: str) -> int:
    return sum(1 for _ in Path(root).glob("embeddings-*/shard-*.keys.npy"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--dim", type=int, default=384)
    args = parser.parse_args()
    tenth = max(args.calls // 10, 1)
    with tempfile.TemporaryDirectory() as root:
        enc = HashEncoder(args.dim)
        cached = CachedEncoder(enc, root)
        times: list[float] = []
        first: dict[str, np.ndarray] = {}
        for c in range(args.calls):
            texts = [f"call {c} text {j}" for j in range(args.batch)]
            t = time.perf_counter()
            v = cached.encode(texts)
            times.append(time.perf_counter() - t)
            if c % 4 == 0:
                first.update(zip(texts[: args.batch // 2], v[: args.batch // 2], strict=True))
        pending = shard_count(root)
        getattr(cached.cache, "wait", lambda: None)()  # merged-away shards deleted in background
        start_ms = 1e3 * statistics.mean(times[:tenth])
        end_ms = 1e3 * statistics.mean(times[-tenth:])
        print(f"stream: {args.calls} calls × {args.batch} new texts (dim {args.dim}): "
              f"total {sum(times):.2f} s; mean ms/call first {tenth} {start_ms:.2f}, "
              f"last {tenth} {end_ms:.2f} (×{end_ms / start_ms:.2f}); "
              f"median first {1e3 * statistics.median(times[:tenth]):.2f}, "
              f"last {1e3 * statistics.median(times[-tenth:]):.2f}; max {1e3 * max(times):.1f}; "
              f"shards on disk {shard_count(root)} ({pending} before pending deletions)")

        t = time.perf_counter()
        enc2 = HashEncoder(args.dim)
        reopened = CachedEncoder(enc2, root)
        print(f"re-open: {1e3 * (time.perf_counter() - t):.1f} ms for {len(reopened.cache)} "
              "cached texts")

        seen = list(first)
        rng = np.random.default_rng(0)
        hit_calls = args.calls // 4
        hit_times = []
        requested = 0
        for c in range(hit_calls):
            old = [seen[int(i)] for i in rng.choice(len(seen), args.batch // 2, replace=False)]
            new = [f"fresh {c} {j}" for j in range(args.batch - len(old))]
            t = time.perf_counter()
            v = reopened.encode(old + new)
            hit_times.append(time.perf_counter() - t)
            requested += len(old) + len(new)
            for text, vec in zip(old, v, strict=False):
                if not np.array_equal(vec, first[text]):
                    raise SystemExit(f"cached vector of {text!r} differs")
        getattr(reopened.cache, "wait", lambda: None)()
        print(f"hit rate: {hit_calls} calls, {1 - enc2.encoded / requested:.3f} of texts served "
              f"from the cache (expected 0.5), vectors bit-identical; mean "
              f"{1e3 * statistics.mean(hit_times):.2f} ms/call; shards on disk {shard_count(root)}")


if __name__ == "__main__":
    main()
