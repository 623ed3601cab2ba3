"""Choosing the next pair: closed forms of each rule against brute force, the Arena weights,
the weighted / warm-started fit, and recovery on the simulator."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit, ndtr

from prefkit import PreferenceDataset
from prefkit.choice import active


def _posterior(seed: int = 0, n: int = 6, votes: int = 60):
    rng = np.random.default_rng(seed)
    truth = np.linspace(-1.5, 1.5, n)
    a = rng.integers(0, n, votes)
    b = (a + rng.integers(1, n, votes)) % n
    y = (rng.random(votes) < expit(truth[a] - truth[b])).astype(float)
    theta, cov = active.fit_bt_map(n, a, b, y)
    return theta, cov, (a, b, y)


def _after(theta, cov, i, j):
    """Σ after one vote on (i, j) by explicit inversion of the information."""
    e = np.zeros(len(theta))
    e[i], e[j] = 1.0, -1.0
    p = expit(theta[i] - theta[j])
    return np.linalg.inv(np.linalg.inv(cov) + p * (1 - p) * np.outer(e, e))


def _misordered(theta, cov):
    iu, ju = np.triu_indices(len(theta), 1)
    sd = np.sqrt(cov[iu, iu] + cov[ju, ju] - 2 * cov[iu, ju])
    return ndtr(-np.abs(theta[iu] - theta[ju]) / sd).sum()


def test_a_optimal_gain_is_the_drop_of_total_variance_and_the_best_pair():
    theta, cov, _ = _posterior()
    (i, j, gain), *_ = active.next_pairs(theta, cov, 3)
    drops = {(k, m): np.trace(cov) - np.trace(_after(theta, cov, k, m))
             for k in range(6) for m in range(k + 1, 6)}
    assert gain == pytest.approx(drops[(i, j)], rel=1e-8)
    assert (i, j) == max(drops, key=drops.get)


def test_rank_gain_is_the_drop_of_expected_misordered_pairs_and_the_best_pair():
    theta, cov, _ = _posterior(seed=1)
    picked = active.rank_pairs(theta, cov, 2, max_candidates=100)
    drops = {(k, m): _misordered(theta, cov) - _misordered(theta, _after(theta, cov, k, m))
             for k in range(6) for m in range(k + 1, 6)}
    (i, j, gain) = picked[0]
    assert gain == pytest.approx(drops[(i, j)], rel=1e-8)
    assert (i, j) == max(drops, key=drops.get)
    # the second pick is scored on the covariance after the first (greedy batch)
    cov1 = _after(theta, cov, i, j)
    k, m, gain2 = picked[1]
    assert gain2 == pytest.approx(_misordered(theta, cov1)
                                  - _misordered(theta, _after(theta, cov1, k, m)), rel=1e-8)
    assert active.misorder_probability(theta, cov).sum() == pytest.approx(
        _misordered(theta, cov))


def test_arena_weights_and_sampling_follow_the_width_reduction():
    theta, cov, (a, b, _) = _posterior(seed=2)
    counts = np.zeros((6, 6))
    np.add.at(counts, (a, b), 1.0)
    w = active.arena_weights(cov, counts)
    iu, ju = np.triu_indices(6, 1)
    var = cov[iu, iu] + cov[ju, ju] - 2 * cov[iu, ju]
    n = counts[iu, ju] + counts[ju, iu]
    # √(σ²/n) − √(σ²/(n+1)) with σ² = n·v
    expected = np.where(n > 0, np.sqrt(var) - np.sqrt(var * n / (n + 1)), np.sqrt(var))
    np.testing.assert_allclose(w, expected, rtol=1e-12)
    picks = active.choose_pairs("arena", theta, cov, 20000, counts=counts,
                                rng=np.random.default_rng(0))
    index = {(int(i), int(j)): k for k, (i, j) in enumerate(zip(iu, ju, strict=True))}
    freq = np.bincount([index[p] for p in picks], minlength=len(iu)) / len(picks)
    np.testing.assert_allclose(freq, w / w.sum(), atol=0.01)


def test_weighted_fit_equals_the_expanded_votes_and_warm_start_lands_on_the_same_map():
    theta, cov, (a, b, y) = _posterior(seed=3)
    wins = np.zeros((6, 6))
    np.add.at(wins, (np.where(y > 0, a, b), np.where(y > 0, b, a)), 1.0)
    iu, ju = np.triu_indices(6, 1)
    total = (wins + wins.T)[iu, ju]
    seen = total > 0
    agg, agg_cov = active.fit_bt_map(6, iu[seen], ju[seen], wins[iu, ju][seen] / total[seen],
                                     weights=total[seen])
    np.testing.assert_allclose(agg, theta, atol=1e-7)
    np.testing.assert_allclose(agg_cov, cov, atol=1e-7)
    warm, _ = active.fit_bt_map(6, a, b, y, theta0=theta + 5.0)
    np.testing.assert_allclose(warm, theta, atol=1e-7)
    # a separable start (one vote, far warm start) stays finite: step halving
    far, _ = active.fit_bt_map(3, np.array([0]), np.array([1]), np.array([1.0]),
                               theta0=np.array([300.0, -300.0, 0.0]))
    assert np.all(np.abs(far) < 10)


def test_propose_pairs_and_quality_reexports():
    from prefkit.quality import active as quality_active

    assert quality_active.fit_bt_map is active.fit_bt_map
    assert quality_active.next_pairs is active.next_pairs
    ds = PreferenceDataset.from_records(
        [{"a": x, "b": z, "winner": w} for x, z, w in
         [("p", "q", "a"), ("q", "r", "a"), ("r", "s", "b"), ("p", "s", "a"), ("q", "s", "tie")]])
    for rule in active.STRATEGIES:
        pairs = active.propose_pairs(ds, 3, strategy=rule)
        assert len(pairs) == 3 and all(p["a"] != p["b"] for p in pairs)
        assert all(0 <= p["p_misordered"] <= 0.5 and p["sd_diff"] > 0 for p in pairs)
    with pytest.raises(ValueError, match="unknown strategy"):
        active.propose_pairs(ds, 3, strategy="best")


def test_simulator_recovers_the_ranking_with_every_rule():
    # every rule reaches τ ≥ 0.8 on 8 items well before the cap; the truth is recovered
    for rule in active.STRATEGIES:
        votes = [active.votes_to_reach_tau(rule, seed, n_items=8, spread=1.0, target=0.8,
                                           batch=4, cap=3000) for seed in range(3)]
        assert max(votes) < 3000, (rule, votes)
