"""Reward models on real preference data: frozen MiniLM embeddings + heads, a fine-tuned MiniLM,
and the simplest baseline.

Train on LLMEval² + PandaLM (annotator majority) + Tulu-1 (annotator majority) from
``../shared/data``; evaluate on LLMBar (Natural, Adversarial), HHH and LLMBar's processed MT-Bench
human subset, with a RewardBench-v1-style summary (LLMBar subsets form the "Chat Hard" section,
HHH the prior set); plus a within-dataset split of LLMEval² by prompt.  Baseline: scikit-learn
logistic regression on packed-embedding differences (both orders of each pair).  Ties are dropped
from training; accuracy excludes ties.

The candidate representation (``inputs``: packed text, packed text + the encoder's prompt–response
cosine, relevance features, or packed + relevance; :mod:`prefkit.encode.relevance`) is chosen on
the *training* data only — leave-one-source-out transfer between its three sources, with 80/20
splits by prompt for reference — never on the test sets; the test tables then report every model's
accuracy with a 95 % Wilson interval and an exact paired sign test (McNemar) against the baseline
on the same records.  LLMBar's processed FairEval set is reported beside the four as a set that
played no part in any choice.

    .venv/bin/python benchmarks/reward_real.py               # heads: a few minutes (cached after)
    .venv/bin/python benchmarks/reward_real.py --finetune    # + fine-tuned MiniLM (~10 min, CPU)
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import binomtest
from sklearn.linear_model import LogisticRegression

from prefkit import PreferenceDataset, read
from prefkit.core.mathfn import sigmoid
from prefkit.encode import default_encoder
from prefkit.encode.relevance import INPUTS
from prefkit.evaluate import accuracy, expected_calibration_error, log_loss
from prefkit.evaluate.classification import accuracy_credit
from prefkit.reward import RewardModel, TransformerRewardModel, candidate_columns, rewardbench_v1

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "llm-pairwise"
ANNOTATORS = DATA.parent / "annotators"
#: prompt–response relevance features next to the packed text ("p+r" in the tables)
BOTH = "packed+relevance"
ADVERSARIAL = {"Neighbor": "neighbor", "GPTInst": "GPTInst", "GPTOut": "GPTOut",
               "Manual": "manual"}


def _load(pattern: str, folder: Path = DATA) -> PreferenceDataset:
    (path,) = sorted(folder.glob(pattern))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read(path)


def _text_pairs(ds: PreferenceDataset, subset: str | None = None) -> PreferenceDataset:
    keep = [c for c in ("prompt", "a_text", "b_text", "winner") if c in ds.columns]
    ds = ds.replace(ds.table.select(keep))
    has_text = np.array(
        [bool(a) and bool(b) for a, b in zip(ds.column("a_text"), ds.column("b_text"), strict=True)]
    )
    ds = ds.filter(~ds.is_tie() & has_text)
    if subset is not None:
        ds = ds.with_column("subset", [subset] * len(ds))
    return ds


def training_sources() -> dict[str, PreferenceDataset]:
    return {
        "LLMEval²": _text_pairs(_load("*LLMEval2_benchmark*")),
        "PandaLM": _text_pairs(_load("*PandaLM*").aggregate_annotators("majority")),
        "Tulu-1": _text_pairs(_load("*tulu_1*", ANNOTATORS).aggregate_annotators("majority")),
    }


def training_set() -> PreferenceDataset:
    return PreferenceDataset.concat(list(training_sources().values()))


def test_sets() -> dict[str, PreferenceDataset]:
    return {
        "LLMBar Natural": _text_pairs(_load("*LLMBar_Natural*"), "llmbar-natural"),
        "LLMBar Adversarial": PreferenceDataset.concat(
            [_text_pairs(_load(f"*Adversarial_{s}*"), f"llmbar-adver-{name}")
             for s, name in ADVERSARIAL.items()]
        ),
        "HHH": _text_pairs(_load("*hhh_alignment*"), "anthropic_hhh"),
        "MT-Bench human (LLMBar)": _text_pairs(_load("*Processed_MT-Bench*"), "mtbench_human"),
    }


def extra_test_sets() -> dict[str, PreferenceDataset]:
    """A set outside the issue's four, never looked at while choosing the default."""
    return {"FairEval (LLMBar)": _text_pairs(_load("*Processed_FairEval*"), "faireval")}


