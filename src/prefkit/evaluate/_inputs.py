"""Input checking shared by the metrics: targets, predicted probabilities, weights.

Conventions used by every pairwise metric:

* ``y_true`` — the target P(a ≻ b) per record: 1 (a won), 0 (b won), 0.5 (tie) or a soft label
  ``p_a`` in [0, 1]; or a pairwise :class:`~prefkit.data.schema.PreferenceDataset`, read with
  ``outcomes()`` (and ``weights()`` when no ``sample_weight`` is given).
* ``p_pred`` — the predicted P(a ≻ b): shape ``(n,)``; or ``(n, 3)`` with columns
  (P(a ≻ b), P(b ≻ a), P(tie)) in the order of :data:`prefkit.data.schema.WINNER_LABELS`, which
  is reduced to the expected outcome P(a ≻ b) + ½ P(tie) (a tie scores ½, as in the targets).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from prefkit.data.schema import PreferenceDataset
from prefkit.errors import DataError


class UndefinedMetricWarning(UserWarning):
    """A metric has no value on the data (e.g. accuracy on all-tie records).

    The metric functions then return NaN (documented); :func:`prefkit.evaluate.evaluate` reports
    ``None`` instead, so that its report is valid JSON.
    """


def undefined(metric: str, reason: str) -> float:
    """Warn that ``metric`` is undefined because of ``reason``, and return NaN."""
    warnings.warn(f"{metric} is undefined: {reason}; returning NaN", UndefinedMetricWarning,
                  stacklevel=3)
    return float("nan")


def as_p_a(p_pred: Any, *, field: str = "p_pred") -> np.ndarray:
    """Predicted P(a ≻ b) per record from a 1-d array or an ``(n, 3)`` (a, b, tie) array."""
    p = np.asarray(p_pred, dtype=float)
    if p.ndim == 2 and p.shape[1] == 1:
        p = p[:, 0]
    if p.ndim == 2 and p.shape[1] == 3:
        check_probabilities(p, field)
        total = p.sum(axis=1)
        if not np.allclose(total, 1.0, atol=1e-6):
            row = int(np.flatnonzero(~np.isclose(total, 1.0, atol=1e-6))[0])
            raise DataError(
                f"the three probabilities (a, b, tie) of a record must sum to 1, got {total[row]}",
                row=row,
                field=field,
            )
        return (p[:, 0] + 0.5 * p[:, 2]) / total
    if p.ndim != 1:
        raise DataError(
            f"expected shape (n,) of P(a ≻ b) or (n, 3) of P(a), P(b), P(tie); got {p.shape}",
            field=field,
        )
    check_probabilities(p, field)
    return p


def check_probabilities(p: np.ndarray, field: str) -> None:
    bad = ~np.isfinite(p) | (p < 0) | (p > 1)
    if bad.any():
        row = int(np.flatnonzero(bad.reshape(len(p), -1).any(axis=1))[0])
        value = p[row]
        raise DataError(f"probabilities must lie in [0, 1], got {value}", row=row, field=field)


def targets(
    y_true: Any, p_pred: Any, sample_weight: Any = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Checked ``(y, p, w)``: targets in [0, 1], predicted P(a ≻ b), non-negative weights."""
    if isinstance(y_true, PreferenceDataset):
        if sample_weight is None:
            sample_weight = y_true.weights()
        y = y_true.outcomes()
    else:
        y = np.asarray(y_true, dtype=float)
    p = as_p_a(p_pred)
    if y.ndim != 1 or len(y) != len(p):
        raise DataError(
            f"y_true has shape {y.shape} but p_pred has {len(p)} records", field="y_true"
        )
    if np.isnan(y).any():
        row = int(np.flatnonzero(np.isnan(y))[0])
        raise DataError("record has no outcome (winner or p_a)", row=row, field="y_true")
    check_probabilities(y, "y_true")
    w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    if w.shape != y.shape:
        raise DataError(f"sample_weight has shape {w.shape}, expected {y.shape}", field="weight")
    if (~np.isfinite(w) | (w < 0)).any():
        raise DataError("weights must be finite and ≥ 0", field="weight")
    return y, p, w


def outcome_labels(p: np.ndarray, tie_threshold: float = 0.0) -> np.ndarray:
    """Hard outcome of a probability: 1 (a) if p > ½ + t, 0 (b) if p < ½ − t, else ½ (tie)."""
    p = np.asarray(p, dtype=float)
    return np.where(p > 0.5 + tie_threshold, 1.0, np.where(p < 0.5 - tie_threshold, 0.0, 0.5))
