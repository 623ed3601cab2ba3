r"""Hierarchical (partially pooled) property effects per annotator or group.

Model: group g (an annotator, a source …) has its own coefficients, drawn around the population::

    P(a ≻ b | record i of group g) = σ(x_iᵀ β_g),     β_g ~ N(μ, diag τ²)

with x_i = (1, standardized property differences) as in :mod:`prefkit.quality.drivers` (one
scale for every group, so the β_g are comparable).  μ and τ² by empirical Bayes — EM with the
Laplace approximation (:mod:`prefkit.quality.bayes_logistic`) in the E-step::

    E:  β_g | data ≈ N(m_g, V_g)  (MAP and inverse Hessian under the prior N(μ, diag τ²))
    M:  μ = mean_g m_g,    τ_j² = mean_g [ (m_gj − μ_j)² + V_g,jj ]

(Dempster, Laird & Rubin 1977; the normal hierarchical model of Gelman et al., *Bayesian Data
Analysis*, ch. 5, with a logistic likelihood.)  A group with few records is pulled to μ, one with
many keeps its own estimate: partial pooling.  The interval of μ_j uses the unpooled precision of
each group, 1/v_gj = 1/V_g,jj − 1/τ_j², as Var μ_j ≈ 1 / Σ_g 1/(τ_j² + v_gj).

τ_j is weakly identified with few groups: the output says so (``groups`` < 5 → a note), and τ has
a floor of 0.01 (complete pooling) so every answer stays finite.  Groups with one label are kept
— they are what shrinkage is for.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from prefkit.quality.bayes_logistic import fit_laplace

TAU_FLOOR = 0.01
Z95 = 1.959963984540054


def fit_hierarchical(X: np.ndarray, y: np.ndarray, w: np.ndarray, groups: np.ndarray, *,
                     max_iter: int = 100, tol: float = 1e-6,
                     tau_init: float = 1.0) -> dict[str, Any]:
    """EM of the module notes on design ``X`` (intercept column included) and labels ``y`` per
    record, ``groups`` a label per record.  Returns μ, its se, τ, and per group the posterior
    mean / sd, the unpooled MAP (flat-ish prior) and the record count."""
    names, codes = np.unique(groups, return_inverse=True)
    p = X.shape[1]
    rows = [np.flatnonzero(codes == g) for g in range(len(names))]
    pooled = fit_laplace(X, y, weights=w, prior_precision=1e-4)
    mu, tau2 = pooled.mean.copy(), np.full(p, tau_init ** 2)
    posts = []
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007
        posts = [fit_laplace(X[r], y[r], weights=w[r], prior_mean=mu, prior_precision=1 / tau2)
                 for r in rows]
        means = np.array([q.mean for q in posts])
        var = np.array([np.diag(q.cov) for q in posts])
        new_mu = means.mean(axis=0)
        new_tau2 = np.maximum(((means - new_mu) ** 2 + var).mean(axis=0), TAU_FLOOR ** 2)
        change = max(np.abs(new_mu - mu).max(), np.abs(np.sqrt(new_tau2) - np.sqrt(tau2)).max())
        mu, tau2 = new_mu, new_tau2
        if change < tol:
            break
    var = np.array([np.diag(q.cov) for q in posts])
    unpooled_prec = np.clip(1 / var - 1 / tau2, 1e-12, None)
    se_mu = np.sqrt(1 / (1 / (tau2 + 1 / unpooled_prec)).sum(axis=0))
    unpooled = [fit_laplace(X[r], y[r], weights=w[r], prior_precision=1e-2).mean for r in rows]
    return {"mu": mu, "se_mu": se_mu, "tau": np.sqrt(tau2), "iterations": it,
            "groups": {str(name): {"mean": posts[g].mean, "sd": posts[g].sd,
                                   "unpooled": unpooled[g], "n": len(rows[g])}
                       for g, name in enumerate(names)}}


def hierarchical_effects(dataset: Any, labels: np.ndarray, diffs: pd.DataFrame) -> dict[str, Any]:
    """The drivers' per-group block: population effect μ with its interval and τ per property,
    and each group's partially pooled effect beside its unpooled one."""
    from prefkit.quality.drivers import design

    d = design(dataset, diffs)
    ok, names = d["ok"], ["(first position)", *d["names"]]
    X = np.column_stack([np.ones(len(d["y"])), d["Z"]])
    fit = fit_hierarchical(X, d["y"], d["w"], np.asarray(labels)[ok])
    mu, se = fit["mu"], fit["se_mu"]
    out: dict[str, Any] = {
        "model": "β_g ~ N(μ, τ²); empirical Bayes (EM + Laplace)",
        "population": {n: {"coef": float(mu[k]), "interval": [float(mu[k] - Z95 * se[k]),
                                                               float(mu[k] + Z95 * se[k])],
                           "tau": float(fit["tau"][k])} for k, n in enumerate(names)},
        "groups": {g: {"n": block["n"], "effects": {
            n: {"coef": float(block["mean"][k]),
                "interval": [float(block["mean"][k] - Z95 * block["sd"][k]),
                             float(block["mean"][k] + Z95 * block["sd"][k])],
                "unpooled": float(block["unpooled"][k])} for k, n in enumerate(names)}}
            for g, block in fit["groups"].items()},
        "iterations": fit["iterations"],
    }
    if len(fit["groups"]) < 5:
        out["note"] = (f"only {len(fit['groups'])} groups: τ (the spread between groups) is "
                       "weakly identified")
    return out
