r"""Pairwise classification metrics: accuracy (explicit tie policy), log-loss, Brier score.

Targets y ∈ [0, 1] are the outcome P(a ≻ b) (1, 0, ½ for a tie, or a soft label); predictions p
are P(a ≻ b) (see :mod:`prefkit.evaluate._inputs`).  Records may carry weights w.

Accuracy
--------
Hard labels: the true label of a record is a (y > ½), b (y < ½) or tie (y = ½); the predicted
label is a if p > ½ + t, b if p < ½ − t, else a predicted tie (t = ``tie_threshold``, 0 by
default: only p = ½ exactly is a predicted tie).  With labels coded a = 1, tie = ½, b = 0, the
credit of a record is

================  ====================================  =========================================
``ties=``         records counted                       credit
================  ====================================  =========================================
``"exclude"``     true ties dropped (RewardBench style)  1 − |y − ŷ|: right 1, wrong 0, predicted
                                                         tie ½ (a coin flip breaks it)
``"half"``        all                                    1 − |y − ŷ|: a true tie earns ½ against a
                                                         decisive prediction, 1 against a tie
``"exact"``       all                                    1[ŷ = y]: three-class accuracy
``"count_wrong"`` all                                    true ties earn 0; others 1 − |y − ŷ|
================  ====================================  =========================================

and accuracy = Σ w·credit / Σ w over the counted records (NaN with an
:class:`~prefkit.evaluate._inputs.UndefinedMetricWarning` when none is counted, e.g. all-tie data
under ``"exclude"``; the same for the losses when the weights sum to 0).

Log-loss (cross-entropy with soft targets) and Brier score
-----------------------------------------------------------
::

    log_loss = −Σ w [y log p + (1 − y) log(1 − p)] / Σ w,   p clipped to [ε, 1 − ε]
    brier    =  Σ w (p − y)² / Σ w

Both are computed by scikit-learn: ``sklearn.metrics.log_loss`` on each record split into an
"a won" row of weight w·y and a "b won" row of weight w·(1 − y) (exactly the cross-entropy above),
and ``sklearn.metrics.mean_squared_error`` (equal to ``brier_score_loss`` for hard labels; Brier
1950).  A tie is the soft target ½, the convention of Bradley–Terry fits that count a tie as half
a win.  For models that predict P(tie), :func:`log_loss_3way` scores the three outcomes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, mean_squared_error
from sklearn.metrics import log_loss as _sk_log_loss

from prefkit.data.schema import PreferenceDataset
from prefkit.errors import DataError
from prefkit.evaluate._inputs import outcome_labels, targets, undefined

TIE_POLICIES: tuple[str, ...] = ("exclude", "half", "exact", "count_wrong")
DEFAULT_EPS = 1e-12


def accuracy(
    y_true: Any,
    p_pred: Any,
    *,
    ties: str = "exclude",
    tie_threshold: float = 0.0,
    sample_weight: Any = None,
) -> float:
    """Pairwise accuracy under an explicit tie policy (table in the module docstring)."""
    y, p, w = targets(y_true, p_pred, sample_weight)
    credit, counted = accuracy_credit(y, p, ties=ties, tie_threshold=tie_threshold)
    if w[counted].sum() <= 0:
        if len(y) and ties == "exclude" and not counted.any():
            return undefined("accuracy", f"all {len(y)} records are ties and ties='exclude' "
                             "leaves them out (ties='half' counts them)")
        return undefined("accuracy", "no record with a positive weight is counted")
    if ties == "exact":  # three-class accuracy is scikit-learn's accuracy_score
        y_code, p_code = (
            np.rint(2 * outcome_labels(v, t)).astype(int)  # b 0, tie 1, a 2
            for v, t in ((y, 0.0), (p, tie_threshold))
        )
        return float(accuracy_score(y_code, p_code, sample_weight=w))
    return float(np.average(credit[counted], weights=w[counted]))


def accuracy_credit(
    y: np.ndarray, p: np.ndarray, *, ties: str = "exclude", tie_threshold: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Per-record ``(credit, counted)`` of :func:`accuracy` (checked arrays in, no weights)."""
    if ties not in TIE_POLICIES:
        raise DataError(
            f"unknown tie policy {ties!r} (expected one of {', '.join(TIE_POLICIES)})", field="ties"
        )
    if not 0.0 <= tie_threshold < 0.5:
        raise DataError(f"must be in [0, 0.5), got {tie_threshold}", field="tie_threshold")
    y_lab, p_lab = outcome_labels(y), outcome_labels(p, tie_threshold)
    true_tie = y_lab == 0.5
    if ties == "exact":
        credit = (y_lab == p_lab).astype(float)
    else:
        credit = 1.0 - np.abs(y_lab - p_lab)
        if ties == "count_wrong":
            credit[true_tie] = 0.0
    counted = ~true_tie if ties == "exclude" else np.ones(len(y), dtype=bool)
    return credit, counted


