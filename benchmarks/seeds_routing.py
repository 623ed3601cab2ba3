"""Routing between human and LM annotation on recorded real verdicts (seed row 36).

Hybrid Preferences (Miranda et al. 2024) reports that a mix of human and LM labels, with the
right records sent to people, beats both all-human and all-LM annotation per unit of human
cost.  The CPU version uses PandaLM's test set (../shared/data): gpt-3.5-turbo's recorded
verdict on each record is the LM annotation, annotator 1 is "the person", and the label that
annotators 2 and 3 agree on is gold (records where they disagree are left out).  For each human
budget (share of records routed to the person) it prints the accuracy of the mixed annotation
against gold for

* confidence routing (:func:`prefkit.judge.routing.route_by_confidence`: ties and unparsed
  verdicts first, random among equals; mean over seeds),
* the performance-prediction model (quadratic in per-tag routed shares, tags = the record's
  ``motivation_app`` — apps with fewer than 40 records pooled as "other"), fitted on random
  mixes of one random half of the records and used to route the other half,
* random routing (mean and 2.5–97.5 % range over seeds).

    .venv/bin/python benchmarks/seeds_routing.py --seeds 20

(docs/seeds.md quotes this command.)
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def load() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from prefkit import read
    from prefkit.judge.routing import verdict_probability

    judged = read(str(next(DATA.glob("judges/*PandaLM*gpt-3.5-turbo-testset*.json"))))
    humans = read(str(DATA / "llm-pairwise" / "WeOpenML_PandaLM__data_testset-v1.json"))
    votes: dict[str, dict[str, str]] = {}
    apps: dict[str, str] = {}
    for pid, ann, win, app in zip(humans.column("pair_id"), humans.column("annotator_id"),
                                  humans.column("winner"), humans.column("motivation_app"),
                                  strict=True):
        votes.setdefault(str(pid), {})[str(ann)] = str(win)
        apps[str(pid)] = str(app or "?")
    verdict = dict(zip(map(str, judged.column("pair_id")), judged.column("winner"), strict=True))
    ids = [k for k, v in votes.items() if v["annotator2"] == v["annotator3"]]
    judge_p = verdict_probability([[verdict.get(k)] for k in ids])
    human = np.array([votes[k]["annotator1"] for k in ids], dtype=object)
    gold = np.array([votes[k]["annotator2"] for k in ids], dtype=object)
    counts = Counter(apps[k] for k in ids)
    tags = np.array([apps[k] if counts[apps[k]] >= 40 else "other" for k in ids], dtype=object)
    return judge_p, human, gold, tags


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    args = parser.parse_args()
    from prefkit.judge.routing import (
        PerformancePredictor,
        as_labels,
        greedy_route,
        label_accuracy,
        mixed_labels,
        random_mixes,
        route_at_random,
        route_by_confidence,
        routing_curve,
    )

    start = time.perf_counter()
    judge_p, human, gold, tags = load()
    judge = as_labels(judge_p)
    print(f"{len(gold)} records (annotators 2 and 3 agree); judge labels: "
          f"{dict(Counter(judge.tolist()))}")
    print(f"all-LM accuracy {label_accuracy(judge, gold):.3f}, "
          f"all-human accuracy {label_accuracy(human, gold):.3f}")
    budgets = [0.05, 0.1, 0.2, 0.3, 0.5]
    print("\nconfidence routing (all records)")
    print("budget  human labels  confidence  random  random 95% range")
    for row in routing_curve(judge_p, human, gold, budgets, seeds=args.seeds):
        lo, hi = row["random_range"]
        print(f"{row['budget']:>6.2f}  {row['human_labels']:>12}  {row['accuracy']:>10.3f}  "
              f"{row['random']:>6.3f}  [{lo:.3f}, {hi:.3f}]")

    rng = np.random.default_rng(0)
    half = rng.random(len(gold)) < 0.5
    fit_idx, use_idx = np.flatnonzero(half), np.flatnonzero(~half)

    def quality(idx: np.ndarray):
        return lambda routed: label_accuracy(mixed_labels(judge[idx], human[idx], routed),
                                             gold[idx])

    names, phis, measured = random_mixes(tags[fit_idx], quality(fit_idx), n_mixes=80)
    ppm = PerformancePredictor(names, alpha=1e-2).fit(phis, measured)
    print(f"\nperformance predictor on tags {names} (fit on {len(fit_idx)} records, "
          f"routing the other {len(use_idx)})")
    print("budget  predictor  confidence  random")
    q = quality(use_idx)
    for share in budgets:
        b = round(share * len(use_idx))
        acc_p = np.mean([q(greedy_route(tags[use_idx], b, ppm, seed=s))
                         for s in range(args.seeds)])
        acc_c = np.mean([q(route_by_confidence(judge_p[use_idx], b, seed=s))
                         for s in range(args.seeds)])
        acc_r = np.mean([q(route_at_random(len(use_idx), b, seed=s)) for s in range(args.seeds)])
        print(f"{share:>6.2f}  {acc_p:>9.3f}  {acc_c:>10.3f}  {acc_r:>6.3f}")
    print(f"\n{time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
