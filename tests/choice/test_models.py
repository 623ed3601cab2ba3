"""Recovery of simulated parameters, tie models, covariates, degenerate graphs, persistence."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from choice_helpers import pairwise, simulate_bt

import prefkit
from prefkit.choice import (
    BradleyTerry,
    ComparisonGraphWarning,
    Davidson,
    PlackettLuce,
    RaoKupper,
    Thurstone,
    count_pairs,
)
from prefkit.errors import DataError, ModelFileError, NotFittedError


def _sim_ties(model: str, n_items: int = 8, n: int = 60_000, seed: int = 3):
    rng = np.random.default_rng(seed)
    theta = rng.normal(0, 0.8, n_items)
    theta -= theta.mean()
    a = rng.integers(0, n_items, n)
    b = (a + rng.integers(1, n_items, n)) % n_items
    eta = theta[a] - theta[b]
    if model == "davidson":
        nu = 0.6
        D = np.exp(eta / 2) + np.exp(-eta / 2) + nu
        pa, pb = np.exp(eta / 2) / D, np.exp(-eta / 2) / D
        param = nu
    else:  # rao-kupper, θ_RK = e^α
        alpha = 0.5
        pa, pb = 1 / (1 + np.exp(-(eta - alpha))), 1 / (1 + np.exp(eta + alpha))
        param = np.exp(alpha)
    u = rng.random(n)
    winner = np.where(u < pa, "a", np.where(u < pa + pb, "b", "tie"))
    names = [f"i{k}" for k in range(n_items)]
    ds = pairwise({"a": [names[k] for k in a], "b": [names[k] for k in b],
                   "winner": winner.tolist()})
    return ds, theta, param


def test_bradley_terry_recovers_simulated_ratings() -> None:
    ds, theta = simulate_bt(20, 50_000, seed=1)
    model = BradleyTerry().fit(ds)
    se = np.sqrt(np.diag(model.rating_cov()))
    assert np.all(np.abs(model.ratings_ - theta) < 4 * se)
    assert abs(model.ratings_.sum()) < 1e-9
    assert model.converged_


@pytest.mark.parametrize("kind", ["davidson", "rao-kupper"])
def test_tie_models_recover_ratings_and_tie_parameter(kind: str) -> None:
    ds, theta, param = _sim_ties(kind)
    model = (Davidson() if kind == "davidson" else RaoKupper()).fit(ds)
    se = np.sqrt(np.diag(model.cov_))
    assert np.all(np.abs(model.ratings_ - theta) < 4 * se[: len(theta)])
    assert model.tie_param_ == pytest.approx(param, rel=0.05)
    probs = model.predict_outcome_proba(ds)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-12)
    assert model.predict_tie_proba(ds).mean() == pytest.approx(ds.is_tie().mean(), abs=0.01)


def test_thurstone_recovers_probit_ratings_and_glenn_david_ties() -> None:
    from scipy.stats import norm

    rng = np.random.default_rng(5)
    theta = rng.normal(0, 0.5, 6)
    theta -= theta.mean()
    n, alpha = 60_000, 0.3
    a = rng.integers(0, 6, n)
    b = (a + rng.integers(1, 6, n)) % 6
    eta = theta[a] - theta[b]
    pa, pb = norm.cdf(eta - alpha), norm.cdf(-eta - alpha)
    u = rng.random(n)
    winner = np.where(u < pa, "a", np.where(u < pa + pb, "b", "tie"))
    ds = pairwise({"a": [f"i{k}" for k in a], "b": [f"i{k}" for k in b],
                   "winner": winner.tolist()})
    model = Thurstone(ties="model").fit(ds)
    np.testing.assert_allclose(model.ratings_, theta, atol=0.03)
    assert model.tie_param_ == pytest.approx(alpha, abs=0.02)


def test_home_advantage_recovered() -> None:
    rng = np.random.default_rng(7)
    theta = rng.normal(0, 1, 10)
    theta -= theta.mean()
    n, h = 40_000, 0.4
    a = rng.integers(0, 10, n)
    b = (a + rng.integers(1, 10, n)) % 10
    neutral = rng.random(n) < 0.3
    p = 1 / (1 + np.exp(-(theta[a] - theta[b] + h * (~neutral))))
    win = rng.random(n) < p
    ds = pairwise({"a": [f"t{k}" for k in a], "b": [f"t{k}" for k in b],
                   "winner": np.where(win, "a", "b").tolist(), "neutral": neutral.astype(int)})
    model = BradleyTerry(home_advantage="neutral").fit(ds)
    assert model.home_advantage_ == pytest.approx(h, abs=0.06)
    np.testing.assert_allclose(model.ratings_, theta, atol=0.1)
    plain = BradleyTerry().fit(ds)
    assert model.log_likelihood_ > plain.log_likelihood_ + 50


def test_style_control_separates_length_effect() -> None:
    # the "better" model writes longer answers; style control must attribute wins to length
    rng = np.random.default_rng(11)
    n = 30_000
    a = rng.integers(0, 4, n)
    b = (a + rng.integers(1, 4, n)) % 4
    mean_len = np.array([1000.0, 500.0, 500.0, 500.0])
    len_a = rng.normal(mean_len[a], 100)
    len_b = rng.normal(mean_len[b], 100)
    beta_raw = 0.004  # per character of difference; true quality all equal
    p = 1 / (1 + np.exp(-beta_raw * (len_a - len_b)))
    win = rng.random(n) < p
    ds = pairwise({"a": [f"m{k}" for k in a], "b": [f"m{k}" for k in b],
                   "winner": np.where(win, "a", "b").tolist(),
                   "len_a": len_a, "len_b": len_b})
    plain = BradleyTerry().fit(ds)
    styled = BradleyTerry(covariates=["len"], covariate_l2=1e-6).fit(ds)
    assert plain.ratings_[0] > 1.0  # naive fit credits the verbose model
    assert abs(styled.ratings_[0]) < 0.15
    assert styled.coef_[0] * 1.0 / styled.covariate_std_[0] == pytest.approx(beta_raw, rel=0.1)
    # stronger L2 shrinks the style coefficient
    shrunk = BradleyTerry(covariates=["len"], covariate_l2=1e4).fit(ds)
    assert abs(shrunk.coef_[0]) < abs(styled.coef_[0])


def test_map_prior_shrinks_towards_zero() -> None:
    ds, _ = simulate_bt(10, 500, seed=2)
    mle = BradleyTerry().fit(ds)
    mapf = BradleyTerry(prior_var=0.1).fit(ds)
    assert np.abs(mapf.ratings_).sum() < np.abs(mle.ratings_).sum()
    assert abs(mapf.ratings_.sum()) < 1e-8


def test_warm_start_converges_faster() -> None:
    ds, _ = simulate_bt(30, 20_000, seed=4)
    cold = BradleyTerry().fit(ds)
    warm = BradleyTerry().fit(ds, init=cold)
    assert warm.n_iter_ < cold.n_iter_
    np.testing.assert_allclose(warm.ratings_, cold.ratings_, atol=1e-9)


def test_undefeated_item_warns_and_is_finite() -> None:
    ds = pairwise({"a": ["x", "x", "y", "z", "y"], "b": ["y", "z", "z", "y", "x"],
                   "winner": ["a", "a", "a", "a", "b"]})
    with pytest.warns(ComparisonGraphWarning, match=r"never lost: \[x\]"):
        model = BradleyTerry().fit(ds)
    assert np.all(np.isfinite(model.ratings_))
    assert model.item_scores("x")[0] == model.ratings_.max()
    assert np.all(np.isfinite(model.cov_))


def test_disconnected_graph_warns_names_components_and_is_finite() -> None:
    ds = pairwise({"a": ["a", "b", "c", "d"], "b": ["b", "a", "d", "c"],
                   "winner": ["a", "a", "a", "a"]})
    with pytest.warns(ComparisonGraphWarning, match=r"disconnected \(2 components"):
        model = Davidson().fit(ds)
    assert np.all(np.isfinite(model.ratings_))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pl = PlackettLuce().fit(ds)
    assert np.all(np.isfinite(pl.ratings_))


def test_counts_are_sufficient_statistics() -> None:
    ds, _ = simulate_bt(5, 2000, seed=9, tie_rate=0.1)
    model = Davidson().fit(ds)
    wins, ties = model.counts_.matrix()
    assert wins.sum() + ties.sum() / 2 == len(ds)
    # order of records does not matter
    perm = np.random.default_rng(0).permutation(len(ds))
    again = Davidson().fit(ds.take(perm))
    np.testing.assert_allclose(again.ratings_, model.ratings_, atol=1e-10)


def test_count_pairs_rejects_bad_input() -> None:
    with pytest.raises(DataError):
        count_pairs(2, np.array([0]), np.array([5]), np.ones(1), np.zeros(1), np.zeros(1))
    with pytest.raises(DataError):
        count_pairs(2, np.array([0]), np.array([1]), -np.ones(1), np.zeros(1), np.zeros(1))


@pytest.mark.parametrize("cls", [BradleyTerry, Davidson, RaoKupper, Thurstone])
def test_save_load_roundtrip(tmp_path, cls) -> None:
    ds, _ = simulate_bt(6, 3000, seed=12, tie_rate=0.1)
    model = cls().fit(ds)
    prefkit.save(model, tmp_path / "m")
    names = sorted(p.name for p in (tmp_path / "m").iterdir())
    assert "arrays.safetensors" in names and "config.json" in names
    loaded = prefkit.load(tmp_path / "m")
    assert type(loaded) is cls
    np.testing.assert_allclose(loaded.predict_proba(ds), model.predict_proba(ds))
    np.testing.assert_allclose(loaded.rating_cov(), model.rating_cov())
    assert loaded.tie_param_ == model.tie_param_
    assert loaded.get_params() == model.get_params()
    with pytest.raises(ModelFileError):
        (PlackettLuce if cls is not PlackettLuce else BradleyTerry).load(tmp_path / "m")


def _write_legacy(directory, cls_name: str, config: dict, arrays: dict) -> None:
    """A directory as prefkit 0.1's choice/persist.py wrote it (config.json + arrays.npz)."""
    import json

    directory.mkdir()
    np.savez(directory / "arrays.npz", **{k: v for k, v in arrays.items() if v is not None})
    doc = {"format": "prefkit.choice", "version": 1, "class": cls_name, **config}
    (directory / "config.json").write_text(json.dumps(doc, default=float))


