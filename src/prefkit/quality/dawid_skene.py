r"""Dawid–Skene confusion model with ties: per-annotator 3 × 3 confusion over {a, b, tie}.

Dawid & Skene (1979), "Maximum likelihood estimation of observer error-rates using the EM
algorithm", JRSS C 28.  Comparison c has a latent true outcome z_c ∈ {a, b, tie} with prior ρ;
annotator k reports y with probability π_k[z, y]:

    P(y_c, z_c = z) = ρ_z Π_{k judging c} π_k[z, y_{ck}].

EM with a Dirichlet prior on every confusion row (``prior_count`` pseudo-labels in each cell
plus ``prior_agreement`` more on the diagonal) and on ρ:

    E-step   T_cz ∝ ρ_z Π_k π_k[z, y_ck]
    M-step   π_k[z, y] ∝ prior + Σ_{c judged by k, y_ck = y} T_cz,   ρ_z ∝ 1 + Σ_c T_cz

started from the vote shares of each comparison (majority vote, softened).  A soft label
p_a is read as a if > ½, b if < ½, tie if ½.

The reliability η_k reported beside Crowd-BT's is the probability of naming the true winner
when there is one, ½(π_k[a, a] + π_k[b, b]); ``tie_agreement`` is π_k[tie, tie].  Unlike
Crowd-BT this model knows nothing about items: ``predict_proba`` is the cleaned label of each
record's comparison, P(z = a) + ½ P(z = tie), computed from the labels in the dataset it is given
(records whose comparison has no labels get the prior ρ_a + ½ ρ_tie).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from prefkit.core.estimator import PreferenceEstimator
from prefkit.core.persist import config_value, expect_array, register, saved_params
from prefkit.errors import ModelFileError
from prefkit.quality._comparisons import NONE, Comparisons, group_comparisons
from prefkit.quality._reliability import annotator_table, beta_interval


def _posterior(c: Comparisons, log_conf: np.ndarray, log_rho: np.ndarray) -> np.ndarray:
    """T (n_comparisons, 3): posterior of the true outcome of each comparison."""
    have = (c.label != NONE) & (c.ann >= 0)
    logp = np.tile(log_rho, (c.n_comparisons, 1))
    for z in range(3):
        contrib = log_conf[c.ann[have], z, c.label[have]]
        logp[:, z] += np.bincount(c.comp[have], contrib, c.n_comparisons)
    logp -= logp.max(axis=1, keepdims=True)
    t = np.exp(logp)
    return t / t.sum(axis=1, keepdims=True)


@register("quality.DawidSkene")
class DawidSkene(PreferenceEstimator):
    """Dawid–Skene with ties (module notes).

    Args:
        prior_count: Dirichlet pseudo-count in every confusion cell.
        prior_agreement: extra pseudo-count on the diagonal (annotators mostly agree with truth).
        level: interval coverage of the reliability.
        min_labels: fewer labels than this flags an annotator ``uncertain``.
        max_iter, tol: EM stopping rule (largest change of a confusion entry).

    After ``fit``: ``annotators_``, ``confusion_`` (K, 3, 3), ``class_prior_`` (3,),
    ``eta_``, ``eta_low_``, ``eta_high_``, ``n_labels_``, ``n_iter_``.
    """

    _fitted_attr: ClassVar[str] = "confusion_"

    def __init__(self, *, prior_count: float = 1.0, prior_agreement: float = 2.0,
                 level: float = 0.95, min_labels: int = 10, max_iter: int = 200,
                 tol: float = 1e-6) -> None:
        self.prior_count = prior_count
        self.prior_agreement = prior_agreement
        self.level = level
        self.min_labels = min_labels
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, dataset: Any) -> DawidSkene:
        c = group_comparisons(dataset)
        n_ann = len(c.annotators)
        have = c.label != NONE
        votes = np.zeros((c.n_comparisons, 3))
        np.add.at(votes, (c.comp[have], c.label[have]), 1.0)
        t = (votes + 0.1) / (votes + 0.1).sum(axis=1, keepdims=True)
        prior = np.full((3, 3), float(self.prior_count)) + float(self.prior_agreement) * np.eye(3)
        conf = np.zeros((n_ann, 3, 3))
        it = 0
        for it in range(1, int(self.max_iter) + 1):  # noqa: B007 — the count is kept
            counts = np.zeros((n_ann, 3, 3))
            for y in range(3):
                rows = have & (c.label == y)
                for z in range(3):
                    counts[:, z, y] = np.bincount(c.ann[rows], t[c.comp[rows], z], n_ann)
            new = counts + prior
            new /= new.sum(axis=2, keepdims=True)
            rho = (1.0 + t.sum(axis=0)) / (3.0 + c.n_comparisons)
            change = np.abs(new - conf).max()
            conf = new
            t = _posterior(c, np.log(conf), np.log(rho))
            if change < float(self.tol):
                break
        # reliability: naming the true winner when there is one
        agree = np.zeros(n_ann)
        n_k = np.zeros(n_ann)
        for z in (0, 1):
            agree += np.bincount(c.ann[have], t[c.comp[have], z] * (c.label[have] == z), n_ann)
            n_k += np.bincount(c.ann[have], t[c.comp[have], z], n_ann)
        low, high = beta_interval(agree, n_k, (1.0, 1.0), float(self.level))
        self.annotators_ = list(c.annotators)
        self.confusion_ = conf
        self.class_prior_ = rho
        self.eta_ = 0.5 * (conf[:, 0, 0] + conf[:, 1, 1])
        self.eta_low_, self.eta_high_ = np.minimum(low, self.eta_), np.maximum(high, self.eta_)
        self.n_labels_ = np.bincount(c.ann[have], minlength=n_ann).astype(float)
        self.n_iter_ = int(it)
        return self

    def predict_outcome_proba(self, dataset: Any) -> np.ndarray:
        """(n, 3): posterior (P(a), P(b), P(tie)) of each record's comparison (its orientation)."""
        self.check_fitted()
        c = group_comparisons(dataset, annotators=self.annotators_)
        # annotators not seen in fit: an uninformative confusion (every report equally likely)
        log_conf = np.log(np.concatenate([self.confusion_, np.full((1, 3, 3), 1 / 3)]))
        ann = np.where(c.ann < 0, len(self.annotators_), c.ann)
        c2 = Comparisons(c.items, c.annotators, c.comp, ann, c.flip, c.ci, c.cj, c.va, c.vb,
                         c.label)
        t = _posterior(c2, log_conf, np.log(self.class_prior_))[c.comp]
        return np.where(c.flip[:, None], t[:, [1, 0, 2]], t)

    def predict_proba(self, dataset: Any) -> np.ndarray:
        """Cleaned P(a ≻ b) per record: P(z = a) + ½ P(z = tie) of its comparison."""
        t = self.predict_outcome_proba(dataset)
        return t[:, 0] + 0.5 * t[:, 2]

    soft_labels = predict_proba

    def annotator_report(self) -> dict[str, Any]:
        """``{annotator: {"reliability", "interval", "n", "flags", "tie_agreement"}}``."""
        self.check_fitted()
        return annotator_table(self.annotators_, self.eta_, self.eta_low_, self.eta_high_,
                               self.n_labels_, int(self.min_labels),
                               tie_agreement=self.confusion_[:, 2, 2])

    # ------------------------------------------------------------------ persistence
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        self.check_fitted()
        config = {"params": self.get_params(), "annotators": list(self.annotators_),
                  "n_iter": self.n_iter_}
        arrays = {"confusion": self.confusion_, "class_prior": self.class_prior_,
                  "eta": self.eta_, "eta_low": self.eta_low_, "eta_high": self.eta_high_,
                  "n_labels": self.n_labels_}
        return config, arrays

    @classmethod
    def _from_state(cls, config: dict[str, Any], arrays: dict[str, np.ndarray],
                    directory: Path, **_: Any) -> DawidSkene:
        where = Path(directory) / "config.json"
        model = cls(**saved_params(cls, config, where))
        annotators = config_value(config, "annotators", list, where)
        if not all(isinstance(v, str) for v in annotators):
            raise ModelFileError(f"{where}: 'annotators' must hold strings")
        k = len(annotators)
        model.annotators_ = list(annotators)
        model.confusion_ = expect_array(arrays, "confusion", (k, 3, 3), where=where, kind="f")
        model.class_prior_ = expect_array(arrays, "class_prior", (3,), where=where, kind="f")
        for name in ("eta", "eta_low", "eta_high", "n_labels"):
            setattr(model, f"{name}_", expect_array(arrays, name, (k,), where=where, kind="f"))
        model.n_iter_ = int(config.get("n_iter", 0))
        return model
