"""Threshold likelihood for paired comparisons with a cumulative link F.

For a comparison of i (first) and j (second) with linear predictor η = θ_i − θ_j (+ order /
covariate terms) and tie threshold α ≥ 0:

    P(i ≻ j) = F(η − α),   P(j ≻ i) = F(−η − α),   P(tie) = 1 − P(i ≻ j) − P(j ≻ i).

* F logistic, α = 0: Bradley–Terry (Bradley & Terry 1952; Zermelo 1929).
* F logistic, α > 0: Rao & Kupper (1967), "Ties in paired-comparison experiments: a
  generalization of the Bradley–Terry model", JASA 62, 194–204 (their θ = e^α).
* F normal, α = 0: Thurstone (1927) Case V.
* F normal, α > 0: Glenn & David (1960), "Ties in paired-comparison experiments using a
  modified Thurstone–Mosteller model", Biometrics 16, 86–109.

The threshold is parametrised as α = exp(κ) so κ is unconstrained.  :meth:`terms` returns the
weighted log-likelihood of each aggregated row and its first and second derivatives in
(η, κ), from which :mod:`prefkit.choice.newton` assembles gradient and Hessian.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from prefkit.core.mathfn import log_sigmoid, sigmoid

_TINY = 1e-300


class LogisticLink:
    """F(x) = 1 / (1 + e^{−x})."""

    name = "logit"

    @staticmethod
    def logcdf(x: np.ndarray) -> np.ndarray:
        return log_sigmoid(x)

    @staticmethod
    def cdf(x: np.ndarray) -> np.ndarray:
        return sigmoid(x)

    @staticmethod
    def pdf(x: np.ndarray) -> np.ndarray:
        return sigmoid(x) * sigmoid(-x)

    @staticmethod
    def ratio(x: np.ndarray) -> np.ndarray:
        """f(x)/F(x)."""
        return sigmoid(-x)

    @staticmethod
    def dlogpdf(x: np.ndarray) -> np.ndarray:
        """f'(x)/f(x)."""
        return -np.tanh(x / 2.0)


class NormalLink:
    """F(x) = Φ(x), the standard normal CDF (scipy.special, imported when first used)."""

    name = "probit"

    @staticmethod
    def logcdf(x: np.ndarray) -> np.ndarray:
        from scipy.special import log_ndtr

        return log_ndtr(x)

    @staticmethod
    def cdf(x: np.ndarray) -> np.ndarray:
        from scipy.special import ndtr

        return ndtr(x)

    @staticmethod
    def pdf(x: np.ndarray) -> np.ndarray:
        return np.exp(-0.5 * x * x) / np.sqrt(2.0 * np.pi)

    @staticmethod
    def ratio(x: np.ndarray) -> np.ndarray:
        from scipy.special import log_ndtr

        return np.exp(-0.5 * x * x - 0.5 * np.log(2.0 * np.pi) - log_ndtr(x))

    @staticmethod
    def dlogpdf(x: np.ndarray) -> np.ndarray:
        return -x


@dataclass
class Terms:
    """Row log-likelihood and derivatives in (η, τ); τ-terms are ``None`` without ties."""

    ll: np.ndarray
    ge: np.ndarray
    hee: np.ndarray
    gt: np.ndarray | None = None
    het: np.ndarray | None = None
    htt: np.ndarray | None = None


