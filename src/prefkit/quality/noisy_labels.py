r"""Noisy-label detection: per-record flip probabilities and the overall flip rate ε.

Noise model (the one robust DPO assumes; Chowdhury, Kini & Natarajan 2024, "Provably robust DPO:
aligning language models with noisy feedback"): each label is the clean Bradley–Terry outcome,
swapped with probability ε,

    P(y = a) = (1 − ε) σ(θ_a − θ_b) + ε σ(θ_b − θ_a).

This is Crowd-BT (:mod:`prefkit.quality.crowd_bt`) with one annotator of reliability η = 1 − ε and
every record its own comparison; θ and ε are fitted jointly by maximum likelihood (L-BFGS).
ε is identified by the *ceiling* of the clear comparisons (a pair whose strengths are far apart
is still lost a share ε of the time), so it is well estimated when some pairs are lopsided.

Cross-fitting, so no record judges itself (Secrets of RLHF II, Wang et al. 2024: ensemble
preference strength): the records are split into ``n_folds`` folds; for each fold, ``n_members``
models are fitted on bootstrap resamples of the other folds.  Each record gets the ensemble's
mean and spread of its strength d = θ_a − θ_b (*preference strength*, signed towards the record's
label), and the posterior probability that its label was flipped,

    P(flip | y) = ε σ(−d_y) / (ε σ(−d_y) + (1 − ε) σ(d_y)),   d_y = d if y = a else −d,

averaged over the members.  Ties are never flagged (probability 0).  Repairs: drop the records
with P(flip) > ½, flip them, or replace every label by the soft label
P(a ≻ b | y) = (1 − P(flip)) y + P(flip) (1 − y).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import minimize

from prefkit.core.mathfn import sigmoid
from prefkit.errors import DataError


@dataclass
class FlipReport:
    """Per-record flip probabilities and the estimated flip rate."""

    flip_prob: np.ndarray  # (n,) P(the record's label is flipped)
    strength_mean: np.ndarray  # (n,) ensemble mean of d towards the label
    strength_sd: np.ndarray  # (n,) ensemble spread of d
    flip_rate: float  # ε of the model fitted on all records
    flip_rate_posterior: float  # mean of the cross-fitted flip probabilities (decisive records)

    def flagged(self, threshold: float = 0.5) -> np.ndarray:
        return self.flip_prob > threshold


def _robust_bt(n_items: int, ia: np.ndarray, ib: np.ndarray, ya: np.ndarray,
               l2: float = 0.01) -> tuple[np.ndarray, float]:
    """(θ, ε) of the noise model: maximum likelihood over θ and ε = ½ σ(u) jointly (L-BFGS).

    The same maximum the Crowd-BT EM reaches with one annotator (η = 1 − ε), in one solve."""

    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        theta, u = x[:-1], x[-1]
        eps, s = 0.5 * sigmoid(u), sigmoid(theta[ia] - theta[ib])
        p = np.clip(eps + (1 - 2 * eps) * s, 1e-12, 1 - 1e-12)
        f = -(ya * np.log(p) + (1 - ya) * np.log1p(-p)).sum() + 0.5 * l2 * theta @ theta
        dp = -(ya / p - (1 - ya) / (1 - p))
        gd = dp * (1 - 2 * eps) * s * (1 - s)
        grad_t = np.bincount(ia, gd, n_items) - np.bincount(ib, gd, n_items) + l2 * theta
        grad_u = (dp * (1 - 2 * s)).sum() * eps * (1 - sigmoid(u))
        return float(f), np.r_[grad_t, grad_u]

    x0 = np.r_[np.zeros(n_items), -1.0]
    x = minimize(fun, x0, jac=True, method="L-BFGS-B", options={"maxiter": 500}).x
    return x[:-1], float(0.5 * sigmoid(x[-1]))


def detect_flips(dataset: Any, *, n_folds: int = 5, n_members: int = 3,
                 seed: int = 0) -> FlipReport:
    """Cross-fitted flip probabilities (module notes) for a pairwise dataset with item ids."""
    if dataset.kind != "pairwise":
        dataset = dataset.to_pairs()
    items, ia, ib = dataset.item_codes()
    if ((ia < 0) | (ib < 0)).any():
        raise DataError("missing candidate", source=dataset.name, field="a/b")
    y = np.asarray(dataset.outcomes(), dtype=float)
    if np.isnan(y).any():
        raise DataError("missing outcome", source=dataset.name,
                        row=int(np.flatnonzero(np.isnan(y))[0]), field="winner")
    n, n_items = len(y), len(items)
    if n_folds < 2 or n_members < 1:
        raise DataError(f"cross-fitting needs at least 2 folds and 1 member, got {n_folds} "
                        f"and {n_members}", field="--folds")
    if n < 2 * n_folds:
        raise DataError(f"{n} records are too few for {n_folds}-fold cross-fitting",
                        source=dataset.name)
    _, eps_all = _robust_bt(n_items, ia, ib, y)
    rng = np.random.default_rng(seed)
    fold = rng.permutation(n) % n_folds
    decisive = y != 0.5
    sign = np.where(y >= 0.5, 1.0, -1.0)
    strengths = np.zeros((n_members, n))
    flips = np.zeros((n_members, n))
    for k in range(n_folds):
        test, train = np.flatnonzero(fold == k), np.flatnonzero(fold != k)
        for m in range(n_members):
            rows = train if n_members == 1 else rng.choice(train, len(train))
            theta, eps = _robust_bt(n_items, ia[rows], ib[rows], y[rows])
            seen = np.zeros(n_items, dtype=bool)
            seen[ia[rows]] = seen[ib[rows]] = True
            theta = np.where(seen, theta, 0.0)
            d = sign[test] * (theta[ia[test]] - theta[ib[test]])
            strengths[m, test] = d
            eps = min(max(eps, 1e-4), 0.5)
            num = eps * sigmoid(-d)
            flips[m, test] = num / (num + (1 - eps) * sigmoid(d))
    flip_prob = np.where(decisive, flips.mean(axis=0), 0.0)
    return FlipReport(flip_prob, strengths.mean(axis=0), strengths.std(axis=0),
                      float(eps_all), float(flip_prob[decisive].mean()) if decisive.any() else 0.0)


def repair(dataset: Any, report: FlipReport, how: str = "soft",
           threshold: float = 0.5) -> Any:
    """``drop`` or ``flip`` the records flagged at ``threshold``, or ``soft``-label every record."""
    y = np.asarray(dataset.outcomes(), dtype=float)
    flagged = report.flagged(threshold)
    if how == "drop":
        return dataset.filter(~flagged)
    if how == "flip":
        new = np.where(flagged, 1.0 - y, y)
    elif how == "soft":
        new = (1 - report.flip_prob) * y + report.flip_prob * (1 - y)
    else:
        raise DataError(f"unknown repair {how!r} (expected drop, flip or soft)", field="--repair")
    table = dataset.table
    if "winner" in table.column_names:
        table = table.drop_columns(["winner"])
    out = dataset.replace(table)
    return out.with_column("p_a", new.astype(float))
