"""Thurstone with per-item variances (seed row 30): formula, Case V limit, parameter recovery."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import check_grad
from scipy.stats import norm

import prefkit
from prefkit import PreferenceDataset
from prefkit.choice import Thurstone, ThurstoneVariances
from prefkit.choice.thurstone_variances import _negloglik, win_probability

MU = np.array([-1.0, -0.5, 0.0, 0.3, 0.6, 1.2])
LOG_SIGMA = np.array([0.3, -0.4, 0.2, -0.1, 0.5, -0.5])


def _truth() -> tuple[np.ndarray, np.ndarray]:
    """μ with mean 0 and σ with geometric mean 1/√2 (the model's identification)."""
    mu = MU - MU.mean()
    sigma = np.exp(LOG_SIGMA - LOG_SIGMA.mean()) / np.sqrt(2.0)
    return mu, sigma


def _dataset(mu: np.ndarray, sigma: np.ndarray, m: int, rng=None) -> PreferenceDataset:
    """Every pair compared m times, stored as two weighted rows (a won / b won)."""
    rows = []
    n = len(mu)
    for i in range(n):
        for j in range(i + 1, n):
            p = float(win_probability(mu[i], mu[j], sigma[i], sigma[j]))
            wins = m * p if rng is None else float(rng.binomial(m, p))
            rows.append({"a": f"i{i}", "b": f"i{j}", "winner": "a", "weight": wins})
            rows.append({"a": f"i{i}", "b": f"i{j}", "winner": "b", "weight": m - wins})
    return PreferenceDataset.from_records(rows)


def test_win_probability_closed_form():
    # Φ((1 − 0) / √(0.6² + 0.8²)) = Φ(1)
    assert win_probability(1.0, 0.0, 0.6, 0.8) == pytest.approx(norm.cdf(1.0), abs=1e-12)
    assert win_probability(0.3, 0.3, 2.0, 0.1) == pytest.approx(0.5)


def test_gradient_matches_finite_differences():
    rng = np.random.default_rng(1)
    n = 5
    i, j = np.array([0, 0, 1, 2, 3, 1]), np.array([1, 2, 3, 4, 4, 4])
    wi, wj = rng.uniform(1, 5, 6), rng.uniform(1, 5, 6)
    x = rng.normal(size=2 * n)
    err = check_grad(lambda p: _negloglik(p, i, j, wi, wj, n, False, 0.1)[0],
                     lambda p: _negloglik(p, i, j, wi, wj, n, False, 0.1)[1], x)
    assert err < 1e-5


def test_exact_recovery_from_noise_free_counts():
    mu, sigma = _truth()
    model = ThurstoneVariances(scale_l2=0.0).fit(_dataset(mu, sigma, 1000))
    order = [int(name[1:]) for name in model.items_]
    assert np.allclose(model.ratings_, mu[order], atol=2e-3)
    assert np.allclose(model.scales_, sigma[order], atol=2e-3)
    assert np.exp(np.log(model.scales_).mean()) == pytest.approx(1 / np.sqrt(2))


def test_recovery_from_simulated_comparisons():
    mu, sigma = _truth()
    data = _dataset(mu, sigma, 50_000, np.random.default_rng(0))
    model = ThurstoneVariances().fit(data)
    order = [int(name[1:]) for name in model.items_]
    assert model.converged_
    assert np.abs(model.ratings_ - mu[order]).max() < 0.05
    assert np.abs(model.scales_ - sigma[order]).max() < 0.08
    # the free variances fit the data better than Case V
    case_v = ThurstoneVariances(equal_variances=True).fit(data)
    assert model.log_likelihood_ > case_v.log_likelihood_ + 100


def test_equal_variances_is_case_v():
    mu = MU - MU.mean()
    data = _dataset(mu, np.full(6, 1 / np.sqrt(2)), 300, np.random.default_rng(2))
    ours = ThurstoneVariances(equal_variances=True).fit(data)
    case_v = Thurstone(ties="half").fit(data)
    assert ours.items_ == case_v.items_
    assert np.allclose(ours.ratings_, case_v.ratings_, atol=1e-5)
    assert np.allclose(ours.predict_proba(data), case_v.predict_proba(data), atol=1e-6)
    # with equal variances the per-item-variance formula is Φ(μ_i − μ_j)
    assert np.allclose(ours.win_matrix(), norm.cdf(ours.ratings_[:, None] - ours.ratings_[None]))


def test_predict_and_round_trip(tmp_path):
    mu, sigma = _truth()
    data = _dataset(mu, sigma, 200, np.random.default_rng(3))
    model = ThurstoneVariances().fit(data)
    p = model.predict_proba(data)
    a = np.array([model.items_.index(x) for x in data.column("a")])
    b = np.array([model.items_.index(x) for x in data.column("b")])
    s, m = model.scales_, model.ratings_
    assert np.allclose(p, norm.cdf((m[a] - m[b]) / np.sqrt(s[a] ** 2 + s[b] ** 2)))
    prefkit.save(model, tmp_path / "tv")
    back = prefkit.load(tmp_path / "tv")
    assert np.array_equal(back.predict_proba(data), p)
    assert np.array_equal(back.variances_, model.variances_)


def test_transitivity_closed_forms():
    from prefkit.choice.transitivity import (
        cycle_probabilities,
        cycle_probability,
        empirical_preference_matrix,
        majority_cycle_rate,
        transitivity,
    )

    assert cycle_probability(np.full((4, 4), 0.5)) == pytest.approx(0.25)
    order = np.triu(np.ones((4, 4)), 1)  # item 0 beats all, ... certainly
    assert transitivity(order + np.eye(4) * 0.5) == pytest.approx(1.0)
    rps = np.array([[0.5, 1.0, 0.0], [0.0, 0.5, 1.0], [1.0, 0.0, 0.5]])
    assert cycle_probability(rps) == pytest.approx(1.0)
    assert majority_cycle_rate(rps) == 1.0
    # enumerate the 8 outcomes of a random triad; and Σ P_cycle = trace(P̃³)/3
    rng = np.random.default_rng(5)
    u = rng.uniform(size=(6, 6))
    p = np.triu(u, 1) + np.tril(1.0 - u.T, -1) + 0.5 * np.eye(6)
    i, j, k = 0, 1, 2
    brute = 0.0
    for wij in (0, 1):
        for wjk in (0, 1):
            for wki in (0, 1):
                pr = ((p[i, j] if wij else p[j, i]) * (p[j, k] if wjk else p[k, j])
                      * (p[k, i] if wki else p[i, k]))
                brute += pr * (wij == wjk == wki)
    assert cycle_probabilities(p)[0] == pytest.approx(brute)
    off = p - 0.5 * np.eye(6)
    assert cycle_probabilities(p).sum() == pytest.approx(np.trace(off @ off @ off) / 3)
    # the Thurstone model with per-item variances is transitive in the majority sense
    mu, sigma = _truth()
    model = ThurstoneVariances().fit(_dataset(mu, sigma, 500, np.random.default_rng(6)))
    assert majority_cycle_rate(model.win_matrix()) == 0.0
    items, emp = empirical_preference_matrix(_dataset(mu, sigma, 10))
    assert items == [f"i{k}" for k in range(6)]
    assert emp[0, 1] == pytest.approx(float(win_probability(mu[0], mu[1], sigma[0], sigma[1])))
