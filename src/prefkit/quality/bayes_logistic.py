r"""Bayesian logistic regression by the Laplace approximation (one implementation, used by the
property analysis of :mod:`prefkit.quality.drivers` and the Bayesian property profile).

Model (soft labels y_i ∈ [0, 1], record weights w_i, Gaussian prior β ~ N(m, Λ⁻¹))::

    log p(β | y) = Σ_i w_i [ y_i log σ(x_iᵀβ) + (1 − y_i) log σ(−x_iᵀβ) ] − ½ (β − m)ᵀ Λ (β − m) + c

MAP β̂ by Newton's method (iteratively re-weighted least squares, step-halving on the log
posterior); posterior ≈ N(β̂, H⁻¹) with the Hessian of the negative log posterior at β̂::

    H = Xᵀ diag(w_i p_i (1 − p_i)) X + Λ,   p_i = σ(x_iᵀβ̂)

(Laplace 1774; MacKay 1992, "The evidence framework applied to classification networks";
Bishop 2006, *Pattern Recognition and Machine Learning* §4.5).  Intervals are β̂_j ± z·√(H⁻¹)_jj;
P(β_j > 0) = Φ(β̂_j / √(H⁻¹)_jj).  The log evidence (Laplace) is
log p(y | β̂) + log N(β̂; m, Λ⁻¹) + ½ log |2π H⁻¹|.

**Several labels per comparison** (``clusters``: e.g. the ``pair_id`` of each record): labels of
one comparison share whatever the regressors miss about it, so they are not independent given
X and H⁻¹ is too narrow.  The cluster-robust ("sandwich") posterior covariance of Müller 2013
("Risk of Bayesian inference in misspecified models, and the sandwich covariance matrix",
Econometrica 81(5)) replaces it::

    Σ = H⁻¹ V H⁻¹,   V = G/(G − 1) · Σ_g s_g s_gᵀ,   s_g = Σ_{i∈g} w_i (y_i − p_i) x_i

(G clusters; s_g the likelihood score of cluster g at the MAP).  With one record per cluster and
a correct model V ≈ Xᵀ diag(w p (1 − p)) X and Σ ≈ H⁻¹; the MAP is unchanged.

A diagonal Λ = diag(λ_j) with λ_j = 1/C on coefficients and 0 on an intercept is exactly
scikit-learn's ``LogisticRegression(C=C)`` L2 objective, so the MAP equals its solution.

The property-level use follows Li et al. 2024, "Dissecting human and LLM preferences"
(ACL; Bayesian logistic regression of pairwise preferences on property differences).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit, log_expit, ndtr, ndtri

from prefkit.errors import DataError


@dataclass
class LaplacePosterior:
    """N(mean, cov) approximating the posterior of β, with the fit's log evidence."""

    mean: np.ndarray  # (p,) MAP
    cov: np.ndarray  # (p, p) inverse Hessian at the MAP
    log_evidence: float
    iterations: int
    covariance: str = "laplace"  # or "sandwich" (clusters given)

    @property
    def sd(self) -> np.ndarray:
        return np.sqrt(np.clip(np.diag(self.cov), 0.0, None))

    def interval(self, level: float = 0.95) -> np.ndarray:
        """(p, 2) central credible intervals β̂ ± z·sd."""
        z = float(ndtri(0.5 + level / 2))
        return np.column_stack([self.mean - z * self.sd, self.mean + z * self.sd])

    def prob_positive(self) -> np.ndarray:
        """P(β_j > 0 | data) under the Gaussian approximation."""
        sd = np.where(self.sd > 0, self.sd, np.inf)
        return ndtr(self.mean / sd)

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        return np.random.default_rng(seed).multivariate_normal(self.mean, self.cov, size=n)


def _log_posterior(beta: np.ndarray, X: np.ndarray, y: np.ndarray, w: np.ndarray,
                   m: np.ndarray, lam: np.ndarray) -> float:
    eta = X @ beta
    ll = (w * (y * log_expit(eta) + (1 - y) * log_expit(-eta))).sum()
    d = beta - m
    return float(ll - 0.5 * d @ (lam * d if lam.ndim == 1 else lam @ d))