def log_loss(
    y_true: Any, p_pred: Any, *, eps: float = DEFAULT_EPS, sample_weight: Any = None
) -> float:
    """Cross-entropy of P(a ≻ b) against (soft) targets; natural log, p clipped to [ε, 1 − ε].

    Predicting ½ everywhere gives ln 2 ≈ 0.693 whatever the targets.
    """
    y, p, w = targets(y_true, p_pred, sample_weight)
    if w.sum() <= 0:
        return undefined("log_loss", "no record with a positive weight")
    p = np.clip(p, eps, 1.0 - eps)
    n = len(y)
    labels = np.r_[np.ones(n), np.zeros(n)]
    weights = np.r_[w * y, w * (1.0 - y)]
    return float(_sk_log_loss(labels, np.r_[p, p], sample_weight=weights, labels=[0.0, 1.0]))


def brier_score(y_true: Any, p_pred: Any, *, sample_weight: Any = None) -> float:
    """Mean squared error between predicted P(a ≻ b) and the (soft) target (Brier 1950)."""
    y, p, w = targets(y_true, p_pred, sample_weight)
    if w.sum() <= 0:
        return undefined("brier", "no record with a positive weight")
    return float(mean_squared_error(y, p, sample_weight=w))


def log_loss_3way(
    y_true: Any, proba: Any, *, eps: float = DEFAULT_EPS, sample_weight: Any = None
) -> float:
    """Log-loss over the three outcomes (a, b, tie) for models that predict P(tie).

    Args:
        y_true: a pairwise dataset with ``winner`` labels, or an array of labels in
            {"a", "b", "tie"}.
        proba: ``(n, 3)`` array of P(a ≻ b), P(b ≻ a), P(tie).

    ``−Σ w log P(observed outcome) / Σ w`` via ``sklearn.metrics.log_loss``.
    """
    if isinstance(y_true, PreferenceDataset):
        if sample_weight is None:
            sample_weight = y_true.weights()
        if "winner" not in y_true.columns:
            raise DataError("three-way log-loss needs 'winner' labels", field="winner")
        y_true = y_true.column("winner")
    labels = np.asarray(y_true, dtype=object)
    codes = np.full(len(labels), -1)
    for code, name in enumerate(("a", "b", "tie")):
        codes[labels == name] = code
    if (codes < 0).any():
        row = int(np.flatnonzero(codes < 0)[0])
        raise DataError(f"label {labels[row]!r} is not 'a', 'b' or 'tie'", row=row, field="winner")
    proba = np.asarray(proba, dtype=float)
    if proba.shape != (len(codes), 3):
        raise DataError(f"expected shape ({len(codes)}, 3), got {proba.shape}", field="p_pred")
    proba = np.clip(proba, eps, 1.0)
    proba = proba / proba.sum(axis=1, keepdims=True)
    return float(_sk_log_loss(codes, proba, sample_weight=sample_weight, labels=[0, 1, 2]))
