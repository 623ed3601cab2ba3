"""Labels needed to reach a Kendall τ target: active pair selection vs random (issue #16 item 5).

    .venv/bin/python benchmarks/quality_active.py [--seeds 30]

Prints, per setting, the mean labels (and a 95 % bootstrap interval of the ratio active/random).
"""

from __future__ import annotations

import argparse

import numpy as np

from prefkit.quality.active import labels_to_reach_tau


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=30)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print("| items | spread | τ target | active labels | random labels | ratio [95 % CI] |")
    print("|---|---|---|---|---|---|")
    for n_items, spread, target in ((12, 3.0, 0.85), (12, 3.0, 0.95), (20, 4.0, 0.9)):
        act = np.array([labels_to_reach_tau(True, s, n_items=n_items, spread=spread,
                                            target=target) for s in range(args.seeds)])
        ran = np.array([labels_to_reach_tau(False, s, n_items=n_items, spread=spread,
                                             target=target) for s in range(args.seeds)])
        boots = []
        for _ in range(2000):
            k = rng.integers(0, len(act), len(act))
            boots.append(act[k].mean() / ran[k].mean())
        lo, hi = np.percentile(boots, [2.5, 97.5])
        print(f"| {n_items} | {spread} | {target} | {act.mean():.0f} | {ran.mean():.0f} | "
              f"{act.mean() / ran.mean():.2f} [{lo:.2f}, {hi:.2f}] |")


if __name__ == "__main__":
    main()