class Baseline:
    """Logistic regression on feature differences (of packed embeddings unless ``features`` says
    otherwise), as a scorer (``predict_proba``)."""

    def __init__(self, features: RewardModel) -> None:
        self.features = features

    def fit(self, ds: PreferenceDataset) -> Baseline:
        f = self.features.features(ds)
        y = ds.outcomes() > 0.5
        self.lr_ = LogisticRegression(max_iter=2000, C=1.0).fit(
            np.vstack([f.xa - f.xb, f.xb - f.xa]), np.r_[y, ~y]
        )
        return self

    def predict_proba(self, ds: PreferenceDataset) -> np.ndarray:
        f = self.features.features(ds)
        return self.lr_.predict_proba(f.xa - f.xb)[:, 1]


def _cells(model: Any, ds: PreferenceDataset) -> str:
    y, p = ds.outcomes(), model.predict_proba(ds)
    return f"{accuracy(y, p):.3f} / {log_loss(y, p):.3f} / {expected_calibration_error(y, p):.3f}"


def _credit(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    credit, counted = accuracy_credit(np.asarray(y, float), np.asarray(p, float))
    return credit[counted]


def wilson(k: float, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion k / n (Wilson 1927)."""
    if n == 0:
        return float("nan"), float("nan")
    q = k / n
    centre = (q + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(q * (1 - q) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def paired_cell(model_p: np.ndarray, base_p: np.ndarray, y: np.ndarray) -> str:
    """``acc [lo, hi] (+w/−l, p)``: accuracy, its 95 % Wilson interval, and the exact two-sided
    sign test (McNemar) on the records where the model and the baseline disagree in credit."""
    mine, base = _credit(y, model_p), _credit(y, base_p)
    lo, hi = wilson(mine.sum(), len(mine))
    wins, losses = int((mine > base).sum()), int((mine < base).sum())
    pval = binomtest(wins, wins + losses, 0.5).pvalue if wins + losses else 1.0
    return f"{mine.mean():.3f} [{lo:.2f}, {hi:.2f}] (+{wins}/−{losses}, p={pval:.2g})"


def heuristics(encoder: Any, sets: dict[str, PreferenceDataset]) -> None:
    """Accuracy of two one-feature rules per set: "the longer response wins" (characters) and
    "the response closer to the prompt wins" (cosine of the separate MiniLM embeddings)."""
    print("\nOne-feature rules (no training): accuracy\n")
    print("| set | n | longer wins | higher cos(prompt, response) wins |")
    print("|---|---:|---:|---:|")
    for name, ds in sets.items():
        prompts, ta, tb = candidate_columns(ds)
        e_p = encoder.encode([p or "" for p in prompts])
        gap_cos = (e_p * encoder.encode(ta)).sum(1) - (e_p * encoder.encode(tb)).sum(1)
        gap_len = np.array([len(a) - len(b) for a, b in zip(ta, tb, strict=True)], dtype=float)
        y = ds.outcomes()
        cells = [_credit(y, 0.5 + 0.5 * np.sign(g)).mean() for g in (gap_len, gap_cos)]
        print(f"| {name} | {len(ds)} | {cells[0]:.3f} | {cells[1]:.3f} |")


def _candidates(encoder: Any) -> dict[str, Any]:
    """The models the default was chosen among: the baseline and a default-settings linear BT head
    per candidate representation."""
    models: dict[str, Any] = {
        "baseline LR (packed)": Baseline(RewardModel(encoder, inputs="packed"))
    }
    for inputs in INPUTS:
        models[f"linear BT, {inputs}"] = RewardModel(encoder, "linear", inputs=inputs)
    return models


def choose_inputs(
    encoder: Any,
    train: PreferenceDataset,
    sources: dict[str, PreferenceDataset],
    seeds: tuple[int, ...] = (0, 1, 2),
) -> None:
    """How the default was chosen, on the *training* data only: leave-one-source-out transfer
    (train on two sources, test on the third — the question the test sets ask: does a reward
    learnt from some annotators' labels carry over to other data?) and, for reference, 80/20
    splits of all training pairs by prompt."""
    print("\nChoice of the representation, leave one training source out (accuracy)\n")
    names = list(sources)
    print("| model | " + " | ".join(f"→ {n} ({len(sources[n])})" for n in names)
          + " | pooled acc | pooled log-loss |")
    print("|---|" + "---:|" * (len(names) + 2))
    total = sum(len(d) for d in sources.values())
    for name in _candidates(encoder):
        cells, right, loss = [], 0.0, 0.0
        for held in names:
            model = _candidates(encoder)[name]
            model.fit(PreferenceDataset.concat([sources[n] for n in names if n != held]))
            y, p = sources[held].outcomes(), model.predict_proba(sources[held])
            credit = _credit(y, p)
            cells.append(credit.mean())
            right += credit.sum()
            loss += log_loss(y, p) * len(y)
        print(f"| {name} | " + " | ".join(f"{c:.3f}" for c in cells)
              + f" | {right / total:.3f} | {loss / total:.3f} |")

    print("\nFor reference: held-out training prompts (3 splits by prompt, all sources)\n")
    print("| model | " + " | ".join(f"split {s}" for s in seeds) + " | mean acc | mean log-loss |")
    print("|---|" + "---:|" * (len(seeds) + 2))
    rows: dict[str, list[tuple[float, float]]] = {}
    for seed in seeds:
        part_train, part_test = train.split(by="prompt", test_size=0.2, seed=seed)
        y = part_test.outcomes()
        for name, model in _candidates(encoder).items():
            p = model.fit(part_train).predict_proba(part_test)
            rows.setdefault(name, []).append((accuracy(y, p), log_loss(y, p)))
    for name, cells in rows.items():
        acc = [c[0] for c in cells]
        ll = [c[1] for c in cells]
        print(f"| {name} | " + " | ".join(f"{a:.3f}" for a in acc)
              + f" | {np.mean(acc):.3f} | {np.mean(ll):.3f} |")


class ZeroShotCosine:
    """No training: P(a ≻ b) = σ(10 · (cos(E(p), E(a)) − cos(E(p), E(b)))) — the encoder's own
    prompt–response similarity, for reference."""

    def __init__(self, encoder: Any) -> None:
        self.features = RewardModel(encoder, inputs="packed+cosine")

    def fit(self, ds: PreferenceDataset) -> ZeroShotCosine:
        return self

    def predict_proba(self, ds: PreferenceDataset) -> np.ndarray:
        f = self.features.features(ds)
        return sigmoid(10 * (f.xa[:, -1] - f.xb[:, -1]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--finetune", action="store_true", help="also fine-tune MiniLM")
    parser.add_argument("--max-length", type=int, default=128)
    args = parser.parse_args()

    encoder = default_encoder()
    encoder.encoder.progress = True
    sources = training_sources()
    train = PreferenceDataset.concat(list(sources.values()))
    tests = test_sets()
    extra = extra_test_sets()
    print(f"training pairs: {len(train):,} (LLMEval² + PandaLM + Tulu-1 majority, ties dropped)")
    t0 = time.perf_counter()
    for inputs in INPUTS:
        for ds in (train, *tests.values(), *extra.values()):
            RewardModel(encoder, inputs=inputs).features(ds)
    print(f"encoding (or cache reads): {time.perf_counter() - t0:.1f} s")
    heuristics(encoder, {"training pairs": train, **tests, **extra})
    choose_inputs(encoder, train, sources)
    # every RewardModel below runs with its defaults (linear head, inputs="packed+cosine",
    # 300 Adam steps, weight decay 1e-4) unless the name says otherwise
    models: dict[str, Any] = {
        "baseline LR (packed)": Baseline(RewardModel(encoder, inputs="packed")),
        "default RM (linear BT, packed+cosine)": RewardModel(encoder),
        "linear BT, packed": RewardModel(encoder, inputs="packed"),
        "linear BT, relevance": RewardModel(encoder, inputs="relevance"),
        "linear BT, packed+relevance": RewardModel(encoder, inputs=BOTH),
        "MLP BT": RewardModel(encoder, "mlp", hidden=128),
        "ensemble ×5 (uwo)": RewardModel(encoder, "ensemble", members=5, aggregation="uwo"),
        "GPM k=4": RewardModel(encoder, "gpm", k=4),
        "zero-shot cosine (no training)": ZeroShotCosine(encoder),
    }
    if args.finetune:
        models["fine-tuned MiniLM"] = TransformerRewardModel(
            epochs=1, batch_size=16, lr=3e-5, max_length=args.max_length, progress=True
        )
    for name, model in models.items():
        t = time.perf_counter()
        model.fit(train)
        print(f"fit {name}: {time.perf_counter() - t:.1f} s")

    print("\nacc / log-loss / ECE\n")
    print("| test set | n | " + " | ".join(models) + " |")
    print("|---|---:|" + "---:|" * len(models))
    for name, ds in {**tests, **extra}.items():
        row = " | ".join(_cells(m, ds) for m in models.values())
        print(f"| {name} | {len(ds)} | {row} |")

    print("\naccuracy [95 % Wilson interval] (+records right only here / −right only for the "
          "baseline, exact sign-test p vs the baseline)\n")
    everything = PreferenceDataset.concat(list(tests.values()))
    named = {**tests, "all four sets": everything, **extra}
    print("| test set | n | " + " | ".join(list(models)[1:]) + " |")
    print("|---|---:|" + "---:|" * (len(models) - 1))
    base = next(iter(models.values()))
    for name, ds in named.items():
        y, bp = ds.outcomes(), base.predict_proba(ds)
        row = " | ".join(paired_cell(m.predict_proba(ds), bp, y) for m in list(models.values())[1:])
        print(f"| {name} | {len(ds)} | {row} |")
    print("\nbaseline: " + ", ".join(
        f"{name} {paired_cell(base.predict_proba(ds), base.predict_proba(ds), ds.outcomes())}"
        for name, ds in named.items()))

    print("\nRewardBench-v1-style summary (sections from the subsets present)\n")
    print("| model | Chat Hard (LLMBar) | Prior Sets (HHH) | Other (MT-Bench) | score |")
    print("|---|---:|---:|---:|---:|")
    for name, model in models.items():
        rb = rewardbench_v1(model, everything)
        s = rb["sections"]
        print(f"| {name} | {s['Chat Hard']:.3f} | {s['Prior Sets']:.3f} | {s['Other']:.3f} | "
              f"{rb['score']:.3f} |")

    within_source(encoder, sources)


def within_source(encoder: Any, sources: dict[str, PreferenceDataset],
                  seeds: tuple[int, ...] = (0, 1, 2, 3, 4)) -> None:
    """Within each training source: five 80/20 splits by prompt; mean accuracy / log-loss per
    model, and the pooled paired sign test of each model against the baseline over every test
    record of every split."""
    makers = {
        "baseline LR (packed)": lambda: Baseline(RewardModel(encoder, inputs="packed")),
        "default RM (linear BT, packed+cosine)": lambda: RewardModel(encoder),
        "linear BT, packed": lambda: RewardModel(encoder, inputs="packed"),
        "ensemble ×5 (uwo)": lambda: RewardModel(encoder, "ensemble", members=5,
                                                 aggregation="uwo"),
    }
    print(f"\nWithin each training source ({len(seeds)} splits by prompt, 80/20): mean acc / "
          "mean log-loss\n")
    print("| model | " + " | ".join(sources) + " | all (paired vs baseline) |")
    print("|---|" + "---:|" * (len(sources) + 1))
    probs: dict[str, list[np.ndarray]] = {name: [] for name in makers}
    ys: list[np.ndarray] = []
    cells: dict[str, list[str]] = {name: [] for name in makers}
    for ds in sources.values():
        per: dict[str, list[tuple[float, float]]] = {name: [] for name in makers}
        for seed in seeds:
            part_train, part_test = ds.split(by="prompt", test_size=0.2, seed=seed)
            y = part_test.outcomes()
            ys.append(y)
            for name, make in makers.items():
                prob = make().fit(part_train).predict_proba(part_test)
                probs[name].append(prob)
                per[name].append((accuracy(y, prob), log_loss(y, prob)))
        for name in makers:
            acc = np.mean([a for a, _ in per[name]])
            ll = np.mean([b for _, b in per[name]])
            cells[name].append(f"{acc:.3f} / {ll:.3f}")
    y_all = np.concatenate(ys)
    base = np.concatenate(probs["baseline LR (packed)"])
    for name in makers:
        pooled = paired_cell(np.concatenate(probs[name]), base, y_all)
        print(f"| {name} | " + " | ".join(cells[name]) + f" | {pooled} |")


if __name__ == "__main__":
    main()
