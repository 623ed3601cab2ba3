r"""Thurstone model with a variance per item (beyond Case V).

    P(i ≻ j) = Φ( (μ_i − μ_j) / √(σ_i² + σ_j²) )

Thurstone, L. L. (1927), "A law of comparative judgment", Psychological Review 34, 273–286
(the general case before the Case V simplification σ_i = σ); used as the "Thurstonian utility"
model of Mazeika et al. (2025), "Utility Engineering: Analyzing and Controlling Emergent Value
Systems in AIs" (utilities μ with per-outcome uncertainty σ, fitted to forced-choice data).
Correlations between items are taken as zero.

Identifiability: the likelihood is unchanged by a shift of every μ and by a common rescaling
(μ, σ) → (c·μ, c·σ).  The fit fixes both: Σ μ_i = 0 and the *geometric mean* of the σ_i is
1/√2, so that with equal variances σ_i² + σ_j² = 1 and μ is exactly the Case V θ of
:class:`~prefkit.choice.thurstone.Thurstone`.  The σ_i are then relative uncertainties.  They need
a well-connected design: with n items there are 2n − 2 free parameters and at most n(n − 1)/2
distinct pair probabilities, so n ≥ 5 items compared in many pairs (n = 3 or 4 leaves the
variances unidentified; a small ridge ``scale_l2`` on log σ keeps the fit finite then).

Ties count as half a win for each side.  Fitted by maximum likelihood on the aggregated win
counts with L-BFGS (analytic gradient); ``equal_variances=True`` fits Case V (σ_i = 1/√2).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_ndtr, ndtr

from prefkit.choice._data import pair_records
from prefkit.choice._pairwise import item_scores
from prefkit.core.estimator import PreferenceEstimator
from prefkit.core.persist import config_value, expect_array, register, saved_params
from prefkit.errors import DataError

#: log σ of every item when the variances are equal (σ_i² + σ_j² = 1, the Case V scale)
CASE_V_LOG_SCALE = -0.5 * np.log(2.0)


def win_probability(mu_i: Any, mu_j: Any, sigma_i: Any, sigma_j: Any) -> np.ndarray:
    """P(i ≻ j) = Φ((μ_i − μ_j)/√(σ_i² + σ_j²)) (elementwise)."""
    mu_i, mu_j = np.asarray(mu_i, float), np.asarray(mu_j, float)
    v = np.asarray(sigma_i, float) ** 2 + np.asarray(sigma_j, float) ** 2
    return ndtr((mu_i - mu_j) / np.sqrt(v))


def _aggregate(ia: np.ndarray, ib: np.ndarray, wa: np.ndarray, wb: np.ndarray, n: int):
    """Sum the win weights per ordered pair (i, j) with i < j."""
    lo, hi = np.minimum(ia, ib), np.maximum(ia, ib)
    flip = ia > ib
    w_lo = np.where(flip, wb, wa)
    w_hi = np.where(flip, wa, wb)
    key = lo * n + hi
    keys, inv = np.unique(key, return_inverse=True)
    return (keys // n, keys % n, np.bincount(inv, w_lo, len(keys)),
            np.bincount(inv, w_hi, len(keys)))


def _negloglik(params: np.ndarray, i: np.ndarray, j: np.ndarray, wi: np.ndarray, wj: np.ndarray,
               n: int, equal: bool, scale_l2: float) -> tuple[float, np.ndarray]:
    mu = params[:n]
    s = np.full(n, CASE_V_LOG_SCALE) if equal else params[n:]
    var = np.exp(2.0 * s)
    v = var[i] + var[j]
    sd = np.sqrt(v)
    z = (mu[i] - mu[j]) / sd
    lp, lq = log_ndtr(z), log_ndtr(-z)
    logpdf = -0.5 * z * z - 0.5 * np.log(2.0 * np.pi)
    dz = wi * np.exp(logpdf - lp) - wj * np.exp(logpdf - lq)  # d loglik / dz
    f = -float((wi * lp + wj * lq).sum())
    g_mu = -(np.bincount(i, dz / sd, n) - np.bincount(j, dz / sd, n))
    # identifiability penalties: zero at the constrained optimum (Σμ = 0, mean log σ = log 1/√2)
    f += 0.5 * float(mu.sum()) ** 2
    g_mu += mu.sum()
    if equal:
        return f, g_mu
    ds = -dz * z / v  # dz/ds_i = −z σ_i² / v
    g_s = -(np.bincount(i, ds * var[i], n) + np.bincount(j, ds * var[j], n))
    centre = s.sum() - n * CASE_V_LOG_SCALE
    f += 0.5 * centre**2 + 0.5 * scale_l2 * float(((s - CASE_V_LOG_SCALE) ** 2).sum())
    g_s += centre + scale_l2 * (s - CASE_V_LOG_SCALE)
    return f, np.concatenate([g_mu, g_s])


@register("choice.ThurstoneVariances")
class ThurstoneVariances(PreferenceEstimator):
    """Thurstone model with per-item variances: P(i ≻ j) = Φ((μ_i − μ_j)/√(σ_i² + σ_j²)).

    Args:
        equal_variances: fit Case V (every σ_i = 1/√2) instead.
        scale_l2: ridge on log σ_i − log(1/√2) (0 = maximum likelihood).
        max_iter: L-BFGS iteration cap.

    After fitting: ``items_``, ``ratings_`` (μ, mean zero), ``scales_`` (σ, geometric mean
    1/√2), ``log_likelihood_``, ``converged_``.
    """

    _fitted_attr: ClassVar[str] = "ratings_"

    def __init__(self, *, equal_variances: bool = False, scale_l2: float = 1e-3,
                 max_iter: int = 1000) -> None:
        self.equal_variances = equal_variances
        self.scale_l2 = scale_l2
        self.max_iter = max_iter

    def fit(self, dataset: Any) -> ThurstoneVariances:
        rec = pair_records(dataset)
        n = len(rec.items)
        if n < 2 or len(rec.ia) == 0:
            raise DataError("need comparisons between at least two items",
                            source=getattr(dataset, "name", None))
        wa, wb = rec.wi + 0.5 * rec.t, rec.wj + 0.5 * rec.t
        if not (wa + wb).sum() > 0:
            raise DataError("every record has weight 0: nothing to fit", field="weight")
        i, j, wi, wj = _aggregate(rec.ia, rec.ib, wa, wb, n)
        equal = bool(self.equal_variances)
        x0 = np.zeros(n if equal else 2 * n)
        if not equal:
            x0[n:] = CASE_V_LOG_SCALE
        res = minimize(_negloglik, x0, args=(i, j, wi, wj, n, equal, float(self.scale_l2)),
                       jac=True, method="L-BFGS-B",
                       options={"maxiter": int(self.max_iter), "gtol": 1e-9, "ftol": 1e-15})
        mu = res.x[:n]
        s = np.full(n, CASE_V_LOG_SCALE) if equal else res.x[n:]
        # exact normalisation on the invariance orbit (likelihood unchanged)
        c = np.exp(s.mean() - CASE_V_LOG_SCALE)
        self.items_ = list(rec.items)
        self.ratings_ = (mu - mu.mean()) / c
        self.scales_ = np.exp(s - np.log(c))
        self.converged_ = bool(res.success)
        self.n_iter_ = int(res.nit)
        self.log_likelihood_ = self._loglik(i, j, wi, wj)
        return self

    def _loglik(self, i: np.ndarray, j: np.ndarray, wi: np.ndarray, wj: np.ndarray) -> float:
        p = win_probability(self.ratings_[i], self.ratings_[j], self.scales_[i], self.scales_[j])
        p = np.clip(p, 1e-300, 1.0 - 1e-16)
        return float((wi * np.log(p) + wj * np.log1p(-p)).sum())

    @property
    def variances_(self) -> np.ndarray:
        """σ_i² per item."""
        self.check_fitted()
        return self.scales_**2

    def _lookup(self, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
        pos = {name: k for k, name in enumerate(self.items_)}
        mu = np.append(self.ratings_, 0.0)
        sigma = np.append(self.scales_, np.exp(CASE_V_LOG_SCALE))  # unseen: average item
        idx = np.array([pos.get(nm, len(self.items_)) for nm in names], dtype=np.int64)
        return mu[idx], sigma[idx]

    def predict_proba(self, dataset: Any) -> np.ndarray:
        """P(a ≻ b) per pairwise record (an unseen item counts as μ = 0, σ = 1/√2)."""
        self.check_fitted()
        rec = pair_records(dataset)
        mu, sigma = self._lookup(rec.items)
        return win_probability(mu[rec.ia], mu[rec.ib], sigma[rec.ia], sigma[rec.ib])

    def win_matrix(self) -> np.ndarray:
        """P(i ≻ j) for every pair of items."""
        self.check_fitted()
        m, s = self.ratings_, self.scales_
        return win_probability(m[:, None], m[None, :], s[:, None], s[None, :])

    def item_scores(self, items: Any = None) -> np.ndarray:
        """Mean utilities μ of the named items (all when ``None``)."""
        self.check_fitted()
        return item_scores(self.items_, self.ratings_, items)

    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        self.check_fitted()
        config = {"params": self.get_params(), "items": list(self.items_),
                  "converged": self.converged_, "n_iter": self.n_iter_,
                  "log_likelihood": self.log_likelihood_}
        return config, {"ratings": self.ratings_, "scales": self.scales_}

    @classmethod
    def _from_state(cls, config: dict[str, Any], arrays: dict[str, np.ndarray], directory: Path,
                    **kw: Any) -> ThurstoneVariances:
        model = cls(**saved_params(cls, config, directory))
        items = [str(x) for x in config_value(config, "items", list, directory)]
        n = len(items)
        model.items_ = items
        model.ratings_ = np.asarray(expect_array(arrays, "ratings", (n,), where=directory), float)
        model.scales_ = np.asarray(expect_array(arrays, "scales", (n,), where=directory), float)
        model.converged_ = bool(config_value(config, "converged", bool, directory))
        model.n_iter_ = int(config_value(config, "n_iter", int, directory))
        model.log_likelihood_ = float(
            config_value(config, "log_likelihood", (int, float), directory))
        return model
