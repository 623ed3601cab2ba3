"""Votes needed to reach Kendall τ ≥ 0.9 with the truth: active pair choice vs uniform (issue 15).

    .venv/bin/python benchmarks/arena_active.py [--seeds 20] [--items 30] [--spread 1.0]

On the simulator (true strengths θ ~ N(0, spread²), Bradley–Terry votes, one uniform vote per item
to start, then batches of 10 votes with a warm-started refit after each batch;
:func:`prefkit.choice.active.votes_to_reach_tau`), every rule of :mod:`prefkit.choice.active` is
run on the same seeds (the same truths).  Prints, per rule, the mean votes with a 95 % bootstrap
interval over seeds, the median, the ratio of means to uniform with a paired bootstrap interval,
and the seconds the rule took.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from prefkit.choice.active import STRATEGIES, votes_to_reach_tau


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--items", type=int, default=30)
    parser.add_argument("--spread", type=float, default=1.0)
    parser.add_argument("--target", type=float, default=0.9)
    parser.add_argument("--batch", type=int, default=10)
    args = parser.parse_args()
    votes: dict[str, np.ndarray] = {}
    seconds: dict[str, float] = {}
    for rule in STRATEGIES:
        start = time.perf_counter()
        votes[rule] = np.array([
            votes_to_reach_tau(rule, seed, n_items=args.items, spread=args.spread,
                               target=args.target, batch=args.batch)
            for seed in range(args.seeds)], dtype=float)
        seconds[rule] = time.perf_counter() - start
    rng = np.random.default_rng(0)
    boot = rng.integers(0, args.seeds, (2000, args.seeds))
    base = votes["uniform"]
    print(f"{args.items} items, θ ~ N(0, {args.spread}²), τ ≥ {args.target}, "
          f"{args.seeds} seeds, batches of {args.batch}")
    print("| rule | mean votes [95 % CI] | median | ratio to uniform [95 % CI] | seconds |")
    print("|---|---|---|---|---|")
    for rule, v in votes.items():
        means = v[boot].mean(axis=1)
        ratio = means / base[boot].mean(axis=1)
        lo, hi = np.percentile(means, [2.5, 97.5])
        rlo, rhi = np.percentile(ratio, [2.5, 97.5])
        print(f"| {rule} | {v.mean():.0f} [{lo:.0f}, {hi:.0f}] | {np.median(v):.0f} | "
              f"{v.mean() / base.mean():.2f} [{rlo:.2f}, {rhi:.2f}] | {seconds[rule]:.1f} |")


if __name__ == "__main__":
    main()
