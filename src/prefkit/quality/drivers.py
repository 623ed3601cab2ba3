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

``method="bayes"``: instead of the bootstrap, the Laplace posterior of a Bayesian logistic
regression (:mod:`prefkit.quality.bayes_logistic`; prior N(0, 2.5²) on each standardized β_p,
N(0, 10²) on β_0 — Gelman et al. 2008's weakly informative scale), intervals β̂ ± 1.96·se and
P(β_p > 0).  With several labels per comparison (repeated ``pair_id``) the covariance is the
cluster-robust sandwich of :func:`~prefkit.quality.bayes_logistic.fit_laplace` (``covariance:
"sandwich"``; the ``pair_id``-grouped bootstrap's counterpart), else the Laplace one.  A
property perfectly collinear with one kept before it (|correlation of the differences| > 0.995,
e.g. readability of one-word-per-line texts against length) is skipped and named in
``collinear``.

Per group (``by=``): independent fits per group (``groups``), and the hierarchical fit
(:mod:`prefkit.quality.hierarchical`: every group's β shrunk toward the population β).  With item
ids, the Arena-style controlled comparison (:mod:`prefkit.quality.controlled`) adds the items
themselves as regressors.

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
METHODS = ("bootstrap", "bayes")
#: prior standard deviations of the ``bayes`` method: standardized properties, intercept
PRIOR_SD = 2.5
INTERCEPT_PRIOR_SD = 10.0
COLLINEAR = 0.995
#: fewest records with an outcome that :func:`property_effects` fits
MIN_RECORDS = 10


def drop_collinear(Z: np.ndarray, names: list[str]) -> tuple[list[int], dict[str, str]]:
    """Columns to keep (in order) and ``{dropped: the kept column it duplicates}``."""
    kept: list[int] = []
    dropped: dict[str, str] = {}
    for j in range(Z.shape[1]):
        twin = next((k for k in kept if abs(np.corrcoef(Z[:, j], Z[:, k])[0, 1]) > COLLINEAR),
                    None)
        if twin is None:
            kept.append(j)
        else:
            dropped[names[j]] = names[twin]
    return kept, dropped


def design(dataset: Any, diffs: pd.DataFrame, min_nonzero: int = 20) -> dict[str, Any]:
    """The regression inputs shared by every fit of one dataset: standardized differences of
    the usable properties, the labels, weights and the names / scales / skips."""
    y = np.asarray(dataset.outcomes(), dtype=float)
    w = np.asarray(dataset.weights(), dtype=float)
    ok = ~np.isnan(y)
    if not ok.any():
        raise DataError("no record has an outcome", source=dataset.name, field="winner")
    values = diffs.to_numpy(float)
    sd = values.std(axis=0, ddof=0) if len(values) else np.zeros(values.shape[1])
    nonzero = (values[ok] != 0).sum(axis=0)
    keep = (sd > 0) & (nonzero >= min_nonzero)
    names = [n for n, k in zip(diffs.columns, keep, strict=True) if k]
    Z = values[:, keep] / sd[keep] if names else np.zeros((len(dataset), 0))
    cols, collinear = drop_collinear(Z[ok], names)
    Z, names = Z[:, cols], [names[j] for j in cols]
    scale = {n: float(sd[list(diffs.columns).index(n)]) for n in names}
    return {"ok": ok, "y": y[ok], "w": w[ok], "Z": Z[ok], "names": names, "scale": scale,
            "nonzero": {n: int((diffs[n].to_numpy()[ok] != 0).sum()) for n in names},
            "skipped": [n for n in diffs.columns if n not in names], "collinear": collinear}


def bayes_prior(p: int) -> np.ndarray:
    """Prior precisions of (β_0, β_1 … β_p) for the ``bayes`` method."""
    return np.r_[INTERCEPT_PRIOR_SD ** -2, np.full(p, PRIOR_SD ** -2)]


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
                     diffs: pd.DataFrame | None = None,
                     method: str = "bootstrap") -> dict[str, Any]:
    """``{"n", "method", "intercept": {...}, "effects": {property: {"coef", "interval", "sd",
    "nonzero"[, "se", "prob_positive"]}}, "skipped": [...], "collinear": {...}}`` — a property
    whose a − b difference is non-zero in fewer than ``min_nonzero`` records is skipped (its
    interval would be meaningless); ``sd`` is the scale of the difference (β is per ``sd``)."""
    if method not in METHODS:
        raise DataError(f"unknown method {method!r} (expected {' or '.join(METHODS)})",
                        field="--method")
    diffs = property_differences(dataset) if diffs is None else diffs
    d = design(dataset, diffs, min_nonzero)
    ok, y, w, names = d["ok"], d["y"], d["w"], d["names"]
    if len(y) < MIN_RECORDS:  # a position effect fitted on a handful of labels diverges
        raise DataError(f"{len(y)} records with an outcome are too few for the property "
                        f"regression (at least {MIN_RECORDS})", source=dataset.name)
    X = np.column_stack([np.ones(len(y)), d["Z"]])
    z = float(np.sqrt(2) * _erfinv(level))
    extra: dict[int, dict[str, Any]] = {}
    if method == "bayes":
        from prefkit.quality.bayes_logistic import fit_laplace

        clusters = None
        if dataset.has("pair_id"):
            ids = pd.factorize(pd.Series(dataset.column("pair_id")).astype(str))[0][ok]
            if len(np.unique(ids)) < len(ids):  # several labels per comparison: sandwich
                clusters = ids
        post = fit_laplace(X, y, weights=w, prior_precision=bayes_prior(len(names)),
                           clusters=clusters)
        beta, se = post.mean, post.sd
        lo, hi = beta - z * se, beta + z * se
        pos = post.prob_positive()
        extra = {k: {"se": float(se[k]), "prob_positive": float(pos[k])} for k in range(len(beta))}
        covariance = post.covariance
        have_interval = True
    else:
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
        have_interval = bool(draws)
        covariance = "bootstrap"
        lo = np.percentile(draws, tail, axis=0) if draws else beta
        hi = np.percentile(draws, 100 - tail, axis=0) if draws else beta

    def entry(k: int) -> dict[str, Any]:
        interval = [float(lo[k]), float(hi[k])] if have_interval else None
        return {"coef": float(beta[k]), "interval": interval, **extra.get(k, {})}

    effects = {name: {**entry(k), "sd": d["scale"][name], "nonzero": d["nonzero"][name]}
               for k, name in enumerate(names, start=1)}
    return {"n": int(ok.sum()), "method": method, "covariance": covariance,
            "intercept": entry(0), "effects": effects,
            "skipped": d["skipped"], "collinear": d["collinear"]}


def _erfinv(level: float) -> float:
    from scipy.special import erfinv

    return float(erfinv(level))


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
                   min_group_size: int = 30, seed: int = 0, method: str = "bootstrap",
                   hierarchical: bool = True, controlled: bool = True) -> dict[str, Any]:
    """Property effects overall (and per ``by`` group: independent fits of groups with at least
    ``min_group_size`` records, and the hierarchical fit over all groups), the Arena-style
    controlled comparison when the records have item ids, and the length-bias report."""
    if dataset.kind != "pairwise":
        dataset = dataset.to_pairs()
    diffs = property_differences(dataset)
    overall = property_effects(dataset, n_bootstrap=n_bootstrap, seed=seed, diffs=diffs,
                               method=method)
    out: dict[str, Any] = {
        "records": len(dataset),
        "properties": list(diffs.columns),
        "overall": overall,
        "length_bias": length_bias(dataset, diffs),
    }
    if controlled:
        from prefkit.quality.controlled import controlled_comparison

        out["controlled"] = controlled_comparison(dataset, diffs)
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
                                             diffs=diffs[mask].reset_index(drop=True),
                                             method=method)
        out["by"] = {"column": by, "groups": groups}
        if hierarchical:
            from prefkit.quality.hierarchical import hierarchical_effects

            out["by"]["hierarchical"] = hierarchical_effects(dataset, labels, diffs)
    return out