class ThresholdFamily:
    """Pairwise likelihood P(i≻j)=F(η−α), P(j≻i)=F(−η−α), tie = the rest (see module doc)."""

    def __init__(self, link: type[LogisticLink] | type[NormalLink], ties: bool) -> None:
        self.link = link
        self.ties = ties

    @property
    def has_tau(self) -> bool:
        return self.ties

    def tau_init(self, tie_fraction: float) -> float:
        f = min(max(tie_fraction, 1e-3), 0.99)
        if self.link is LogisticLink:
            alpha = 2.0 * np.arctanh(f)  # P(tie | η=0) = tanh(α/2)
        else:
            alpha = NormalDist().inv_cdf((1.0 + f) / 2.0)  # 2Φ(α) − 1
        return float(np.log(alpha))

    def tau_public(self, tau: float) -> float:
        """The published tie parameter: Rao–Kupper θ = e^α (logit) or Glenn–David α (probit)."""
        alpha = float(np.exp(tau))
        return float(np.exp(alpha)) if self.link is LogisticLink else alpha

    def _alpha(self, tau: np.ndarray | float | None) -> np.ndarray | float:
        return 0.0 if tau is None else np.exp(tau)

    def _tie_prob(self, eta: np.ndarray, alpha: np.ndarray | float) -> np.ndarray:
        F = self.link.cdf
        # F(α−η) − F(−α−η); evaluate in the lower tail to limit cancellation
        pos = F(alpha - eta) - F(-alpha - eta)
        neg = F(eta + alpha) - F(eta - alpha)
        return np.maximum(np.where(eta > 0, pos, neg), _TINY)

    def probs(
        self, eta: np.ndarray, tau: np.ndarray | float | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        alpha = self._alpha(tau if self.ties else None)
        pi = self.link.cdf(eta - alpha)
        pj = self.link.cdf(-eta - alpha)
        pt = self._tie_prob(eta, alpha) if self.ties else np.zeros_like(pi)
        return pi, pj, pt

    def loglik(self, eta, tau, wi, wj, t) -> np.ndarray:
        alpha = self._alpha(tau if self.ties else None)
        ll = wi * self.link.logcdf(eta - alpha) + wj * self.link.logcdf(-eta - alpha)
        if self.ties:
            ll = ll + np.where(t > 0, t * np.log(self._tie_prob(eta, alpha)), 0.0)
        return ll

    def grad(self, eta, tau, wi, wj, t) -> tuple[np.ndarray, np.ndarray | None]:
        """Only ∂ℓ/∂η and ∂ℓ/∂κ (cheap path for gradient-only iterations)."""
        if not self.ties and self.link is LogisticLink:
            return wi - (wi + wj) * sigmoid(eta), None
        if not self.ties:
            return wi * self.link.ratio(eta) - wj * self.link.ratio(-eta), None
        tm = self.terms(eta, tau, wi, wj, t)
        return tm.ge, tm.gt

    def terms(self, eta, tau, wi, wj, t) -> Terms:
        link = self.link
        alpha = self._alpha(tau if self.ties else None)
        xi = eta - alpha
        xj = -eta - alpha
        ri, rj = link.ratio(xi), link.ratio(xj)
        si, sj = link.dlogpdf(xi), link.dlogpdf(xj)
        ll = wi * link.logcdf(xi) + wj * link.logcdf(xj)
        ge = wi * ri - wj * rj
        ci = wi * (ri * si - ri * ri)
        cj = wj * (rj * sj - rj * rj)
        hee = ci + cj
        if not self.ties:
            return Terms(ll, ge, hee)
        ga = -wi * ri - wj * rj
        haa = ci + cj
        hea = -ci + cj
        pt = self._tie_prob(eta, alpha)
        fi, fj = link.pdf(xi), link.pdf(xj)
        dfi, dfj = fi * si, fj * sj
        has_t = t > 0
        te = np.where(has_t, (fj - fi) / pt, 0.0)
        ta = np.where(has_t, (fi + fj) / pt, 0.0)
        ll = ll + np.where(has_t, t * np.log(pt), 0.0)
        ge = ge + t * te
        ga = ga + t * ta
        hee = hee + np.where(has_t, t * ((-dfi - dfj) / pt - te * te), 0.0)
        haa = haa + np.where(has_t, t * ((-dfi - dfj) / pt - ta * ta), 0.0)
        hea = hea + np.where(has_t, t * ((dfi - dfj) / pt - te * ta), 0.0)
        # chain rule to κ = log α
        return Terms(ll, ge, hee, ga * alpha, hea * alpha, haa * alpha * alpha + ga * alpha)
