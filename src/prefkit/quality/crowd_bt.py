r"""Crowd-BT: Bradley–Terry item strengths and per-annotator reliabilities fitted jointly by EM.

Chen, Bennett, Collins-Thompson & Horvitz (2013), "Pairwise ranking aggregation in a crowdsourced
setting", WSDM.  Comparison c of items (i, j) has a true winner z_c with

    P(z_c = i) = σ(θ_i − θ_j)                              (Bradley–Terry)

and annotator k reports the true winner with probability η_k, the other one otherwise:

    P(y_{ck} = i | z_c = i) = η_k,   P(y_{ck} = i | z_c = j) = 1 − η_k.

(η = 1 a perfect annotator, ½ a coin, < ½ an adversary.)  The annotators of one comparison share
its z_c, which is what identifies η from their agreement; a comparison judged by one annotator is
Chen et al.'s record-level model.  A tie report counts half for each side (it says nothing about
z_c and half-agrees with it).  EM on the MAP objective with a Beta(α, β) prior on each η_k and a
ridge λ on θ:

    E-step   q_c = P(z_c = i | y) = σ( θ_i − θ_j + Σ_k (v_{ck}^a − v_{ck}^b) · logit η_k )
    M-step   η_k = (α − 1 + Σ_c [v^a q_c + v^b (1 − q_c)]) / (α + β − 2 + n_k)
             θ   = argmax Σ_c [q_c log σ(θ_i − θ_j) + (1 − q_c) log σ(θ_j − θ_i)] − λ/2 ‖θ‖²

(v^a, v^b: the vote weights of a report; n_k = Σ (v^a + v^b)).  EM starts from η = ``init_eta``
> ½, i.e. from "most annotators are better than a coin", which picks the right one of the two
mirror-image solutions.  Intervals: :mod:`prefkit.quality._reliability` (Beta), or percentile
intervals over ``n_bootstrap`` refits on comparisons resampled with replacement.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from scipy.optimize import minimize

from prefkit.core.estimator import PreferenceEstimator
from prefkit.core.mathfn import log_sigmoid, logit, sigmoid
from prefkit.core.persist import config_value, expect_array, register, saved_params
from prefkit.errors import DataError, ModelFileError
from prefkit.quality._comparisons import Comparisons, group_comparisons
from prefkit.quality._reliability import annotator_table, beta_interval


def _theta_step(theta: np.ndarray, ci: np.ndarray, cj: np.ndarray, q: np.ndarray,
                lam: float) -> np.ndarray:
    """M-step for θ: ridge-penalized Bradley–Terry on soft labels q (L-BFGS, warm start)."""
    n = len(theta)

    def fun(t: np.ndarray) -> tuple[float, np.ndarray]:
        d = t[ci] - t[cj]
        f = -(q * log_sigmoid(d) + (1 - q) * log_sigmoid(-d)).sum() + 0.5 * lam * t @ t
        g = q - sigmoid(d)
        grad = -np.bincount(ci, g, n) + np.bincount(cj, g, n) + lam * t
        return float(f), grad

    return minimize(fun, theta, jac=True, method="L-BFGS-B", options={"maxiter": 200}).x


def _fit_em(c: Comparisons, n_ann: int, prior: tuple[float, float], lam: float, init_eta: float,
            max_iter: int, tol: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(θ, η, q per comparison, iterations) — the module's EM."""
    theta = np.zeros(len(c.items))
    eta = np.full(n_ann, init_eta)
    n_k = np.bincount(c.ann, c.va + c.vb, n_ann)
    prev = -np.inf
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 — the count is returned
        d = theta[c.ci] - theta[c.cj]
        evidence = np.bincount(c.comp, (c.va - c.vb) * logit(eta[c.ann]), c.n_comparisons)
        q = sigmoid(d + evidence)
        agree = np.bincount(c.ann, c.va * q[c.comp] + c.vb * (1 - q[c.comp]), n_ann)
        eta = (prior[0] - 1 + agree) / (prior[0] + prior[1] - 2 + n_k)
        eta = np.clip(eta, 1e-4, 1 - 1e-4)
        theta = _theta_step(theta, c.ci, c.cj, q, lam)
        obj = _objective(theta, eta, c, prior, lam)
        if abs(obj - prev) < tol * (1 + abs(obj)):
            break
        prev = obj
    d = theta[c.ci] - theta[c.cj]
    q = sigmoid(d + np.bincount(c.comp, (c.va - c.vb) * logit(eta[c.ann]), c.n_comparisons))
    return theta, eta, q, it


