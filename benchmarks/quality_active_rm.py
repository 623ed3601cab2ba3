"""What to label next for a reward model: ensemble disagreement vs random records.

    .venv/bin/python benchmarks/quality_active_rm.py [--seeds 5] [--budget 400]
    .venv/bin/python benchmarks/quality_active_rm.py --real [--seeds 10]   # PandaLM, real labels

Real data (``--real``): the PandaLM test set (999 comparisons × 3 annotators).  Per seed, 20 %
of the comparisons are held out and scored against their *majority* label (decisive majorities
only); the pool is the other comparisons with *one* annotator's label each, drawn at random (the
label one more request would buy).  The reward model is the flip detector's stronger one
(MiniLM embeddings + style + item columns, :mod:`prefkit.quality.rm_features`), a 5-member
bootstrap ensemble of linear heads; each round adds ``--batch`` labels chosen by ``sign``
(:func:`prefkit.quality.active_rm.disagreement_scores` on the members' gaps) or at random.
Reported: held-out accuracy per label count, and the labels each strategy needs to reach a
target accuracy (per seed; ratio sign / random with a bootstrap interval over seeds).

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
import sys
from pathlib import Path

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


PANDALM = (Path(__file__).resolve().parents[1].parent / "shared" / "data" / "llm-pairwise"
           / "WeOpenML_PandaLM__data_testset-v1.json")


def real_world(extras: str = "style+items") -> tuple[object, np.ndarray, np.ndarray]:
    """(features of every PandaLM record, label per record (1 = a), comparison id per record)."""
    import prefkit
    from prefkit.quality.rm_flips import pair_features_of

    ds = prefkit.read(str(PANDALM))
    feats = pair_features_of(ds, extras=extras)
    pid = np.asarray([str(p) for p in ds.column("pair_id")])
    return feats, np.asarray(ds.outcomes(), dtype=float), pid


def real_run(world, seed: int, start: int, batch: int, strategy: str) -> list[tuple[int, float]]:
    from prefkit.quality.active_rm import disagreement_scores
    from prefkit.reward import EnsembleHead
    from prefkit.reward.features import PairFeatures

    feats, y, pid = world
    rng = np.random.default_rng(seed)
    comps = np.unique(pid)
    rows_of = {c: np.flatnonzero(pid == c) for c in comps}
    test_c = set(rng.choice(comps, size=len(comps) // 5, replace=False).tolist())
    test_rows, test_y, pool = [], [], []
    for c in comps:
        rows = rows_of[c]
        if c in test_c:
            votes = y[rows][np.abs(y[rows] - 0.5) > 1e-9]
            if len(votes) and votes.mean() != 0.5:
                test_rows.append(rows[0])
                test_y.append(float(votes.mean() > 0.5))
        else:
            pool.append(int(rng.choice(rows)))  # one annotator's label
    pool = np.asarray(pool)
    pool = pool[np.abs(y[pool] - 0.5) > 1e-9]  # ties teach a linear head little; keep it simple
    test_rows, test_y = np.asarray(test_rows), np.asarray(test_y)
    xa_t, xb_t = feats.xa[test_rows], feats.xb[test_rows]
    chosen = list(rng.choice(len(pool), size=start, replace=False))
    curve = []
    while True:
        rows = pool[chosen]
        head = EnsembleHead(members=5, bootstrap=True, seed=seed, epochs=300,
                            weight_decay=1e-3).fit(PairFeatures(feats.xa[rows], feats.xb[rows],
                                                                y=y[rows]))
        gap_t = (head.member_rewards(xa_t) - head.member_rewards(xb_t)).double().numpy()
        curve.append((len(chosen), float(((gap_t.mean(1) > 0) == (test_y > 0.5)).mean())))
        rest = np.setdiff1d(np.arange(len(pool)), chosen)
        if len(rest) == 0:
            return curve
        k = min(batch, len(rest))
        if strategy == "random":
            chosen += list(rng.choice(rest, size=k, replace=False))
        else:
            r = pool[rest]
            gap = (head.member_rewards(feats.xa[r]) - head.member_rewards(feats.xb[r])
                   ).double().numpy()
            score = disagreement_scores(gap.mean(1), gap.std(1), strategy)
            chosen += list(rest[np.argsort(-score, kind="stable")[:k]])


def labels_to_reach(curve: list[tuple[int, float]], target: float) -> float:
    """Labels at the first point of ``curve`` whose accuracy is ≥ target (inf if never)."""
    for k, acc in curve:
        if acc >= target:
            return float(k)
    return float("inf")


def real_main(seeds: int, start: int, batch: int, extras: str) -> None:
    world = real_world(extras)
    curves: dict[str, list] = {"sign": [], "random": []}
    for seed in range(seeds):
        for s in curves:
            curves[s].append(real_run(world, seed, start, batch, s))
            print(f"# seed {seed} {s}: {curves[s][-1]}", file=sys.stderr, flush=True)
    sizes = [k for k, _ in curves["random"][0]]
    print(f"PandaLM, features {extras!r}, {seeds} seeds: held-out accuracy against the "
          "majority label (mean ± sd)\n")
    print("| labels | sign Φ(−|μ|/u) | random |")
    print("|---|---|---|")
    for i, k in enumerate(sizes):
        cells = []
        for s in ("sign", "random"):
            acc = np.array([c[i][1] for c in curves[s] if i < len(c)])
            cells.append(f"{acc.mean():.3f} ± {acc.std(ddof=1):.3f}")
        print(f"| {k} | {' | '.join(cells)} |")
    full = np.mean([c[-1][1] for c in curves["random"]])
    print(f"\nrandom with the whole pool ({sizes[-1]} labels): {full:.3f}\n")
    print("| target accuracy | sign labels (mean) | random labels (mean) | ratio sign / random "
          "[95 % bootstrap over seeds] | seeds where random never reaches it |")
    print("|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    for gap in (0.03, 0.02, 0.01):
        target = full - gap
        a = np.array([labels_to_reach(c, target) for c in curves["sign"]])
        r = np.array([labels_to_reach(c, target) for c in curves["random"]])
        a_f, r_f = np.where(np.isinf(a), sizes[-1], a), np.where(np.isinf(r), sizes[-1], r)
        idx = rng.integers(0, seeds, size=(2000, seeds))
        ratios = a_f[idx].mean(1) / r_f[idx].mean(1)
        lo, hi = np.percentile(ratios, [2.5, 97.5])
        print(f"| {target:.3f} (full − {gap}) | {a_f.mean():.0f} | {r_f.mean():.0f} | "
              f"{a_f.mean() / r_f.mean():.2f} [{lo:.2f}, {hi:.2f}] | "
              f"{int(np.isinf(r).sum())} (sign: {int(np.isinf(a).sum())}) |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budget", type=int, default=400)
    parser.add_argument("--batch", type=int, default=40)
    parser.add_argument("--real", action="store_true", help="PandaLM instead of the simulator")
    parser.add_argument("--start", type=int, default=50, help="--real: random labels to start")
    parser.add_argument("--features", default="style+items",
                        help="--real: none, style, items or style+items")
    args = parser.parse_args()
    if args.real:
        import warnings

        warnings.simplefilter("ignore")
        real_main(args.seeds, args.start, args.batch, args.features)
        return
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