def fit_laplace(X: np.ndarray, y: np.ndarray, *, weights: np.ndarray | None = None,
                prior_mean: np.ndarray | float = 0.0,
                prior_precision: np.ndarray | float = 1.0,
                max_iter: int = 100, tol: float = 1e-10,
                clusters: np.ndarray | None = None) -> LaplacePosterior:
    """Laplace posterior of Bayesian logistic regression (module notes).

    ``prior_precision``: a scalar, a vector (diagonal Λ; 0 = flat, e.g. for an intercept) or a
    (p, p) matrix; ``prior_mean``: scalar or (p,).  With a flat prior on a separable direction
    the MAP does not exist: a tiny ridge (1e-6) keeps every answer finite.  ``clusters``: one
    label per record (records of one comparison share it) → the sandwich covariance (module
    notes); with fewer than two clusters the Laplace one is kept.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    n, p = X.shape
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    if len(y) != n or len(w) != n:
        raise DataError(f"X has {n} rows but y has {len(y)} and weights {len(w)}")
    if not (np.isfinite(X).all() and np.isfinite(y).all() and np.isfinite(w).all()):
        raise DataError("non-finite value in the regression inputs (X, y or weights)")
    if ((y < 0) | (y > 1)).any() or (w < 0).any():
        raise DataError("labels must lie in [0, 1] and weights be ≥ 0")
    m = np.broadcast_to(np.asarray(prior_mean, dtype=float), (p,)).copy()
    lam = np.asarray(prior_precision, dtype=float)
    lam = np.broadcast_to(lam, (p,)).copy() if lam.ndim <= 1 else lam.copy()
    lam_mat = np.diag(lam) if lam.ndim == 1 else lam
    ridge = 1e-6 * np.eye(p)  # keeps H invertible under a flat prior and separable data
    beta = m.copy()
    obj = _log_posterior(beta, X, y, w, m, lam)
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007
        eta = X @ beta
        prob = expit(eta)
        grad = X.T @ (w * (y - prob)) - lam_mat @ (beta - m)
        H = (X * (w * prob * (1 - prob))[:, None]).T @ X + lam_mat + ridge
        step = np.linalg.solve(H, grad)
        t = 1.0
        while True:
            cand = beta + t * step
            new = _log_posterior(cand, X, y, w, m, lam)
            if new >= obj - 1e-12 or t < 1e-8:
                break
            t *= 0.5
        beta, gain, obj = cand, new - obj, new
        if abs(gain) < tol * (1 + abs(obj)) and np.abs(t * step).max() < 1e-8:
            break
    prob = expit(X @ beta)
    H = (X * (w * prob * (1 - prob))[:, None]).T @ X + lam_mat + ridge
    cov = np.linalg.inv(H)
    cov = 0.5 * (cov + cov.T)
    kind = "laplace"
    if clusters is not None:
        clusters = np.asarray(clusters)
        if len(clusters) != n:
            raise DataError(f"X has {n} rows but clusters has {len(clusters)}")
        levels, groups = np.unique(clusters, return_inverse=True)
        codes = len(levels)
        if codes >= 2:
            score = X * (w * (y - prob))[:, None]
            per = np.zeros((codes, p))
            np.add.at(per, groups.ravel(), score)
            meat = codes / (codes - 1) * per.T @ per
            cov = cov @ meat @ cov
            cov = 0.5 * (cov + cov.T)
            kind = "sandwich"
    _sign, logdet_h = np.linalg.slogdet(H)
    free = np.diag(lam_mat) > 0
    prior_term = 0.0
    if lam.ndim == 1 and free.any():  # proper part of the prior (flat coordinates drop out)
        d = (beta - m)[free]
        prior_term = 0.5 * (np.log(lam[free] / (2 * np.pi)).sum() - (lam[free] * d * d).sum())
    ll = float((w * (y * log_expit(X @ beta) + (1 - y) * log_expit(-X @ beta))).sum())
    evidence = ll + prior_term + 0.5 * (p * np.log(2 * np.pi) - logdet_h)
    return LaplacePosterior(beta, cov, float(evidence), it, kind)
