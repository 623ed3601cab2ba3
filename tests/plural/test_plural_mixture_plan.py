"""The pre-built stage plan of the mixture M-step gives the same numbers as direct computation.

The plan (dense availability tables for full rankings, entry pairs otherwise) is checked against
an explicit per-stage sum, the per-call entry-pair Newton step, scipy's L-BFGS on the same MAP
objective, and a plain EM loop written out here.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import logsumexp

from prefkit.choice.plackett_luce import (
    Stages,
    _expected_and_information,
    _log_denominators,
    _loglik,
    dense_log_denominators,
    newton_solve,
    stage_pair_index,
    stage_plan,
    stages_from_rankings,
)
from prefkit.data.schema import PreferenceDataset
from prefkit.data.simulate.rankings import simulate_rankings
from prefkit.plural import PlackettLuceMixture
from prefkit.plural.mixture import _user_matrix, stage_loglik


def _stages(seed: int = 0, n: int = 6, m: int = 40) -> Stages:
    """Random partial rankings with ties and unranked items, random record weights."""
    rng = np.random.default_rng(seed)
    rankings, ranks, unranked = [], [], []
    for _ in range(m):
        perm = rng.permutation(n)
        k = int(rng.integers(2, n + 1))
        rankings.append(perm[:k])
        ranks.append(np.sort(rng.integers(0, k, size=k)))  # ties: equal ranks
        unranked.append(perm[k:])
    return stages_from_rankings(n, rankings, ranks, unranked, rng.uniform(0.2, 2.0, m))


def _explicit(st: Stages, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Σ_s c_s p_s and Σ_s c_s (diag p_s − p_s p_sᵀ), one stage at a time."""
    expected, info = np.zeros(st.n), np.zeros((st.n, st.n))
    for s in range(st.n_stages):
        items = st.member[st.stage == s]
        p = np.exp(theta[items] - logsumexp(theta[items]))
        c = st.weight[s] * st.mult[s]
        expected[items] += c * p
        info[np.ix_(items, items)] += c * (np.diag(p) - np.outer(p, p))
    return expected, info


def test_plan_layouts_match_explicit_sums():
    st = _stages()
    theta = np.random.default_rng(1).normal(size=st.n)
    dense = stage_plan(st)
    assert dense.avail is not None  # rankings cover most items: dense tables
    entry = replace(dense, avail=None, won=None, pairs=stage_pair_index(st))
    ref = _explicit(st, theta)
    log_den = _log_denominators(st, theta)
    np.testing.assert_allclose(dense_log_denominators(dense, theta), log_den, rtol=1e-13)
    for plan in (dense, entry):
        got = _expected_and_information(st, plan, theta, log_den)
        for got_part, want in zip(got, ref, strict=True):
            np.testing.assert_allclose(got_part, want, rtol=1e-12, atol=1e-12)


def test_pairs_with_many_items_use_the_entry_layout():
    n = 30
    st = stages_from_rankings(n, [np.array([i % n, (i * 7 + 1) % n]) for i in range(200)])
    assert stage_plan(st).avail is None


