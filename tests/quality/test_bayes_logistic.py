"""Laplace Bayesian logistic regression: closed forms, sklearn parity, exact posterior, coverage."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit, logit

from prefkit.errors import DataError
from prefkit.quality.bayes_logistic import fit_laplace


def test_intercept_only_flat_prior_is_the_binomial_closed_form():
    y = np.r_[np.ones(37), np.zeros(63)]
    post = fit_laplace(np.ones((100, 1)), y, prior_precision=0.0)
    assert post.mean[0] == pytest.approx(logit(0.37), abs=1e-6)
    assert post.sd[0] == pytest.approx(1 / np.sqrt(100 * 0.37 * 0.63), rel=1e-4)


def test_map_solves_the_stationarity_equation_under_a_prior():
    # k successes of n, prior N(1, 1/λ): k − n σ(β) = λ (β − 1) at the MAP
    k, n, lam = 8, 20, 3.0
    y = np.r_[np.ones(k), np.zeros(n - k)]
    beta = fit_laplace(np.ones((n, 1)), y, prior_mean=1.0, prior_precision=lam).mean[0]
    assert k - n * expit(beta) == pytest.approx(lam * (beta - 1.0), abs=1e-8)


def test_map_equals_sklearn_logistic_regression_with_the_same_l2():
    sklearn = pytest.importorskip("sklearn.linear_model")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = (rng.random(300) < expit(X @ [1.0, -0.5, 0.0, 2.0] + 0.3)).astype(float)
    C = 0.7
    ref = sklearn.LogisticRegression(C=C, tol=1e-12, max_iter=10_000).fit(X, y)
    design = np.column_stack([np.ones(300), X])
    post = fit_laplace(design, y, prior_precision=np.r_[0.0, np.full(4, 1 / C)])
    np.testing.assert_allclose(post.mean[1:], ref.coef_[0], atol=2e-5)
    assert post.mean[0] == pytest.approx(ref.intercept_[0], abs=2e-5)


def test_laplace_is_close_to_the_exact_posterior_on_a_grid():
    rng = np.random.default_rng(1)
    X = np.column_stack([np.ones(80), rng.normal(size=80)])
    y = (rng.random(80) < expit(X @ [0.4, 1.2])).astype(float)
    post = fit_laplace(X, y, prior_precision=0.5)
    g0 = np.linspace(post.mean[0] - 6 * post.sd[0], post.mean[0] + 6 * post.sd[0], 241)
    g1 = np.linspace(post.mean[1] - 6 * post.sd[1], post.mean[1] + 6 * post.sd[1], 241)
    B0, B1 = np.meshgrid(g0, g1, indexing="ij")
    eta = B0[..., None] * X[:, 0] + B1[..., None] * X[:, 1]
    logp = (y * -np.logaddexp(0, -eta) + (1 - y) * -np.logaddexp(0, eta)).sum(-1)
    logp -= 0.25 * (B0**2 + B1**2)
    dens = np.exp(logp - logp.max())
    dens /= dens.sum()
    mean = np.array([(dens * B0).sum(), (dens * B1).sum()])
    sd = np.sqrt([(dens * (B0 - mean[0]) ** 2).sum(), (dens * (B1 - mean[1]) ** 2).sum()])
    mode = np.unravel_index(np.argmax(logp), logp.shape)
    assert abs(g0[mode[0]] - post.mean[0]) <= g0[1] - g0[0]  # the MAP is the exact mode
    assert abs(g1[mode[1]] - post.mean[1]) <= g1[1] - g1[0]
    # n = 80: the posterior mean is off the mode by a small share of a posterior sd (skew)
    assert (np.abs(mean - post.mean) < 0.25 * sd).all()
    np.testing.assert_allclose(post.sd, sd, rtol=0.1)


def test_credible_intervals_cover_at_the_nominal_rate_when_beta_comes_from_the_prior():
    rng = np.random.default_rng(2)
    hits, total = 0, 0
    for _ in range(300):
        beta = rng.normal(0, 1, size=2)  # prior N(0, 1)
        X = rng.normal(size=(120, 2))
        y = (rng.random(120) < expit(X @ beta)).astype(float)
        iv = fit_laplace(X, y, prior_precision=1.0).interval(0.9)
        hits += int(((iv[:, 0] <= beta) & (beta <= iv[:, 1])).sum())
        total += 2
    assert 0.86 <= hits / total <= 0.94


def test_separable_data_stays_finite_and_bad_input_is_a_data_error():
    X = np.column_stack([np.ones(10), np.r_[-np.ones(5), np.ones(5)]])
    y = np.r_[np.zeros(5), np.ones(5)]
    post = fit_laplace(X, y, prior_precision=0.0)
    assert np.isfinite(post.mean).all() and np.isfinite(post.cov).all()
    with pytest.raises(DataError, match="labels must lie"):
        fit_laplace(X, y + 1)
    with pytest.raises(DataError, match="non-finite"):
        fit_laplace(X * np.nan, y)


def _clustered(rng: np.random.Generator, comparisons: int, labels: int,
               spread: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Comparisons with one regressor; a comparison effect u ~ N(0, spread²) the regressor
    misses is shared by its ``labels`` labels."""
    x = rng.normal(size=comparisons)
    u = rng.normal(0.0, spread, size=comparisons)
    rows = np.repeat(np.arange(comparisons), labels)
    y = (rng.random(len(rows)) < expit(0.8 * x[rows] + u[rows])).astype(float)
    return np.column_stack([np.ones(len(rows)), x[rows]]), y, rows


def test_sandwich_matches_the_sampling_spread_when_labels_share_a_comparison():
    # 4 labels per comparison sharing a comparison effect: the Laplace sd is too small, the
    # cluster-robust sandwich sd matches the Monte Carlo sd of the MAP over data sets
    rng = np.random.default_rng(5)
    maps, laplace_sd, sandwich_sd = [], [], []
    for _ in range(150):
        X, y, rows = _clustered(rng, 120, 4, 1.5)
        plain = fit_laplace(X, y, prior_precision=np.r_[0.0, 0.01])
        robust = fit_laplace(X, y, prior_precision=np.r_[0.0, 0.01], clusters=rows)
        assert robust.covariance == "sandwich" and plain.covariance == "laplace"
        assert robust.mean == pytest.approx(plain.mean)
        maps.append(plain.mean[1])
        laplace_sd.append(plain.sd[1])
        sandwich_sd.append(robust.sd[1])
    spread = np.std(maps, ddof=1)
    assert np.mean(sandwich_sd) / spread == pytest.approx(1.0, abs=0.15)
    assert np.mean(laplace_sd) / spread < 0.8


def test_sandwich_equals_laplace_roughly_with_one_label_per_comparison():
    rng = np.random.default_rng(6)
    X, y, rows = _clustered(rng, 3000, 1, 0.0)
    plain = fit_laplace(X, y, prior_precision=0.0)
    robust = fit_laplace(X, y, prior_precision=0.0, clusters=rows)
    assert robust.sd == pytest.approx(plain.sd, rel=0.1)
    with pytest.raises(DataError, match="clusters"):
        fit_laplace(X, y, clusters=rows[:5])
