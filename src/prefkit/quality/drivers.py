r"""What drives the preferences: logistic regression of the outcome on property differences.

    P(a ≻ b) = σ( β_0 + Σ_p β_p · (x_p(a) − x_p(b)) / s_p )

x_p are the properties of :mod:`prefkit.quality.properties`, s_p the standard deviation of the
difference (so β_p is the change in log-odds per standard deviation, comparable across
properties); β_0 is the position bias (preference for the first shown response).  Ties count as
half a win for each side, soft labels as given.  Fitted by ridge-penalized maximum likelihood
(λ = ``l2``, tiny); intervals are percentiles over ``n_bootstrap`` refits on records resampled
with replacement (grouped by ``pair_id`` where present, so the labels of one comparison travel
together).  Every β is the effect of a property *with the others held fixed* — the Arena-style
controlled comparison (Li et al. 2024, "Does style matter? Disentangling style and substance in
Chatbot Arena"; Li et al. 2024, "Dissecting human and LLM preferences", property-level logistic
regression).

The length-bias report bins records by the token-length difference |len(a) − len(b)| and gives
the win rate of the longer response in each bin (ties ½) with a Wilson interval.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from prefkit.core.mathfn import log_sigmoid, sigmoid
from prefkit.errors import DataError
from prefkit.quality.properties import property_differences

LENGTH_BINS = (1, 10, 30, 100, 300, np.inf)


def _fit_logistic(X: np.ndarray, y: np.ndarray, w: np.ndarray, lam: float) -> np.ndarray:
    """Ridge logistic regression on soft labels y ∈ [0, 1] with record weights w."""

    def fun(beta: np.ndarray) -> tuple[float, np.ndarray]:
        eta = X @ beta
        f = -(w * (y * log_sigmoid(eta) + (1 - y) * log_sigmoid(-eta))).sum()
        g = X.T @ (w * (sigmoid(eta) - y))
        return float(f + 0.5 * lam * beta[1:] @ beta[1:]), g + lam * np.r_[0.0, beta[1:]]

    return minimize(fun, np.zeros(X.shape[1]), jac=True, method="L-BFGS-B").x


def property_effects(dataset: Any, *, n_bootstrap: int = 200, level: float = 0.95,
                     l2: float = 1e-3, seed: int = 0, min_nonzero: int = 20,
                     diffs: pd.DataFrame | None = None) -> dict[str, Any]:
    """``{"n", "intercept": {...}, "effects": {property: {"coef", "interval", "sd",
    "nonzero"}}, "skipped": [...]}`` — a property whose a − b difference is non-zero in fewer
    than ``min_nonzero`` records is skipped (its bootstrap interval would be meaningless)."""
    diffs = property_differences(dataset) if diffs is None else diffs
    y = np.asarray(dataset.outcomes(), dtype=float)
    w = np.asarray(dataset.weights(), dtype=float)
    ok = ~np.isnan(y)
    sd = diffs.std(ddof=0).to_numpy(float)
    nonzero = (diffs.to_numpy(float)[ok] != 0).sum(axis=0)
    keep = (sd > 0) & (nonzero >= min_nonzero)
    names = [n for n, k in zip(diffs.columns, keep, strict=True) if k]
    if not ok.any():
        raise DataError("no record has an outcome", source=dataset.name, field="winner")
    Z = diffs[names].to_numpy(float) / sd[keep] if names else np.zeros((len(dataset), 0))
    X = np.column_stack([np.ones(len(dataset)), Z])[ok]
    y, w = y[ok], w[ok]
    beta = _fit_logistic(X, y, w, l2)
    groups = (pd.factorize(pd.Series(dataset.column("pair_id")).astype(str))[0][ok]
              if dataset.has("pair_id") else np.arange(len(y)))
    uniq = np.unique(groups)
    members = pd.Series(np.arange(len(y))).groupby(groups).apply(np.asarray).to_dict()
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(int(n_bootstrap)):
        rows = np.concatenate([members[g] for g in rng.choice(uniq, len(uniq))])
        draws.append(_fit_logistic(X[rows], y[rows], w[rows], l2))
    tail = 100 * (1 - level) / 2
    lo = np.percentile(draws, tail, axis=0) if draws else np.full_like(beta, np.nan)
    hi = np.percentile(draws, 100 - tail, axis=0) if draws else np.full_like(beta, np.nan)

    def entry(k: int) -> dict[str, Any]:
        interval = [float(lo[k]), float(hi[k])] if draws else None
        return {"coef": float(beta[k]), "interval": interval}

    effects = {}
    for k, name in enumerate(names, start=1):
        effects[name] = {**entry(k), "sd": float(sd[list(diffs.columns).index(name)]),
                         "nonzero": int((diffs[name].to_numpy()[ok] != 0).sum())}
    return {"n": int(ok.sum()), "intercept": entry(0), "effects": effects,
            "skipped": [n for n in diffs.columns if n not in names]}


def wilson(k: float, n: float, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a proportion k / n."""
    if n <= 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def length_bias(dataset: Any, diffs: pd.DataFrame | None = None) -> dict[str, Any] | None:
    """Win rate of the longer response by length-difference bin (None without texts)."""
    diffs = property_differences(dataset) if diffs is None else diffs
    if "length" not in diffs.columns:
        return None
    d = diffs["length"].to_numpy(float)
    y = np.asarray(dataset.outcomes(), dtype=float)
    ok = ~np.isnan(y) & (d != 0)
    longer_won = np.where(d > 0, y, 1 - y)
    bins = []
    for lo, hi in zip((0, *LENGTH_BINS[:-1]), LENGTH_BINS, strict=True):
        m = ok & (np.abs(d) > lo) & (np.abs(d) <= hi)
        n = int(m.sum())
        if n == 0:
            continue
        k = float(longer_won[m].sum())
        bins.append({"min_diff": float(lo) + 1, "max_diff": None if np.isinf(hi) else float(hi),
                     "n": n, "longer_win_rate": k / n, "interval": list(wilson(k, n))})
    n_all = int(ok.sum())
    k_all = float(longer_won[ok].sum())
    return {"n": n_all, "longer_win_rate": k_all / n_all if n_all else None,
            "interval": list(wilson(k_all, n_all)), "bins": bins}


def drivers_report(dataset: Any, *, by: str | None = None, n_bootstrap: int = 200,
                   min_group_size: int = 30, seed: int = 0) -> dict[str, Any]:
    """Property effects overall (and per ``by`` group) plus the length-bias report."""
    if dataset.kind != "pairwise":
        dataset = dataset.to_pairs()
    diffs = property_differences(dataset)
    out: dict[str, Any] = {
        "records": len(dataset),
        "properties": list(diffs.columns),
        "overall": property_effects(dataset, n_bootstrap=n_bootstrap, seed=seed, diffs=diffs),
        "length_bias": length_bias(dataset, diffs),
    }
    if by is not None:
        if by not in dataset.columns:
            raise DataError(f"column {by!r} not found", source=dataset.name, field="--by")
        labels = pd.Series(np.asarray(dataset.column(by), dtype=object)).astype(str).to_numpy()
        groups = {}
        for value in sorted(set(labels)):
            mask = labels == value
            if mask.sum() < min_group_size:
                continue
            sub = dataset.filter(mask)
            groups[value] = property_effects(sub, n_bootstrap=n_bootstrap, seed=seed,
                                             diffs=diffs[mask].reset_index(drop=True))
        out["by"] = {"column": by, "groups": groups}
    return out
