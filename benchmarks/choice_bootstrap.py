"""Benchmark: 1,000 bootstrap rounds of Bradley–Terry.

prefkit: one multinomial draw of the unique-cell counts per round, all rounds refitted by the
batched Newton solver (2 threads), warm-started at the full-data fit.  Peer: the usual loop —
per round a scikit-learn LogisticRegression on the unique rows with the resampled counts as
sample weights (LMArena's approach), timed on a few rounds and scaled to 1,000 (stated).

Plackett–Luce on sushi (5,000 rankings of 10 items, issue #12 item 18): 1,000 record-bootstrap
rounds, batched on choice-set statistics (:mod:`prefkit.choice.pl_bootstrap`), timed in-process
and through ``prefkit leaderboard --bootstrap 1000`` (CLI start-up and reading included), three
runs each to show the run-to-run spread; the old per-round Newton loop is timed on 3 rounds.

Run:  .venv/bin/python benchmarks/choice_bootstrap.py [--only sushi]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from choice_fit import simulate

from prefkit.choice import BradleyTerry, bootstrap, count_pairs

ROUNDS = 1000
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
ARENA = SHARED / "llm-pairwise" / "lmarena_arena-hard-auto__data_arena_hard_battles.jsonl"
SUSHI = SHARED / "rankings" / "cran_BayesMallows__data_sushi_rankings.converted.csv"
PREFKIT = Path(sys.executable).with_name("prefkit")


def sklearn_round_loop(model, rounds: int, seed: int = 0) -> float:
    from sklearn.linear_model import LogisticRegression

    c = model.counts_
    n = c.n_items
    wi = c.wi + 0.5 * c.t
    wj = c.wj + 0.5 * c.t
    R = c.n_rows
    X = np.zeros((2 * R, n))
    X[np.arange(R), c.i] = 1
    X[np.arange(R), c.j] = -1
    X[R + np.arange(R), c.i] = 1
    X[R + np.arange(R), c.j] = -1
    y = np.r_[np.ones(R), np.zeros(R)]
    cnt = np.r_[wi, wj]
    rng = np.random.default_rng(seed)
    t = time.perf_counter()
    for _ in range(rounds):
        w = rng.multinomial(int(cnt.sum()), cnt / cnt.sum())
        LogisticRegression(C=np.inf, fit_intercept=False, tol=1e-8, max_iter=1000).fit(
            X, y, sample_weight=w
        )
    return (time.perf_counter() - t) / rounds


def run(label: str, model, peer_rounds: int) -> None:
    times = []
    for rep in range(3):
        t = time.perf_counter()
        res = bootstrap(model, ROUNDS, seed=rep, n_jobs=2)
        times.append(time.perf_counter() - t)
    t_pk = statistics.median(times)
    print(f"{label}: prefkit {ROUNDS} rounds median {t_pk:.3f} s (3 runs, 2 threads); "
          f"converged {res.converged.mean():.1%}")
    per_round = sklearn_round_loop(model, peer_rounds)
    print(f"{label}: sklearn loop {per_round * 1e3:.1f} ms/round (timed on {peer_rounds} rounds) "
          f"-> {per_round * ROUNDS:.1f} s per {ROUNDS}; ratio {per_round * ROUNDS / t_pk:.0f}x")


def sushi() -> None:
    """Plackett–Luce record bootstrap on sushi: library, old per-round loop, and the CLI."""
    import prefkit
    from prefkit.choice import PlackettLuce
    from prefkit.choice.plackett_luce import newton_solve, stage_pair_index

    if not SUSHI.exists():
        print(f"sushi rankings not found at {SUSHI}; skipped")
        return
    model = PlackettLuce().fit(prefkit.read(str(SUSHI)))
    times = []
    for rep in range(3):
        t = time.perf_counter()
        res = bootstrap(model, ROUNDS, seed=rep)
        times.append(time.perf_counter() - t)
    print(f"sushi PL (5,000 rankings, 10 items): prefkit {ROUNDS} rounds "
          f"runs {', '.join(f'{x:.2f}' for x in times)} s, median {statistics.median(times):.2f} s;"
          f" converged {res.converged.mean():.1%}")
    st = model.stages_
    pairs = stage_pair_index(st)
    draws = np.random.default_rng(0).multinomial(st.n_records, np.full(st.n_records,
                                                 1 / st.n_records), size=3)
    t = time.perf_counter()
    iters = []
    for d in draws:  # the 0.1 path: one entry-layout Newton per round, tiny ungrounded prior
        _, _, it, _ = newton_solve(st.with_record_weights(d.astype(float)), model.ratings_,
                                   prec=1e-6, tol=1e-8, pairs=pairs)
        iters.append(it)
    old = (time.perf_counter() - t) / 3
    print(f"sushi PL: old per-round Newton {old:.2f} s/round ({iters} iterations: never "
          f"converges) -> {old * ROUNDS:.0f} s per {ROUNDS}; "
          f"ratio {old * ROUNDS / statistics.median(times):.0f}x")
    for args in (["leaderboard", str(SUSHI)], ["leaderboard", str(SUSHI), "--bootstrap", "1000"]):
        runs = []
        for _ in range(3):
            t = time.perf_counter()
            done = subprocess.run([str(PREFKIT), *args], capture_output=True, text=True)
            runs.append(time.perf_counter() - t)
            assert done.returncode == 0, done.stderr
        print(f"CLI prefkit {' '.join(args[:1] + args[2:])} sushi: "
              f"{', '.join(f'{x:.2f}' for x in runs)} s (median {statistics.median(runs):.2f})")


def main() -> None:
    sushi()
    if "--only" in sys.argv:
        return
    if ARENA.exists():
        df = pd.read_json(ARENA, lines=True)
        items, codes = np.unique(np.r_[df.model_a, df.model_b], return_inverse=True)
        n = len(df)
        y = df.winner.to_numpy()
        counts = count_pairs(
            items.size, codes[:n], codes[n:], (y == "model_a") * 1.0, (y == "model_b") * 1.0,
            (y == "tie") * 1.0, items=list(items),
        )
        run(f"Arena-Hard ({n:,} battles, {items.size} models)",
            BradleyTerry().fit_counts(counts), 100)
    else:
        print(f"Arena-Hard battles not found at {ARENA}; skipped")
    a, b, win = simulate(2_000_000)
    w = win.astype(float)
    model = BradleyTerry().fit_counts(count_pairs(200, a, b, w, 1 - w, np.zeros(w.size)))
    run("synthetic (2,000,000 battles, 200 items)", model, 5)


if __name__ == "__main__":
    main()
