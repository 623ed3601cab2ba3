"""Per-annotator pairwise records grouped into comparisons: the arrays the reliability models use.

A *comparison* is one question put to several annotators: the records sharing ``pair_id``, or
else the same ``prompt`` and the same two candidates (ids, or texts where there are no ids).  A
record that shows the two candidates in the other order is turned around, so every comparison has
one orientation ("a" = the first record's ``a``).  Votes are weights: a win is (1, 0), a tie is
(½, ½), a soft label ``p_a`` is (p_a, 1 − p_a).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from prefkit.errors import DataError

#: label codes of :attr:`Comparisons.label`
A, B, TIE, NONE = 0, 1, 2, -1


@dataclass
class Comparisons:
    """Records of a pairwise dataset grouped by comparison (see the module notes)."""

    items: list[str]  # candidate names (ids, or texts where a record has no id)
    annotators: list[str]
    comp: np.ndarray  # (n_records,) comparison index of each record
    ann: np.ndarray  # (n_records,) annotator index of each record
    flip: np.ndarray  # (n_records,) True where the record shows the comparison's b first
    ci: np.ndarray  # (n_comparisons,) item code of each comparison's a
    cj: np.ndarray  # (n_comparisons,) item code of each comparison's b
    va: np.ndarray  # (n_records,) vote weight for the comparison's a
    vb: np.ndarray  # (n_records,) vote weight for the comparison's b
    label: np.ndarray  # (n_records,) A, B, TIE (comparison orientation) or NONE (no label)

    @property
    def n_comparisons(self) -> int:
        return len(self.ci)


def annotator_labels(dataset: Any) -> np.ndarray:
    """The ``annotator_id`` (else ``user_id``) of each record; a DataError when there is none."""
    for column in ("annotator_id", "user_id"):
        if dataset.has(column):
            raw = pd.Series(np.asarray(dataset.column(column), dtype=object))
            return raw.where(raw.notna(), "(missing)").astype(str).to_numpy(object)
    raise DataError(
        "annotator reliability needs an 'annotator_id' (or 'user_id') per record",
        source=dataset.name, field="annotator_id",
    )


def comparison_keys(dataset: Any) -> list[str]:
    """Columns that identify a comparison: ``pair_id``, else the prompt and the two candidates."""
    if dataset.has("pair_id"):
        return ["pair_id"]
    return [c for c in ("prompt",) if dataset.has(c)]


def group_comparisons(dataset: Any, annotators: list[str] | None = None) -> Comparisons:
    """Group a pairwise dataset's records into comparisons (module notes)."""
    if dataset.kind != "pairwise":
        raise DataError(
            f"a pairwise dataset is needed, this one is {dataset.kind}", source=dataset.name
        )
    if len(dataset) == 0:
        raise DataError("the dataset has no records", source=dataset.name)
    items, ia, ib = dataset.item_codes()
    bad = (ia < 0) | (ib < 0)
    if bad.any():
        raise DataError("missing candidate", source=dataset.name,
                        row=int(np.flatnonzero(bad)[0]), field="a/b")
    keys = comparison_keys(dataset)
    frame = pd.DataFrame({k: pd.Series(np.asarray(dataset.column(k), dtype=object)).astype(str)
                          for k in keys})
    lo, hi = np.minimum(ia, ib), np.maximum(ia, ib)
    frame["_lo"], frame["_hi"] = lo, hi
    comp, _ = pd.factorize(pd.MultiIndex.from_frame(frame), sort=False)
    comp = np.asarray(comp, dtype=np.int64)
    n_comp = int(comp.max()) + 1
    first = np.full(n_comp, -1, dtype=np.int64)
    first[comp[::-1]] = np.arange(len(comp))[::-1]  # first record of each comparison
    ci, cj = ia[first], ib[first]
    flip = ia != ci[comp]
    y = np.asarray(dataset.outcomes(), dtype=float)
    tie = np.asarray(dataset.is_tie(), dtype=bool)
    have = ~np.isnan(y)
    y = np.where(flip, 1.0 - y, y)
    w = np.asarray(dataset.weights(), dtype=float)
    va = np.where(have, w * np.nan_to_num(y), 0.0)
    vb = np.where(have, w * (1.0 - np.nan_to_num(y)), 0.0)
    label = np.full(len(y), NONE, dtype=np.int8)
    label[have & (y > 0.5)] = A
    label[have & (y < 0.5)] = B
    label[have & ((y == 0.5) | tie)] = TIE
    label[~(w > 0)] = NONE  # a record of weight 0 carries no vote
    raw = annotator_labels(dataset)
    if annotators is None:
        codes, uniques = pd.factorize(raw, sort=True)
        names = [str(u) for u in uniques]
    else:
        names = list(annotators)
        codes = pd.Index(names).get_indexer(raw)
    return Comparisons(list(items), names, comp, np.asarray(codes, dtype=np.int64), flip,
                       ci, cj, va, vb, label)
