"""MORE vs pooled and uniformly weighted Bradley–Terry training on diverse preference groups
(seed row 6): calibration on the shared preferences and within each group.

MORE (Zeng et al. 2023) claims that training one reward model on several data sets whose
annotators disagree hurts calibration on the preferences they share, and that its min-norm (MGDA)
re-weighting of the per-data-set losses lowers that calibration error.  Simulation with known
truth: responses are random feature vectors (a stand-in frozen encoder); every group labels pairs
by σ(Δφ·(w_shared + w_group)), with group-specific directions that disagree and group sizes that
differ (the largest group dominates pooled training).  Three linear BT reward models
(:class:`prefkit.reward.MORERewardModel` with ``weighting`` = ``pooled`` / ``uniform`` /
``mgda``) are scored by ECE (10 bins,
:func:`prefkit.evaluate.calibration.expected_calibration_error`) on fresh pairs labelled by the
*shared* direction alone, and on each group's own fresh pairs.

    .venv/bin/python benchmarks/seeds_more.py --seeds 5

Prints per seed and the medians; docs/seeds.md quotes this command's output.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

DIM = 16
SIZES = (2000, 600, 300, 150)


class TableEncoder:
    id = "table"

    def __init__(self, vectors: dict[str, np.ndarray]) -> None:
        self.vectors, self.dim = vectors, DIM

    def encode(self, texts: list[str]) -> np.ndarray:
        return np.stack([self.vectors[t.split("\n\n")[-1]] for t in texts]).astype(np.float32)


def world(seed: int) -> tuple[dict[str, np.ndarray], np.ndarray, list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    vectors = {f"r{i}": rng.normal(size=DIM) / np.sqrt(DIM) for i in range(400)}
    shared = rng.normal(size=DIM)
    shared *= 2.0 / np.linalg.norm(shared)
    groups = []
    for _ in SIZES:
        own = rng.normal(size=DIM)
        own -= (own @ shared) / (shared @ shared) * shared  # disagreement orthogonal to shared
        groups.append(own * 3.0 / np.linalg.norm(own))
    return vectors, shared, groups


def pairs(vectors, direction, n, rng, source=None):
    from prefkit import PreferenceDataset

    names = list(vectors)
    rows = []
    for _ in range(n):
        a, b = rng.choice(names, 2, replace=False)
        p = 1 / (1 + np.exp(-(vectors[a] - vectors[b]) @ direction))
        row = {"a_text": str(a), "b_text": str(b), "winner": "a" if rng.random() < p else "b"}
        if source is not None:
            row["source"] = source
        rows.append(row)
    return PreferenceDataset.from_records(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=300)
    args = parser.parse_args()

    from prefkit import PreferenceDataset
    from prefkit.evaluate.calibration import expected_calibration_error
    from prefkit.reward import MORERewardModel

    t0 = time.perf_counter()
    results: dict[str, dict[str, list[float]]] = {}
    for seed in range(args.seeds):
        rng = np.random.default_rng(seed + 1000)
        vectors, shared, groups = world(seed)
        enc = TableEncoder(vectors)
        train = PreferenceDataset.from_records([
            r for k, (n, own) in enumerate(zip(SIZES, groups, strict=True))
            for r in pairs(vectors, shared + own, n, rng, source=f"g{k}").to_records()])
        shared_test = pairs(vectors, shared, 3000, rng)
        group_tests = [pairs(vectors, shared + own, 1000, rng) for own in groups]
        line = []
        for weighting in ("pooled", "uniform", "mgda"):
            model = MORERewardModel(enc, weighting=weighting, epochs=args.epochs).fit(train)
            ece_shared = expected_calibration_error(shared_test.outcomes(),
                                                    model.predict_proba(shared_test))
            per_group = [expected_calibration_error(t.outcomes(), model.predict_proba(t))
                         for t in group_tests]
            cos = float(model.weights_ @ shared / np.linalg.norm(model.weights_)
                        / np.linalg.norm(shared))
            res = results.setdefault(weighting, {"shared": [], "mean_group": [],
                                                 "worst_group": [], "cos": []})
            res["shared"].append(ece_shared)
            res["mean_group"].append(float(np.mean(per_group)))
            res["worst_group"].append(float(np.max(per_group)))
            res["cos"].append(cos)
            line.append(f"{weighting}: shared ECE {ece_shared:.3f}, group ECE mean "
                        f"{np.mean(per_group):.3f} worst {np.max(per_group):.3f}, "
                        f"cos(w, shared) {cos:.2f}")
        print(f"seed {seed}: " + " | ".join(line), flush=True)
    print(f"medians over {args.seeds} seeds:")
    for weighting, res in results.items():
        print(f"  {weighting:8s} shared ECE {statistics.median(res['shared']):.3f}  "
              f"group ECE mean {statistics.median(res['mean_group']):.3f}  "
              f"worst {statistics.median(res['worst_group']):.3f}  "
              f"cos(w, shared) {statistics.median(res['cos']):.2f}")
    ratio = statistics.median(results["mgda"]["shared"]) / statistics.median(
        results["pooled"]["shared"])
    print(f"MORE / pooled shared-ECE ratio (median): {ratio:.2f}   "
          f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