def _objective(theta: np.ndarray, eta: np.ndarray, c: Comparisons, prior: tuple[float, float],
               lam: float) -> float:
    """Log posterior (up to a constant): Σ_c log Σ_z P(z) Π P(y|z) + log priors."""
    d = theta[c.ci] - theta[c.cj]
    le, l1e = np.log(eta), np.log1p(-eta)
    la = np.bincount(c.comp, c.va * le[c.ann] + c.vb * l1e[c.ann], c.n_comparisons)
    lb = np.bincount(c.comp, c.va * l1e[c.ann] + c.vb * le[c.ann], c.n_comparisons)
    ll = np.logaddexp(log_sigmoid(d) + la, log_sigmoid(-d) + lb).sum()
    log_prior = ((prior[0] - 1) * le + (prior[1] - 1) * l1e).sum() - 0.5 * lam * theta @ theta
    return float(ll + log_prior)


@register("quality.CrowdBT")
class CrowdBT(PreferenceEstimator):
    """Crowd-BT (module notes): item strengths θ and annotator reliabilities η by EM.

    Args:
        eta_prior: (α, β) of the Beta prior on each η (keeps one-label annotators finite).
        l2: ridge λ on θ.
        init_eta: starting η of every annotator (> ½).
        n_bootstrap: refits on resampled comparisons for percentile intervals of η (0: Beta).
        level: interval coverage.
        min_labels: fewer labels than this flags an annotator ``uncertain``.
        max_iter, tol: EM stopping rule (relative change of the log posterior).
        seed: bootstrap seed.

    After ``fit``: ``items_``, ``ratings_`` (θ, mean 0), ``annotators_``, ``eta_``,
    ``eta_low_``, ``eta_high_``, ``n_labels_``, ``tie_rate_``, ``n_iter_``.
    """

    _fitted_attr: ClassVar[str] = "eta_"

    def __init__(self, *, eta_prior: tuple[float, float] = (2.0, 2.0), l2: float = 0.1,
                 init_eta: float = 0.8, n_bootstrap: int = 0, level: float = 0.95,
                 min_labels: int = 10, max_iter: int = 200, tol: float = 1e-8,
                 seed: int = 0) -> None:
        self.eta_prior = eta_prior
        self.l2 = l2
        self.init_eta = init_eta
        self.n_bootstrap = n_bootstrap
        self.level = level
        self.min_labels = min_labels
        self.max_iter = max_iter
        self.tol = tol
        self.seed = seed

    def _prior(self) -> tuple[float, float]:
        a, b = (float(v) for v in self.eta_prior)
        if not (a >= 1 and b >= 1):
            raise DataError(f"eta_prior must be two numbers ≥ 1, got {self.eta_prior!r}",
                            field="eta_prior")
        return a, b

    def fit(self, dataset: Any) -> CrowdBT:
        c = group_comparisons(dataset)
        prior, lam = self._prior(), float(self.l2)
        n_ann = len(c.annotators)
        theta, eta, q, it = _fit_em(c, n_ann, prior, lam, float(self.init_eta),
                                    int(self.max_iter), float(self.tol))
        n_k = np.bincount(c.ann, c.va + c.vb, n_ann)
        agree = np.bincount(c.ann, c.va * q[c.comp] + c.vb * (1 - q[c.comp]), n_ann)
        low, high = beta_interval(agree, n_k, prior, float(self.level))
        if int(self.n_bootstrap) > 0:
            low, high = self._bootstrap(c, prior, lam)
        self.items_ = list(c.items)
        self.ratings_ = theta - theta.mean()
        self.annotators_ = list(c.annotators)
        self.eta_ = eta
        self.eta_low_, self.eta_high_ = np.minimum(low, eta), np.maximum(high, eta)
        self.n_labels_ = np.bincount(c.ann, minlength=n_ann).astype(float)
        ties = (c.va == c.vb) & (c.va > 0)
        self.tie_rate_ = np.bincount(c.ann, ties, n_ann) / np.maximum(self.n_labels_, 1)
        self.n_iter_ = int(it)
        return self

    def _bootstrap(self, c: Comparisons, prior: tuple[float, float],
                   lam: float) -> tuple[np.ndarray, np.ndarray]:
        """Percentile interval of η over refits on comparisons drawn with replacement."""
        rng = np.random.default_rng(int(self.seed))
        n_ann, draws = len(c.annotators), []
        order = np.argsort(c.comp, kind="stable")
        starts = np.searchsorted(c.comp[order], np.arange(c.n_comparisons + 1))
        for _ in range(int(self.n_bootstrap)):
            pick = rng.integers(0, c.n_comparisons, c.n_comparisons)
            rows = np.concatenate([order[starts[p]:starts[p + 1]] for p in pick])
            new_comp = np.repeat(np.arange(c.n_comparisons), starts[pick + 1] - starts[pick])
            boot = Comparisons(c.items, c.annotators, new_comp, c.ann[rows], c.flip[rows],
                               c.ci[pick], c.cj[pick], c.va[rows], c.vb[rows], c.label[rows])
            _, eta, _, _ = _fit_em(boot, n_ann, prior, lam, float(self.init_eta), 50, 1e-6)
            seen = np.bincount(boot.ann, minlength=n_ann) > 0
            draws.append(np.where(seen, eta, np.nan))
        tail = 100 * (1 - float(self.level)) / 2
        arr = np.array(draws)
        with np.errstate(all="ignore"):
            low = np.nanpercentile(np.where(np.isnan(arr).all(0), 0.0, arr), tail, axis=0)
            high = np.nanpercentile(np.where(np.isnan(arr).all(0), 1.0, arr), 100 - tail, axis=0)
        return low, high

    # ------------------------------------------------------------------ predictions
    def _d(self, dataset: Any) -> tuple[Comparisons, np.ndarray]:
        self.check_fitted()
        c = group_comparisons(dataset, annotators=self.annotators_)
        pos = {name: k for k, name in enumerate(self.items_)}
        theta = np.append(self.ratings_, 0.0)
        code = np.array([pos.get(name, -1) for name in c.items], dtype=np.int64)
        return c, theta[code[c.ci]] - theta[code[c.cj]]

    def predict_proba(self, dataset: Any) -> np.ndarray:
        """P(a ≻ b) per record under the Bradley–Terry part, σ(θ_a − θ_b) (unknown items: θ=0)."""
        self.check_fitted()
        items, ia, ib = dataset.item_codes()
        pos = {name: k for k, name in enumerate(self.items_)}
        theta = np.append(self.ratings_, 0.0)
        code = np.array([pos.get(name, -1) for name in items] + [-1], dtype=np.int64)
        return sigmoid(theta[code[ia]] - theta[code[ib]])

    def item_scores(self, items: list[str] | None = None) -> np.ndarray:
        """Strengths θ of ``items`` (all items by default; unknown ones 0)."""
        self.check_fitted()
        if items is None:
            return self.ratings_.copy()
        pos = {name: k for k, name in enumerate(self.items_)}
        return np.array([self.ratings_[pos[i]] if i in pos else 0.0 for i in items])

    def _eta_of(self, c: Comparisons) -> np.ndarray:
        """η of each record's annotator (½ — no evidence — for annotators not seen in fit)."""
        eta = np.append(self.eta_, 0.5)
        return eta[c.ann]

    def soft_labels(self, dataset: Any) -> np.ndarray:
        """Cleaned soft label per record: P(a truly ≻ b | every label of its comparison).

        q_c of the module notes, computed from ``dataset``'s own labels with the fitted θ and η
        and turned to each record's orientation.
        """
        c, d = self._d(dataset)
        evidence = np.bincount(c.comp, (c.va - c.vb) * logit(self._eta_of(c)), c.n_comparisons)
        q = sigmoid(d + evidence)[c.comp]
        return np.where(c.flip, 1.0 - q, q)

    def predict_label_proba(self, dataset: Any) -> np.ndarray:
        """P(the record's annotator says a) = η σ(d) + (1 − η)(1 − σ(d)), before seeing labels."""
        c, d = self._d(dataset)
        p, eta = sigmoid(d)[c.comp], self._eta_of(c)
        out = eta * p + (1 - eta) * (1 - p)
        return np.where(c.flip, 1.0 - out, out)

    def annotator_report(self) -> dict[str, Any]:
        """``{annotator: {"reliability": η, "interval": [lo, hi], "n", "flags", "tie_rate"}}``."""
        self.check_fitted()
        return annotator_table(self.annotators_, self.eta_, self.eta_low_, self.eta_high_,
                               self.n_labels_, int(self.min_labels), tie_rate=self.tie_rate_)

    # ------------------------------------------------------------------ persistence
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        self.check_fitted()
        params = self.get_params()
        params["eta_prior"] = [float(v) for v in self.eta_prior]
        config = {"params": params, "items": list(self.items_),
                  "annotators": list(self.annotators_), "n_iter": self.n_iter_}
        arrays = {"ratings": self.ratings_, "eta": self.eta_, "eta_low": self.eta_low_,
                  "eta_high": self.eta_high_, "n_labels": self.n_labels_,
                  "tie_rate": self.tie_rate_}
        return config, arrays

    @classmethod
    def _from_state(cls, config: dict[str, Any], arrays: dict[str, np.ndarray],
                    directory: Path, **_: Any) -> CrowdBT:
        where = Path(directory) / "config.json"
        params = saved_params(cls, config, where)
        if "eta_prior" in params:
            params["eta_prior"] = tuple(params["eta_prior"])
        items = config_value(config, "items", list, where)
        annotators = config_value(config, "annotators", list, where)
        if not all(isinstance(v, str) for v in items + annotators):
            raise ModelFileError(f"{where}: 'items' and 'annotators' must hold strings")
        model = cls(**params)
        model.items_, model.annotators_ = list(items), list(annotators)
        model.ratings_ = expect_array(arrays, "ratings", (len(items),), where=where, kind="f")
        for name in ("eta", "eta_low", "eta_high", "n_labels", "tie_rate"):
            setattr(model, f"{name}_",
                    expect_array(arrays, name, (len(annotators),), where=where, kind="f"))
        model.n_iter_ = int(config.get("n_iter", 0))
        return model
