"""Noisy-label detection on the simulator: estimated vs true flip rate, precision/recall of the
flagged records (P(flip) > ½), over seeds (issue #16 item 2).

    .venv/bin/python benchmarks/quality_flips.py [--seeds 5]
"""

from __future__ import annotations

import argparse

import numpy as np

from prefkit.quality.noisy_labels import detect_flips
from prefkit.quality.simulate import simulate_flips


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    print("| flip rate | estimated ε (mean ± sd) | precision | recall | chance precision |")
    print("|---|---|---|---|---|")
    for rate in (0.05, 0.1, 0.2, 0.3):
        eps, prec, rec, true = [], [], [], []
        for seed in range(args.seeds):
            sim = simulate_flips(n_items=30, n_comparisons=3000, flip_rate=rate, seed=seed)
            report = detect_flips(sim.dataset, seed=seed)
            flagged = report.flagged()
            hits = (flagged & sim.flipped).sum()
            eps.append(report.flip_rate)
            true.append(sim.flipped.mean())
            prec.append(hits / max(flagged.sum(), 1))
            rec.append(hits / max(sim.flipped.sum(), 1))
        print(f"| {rate} (realised {np.mean(true):.3f}) | {np.mean(eps):.3f} ± {np.std(eps):.3f} "
              f"| {np.mean(prec):.3f} | {np.mean(rec):.3f} | {np.mean(true):.3f} |")


if __name__ == "__main__":
    main()
