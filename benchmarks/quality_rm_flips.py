"""Noisy labels with a cross-fitted reward-model ensemble (docs/quality.md, section 2b).

    .venv/bin/python benchmarks/quality_rm_flips.py [--seeds 3] [--real-splits 5] [--no-real]
        [--features none|style|items|style+items]

Simulator (prefkit.quality.simulate_rm: items with known embeddings, linear true reward, labels
swapped at a known rate): the estimated flip rate ε against the realised one, precision/recall of
the flagged records (chance precision = the realised rate), the disagreement-rate baseline, and
held-out accuracy of a linear reward head after each repair (against the clean and the noisy
labels).  Real data (MiniLM embeddings through the encode cache; skipped when the files are
absent): ε with its profile interval, and held-out reward-model accuracy before / after repair
on 80/20 splits by prompt.  Writes nothing but stdout.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np

import prefkit
from prefkit.quality.repair_eval import heldout_repair_accuracy
from prefkit.quality.rm_flips import detect_flips_rm, pair_features_of
from prefkit.quality.simulate_rm import simulate_flips

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
REAL = {
    "PandaLM test set (3 annotators)": "llm-pairwise/WeOpenML_PandaLM__data_testset-v1.json",
    "LLMEval²": ("llm-pairwise/AlibabaResearch_DAMO-ConvAI__WideDeep_evaluation_data_"
                 "LLMEval2_benchmark.json.zip"),
    "Tulu-1 human evaluation": ("annotators/allenai_open-instruct__human_eval_data_eval_"
                                "annotations_tulu_1.converted.csv"),
}


PLANT: tuple[float, ...] = (0.2,)


def simulator(seeds: int) -> None:
    print("| flip rate | realised | ε̂ (mean ± sd) | profile 95 % interval covers | precision | "
          "recall | chance precision | disagreement baseline |")
    print("|---|---|---|---|---|---|---|---|")
    for rate in (0.05, 0.1, 0.2, 0.3):
        rows = []
        for seed in range(seeds):
            ds, feats, flipped = simulate_flips(3000, flip_rate=rate, dim=16, seed=seed)
            rep = detect_flips_rm(ds, features=feats, seed=seed)
            fl = rep.flagged()
            lo, hi = rep.flip_rate_interval
            rows.append((flipped.mean(), rep.flip_rate, lo <= flipped.mean() <= hi,
                         (fl & flipped).sum() / max(fl.sum(), 1),
                         (fl & flipped).sum() / max(flipped.sum(), 1), rep.disagreement_rate))
        r = np.array(rows, dtype=float)
        print(f"| {rate} | {r[:, 0].mean():.3f} | {r[:, 1].mean():.3f} ± {r[:, 1].std():.3f} | "
              f"{int(r[:, 2].sum())}/{seeds} | {r[:, 3].mean():.3f} | {r[:, 4].mean():.3f} | "
              f"{r[:, 0].mean():.3f} | {r[:, 5].mean():.3f} |")
    print("\nHeld-out accuracy of a linear reward head after repair (1,000 records, 32-dim "
          f"embeddings, one 80/20 split by prompt per seed, {seeds} seeds; against clean labels "
          "/ against the noisy held-out labels):\n")
    print("| flip rate | none | drop | flip | soft |")
    print("|---|---|---|---|---|")
    for rate in (0.1, 0.3):
        acc: dict[str, list[tuple[float, float]]] = {}
        for seed in range(seeds):
            ds, feats, flipped = simulate_flips(1000, flip_rate=rate, dim=32, seed=100 + seed)
            y = ds.outcomes()
            out = heldout_repair_accuracy(ds, features=feats, splits=1, seed=seed,
                                          clean=np.where(flipped, 1 - y, y))
            for how, row in out["repairs"].items():
                acc.setdefault(how, []).append((row["clean_accuracy"], row["accuracy"]))
        cells = [f"{np.mean([a for a, _ in v]):.3f} / {np.mean([b for _, b in v]):.3f}"
                 for v in acc.values()]
        print(f"| {rate} | " + " | ".join(cells) + " |")


def minority_check(ds, rep) -> str:
    """PandaLM: do flagged labels disagree with the record's two other annotators?"""
    if not ds.has("pair_id") or not ds.has("annotator_id"):
        return ""
    pid = np.asarray([str(p) for p in ds.column("pair_id")])
    y = ds.outcomes()
    minority = np.zeros(len(y), dtype=bool)
    for p in np.unique(pid):
        rows = np.flatnonzero(pid == p)
        for r in rows:
            others = [y[o] for o in rows if o != r and y[o] != 0.5]
            if len(others) == 2 and y[r] != 0.5 and all(o != y[r] for o in others):
                minority[r] = True
    fl = rep.flagged()
    top = rep.suspicion_order()[:max(int(minority.sum()), 1)]
    decisive = y != 0.5
    rank = np.empty(len(y))
    rank[rep.suspicion_order()] = np.arange(len(y))[::-1]  # higher = more suspect
    pos, neg = rank[minority & decisive], rank[~minority & decisive]
    auc = (pos[:, None] > neg[None, :]).mean() if len(pos) and len(neg) else float("nan")
    return (f"; labels outvoted by both other annotators: {minority.sum()} "
            f"({minority.mean():.3f}); of those, flagged: {(fl & minority).sum()}; among the "
            f"{len(top)} most suspect records, outvoted: {minority[top].mean():.3f} "
            f"(chance {minority.mean():.3f}); AUC of the suspicion order for outvoted labels "
            f"{auc:.3f}")


