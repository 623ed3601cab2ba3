"""The density-weighted A-optimal rule: its gain is the drop of the weighted variance sum
(brute force), its weights are the posterior densities of the differences at zero, and on the
simulator it needs far fewer votes than uniform when strengths are spread."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit
from scipy.stats import norm

from prefkit.choice import active
from prefkit.choice.active_density import density_pairs, density_weights


def _posterior(seed: int = 2, n: int = 7, votes: int = 80):
    rng = np.random.default_rng(seed)
    truth = np.linspace(-2.0, 2.0, n)
    a = rng.integers(0, n, votes)
    b = (a + rng.integers(1, n, votes)) % n
    y = (rng.random(votes) < expit(truth[a] - truth[b])).astype(float)
    return active.fit_bt_map(n, a, b, y)


def _after(theta, cov, i, j):
    e = np.zeros(len(theta))
    e[i], e[j] = 1.0, -1.0
    p = expit(theta[i] - theta[j])
    return np.linalg.inv(np.linalg.inv(cov) + p * (1 - p) * np.outer(e, e))


def _weighted_variance(cov, w):
    iu, ju = np.triu_indices(len(cov), 1)
    return float((w * (cov[iu, iu] + cov[ju, ju] - 2 * cov[iu, ju])).sum())


def test_density_gain_is_the_drop_of_the_weighted_variances_and_the_best_pair():
    theta, cov = _posterior()
    n = len(theta)
    w = density_weights(theta, cov)
    iu, ju = np.triu_indices(n, 1)
    sd = np.sqrt(cov[iu, iu] + cov[ju, ju] - 2 * cov[iu, ju])
    assert w == pytest.approx(norm.pdf(0.0, loc=theta[iu] - theta[ju], scale=sd), rel=1e-12)
    picked = density_pairs(theta, cov, 2)
    drops = {(k, m): _weighted_variance(cov, w) - _weighted_variance(_after(theta, cov, k, m), w)
             for k in range(n) for m in range(k + 1, n)}
    i, j, gain = picked[0]
    assert gain == pytest.approx(drops[(i, j)], rel=1e-8)
    assert (i, j) == max(drops, key=drops.get)
    cov1 = _after(theta, cov, i, j)  # the second pick is scored after the first (same weights)
    k, m, gain2 = picked[1]
    assert (k, m) != (i, j)
    assert gain2 == pytest.approx(
        _weighted_variance(cov1, w) - _weighted_variance(_after(theta, cov1, k, m), w), rel=1e-8)


def test_density_rule_needs_fewer_votes_than_uniform_on_spread_strengths():
    # 20 items, θ ~ N(0, 2²): benchmarks/arena_active.py measures 0.45 [0.36, 0.57] × uniform's
    # votes over 30 seeds; on these 6 seeds the mean must be under 0.7 ×.
    def votes(rule: str) -> float:
        return float(np.mean([active.votes_to_reach_tau(rule, seed, n_items=20, spread=2.0)
                              for seed in range(6)]))

    assert votes("density") < 0.7 * votes("uniform")
