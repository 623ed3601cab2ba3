"""Held-out label agreement: does a reliability model predict an unseen annotator's label better
than majority vote of the others?

For every comparison with at least two labels, one label (a random annotator's, ties excluded) is
held out.  The model is fitted on the rest; each method then estimates the comparison's winner from
the remaining labels — majority vote (ties in the vote count ½), the mean of the votes (the
existing soft-label aggregation, same sign as the majority), and the model's cleaned soft label —
and is scored by the share of held-out labels it names (a ½ estimate earns ½).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from prefkit.errors import DataError
from prefkit.quality._comparisons import NONE, TIE, group_comparisons


def heldout_split(dataset: Any, seed: int = 0) -> np.ndarray:
    """Indices of one held-out (non-tie) label per comparison that has at least two labels."""
    c = group_comparisons(dataset)
    rng = np.random.default_rng(seed)
    labelled = c.label != NONE
    per_comp = np.bincount(c.comp[labelled], minlength=c.n_comparisons)
    candidates = np.flatnonzero(labelled & (c.label != TIE) & (per_comp[c.comp] >= 2))
    candidates = candidates[rng.permutation(len(candidates))]
    _, first = np.unique(c.comp[candidates], return_index=True)
    return np.sort(candidates[first])


def _score(p: np.ndarray, said_a: np.ndarray) -> float:
    hit = np.where(p == 0.5, 0.5, (p > 0.5) == said_a)
    return float(np.mean(hit)) if len(hit) else float("nan")


def heldout_agreement(dataset: Any, make_model: Callable[[], Any], seed: int = 0,
                      truth: np.ndarray | None = None) -> dict[str, Any]:
    """``{"model": acc, "majority": acc, "n": held-out labels}`` (module notes).

    ``truth`` (optional, per record: 1 if a is truly better) scores against the truth instead of
    the held-out label (the simulator knows it).
    """
    held = heldout_split(dataset, seed)
    if len(held) == 0:
        raise DataError("no comparison has two or more labels, so nothing can be held out",
                        source=dataset.name)
    keep = np.ones(len(dataset), dtype=bool)
    keep[held] = False
    model = make_model().fit(dataset.filter(keep))
    weights = np.where(keep, np.asarray(dataset.weights(), dtype=float), 0.0)
    masked = dataset.with_column("weight", weights)
    p_model = np.asarray(model.soft_labels(masked), dtype=float)[held]
    c = group_comparisons(masked)
    margin = np.bincount(c.comp, c.va - c.vb, c.n_comparisons)[c.comp]
    oriented = np.where(c.flip, -margin, margin)
    p_major = np.where(oriented > 0, 1.0, np.where(oriented < 0, 0.0, 0.5))[held]
    said_a = (np.asarray(dataset.outcomes(), dtype=float) > 0.5)[held]
    if truth is not None:
        said_a = np.asarray(truth, dtype=bool)[held]
    return {"model": _score(p_model, said_a), "majority": _score(p_major, said_a),
            "n": len(held)}


def majority_agreement(dataset: Any) -> dict[str, dict[str, float]]:
    """The simplest per-annotator baseline: the share of an annotator's decisive labels that agree
    with the majority of the *other* annotators of the same comparison (where that majority is
    decisive).  ``{annotator: {"agreement": share or None, "n": labels compared}}``."""
    c = group_comparisons(dataset)
    own = c.va - c.vb
    n_ann = len(c.annotators)
    # all labels of the comparison minus every label of this annotator on it (an annotator who
    # labelled a comparison twice is not their own "other annotator")
    key = c.comp.astype(np.int64) * n_ann + c.ann
    _, slot = np.unique(key, return_inverse=True)
    same = np.bincount(slot.ravel(), own)[slot.ravel()]
    others = np.bincount(c.comp, own, c.n_comparisons)[c.comp] - same
    usable = (c.label != NONE) & (c.label != TIE) & (others != 0)
    agree = usable & (np.sign(others) == np.sign(own))
    n = np.bincount(c.ann[usable], minlength=n_ann)
    hits = np.bincount(c.ann[agree], minlength=n_ann)
    return {name: {"agreement": float(hits[k] / n[k]) if n[k] else None, "n": int(n[k])}
            for k, name in enumerate(c.annotators)}