def planted(ds, feats, rate: float, splits: int, seed: int = 0) -> None:
    """Semi-synthetic: swap a known share of a real file's decisive labels, then detect and
    repair; accuracy is scored against the file's original held-out labels."""
    from prefkit import PreferenceDataset

    y = ds.outcomes()
    rng = np.random.default_rng(seed)
    decisive = np.abs(y - 0.5) > 1e-9
    swap = decisive & (rng.random(len(y)) < rate)
    rows = ds.table.to_pylist()
    for r, s in zip(rows, swap, strict=True):
        if s:
            r["winner"] = "b" if r["winner"] == "a" else "a"
            r.pop("p_a", None)
    noisy = PreferenceDataset.from_records(rows, name=ds.name)
    rep = detect_flips_rm(noisy, features=feats, seed=seed)
    fl = rep.flagged()
    order = rep.suspicion_order()[:int(swap.sum())]
    out = heldout_repair_accuracy(noisy, features=feats, splits=splits, seed=seed, clean=y)
    lo, hi = rep.flip_rate_interval
    print(f"\nPlanted flips at {rate} of the decisive labels (realised "
          f"{swap[decisive].mean():.3f}): ε̂ = {rep.flip_rate:.3f} [{lo:.3f}, {hi:.3f}]; "
          f"flagged {int(fl.sum())}, precision "
          f"{(fl & swap).sum() / max(fl.sum(), 1):.3f}, recall "
          f"{(fl & swap).sum() / max(swap.sum(), 1):.3f}; among the {len(order)} most suspect, "
          f"planted: {swap[order].mean():.3f} (chance {swap.mean():.3f})\n")
    print("| repair | held-out accuracy vs the original labels | vs the noisy labels |")
    print("|---|---|---|")
    for how, row in out["repairs"].items():
        print(f"| {how} | {row['clean_accuracy']:.4f} | {row['accuracy']:.4f} |")


def real(splits: int, planted_only: bool = False, extras: str = "none") -> None:
    for title, rel in REAL.items():
        path = DATA / rel
        if not path.exists():
            print(f"\n({title}: {path} absent, skipped)")
            continue
        ds = prefkit.read(str(path))
        ds = ds if ds.kind == "pairwise" else ds.to_pairs()
        t = time.perf_counter()
        feats = pair_features_of(ds, extras=extras)
        t_enc = time.perf_counter() - t
        if planted_only:
            for rate in PLANT:
                planted(ds, feats, rate, splits)
            continue
        t = time.perf_counter()
        rep = detect_flips_rm(ds, features=feats, seed=0)
        t_fit = time.perf_counter() - t
        lo, hi = rep.flip_rate_interval
        print(f"\n### {title} ({len(ds):,} records, features {extras!r}; encode {t_enc:.0f} s, "
              f"detect {t_fit:.0f} s)\n")
        print(f"ε = {rep.flip_rate:.3f} [{lo:.3f}, {hi:.3f}] (α = {rep.scale:.2f}); "
              f"disagreement baseline {rep.disagreement_rate:.3f} (cross-fitted accuracy "
              f"{rep.crossfit_accuracy:.3f}); flagged {int(rep.flagged().sum())}"
              + minority_check(ds, rep))
        out = heldout_repair_accuracy(ds, features=feats, splits=splits, seed=0)
        print(f"\n| repair | held-out RM accuracy (mean ± sd of {splits} splits by prompt, "
              f"≈ {out['test_records']:.0f} decisive test records) |")
        print("|---|---|")
        for how, row in out["repairs"].items():
            print(f"| {how} | {row['accuracy']:.4f} ± {row['accuracy_sd']:.4f} |")
        print(f"\n(ε on the training parts {out['flip_rate']:.3f}, flagged share "
              f"{out['flagged_share']:.3f})")
        for rate in PLANT:
            planted(ds, feats, rate, splits)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--real-splits", type=int, default=5)
    parser.add_argument("--no-real", action="store_true")
    parser.add_argument("--no-simulator", action="store_true")
    parser.add_argument("--only", metavar="NAME", help="one real file (a key of REAL)")
    parser.add_argument("--features", default="none",
                        help="real files: the reward model's extra columns (none, style, items, "
                        "style+items; prefkit.quality.rm_features)")
    parser.add_argument("--planted-only", action="store_true",
                        help="real files: only the planted-flip experiment")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    if args.only:
        for key in list(REAL):
            if key != args.only:
                REAL.pop(key)
    if not args.no_simulator:
        t = time.perf_counter()
        simulator(args.seeds)
        print(f"\n(simulator: {time.perf_counter() - t:.0f} s)")
    if not args.no_real:
        real(args.real_splits, args.planted_only, args.features)


if __name__ == "__main__":
    main()
