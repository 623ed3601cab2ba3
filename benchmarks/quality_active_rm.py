"""What to label next for a reward model: ensemble disagreement vs random records (simulator).

    .venv/bin/python benchmarks/quality_active_rm.py [--seeds 5] [--budget 400]

World: 200 items with 8-dim features (dims 4–7 heavy-tailed: most items near 0, a few far out),
true reward w·x; a pool of 4,000 unlabelled pairs; 4,000 held-out pairs scored by agreement with
the true preference sign.  Start from 40 random labels (Bradley–Terry draws from the true
reward); each round fits ``RewardModel(head="ensemble", members=5)`` on a deterministic table
encoder and adds 40 labels: the records of largest member disagreement
(``prefkit.quality.active_rm.propose_records``, criterion ``spread`` or ``sign``) or random
ones.
"""

from __future__ import annotations

import argparse

import numpy as np

from prefkit import PreferenceDataset
from prefkit.quality.active_rm import propose_records
from prefkit.reward import RewardModel

SEP = "\n\n"


class TableEncoder:
    def __init__(self, vectors: dict[str, np.ndarray]) -> None:
        self.vectors, self.id = vectors, "table"

    @property
    def dim(self) -> int:
        return len(next(iter(self.vectors.values())))

    def encode(self, texts):
        return np.stack([self.vectors[t.split(SEP)[-1]] for t in texts]).astype(np.float32)


def run(seed: int, budget: int, batch: int, strategy: str) -> list[tuple[int, float]]:
    rng = np.random.default_rng(seed)
    n = 200
    x = np.c_[rng.normal(size=(n, 4)), rng.standard_t(1.5, size=(n, 4)) * 0.5]
    w = rng.normal(size=8)
    names = [f"r{i}" for i in range(n)]
    enc = TableEncoder(dict(zip(names, x, strict=True)))
    reward = x @ w

    def pairs(m: int) -> tuple[np.ndarray, np.ndarray]:
        a = rng.integers(0, n, m)
        return a, (a + rng.integers(1, n, m)) % n

    pa, pb = pairs(4000)
    labels = np.where(rng.random(4000) < 1 / (1 + np.exp(-(reward[pa] - reward[pb]))), "a", "b")
    ta, tb = pairs(4000)
    test = PreferenceDataset.from_records(
        [{"a": names[i], "b": names[j], "winner": "tie"} for i, j in zip(ta, tb, strict=True)])
    truth = reward[ta] > reward[tb]
    pool = PreferenceDataset.from_records(
        [{"a": names[i], "b": names[j], "winner": "tie"} for i, j in zip(pa, pb, strict=True)])
    chosen = list(rng.choice(4000, size=batch, replace=False))
    curve = []
    while True:
        train = PreferenceDataset.from_records(
            [{"a": names[pa[r]], "b": names[pb[r]], "winner": labels[r]} for r in chosen])
        model = RewardModel(enc, "ensemble", members=5, epochs=100, seed=seed).fit(train)
        acc = float(np.mean((model.predict_proba(test) > 0.5) == truth))
        curve.append((len(chosen), acc))
        if len(chosen) >= budget:
            return curve
        rest = np.setdiff1d(np.arange(4000), chosen)
        if strategy == "random":
            chosen += list(rng.choice(rest, size=batch, replace=False))
        else:
            top = propose_records(model, pool.filter(np.isin(np.arange(4000), rest)), batch,
                                  criterion=strategy)
            chosen += [int(rest[t["row"]]) for t in top]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budget", type=int, default=400)
    parser.add_argument("--batch", type=int, default=40)
    args = parser.parse_args()
    names = ("spread", "sign", "random")
    curves = {s: [run(seed, args.budget, args.batch, s) for seed in range(args.seeds)]
              for s in names}
    sizes = [k for k, _ in curves["random"][0]]
    print("| labels | spread u: accuracy (mean ± sd) | sign Φ(−|μ|/u) | random |")
    print("|---|---|---|---|")
    for i, k in enumerate(sizes):
        cells = []
        for s in names:
            acc = np.array([c[i][1] for c in curves[s]])
            cells.append(f"{acc.mean():.3f} ± {acc.std(ddof=1) if len(acc) > 1 else 0:.3f}")
        print(f"| {k} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
