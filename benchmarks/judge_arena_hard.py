"""Arena-Hard style-controlled scoring: prefkit vs arena-hard-auto's recipe with scikit-learn.

Simulated verdicts of ``--models`` models against a baseline on ``--questions`` questions (both
games, all five verdicts, answers with random length and markdown), scored with v0.1 style
control (length + markdown) and ``--bootstrap`` rounds:

* prefkit: :func:`prefkit.judge.arena_hard.arena_hard_scores` (Newton's method per fit);
* peer: arena-hard-auto's v0.1 recipe (``construct_style_matrices`` + ``fit_bt``), rebuilt
  here with numpy and scikit-learn ``LogisticRegression(fit_intercept=False)`` — duplicated
  battles, one fit per bootstrap round — as arena-hard-auto runs it.

Both use the same battles; the script checks that the full-data win rates agree (max absolute
difference in percentage points) and prints median wall times of ``--repeat`` runs and the ratio.

    .venv/bin/python benchmarks/judge_arena_hard.py [--models 20] [--questions 500]
        [--bootstrap 50] [--repeat 3]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np

from prefkit import PreferenceDataset
from prefkit.judge.arena_hard import arena_hard_scores, battles

VERDICTS = ("A>>B", "A>B", "A=B", "B>A", "B>>A")
POINTS = {"A>>B": (1.0, 3), "A>B": (1.0, 1), "A=B": (0.5, 1), "B>A": (0.0, 1), "B>>A": (0.0, 3)}


def simulate(models: int, questions: int, seed: int = 0) -> PreferenceDataset:
    rng = np.random.default_rng(seed)
    base_texts = [("# t\n" * int(rng.integers(0, 3))) + "w " * int(rng.integers(20, 400))
                  for _ in range(questions)]
    records = []
    for m in range(models):
        strength = rng.normal()
        for q in range(questions):
            text = ("- item\n" * int(rng.integers(0, 6)) + "**b** " * int(rng.integers(0, 4))
                    + "w " * int(rng.integers(20, 400)))
            for order in ("ab", "ba"):
                logits = np.array([2, 1, 0, -1, -2]) * (strength if order == "ba" else -strength)
                p = np.exp(logits) / np.exp(logits).sum()
                v = VERDICTS[int(rng.choice(5, p=p))]
                first = v.startswith("A>")
                winner = "tie" if v == "A=B" else (("a" if first else "b") if order == "ab"
                                                   else ("b" if first else "a"))
                records.append({"pair_id": f"{q}/m{m}", "question_id": str(q), "a": "base",
                                "b": f"m{m}", "order": order, "verdict": v, "winner": winner,
                                "a_text": base_texts[q], "b_text": text})
    return PreferenceDataset.from_records(records)


def peer(ds: PreferenceDataset, bootstrap: int, seed: int = 0) -> dict[str, float]:
    """arena-hard-auto v0.1 style control, recomputed with scikit-learn."""
    from sklearn.linear_model import LogisticRegression

    from prefkit.judge.style_control import answer_style

    frame = battles(ds).to_pandas()
    models = sorted(set(frame["a"]) | set(frame["b"]))
    index = {m: i for i, m in enumerate(models)}
    cache: dict[str, np.ndarray] = {}

    def style(text: str) -> np.ndarray:
        if text not in cache:
            cache[text] = answer_style(text).vector()
        return cache[text]

    sa = np.array([style(t) for t in frame["a_text"]])
    sb = np.array([style(t) for t in frame["b_text"]])
    diff = (sa - sb) / (sa + sb + 1)
    z = (diff - diff.mean(axis=0)) / diff.std(axis=0)
    n, p = len(frame), len(models)
    x = np.zeros((n, p + 4))
    x[np.arange(n), [index[m] for m in frame["a"]]] = math.log(10)
    x[np.arange(n), [index[m] for m in frame["b"]]] = -math.log(10)
    x[:, p:] = z
    win = frame["winner"].to_numpy()
    # duplicated battles: a decisive battle twice, a tie as one win and one loss (y = a wins)
    y = np.r_[(win == "a") | (win == "tie"), win == "a"].astype(float)
    xx = np.vstack([x, x])

    def fit(rows: np.ndarray) -> np.ndarray:
        idx = np.r_[rows, rows + n]
        lr = LogisticRegression(fit_intercept=False)
        lr.fit(xx[idx], y[idx])
        return lr.coef_[0]

    coef = fit(np.arange(n))
    rng = np.random.default_rng(seed)
    for _ in range(bootstrap):
        fit(rng.integers(0, n, size=n))
    base = index["base"]
    # v0.1: elo = 400·coef (+ const); win rate = 1 / (1 + 10^((elo_base − elo_m) / 400))
    return {m: 100 / (1 + 10 ** (coef[base] - coef[i])) for m, i in index.items() if m != "base"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--questions", type=int, default=500)
    parser.add_argument("--bootstrap", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    ds = simulate(args.models, args.questions)
    n_battles = len(battles(ds))
    times: dict[str, list[float]] = {"prefkit": [], "sklearn recipe": []}
    for _ in range(args.repeat):
        start = time.perf_counter()
        ours = arena_hard_scores(ds, style_control=["length", "markdown"],
                                 bootstrap=args.bootstrap)
        times["prefkit"].append(time.perf_counter() - start)
        start = time.perf_counter()
        theirs = peer(ds, args.bootstrap)
        times["sklearn recipe"].append(time.perf_counter() - start)
    got = {r["model"]: r["score"] for r in ours.rows if r["model"] != "base"}
    gap = max(abs(got[m] - theirs[m]) for m in theirs)
    print(f"{args.models} models x {args.questions} questions: {n_battles} battles, "
          f"v0.1 style control (length + markdown), {args.bootstrap} bootstrap fits")
    for name, values in times.items():
        print(f"  {name:15s} median {statistics.median(values):7.2f} s  "
              f"(runs: {', '.join(f'{v:.2f}' for v in values)})")
    ratio = statistics.median(times["sklearn recipe"]) / statistics.median(times["prefkit"])
    print(f"  ratio (sklearn recipe / prefkit): {ratio:.2f}x")
    print(f"  max |win-rate difference|: {gap:.4f} percentage points "
          "(sklearn stops at its default tol=1e-4)")


if __name__ == "__main__":
    main()
