"""Votes needed to reach Kendall τ ≥ 0.9 with the truth: active pair choice vs uniform (issue 15).

    .venv/bin/python benchmarks/arena_active.py [--seeds 20] [--settings 20x1,30x1,20x2]
                                                [--rules uniform,density] [--jobs 2]

On the simulator (true strengths θ ~ N(0, spread²) drawn per seed, Bradley–Terry votes without
ties, one uniform vote per item to start, then batches of 10 votes with a warm-started Newton
refit after each batch; :func:`prefkit.choice.active.votes_to_reach_tau`), every rule is run on
the same seeds (the same truths and the same first votes) in each setting ``ITEMSxSPREAD``.
Prints, per setting and rule, the mean votes with a 95 % bootstrap interval over seeds, the
median, the ratio of mean votes to uniform's with a paired bootstrap interval (seeds resampled
together), how many runs hit the cap, and the CPU seconds per run.  ``--rules all`` adds the
slower ``rank`` rule and the others of :data:`prefkit.choice.active.STRATEGIES`.

Each setting's line also prints a rough ceiling on what any rule can save (docs/arena.md): the
Fisher information p(1 − p) of a uniformly drawn pair over that of a pair of rank neighbours
(averaged over the seeds' truths), times 0.93, the saving from giving each item votes
∝ (density of strengths around it)^(2/3) rather than equally, for normal strengths.
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from prefkit.choice.active import STRATEGIES, votes_to_reach_tau

CAP = 20_000


def _one(job: tuple[str, int, int, float, float, int]) -> tuple[float, float]:
    rule, seed, items, spread, target, batch = job
    start = time.process_time()
    votes = votes_to_reach_tau(rule, seed, n_items=items, spread=spread, target=target,
                               batch=batch, cap=CAP)
    return float(votes), time.process_time() - start


def information_ceiling(items: int, spread: float, seeds: range) -> float:
    """≈ the least ratio of votes to uniform's any rule can reach (module notes)."""
    from prefkit.core.mathfn import sigmoid

    ratios = []
    for seed in seeds:  # the truths of votes_to_reach_tau
        truth = np.sort(np.random.default_rng(seed).normal(0.0, spread, items))
        iu, ju = np.triu_indices(items, 1)
        p_all, p_next = sigmoid(truth[iu] - truth[ju]), sigmoid(np.diff(truth))
        ratios.append((p_all * (1 - p_all)).mean() / (p_next * (1 - p_next)).mean())
    return 0.93 * float(np.mean(ratios))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=1000)
    parser.add_argument("--settings", default="10x0.5,20x1,30x1,20x2,40x2",
                        help="comma-separated ITEMSxSPREAD")
    parser.add_argument("--rules", default="uniform,arena,density")
    parser.add_argument("--target", type=float, default=0.9)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args()
    rules = list(STRATEGIES) if args.rules == "all" else args.rules.split(",")
    if "uniform" not in rules:
        rules.insert(0, "uniform")
    settings = [(int(s.split("x")[0]), float(s.split("x")[1])) for s in args.settings.split(",")]
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    print(f"τ ≥ {args.target}, seeds {seeds.start}–{seeds.stop - 1}, batches of {args.batch}, "
          f"cap {CAP} votes")
    print("| items | spread | rule | mean votes [95 % CI] | median | ratio to uniform [95 % CI] "
          "| runs at cap | CPU s/run |")
    print("|---|---|---|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    boot = rng.integers(0, args.seeds, (4000, args.seeds))
    with ProcessPoolExecutor(args.jobs) as pool:
        for items, spread in settings:
            jobs = [(rule, seed, items, spread, args.target, args.batch)
                    for rule in rules for seed in seeds]
            out = list(pool.map(_one, jobs))
            votes = {rule: np.array([v for (r, *_), (v, _) in zip(jobs, out, strict=True)
                                     if r == rule]) for rule in rules}
            cpu = {rule: np.mean([c for (r, *_), (_, c) in zip(jobs, out, strict=True)
                                  if r == rule]) for rule in rules}
            base = votes["uniform"]
            print(f"| {items} | {spread:g} | (≈ ceiling of any rule) | | | "
                  f"{information_ceiling(items, spread, seeds):.2f} | | |")
            for rule in rules:
                v = votes[rule]
                means = v[boot].mean(axis=1)
                lo, hi = np.percentile(means, [2.5, 97.5])
                if rule == "uniform":
                    ratio = "1"
                else:
                    rlo, rhi = np.percentile(means / base[boot].mean(axis=1), [2.5, 97.5])
                    ratio = f"{v.mean() / base.mean():.2f} [{rlo:.2f}, {rhi:.2f}]"
                print(f"| {items} | {spread:g} | {rule} | {v.mean():.0f} [{lo:.0f}, {hi:.0f}] | "
                      f"{np.median(v):.0f} | {ratio} | {int((v >= CAP).sum())} | "
                      f"{cpu[rule]:.2f} |", flush=True)


if __name__ == "__main__":
    main()
