"""HERON: hierarchical preference labels from a ranking of reward factors.

Bukharin et al. 2023, "Deep Reinforcement Learning from Hierarchical Weak Preference Feedback"
(HERON).  People find it easier to rank *factors* by importance than to weigh them against each
other.  With factors f_1 ≻ f_2 ≻ … ≻ f_K (most important first) and margins δ_k, two candidates
are compared by a decision tree:

    for k = 1 … K:  if |f_k(a) − f_k(b)| > δ_k:  prefer the one with the larger f_k; stop
    otherwise (every factor within its margin): a tie (or no label)

and a Bradley–Terry reward model is fitted to these labels (any prefkit pairwise model will do;
HERON then trains a policy on that reward, which is outside this module).  ``higher_is_better``
flips a factor where smaller is better (a cost, a length).

:func:`heron_compare` works on arrays; :func:`heron_labels` relabels a pairwise dataset from its
``a_<factor>`` / ``b_<factor>`` columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from prefkit.data.schema import PreferenceDataset
from prefkit.errors import DataError


def heron_compare(factors_a: np.ndarray, factors_b: np.ndarray,
                  margins: Sequence[float] | float = 0.0,
                  higher_is_better: Sequence[bool] | bool = True) -> np.ndarray:
    """+1 (a preferred), −1 (b preferred) or 0 (tie on every factor) per row.

    ``factors_a``, ``factors_b``: ``(n, K)`` factor values, most important factor first.
    """
    fa = np.atleast_2d(np.asarray(factors_a, dtype=float))
    fb = np.atleast_2d(np.asarray(factors_b, dtype=float))
    if fa.shape != fb.shape:
        raise DataError(f"factor arrays differ in shape: {fa.shape} and {fb.shape}")
    k = fa.shape[1]
    delta = np.broadcast_to(np.asarray(margins, dtype=float), (k,))
    sign = np.where(np.broadcast_to(np.asarray(higher_is_better, dtype=bool), (k,)), 1.0, -1.0)
    if (delta < 0).any():
        raise DataError("HERON margins must be ≥ 0")
    if np.isnan(fa).any() or np.isnan(fb).any():
        raise DataError("HERON factors must not be missing")
    gap = (fa - fb) * sign
    out = np.zeros(len(fa))
    undecided = np.ones(len(fa), dtype=bool)
    for j in range(k):
        decided = undecided & (np.abs(gap[:, j]) > delta[j])
        out[decided] = np.sign(gap[decided, j])
        undecided &= ~decided
    return out


def heron_labels(ds: PreferenceDataset, factors: Sequence[str],
                 margins: Sequence[float] | float = 0.0, *,
                 higher_is_better: Sequence[bool] | bool = True,
                 ties: str = "keep") -> PreferenceDataset:
    """``ds`` with ``winner`` set by the HERON tree on the ``a_<f>``/``b_<f>`` columns of
    ``factors`` (most important first); ``ties="keep"`` labels full ties ``"tie"``, ``"drop"``
    removes them.  Any earlier ``winner`` / ``p_a`` is replaced."""
    if ds.kind != "pairwise":
        raise DataError(f"HERON labels pairwise records, this is {ds.kind}", source=ds.name)
    if ties not in ("keep", "drop"):
        raise DataError(f"ties must be 'keep' or 'drop', not {ties!r}", field="ties")
    cols = []
    for side in ("a", "b"):
        block = []
        for f in factors:
            name = f"{side}_{f}"
            if name not in ds.columns:
                raise DataError(f"no factor column {name!r}", source=ds.name, field=name)
            values = np.asarray(ds.column(name), dtype=object)
            missing = [i for i, v in enumerate(values) if v is None]
            if missing:
                raise DataError("missing factor value", source=ds.name, row=missing[0],
                                field=name)
            block.append(values.astype(float))
        cols.append(np.column_stack(block))
    label = heron_compare(cols[0], cols[1], margins, higher_is_better)
    records = ds.to_records()
    out = []
    for rec, v in zip(records, label, strict=True):
        if v == 0 and ties == "drop":
            continue
        rec = {k: val for k, val in rec.items() if k not in ("winner", "p_a")}
        rec["winner"] = "a" if v > 0 else "b" if v < 0 else "tie"
        out.append(rec)
    if not out:
        raise DataError("HERON left no labelled pair (every pair ties)", source=ds.name)
    return PreferenceDataset.from_records(out, kind="pairwise", name=ds.name)
