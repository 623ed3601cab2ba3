r"""Rank correlation between two rankings or score vectors: Kendall's τ and Spearman's ρ (SciPy).

Kendall (1938, 1945), over the n(n−1)/2 pairs of items, with C concordant and D discordant pairs
and T_x, T_y pairs tied only in x or only in y::

    τ_b = (C − D) / sqrt((C + D + T_x)(C + D + T_y))      (= (C − D) / (n(n−1)/2) without ties)

Spearman (1904): ρ = Pearson correlation of the (average) ranks of x and y.

Inputs are two score vectors aligned by item (higher = better), two mappings item → score
(aligned on their common items), or orders turned into scores with :func:`order_to_scores` —
e.g. ``kendall_tau(model_strengths, truth["log_strength"])`` or
``kendall_tau(order_to_scores(["b", "a", "c"]), order_to_scores(["a", "b", "c"]))``.

A constant score vector (every item tied, e.g. a model fitted on all-tie data) makes both
coefficients 0/0.  They are then reported as 0.0 — no evidence of agreement, the convention of
``sklearn.metrics.matthews_corrcoef`` — with a :class:`ConstantScoresWarning`, never NaN.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import stats

from prefkit.errors import DataError


class ConstantScoresWarning(UserWarning):
    """A rank correlation was asked of a constant score vector (reported as 0.0)."""


def order_to_scores(order: Sequence[str]) -> dict[str, float]:
    """Scores of an order (best first): the first of n items scores n, the last 1."""
    order = list(order)
    if len(set(order)) != len(order):
        raise DataError("an order lists an item twice", field="order")
    n = len(order)
    return {item: float(n - i) for i, item in enumerate(order)}


def _align(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(x, Mapping) or isinstance(y, Mapping):
        if not (isinstance(x, Mapping) and isinstance(y, Mapping)):
            raise DataError("give two mappings item → score, or two aligned arrays", field="x")
        common = sorted(set(x) & set(y))
        xs = np.array([x[k] for k in common], dtype=float)
        ys = np.array([y[k] for k in common], dtype=float)
    else:
        xs, ys = np.asarray(x, dtype=float).ravel(), np.asarray(y, dtype=float).ravel()
        if xs.shape != ys.shape:
            raise DataError(f"scores of different lengths: {xs.size} and {ys.size}", field="y")
    if xs.size < 2:
        raise DataError("a rank correlation needs at least two common items", field="x")
    return xs, ys


def _constant(xs: np.ndarray, ys: np.ndarray, what: str) -> bool:
    """Warn and return True when either score vector is constant (the coefficient is 0/0)."""
    flat = [name for name, v in (("x", xs), ("y", ys)) if np.all(v == v[0])]
    if not flat:
        return False
    warnings.warn(
        f"{what} is undefined: the scores {' and '.join(flat)} are constant (every item tied); "
        "reported as 0.0",
        ConstantScoresWarning,
        stacklevel=3,
    )
    return True


def kendall_tau(x: Any, y: Any, *, variant: str = "b") -> float:
    """Kendall's τ (``variant`` "b" or "c") via ``scipy.stats.kendalltau``; 0.0 with a
    :class:`ConstantScoresWarning` when either input is constant."""
    xs, ys = _align(x, y)
    if _constant(xs, ys, "Kendall's tau"):
        return 0.0
    return float(stats.kendalltau(xs, ys, variant=variant).statistic)


def spearman_rho(x: Any, y: Any) -> float:
    """Spearman's ρ via ``scipy.stats.spearmanr``; 0.0 with a :class:`ConstantScoresWarning`
    when either input is constant."""
    xs, ys = _align(x, y)
    if _constant(xs, ys, "Spearman's rho"):
        return 0.0
    return float(stats.spearmanr(xs, ys).statistic)