def test_legacy_01_directories_still_load(tmp_path) -> None:
    ds, _ = simulate_bt(5, 2000, seed=4, tie_rate=0.1)
    for cls in (BradleyTerry, Davidson):
        model = cls().fit(ds)
        config, arrays = model._get_state()
        _write_legacy(tmp_path / cls.__name__, cls.__name__, config, arrays)
        loaded = prefkit.load(tmp_path / cls.__name__)
        assert type(loaded) is cls
        np.testing.assert_allclose(loaded.predict_proba(ds), model.predict_proba(ds))
    from choice_helpers import rankings

    from prefkit.choice import Elo

    ranked = rankings([["x", "y", "z"], ["y", "x", "z"], ["z", "y", "x"], ["x", "z", "y"]] * 3)
    pairs, _ = simulate_bt(4, 400, seed=1)
    for model, data in ((PlackettLuce().fit(ranked), ranked), (Elo().fit(pairs), pairs)):
        name = type(model).__name__
        config, arrays = model._get_state()
        _write_legacy(tmp_path / name, name, config, arrays)
        loaded = prefkit.load(tmp_path / name)
        assert type(loaded) is type(model)
        np.testing.assert_allclose(loaded.predict_proba(data), model.predict_proba(data))
    # a legacy directory whose arrays do not match its config is one ModelFileError
    model = BradleyTerry().fit(ds)
    config, arrays = model._get_state()
    arrays["x"] = arrays["x"][:2]
    _write_legacy(tmp_path / "bad", "BradleyTerry", config, arrays)
    with pytest.raises(ModelFileError, match="do not match"):
        prefkit.load(tmp_path / "bad")


def test_estimator_contract_params_clone_and_item_scores() -> None:
    from sklearn.base import clone

    ds, _ = simulate_bt(4, 800, seed=5)
    model = BradleyTerry(ties="drop", covariates=None, prior_var=2.0).fit(ds)
    twin = clone(model)
    assert twin.get_params() == model.get_params() and not hasattr(twin, "ratings_")
    np.testing.assert_allclose(model.item_scores(), model.ratings_)
    with pytest.warns(DeprecationWarning):
        np.testing.assert_allclose(model.score(model.items_[:2]), model.ratings_[:2])


def test_not_fitted_and_bad_tie_option() -> None:
    with pytest.raises(NotFittedError):
        BradleyTerry().item_scores(["a"])
    ds, _ = simulate_bt(3, 50, seed=0)
    with pytest.raises(ValueError, match="ties"):
        BradleyTerry(ties="model").fit(ds)
    with pytest.raises(ModelFileError):
        prefkit.load("/nonexistent/dir")
