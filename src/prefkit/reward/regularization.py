r"""Weight decay chosen from the data (``weight_decay="auto"``, the default of the reward heads).

On small training sets a fixed decay is either too weak (a 385-feature linear head memorises a few
hundred pairs) or, on big ones, too strong (with a mean loss the penalty does not fade as data
grow).  So the decay λ is chosen per fit, like the covariate Bradley–Terry model's ``l2="cv"``:

    λ̂ = argmin_{λ ∈ GRID}  Σ_folds  weighted held-out log-loss of the head fitted with λ

with K = 3 folds up to :data:`CV_MAX_RECORDS` records and a single 80/20 split above (one extra
fit per grid value).  Records sharing a prompt stay in one fold (the question is how the head
does on *new* prompts; with fewer than 10 distinct prompts per fold, records are split at
random instead).  The head is then refitted on all records with λ̂.  Hastie, Tibshirani &
Friedman (2009), *The Elements of Statistical Learning*, §7.10 (cross-validation).
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import numpy as np

from prefkit.reward.features import PairFeatures

#: decays tried (Adam's L2 term on a mean loss)
GRID = (1e-4, 1e-3, 1e-2, 1e-1)
#: K-fold CV up to this many records, one 80/20 split above
CV_MAX_RECORDS = 8_192
FOLDS = 3
#: records are grouped by prompt only with at least this many distinct prompts per fold
MIN_GROUPS_PER_FOLD = 10


def _folds(n: int, groups: list[Any] | None, k: int, seed: int) -> np.ndarray:
    """Fold index per record; records of one group (prompt) share a fold when there are at least
    :data:`MIN_GROUPS_PER_FOLD` groups per fold (else a few prompts — e.g. task labels a gate
    keys on — would be held out whole, and records are split instead)."""
    if groups is None or len({g for g in groups if g is not None}) < MIN_GROUPS_PER_FOLD * k:
        rng = np.random.default_rng(seed)
        return rng.permutation(np.arange(n) % k)
    keys = [
        int.from_bytes(hashlib.sha1(f"{seed}\0{g}".encode()).digest()[:8], "big") if g is not None
        else int.from_bytes(hashlib.sha1(f"{seed}\0#{i}".encode()).digest()[:8], "big")
        for i, g in enumerate(groups)
    ]
    return np.array([key % k for key in keys])


def _subset(feats: PairFeatures, idx: np.ndarray) -> PairFeatures:
    pick = lambda a: None if a is None else np.asarray(a)[idx]  # noqa: E731
    return PairFeatures(
        feats.xa[idx], feats.xb[idx], y=pick(feats.y), w=pick(feats.w), margin=pick(feats.margin),
        tie=pick(feats.tie), prompt=pick(feats.prompt),
        attributes={k: (v[0][idx], v[1][idx]) for k, v in feats.attributes.items()},
    )


def _log_loss(p: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    per = -(y * np.log(p) + (1 - y) * np.log1p(-p))
    return float((per * w).sum() / max(w.sum(), 1e-12))


def select_weight_decay(
    head: Any,
    feats: PairFeatures,
    *,
    groups: list[Any] | None = None,
    grid: tuple[float, ...] = GRID,
    seed: int = 0,
) -> tuple[float, dict[str, Any]]:
    """(λ̂, report) for an unfitted ``head`` on ``feats`` (module docstring).

    The report — ``{"grid", "held_out_log_loss", "chosen", "method"}`` — goes into the fit
    summary and the saved config.
    """
    n = len(feats)
    k = FOLDS if n <= CV_MAX_RECORDS else 5
    fold = _folds(n, groups, k, seed)
    rounds = range(k) if n <= CV_MAX_RECORDS else range(1)  # one 80/20 split for big data
    grouped = groups is not None and len(
        {g for g in groups if g is not None}) >= MIN_GROUPS_PER_FOLD * k
    if len(np.unique(fold)) < 2:  # one prompt for everything: split records instead
        fold, grouped = _folds(n, None, k, seed), False
    w = np.ones(n) if feats.w is None else np.asarray(feats.w, dtype=float)
    y = np.asarray(feats.y, dtype=float)
    scores = []
    for lam in grid:
        total = weight = 0.0
        for r in rounds:
            test = np.flatnonzero(fold == r)
            train = np.flatnonzero(fold != r)
            if len(test) == 0 or len(train) == 0:
                continue
            trial = copy.deepcopy(head)
            trial.params["weight_decay"] = float(lam)
            trial.fit(_subset(feats, train))
            p = trial.predict_proba(_subset(feats, test))
            total += _log_loss(p, y[test], w[test]) * w[test].sum()
            weight += w[test].sum()
        scores.append(total / max(weight, 1e-12))
    best = int(np.argmin(scores))
    unit = "by prompt" if grouped else "by record"
    method = f"{k}-fold CV {unit}" if n <= CV_MAX_RECORDS else f"80/20 split {unit}"
    report = {
        "method": method,
        "grid": [float(g) for g in grid],
        "held_out_log_loss": [round(float(s), 5) for s in scores],
        "chosen": float(grid[best]),
    }
    return float(grid[best]), report
