r"""Calibration: reliability-diagram data and the expected calibration error (ECE).

Predictions p_i = P(a ≻ b) are grouped into bins B_1..B_M (equal-width on [0, 1], or quantiles of
p), the same binning as ``sklearn.calibration.calibration_curve`` (a value on an inner edge falls
in the lower bin).  Per bin, with weights w (1 by default) and targets y ∈ [0, 1] (ties ½, soft
labels as they are)::

    conf(B) = Σ_{i∈B} w_i p_i / Σ_{i∈B} w_i        (mean predicted probability)
    obs(B)  = Σ_{i∈B} w_i y_i / Σ_{i∈B} w_i        (observed frequency of "a wins")
    ECE = Σ_B (W_B / W) |obs(B) − conf(B)|,   MCE = max_B |obs(B) − conf(B)|

(Naeini, Cooper & Hauskrecht 2015; Guo, Pleiss, Sun & Weinberger 2017.)  scikit-learn's
``calibration_curve`` gives conf and obs but neither counts, weights nor soft labels, which ECE
needs; the binning here reproduces it exactly for hard, unweighted labels (tested).

Which candidate is "a" is usually arbitrary — HH-RLHF and every TRL-style chosen/rejected file put
the winner in "a", so the one-sided diagram of a good model has every point at observed = 1 and
an ECE near ½.  A pairwise ECE must not depend on that order, so **the symmetric form is the
default** (``symmetric=True``): every record is scored in both orientations, (p, y) and
(1 − p, 1 − y), each with the record's weight.  The diagram is then symmetric about ½ and the ECE
invariant to swapping a and b (with an even number of equal-width bins it equals the top-label
ECE of Guo et al. over the M/2 bins of [½, 1], up to predictions lying exactly on a bin edge).
``symmetric=False`` gives the one-sided form (calibration of P(a ≻ b) for a fixed, meaningful
"a", e.g. home team vs visitor); reports say which one they hold (``"ece_symmetric"``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from prefkit.data.io import save_figure
from prefkit.errors import DataError
from prefkit.evaluate._inputs import targets, undefined

STRATEGIES: tuple[str, ...] = ("uniform", "quantile")


@dataclass
class ReliabilityDiagram:
    """Per-bin calibration data (arrays of length ``n_bins``; NaN means for empty bins).

    ``symmetric``: whether every record was counted in both orientations (then ``counts`` sum
    to twice the records' weight).
    """

    edges: np.ndarray
    mean_predicted: np.ndarray
    observed: np.ndarray
    counts: np.ndarray
    ece: float
    mce: float
    symmetric: bool = True

    def to_dict(self) -> dict[str, Any]:
        """Plain lists and floats (NaN kept), e.g. for a JSON report or a plot."""
        return {
            "edges": self.edges.tolist(),
            "mean_predicted": self.mean_predicted.tolist(),
            "observed": self.observed.tolist(),
            "counts": self.counts.tolist(),
            "ece": self.ece,
            "mce": self.mce,
            "symmetric": self.symmetric,
        }

    def plot(self, path: str | os.PathLike[str] | None = None, *, title: str = "") -> Any:
        """Observed frequency against mean prediction per bin (bars: the bins' weights), with
        the diagonal of perfect calibration; saved atomically to ``path`` when given."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, (ax, bars) = plt.subplots(2, 1, figsize=(4.5, 5.5), sharex=True,
                                       gridspec_kw={"height_ratios": [3, 1]})
        filled = self.counts > 0
        ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="perfect calibration")
        ax.plot(self.mean_predicted[filled], self.observed[filled], "o-", label="model")
        ax.set_ylabel("observed frequency" if self.symmetric else "observed frequency of a ≻ b")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        kind = " (a/b-symmetric)" if self.symmetric else ""
        ax.set_title(f"{title + ': ' if title else ''}ECE{kind} {self.ece:.3f}, "
                     f"MCE {self.mce:.3f}", fontsize=10)
        ax.legend(loc="upper left")
        centres = (self.edges[:-1] + self.edges[1:]) / 2
        bars.bar(centres, self.counts, width=np.diff(self.edges) * 0.9, color="tab:blue")
        bars.set_xlabel("predicted probability, both orientations" if self.symmetric
                        else "predicted P(a ≻ b)")
        bars.set_ylabel("records ×2" if self.symmetric else "records")
        fig.tight_layout()
        if path is not None:
            save_figure(fig, path)
        return fig


def bin_edges(p: np.ndarray, n_bins: int, strategy: str) -> np.ndarray:
    """``n_bins + 1`` edges: equal width on [0, 1], or quantiles of ``p`` (as scikit-learn)."""
    if int(n_bins) != n_bins or n_bins < 1:
        raise DataError(f"must be a positive integer, got {n_bins!r}", field="n_bins")
    if strategy == "uniform":
        return np.linspace(0.0, 1.0, n_bins + 1)
    if strategy == "quantile":
        return np.percentile(p, np.linspace(0, 100, n_bins + 1))
    raise DataError(
        f"unknown strategy {strategy!r} (expected one of {', '.join(STRATEGIES)})", field="strategy"
    )


def reliability_diagram(
    y_true: Any,
    p_pred: Any,
    *,
    n_bins: int = 10,
    strategy: str = "uniform",
    symmetric: bool = True,
    sample_weight: Any = None,
) -> ReliabilityDiagram:
    """Reliability-diagram data (bin edges, mean predicted, observed frequency, counts), ECE, MCE.

    ``symmetric`` (default): each record counted as (p, y) and (1 − p, 1 − y), so nothing
    depends on which response is "a" (module docstring); ``False``: the one-sided form.
    ``counts`` are the summed weights per bin (record counts when unweighted; doubled when
    ``symmetric``).  ECE and MCE are NaN when there is no weight at all.
    """
    y, p, w = targets(y_true, p_pred, sample_weight)
    if symmetric:
        y, p, w = np.r_[y, 1.0 - y], np.r_[p, 1.0 - p], np.r_[w, w]
    edges = bin_edges(p, n_bins, strategy)
    ids = np.searchsorted(edges[1:-1], p)
    counts = np.bincount(ids, weights=w, minlength=n_bins)
    sum_p = np.bincount(ids, weights=w * p, minlength=n_bins)
    sum_y = np.bincount(ids, weights=w * y, minlength=n_bins)
    filled = counts > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        conf = np.where(filled, sum_p / counts, np.nan)
        obs = np.where(filled, sum_y / counts, np.nan)
    gap = np.abs(obs - conf)[filled]
    total = counts.sum()
    if total > 0:
        ece, mce = float((counts[filled] * gap).sum() / total), float(gap.max())
    else:
        ece = mce = undefined("ece", "no record with a positive weight")
    return ReliabilityDiagram(edges, conf, obs, counts, ece, mce, bool(symmetric))


def expected_calibration_error(
    y_true: Any,
    p_pred: Any,
    *,
    n_bins: int = 10,
    strategy: str = "uniform",
    symmetric: bool = True,
    sample_weight: Any = None,
) -> float:
    """ECE = Σ_B (W_B / W) |obs(B) − conf(B)|, a/b-symmetric by default (see
    :func:`reliability_diagram`)."""
    return reliability_diagram(
        y_true,
        p_pred,
        n_bins=n_bins,
        strategy=strategy,
        symmetric=symmetric,
        sample_weight=sample_weight,
    ).ece
