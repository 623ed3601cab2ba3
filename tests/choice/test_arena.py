"""Bradley–Terry on the Arena-Hard battles equals an independent MLE (scikit-learn)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from choice_helpers import data_file, pairwise
from sklearn.linear_model import LogisticRegression

from prefkit.choice import BradleyTerry, Elo, bootstrap, leaderboard


@pytest.fixture(scope="module")
def battles() -> pd.DataFrame:
    path = data_file("llm-pairwise/lmarena_arena-hard-auto__data_arena_hard_battles.jsonl")
    return pd.read_json(path, lines=True)


def _dataset(df: pd.DataFrame):
    winner = df.winner.map({"model_a": "a", "model_b": "b", "tie": "tie"})
    return pairwise({"a": df.model_a.tolist(), "b": df.model_b.tolist(),
                     "winner": winner.tolist()})


def _sklearn_bt(df: pd.DataFrame, ties: str) -> pd.Series:
    """LMArena-style MLE: ±1 design, no intercept, no penalty; ties dropped or duplicated."""
    models = sorted(set(df.model_a) | set(df.model_b))
    idx = {m: k for k, m in enumerate(models)}
    if ties == "drop":
        df = df[df.winner != "tie"]
        y = (df.winner == "model_a").to_numpy().astype(int)
        rows = df
        w = np.ones(len(df))
    else:  # duplicate every battle; a tie is one win for each side (weight ½ each)
        rows = pd.concat([df, df])
        y = np.r_[(df.winner != "model_b").to_numpy(), (df.winner == "model_a").to_numpy()]
        y = y.astype(int)
        w = np.full(len(rows), 0.5)
    X = np.zeros((len(rows), len(models)))
    X[np.arange(len(rows)), rows.model_a.map(idx).to_numpy()] = 1.0
    X[np.arange(len(rows)), rows.model_b.map(idx).to_numpy()] = -1.0
    lr = LogisticRegression(C=np.inf, fit_intercept=False, tol=1e-12, max_iter=100_000)
    lr.fit(X, y, sample_weight=w)
    coef = lr.coef_[0]
    return pd.Series(coef - coef.mean(), index=models)


@pytest.mark.parametrize("ties", ["drop", "half"])
def test_matches_sklearn_logistic_regression(battles: pd.DataFrame, ties: str) -> None:
    ref = _sklearn_bt(battles, ties)
    model = BradleyTerry(ties=ties).fit(_dataset(battles))
    ours = pd.Series(model.ratings_, index=model.items_)
    np.testing.assert_allclose(ours.loc[ref.index], ref, atol=1e-6)
    n_ties = (battles.winner == "tie").sum()
    assert model.n_obs_ == len(battles) - (n_ties if ties == "drop" else 0)


def test_elo_scale_and_anchor(battles: pd.DataFrame) -> None:
    ds = _dataset(battles)
    logit = leaderboard(ds, scale="logit").to_dict()
    elo = leaderboard(ds, scale="elo").to_dict()
    for a, b in zip(logit["items"], elo["items"], strict=False):
        assert b["rating"] == pytest.approx(1000 + 400 / math.log(10) * a["rating"])
    anchored = leaderboard(ds, scale="elo", anchor="gpt-4o=1200").to_dict()
    by_name = {r["name"]: r for r in anchored["items"]}
    assert by_name["gpt-4o"]["rating"] == pytest.approx(1200)
    assert by_name["gpt-4o"]["ci_low"] == pytest.approx(1200)  # differences to the anchor
    gap = by_name["gpt-4o-mini"]["rating"] - by_name["gpt-4o"]["rating"]
    e = {r["name"]: r["rating"] for r in elo["items"]}
    assert gap == pytest.approx(e["gpt-4o-mini"] - e["gpt-4o"])


def test_bootstrap_fast_and_close_to_sandwich(battles: pd.DataFrame) -> None:
    import time

    model = BradleyTerry().fit(_dataset(battles))
    start = time.perf_counter()
    res = bootstrap(model, 1000, seed=1)
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0
    assert res.converged.all()
    boot_se = res.ratings.std(axis=0)
    sand_se = np.sqrt(np.diag(model.rating_cov("sandwich")))
    np.testing.assert_allclose(boot_se, sand_se, rtol=0.15)
    np.testing.assert_allclose(
        res.ratings.mean(axis=0), model.ratings_, atol=3 * sand_se.max() / 10
    )


def test_online_elo_matches_arena_reference(battles: pd.DataFrame) -> None:
    # LMArena's compute_online_elo (K=4, SCALE=400, BASE=10, INIT_RATING=1000), written out.
    rating: dict[str, float] = {}
    for a, b, w in zip(battles.model_a, battles.model_b, battles.winner, strict=False):
        ra, rb = rating.get(a, 1000.0), rating.get(b, 1000.0)
        ea = 1 / (1 + 10 ** ((rb - ra) / 400))
        sa = {"model_a": 1.0, "model_b": 0.0, "tie": 0.5}[w]
        rating[a] = ra + 4 * (sa - ea)
        rating[b] = rb + 4 * (1 - sa - (1 - ea))
    model = Elo().fit(_dataset(battles))
    np.testing.assert_allclose(model.item_scores(list(rating)), list(rating.values()), atol=1e-9)