@pytest.mark.parametrize("steps", [1, 50])
def test_planned_newton_matches_per_call_newton_and_scipy(steps):
    st = _stages(seed=2)
    weight = st.weight * np.random.default_rng(3).uniform(0.0, 1.0, st.n_stages)
    stw = replace(st, weight=weight)  # responsibility-weighted, as in an M-step
    theta0, prec = np.full(st.n, 0.3), 0.1
    old = newton_solve(stw, theta0, prec=prec, tol=1e-12, max_iter=steps)
    new = newton_solve(stw, theta0, prec=prec, tol=1e-12, max_iter=steps, plan=stage_plan(st))
    np.testing.assert_allclose(new[0], old[0], rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(new[1], old[1], rtol=1e-11, atol=1e-12)
    assert new[2] == old[2]
    skip = newton_solve(stw, theta0, prec=prec, max_iter=steps, plan=stage_plan(st),
                        final_info=False, tol=1e-12)
    assert skip[1] is None and np.array_equal(skip[0], new[0])
    if steps > 1:  # converged: the MAP of ℓ(θ) − prec‖θ‖²/2, as scipy finds it
        def neg(th):
            e, _ = _explicit(stw, th)
            wins = np.bincount(stw.member[stw.winner], stw.weight[stw.stage[stw.winner]], st.n)
            return -_loglik(stw, th) + 0.5 * prec * th @ th, -(wins - e - prec * th)

        opts = {"gtol": 1e-11, "ftol": 1e-15, "maxiter": 1000}
        ref = minimize(neg, theta0, jac=True, method="L-BFGS-B", options=opts)
        np.testing.assert_allclose(new[0], ref.x, atol=1e-7)


def _stage_logprob(st: Stages, theta: np.ndarray) -> np.ndarray:
    """(S,) Σ_{g∈G_s} θ_g − m_s log Σ_{k∈R_s} e^{θ_k}, one stage at a time."""
    out = np.empty(st.n_stages)
    for s in range(st.n_stages):
        entries = st.stage == s
        won = theta[st.member[entries & st.winner]].sum()
        out[s] = won - st.mult[s] * logsumexp(theta[st.member[entries]])
    return out


def _reference_em(st, stage_user, gamma, prec, alpha, n_iter):
    """Generalized EM written out: one per-call (entry-pair) Newton step per M-step."""
    n_users, k = gamma.shape
    M = _user_matrix(st, stage_user, n_users)
    theta = np.zeros((k, st.n))
    for _ in range(n_iter):
        pi = (gamma.sum(axis=0) + alpha) / (n_users + k * alpha)
        for c in range(k):
            stc = replace(st, weight=st.weight * gamma[stage_user, c])
            theta[c] = newton_solve(stc, theta[c], prec=prec, tol=1e-9, max_iter=1)[0]
        joint = np.log(pi) + M @ np.array([_stage_logprob(st, th) for th in theta]).T
        norm = logsumexp(joint, axis=1)
        gamma = np.exp(joint - norm[:, None])
    return theta, gamma, float(norm.sum())


def test_mixture_em_matches_reference_em():
    st = _stages(seed=4, m=60)
    stage_user = st.record // 3  # three rankings per user
    n_users = int(stage_user.max()) + 1
    gamma0 = np.random.default_rng(5).dirichlet(np.ones(2), size=n_users)
    model = PlackettLuceMixture(2, max_iter=8, tol=0.0, prior_var=10.0)
    theta, _, gamma, _, ll, it = model._em(
        st, _user_matrix(st, stage_user, n_users), stage_user, gamma0, stage_plan(st)
    )
    ref = _reference_em(st, stage_user, gamma0, prec=0.1, alpha=1.0, n_iter=8)
    assert it == 8
    np.testing.assert_allclose(theta, ref[0], rtol=1e-10, atol=1e-11)
    np.testing.assert_allclose(gamma, ref[1], rtol=1e-9, atol=1e-12)
    assert ll == pytest.approx(ref[2], rel=1e-12)
    np.testing.assert_allclose(stage_loglik(st, theta, stage_plan(st)), stage_loglik(st, theta),
                               rtol=1e-12, atol=1e-12)


def test_auto_reuses_the_selected_fit():
    a = simulate_rankings(n_items=6, n_rankings=90, seed=1, spread=2.0)
    b = simulate_rankings(n_items=6, n_rankings=90, seed=2, spread=2.0)
    ds = PreferenceDataset.concat([a.dataset, b.dataset])
    ds = ds.with_column("user_id", [f"u{i // 3}" for i in range(len(ds))])
    auto = PlackettLuceMixture("auto", max_components=3, n_init=2, max_iter=30).fit(ds)
    for k, score in auto.selection_scores_.items():
        fixed = PlackettLuceMixture(k, n_init=2, max_iter=30).fit(ds)
        assert fixed.bic_ == pytest.approx(score, rel=1e-12)
        if k == auto.n_components_:
            np.testing.assert_array_equal(fixed.components_, auto.components_)
            np.testing.assert_array_equal(fixed.responsibilities_, auto.responsibilities_)
