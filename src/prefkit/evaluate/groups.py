r"""Per-group breakdowns and the worst group.

Given a group label g_i per record (a user, an annotator, a source, a subset …) and a metric M,
the breakdown is M restricted to each group, {g: M(records with g_i = g)}, and the worst group is

    g* = argmin_g M_g  (metrics where higher is better, e.g. accuracy)
    g* = argmax_g M_g  (losses: log-loss, Brier, ECE)

over the groups with at least ``min_size`` records — the worst-group metric of distributionally
robust evaluation (Sagawa et al. 2020) and of pluralistic alignment (MaxMin-RLHF, Chakraborty et
al. 2024: the utility of the least-served group).

The default bundle (accuracy, log-loss, Brier, ECE) is computed for all groups at once from
per-record terms summed with ``np.bincount`` (one pass, however many users), and is tested to
equal the per-group calls of the scikit-learn-based metric functions.  Any other metric is called
once per group.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import xlogy

from prefkit.errors import DataError
from prefkit.evaluate._inputs import targets
from prefkit.evaluate.calibration import bin_edges
from prefkit.evaluate.classification import DEFAULT_EPS, accuracy_credit

#: Direction of the known metrics: True when higher is better.
HIGHER_IS_BETTER: dict[str, bool] = {
    "accuracy": True,
    "kappa": True,
    "alpha": True,
    "exact_match": True,
    "pairwise_accuracy": True,
    "kendall_tau": True,
    "spearman_rho": True,
    "log_loss": False,
    "log_loss_3way": False,
    "brier": False,
    "ece": False,
    "mce": False,
}
MISSING = "<missing>"


def group_labels(groups: Any) -> np.ndarray:
    """Group labels as strings (missing values become ``"<missing>"``)."""
    g = pd.Series(np.asarray(groups, dtype=object))
    return g.where(g.notna(), MISSING).astype(str).to_numpy()


def per_group(
    groups: Any,
    y_true: Any,
    p_pred: Any,
    *,
    metric: Callable[..., Any] | None = None,
    sample_weight: Any = None,
    min_size: int = 1,
    **kwargs: Any,
) -> dict[str, dict[str, float]]:
    """``{group: {"n": records, **metrics}}`` for each group with at least ``min_size`` records.

    ``metric(y, p, sample_weight=w, **kwargs)`` returns a float or a dict of floats; the default
    (``None``) is the bundle of :func:`prefkit.evaluate.evaluate.pairwise_metrics` — n, n_ties,
    accuracy, log_loss, brier, ece — computed for all groups in one vectorised pass
    (``kwargs``: ``ties``, ``tie_threshold``, ``n_bins``, ``symmetric_ece``).  ``y_true`` and
    ``p_pred`` are arrays aligned with ``groups`` (``p_pred`` may be ``(n, 3)``).  Groups come
    out sorted by label.
    """
    if metric is None:
        return _grouped_pairwise_metrics(groups, y_true, p_pred, sample_weight, min_size, **kwargs)
    labels = group_labels(groups)
    y = np.asarray(y_true, dtype=float)
    p = np.asarray(p_pred, dtype=float)
    if not len(labels) == len(y) == len(p):
        raise DataError(
            f"groups ({len(labels)}), y_true ({len(y)}) and p_pred ({len(p)}) differ in length",
            field="groups",
        )
    w = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
    codes, uniques = pd.factorize(labels, sort=True)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
    name = getattr(metric, "__name__", "value")
    out: dict[str, dict[str, float]] = {}
    for k, label in enumerate(uniques):
        idx = order[bounds[k] : bounds[k + 1]]
        if idx.size < min_size:
            continue
        value = metric(y[idx], p[idx], sample_weight=None if w is None else w[idx], **kwargs)
        row = dict(value) if isinstance(value, Mapping) else {name: float(value)}
        out[str(label)] = {"n": int(idx.size), **row}
    return out


def _grouped_pairwise_metrics(
    groups: Any,
    y_true: Any,
    p_pred: Any,
    sample_weight: Any,
    min_size: int,
    *,
    ties: str = "exclude",
    tie_threshold: float = 0.0,
    n_bins: int = 10,
    symmetric_ece: bool = True,
) -> dict[str, dict[str, float]]:
    """All groups' accuracy, log-loss, Brier and ECE from per-record terms and ``np.bincount``
    (the ECE a/b-symmetric by default, as in :mod:`prefkit.evaluate.calibration`)."""
    y, p, w = targets(y_true, p_pred, sample_weight)
    labels = group_labels(groups)
    if len(labels) != len(y):
        raise DataError(f"{len(labels)} group labels for {len(y)} records", field="groups")
    g, uniques = pd.factorize(labels, sort=True)
    k = len(uniques)

    def total(values: np.ndarray) -> np.ndarray:
        return np.bincount(g, weights=values, minlength=k)

    credit, counted = accuracy_credit(y, p, ties=ties, tie_threshold=tie_threshold)
    pc = np.clip(p, DEFAULT_EPS, 1.0 - DEFAULT_EPS)
    nll = -(xlogy(y, pc) + xlogy(1.0 - y, 1.0 - pc))
    w_all, w_acc = total(w), total(w * counted)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.where(w_acc > 0, total(w * credit * counted) / w_acc, np.nan)
        log_loss = np.where(w_all > 0, total(w * nll) / w_all, np.nan)
        brier = np.where(w_all > 0, total(w * (p - y) ** 2) / w_all, np.nan)
        # ECE: (group, bin) cells; symmetric: every record also as (1 − p, 1 − y)
        pe, ye, we, ge = (
            (np.r_[p, 1.0 - p], np.r_[y, 1.0 - y], np.r_[w, w], np.r_[g, g])
            if symmetric_ece else (p, y, w, g)
        )
        cell = ge * n_bins + np.searchsorted(bin_edges(pe, n_bins, "uniform")[1:-1], pe)
        size = k * n_bins
        gap = np.abs(
            np.bincount(cell, weights=we * pe, minlength=size)
            - np.bincount(cell, weights=we * ye, minlength=size)
        )  # = W_cell |conf − obs|
        w_ece = np.bincount(ge, weights=we, minlength=k)
        ece = np.where(w_ece > 0, gap.reshape(k, n_bins).sum(axis=1) / w_ece, np.nan)
    n = np.bincount(g, minlength=k)
    n_ties = np.bincount(g, weights=y == 0.5, minlength=k)
    return {
        str(label): {
            "n": int(n[i]),
            "n_ties": int(n_ties[i]),
            "accuracy": float(acc[i]),
            "log_loss": float(log_loss[i]),
            "brier": float(brier[i]),
            "ece": float(ece[i]),
        }
        for i, label in enumerate(uniques)
        if n[i] >= min_size
    }


def worst_group(
    breakdown: Mapping[str, Mapping[str, float]],
    metric: str = "accuracy",
    *,
    higher_is_better: bool | None = None,
    min_size: int = 1,
) -> tuple[str, dict[str, float]] | tuple[None, None]:
    """The group with the worst ``metric`` in a :func:`per_group` breakdown (NaN ignored).

    ``higher_is_better`` defaults to the metric's known direction (:data:`HIGHER_IS_BETTER`).
    Returns ``(None, None)`` when no group qualifies.  Ties go to the first group by label.
    """
    if higher_is_better is None:
        if metric not in HIGHER_IS_BETTER:
            raise DataError(
                f"unknown direction of metric {metric!r}: pass higher_is_better", field="metric"
            )
        higher_is_better = HIGHER_IS_BETTER[metric]
    worst_key, worst_val = None, None
    for key, row in breakdown.items():
        value = row.get(metric, float("nan"))
        if row.get("n", min_size) < min_size or value is None or np.isnan(value):
            continue
        worse = worst_val is None or (value < worst_val if higher_is_better else value > worst_val)
        if worse:
            worst_key, worst_val = key, value
    if worst_key is None:
        return None, None
    return worst_key, dict(breakdown[worst_key])
