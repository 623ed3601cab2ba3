r"""Ranking accuracy for listwise data: does a model's scoring reproduce each observed order?

A ranking record orders its candidates: ``ranking`` (best first; equal ``ranks`` = tied),
then the ``unranked`` rest of the choice set, below every ranked candidate and unordered among
themselves.  A pair (i, j) of candidates of one record is *determined* when their true ranks
differ (r_i < r_j: i is better); tied and both-unranked pairs impose nothing.  With model scores s
(higher = better) and record weights w_r::

    correct(i, j) = 1 if s_i > s_j,  ½ if s_i = s_j,  0 if s_i < s_j      (for r_i < r_j)

    exact match        = Σ_r w_r 1[every determined pair of r strictly correct] / Σ_r w_r
    pairwise (macro)   = Σ_r w_r mean_{determined (i,j) ∈ r} correct(i, j) / Σ_r w_r
    pairwise (micro)   = Σ_r w_r Σ_{(i,j) ∈ r} correct(i, j) / Σ_r w_r n_r

over the records with at least one determined pair.  The exact match is the "ranking accuracy" of
listwise evaluations (e.g. the full-order accuracy of RewardBench-style best-of-N sets); the
pairwise accuracy is the fraction of concordant pairs, (1 + Kendall τ_a)/2 per fully ranked list.

Scores are given as a mapping item → score (item-level models) or, per record, a sequence aligned
with the record's ``ranking`` followed by its ``unranked`` candidates (text-level models).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from prefkit.data.schema import PreferenceDataset
from prefkit.errors import DataError
from prefkit.evaluate._inputs import undefined

_UNRANKED = np.iinfo(np.int64).max // 2  # the rank of every unranked candidate


def _list_parts(col: pa.ChunkedArray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(parents, positions, values)`` of a list column (null lists are empty)."""
    arr = col.combine_chunks()
    parents = pc.list_parent_indices(arr).to_numpy(zero_copy_only=False).astype(np.int64)
    values = pc.list_flatten(arr).to_numpy(zero_copy_only=False)
    lengths = np.bincount(parents, minlength=n)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    positions = np.arange(len(parents)) - starts[parents]
    return parents, positions, values


def _candidates(ds: PreferenceDataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flat ``(record, item, true rank)`` of every candidate, record by record, ranked first."""
    n = len(ds)
    rec, pos, items = _list_parts(ds.table.column("ranking"), n)
    rank = pos + 1
    if "ranks" in ds.columns:
        r_rec, _, r_val = _list_parts(ds.table.column("ranks"), n)
        has_ranks = np.bincount(r_rec, minlength=n) > 0
        use = has_ranks[rec]
        # validated data: a record's ranks, when present, align with its ranking
        rank = rank.astype(np.int64)
        rank[use] = np.asarray(r_val, dtype=np.int64)
    parts = [(rec, items, np.asarray(rank, dtype=np.int64))]
    if "unranked" in ds.columns:
        u_rec, _, u_items = _list_parts(ds.table.column("unranked"), n)
        parts.append((u_rec, u_items, np.full(len(u_rec), _UNRANKED)))
    rec = np.concatenate([p[0] for p in parts])
    items = np.concatenate([np.asarray(p[1], dtype=object) for p in parts])
    rank = np.concatenate([p[2] for p in parts])
    order = np.argsort(rec, kind="stable")
    return rec[order], items[order], rank[order]


def _scores(scores: Any, rec: np.ndarray, items: np.ndarray, n: int) -> np.ndarray:
    if isinstance(scores, Mapping):
        s = pd.Series(scores, dtype=float).reindex(items).to_numpy()
        if np.isnan(s).any():
            i = int(np.flatnonzero(np.isnan(s))[0])
            raise DataError(f"no score for item {items[i]!r}", row=int(rec[i]), field="scores")
        return s
    per_record = list(scores)
    if len(per_record) != n:
        raise DataError(
            f"got scores for {len(per_record)} records, the data has {n}", field="scores"
        )
    lengths = np.array([len(v) for v in per_record])
    expected = np.bincount(rec, minlength=n)
    if (lengths != expected).any():
        r = int(np.flatnonzero(lengths != expected)[0])
        raise DataError(
            f"{lengths[r]} scores for {expected[r]} candidates (ranking, then unranked)",
            row=r,
            field="scores",
        )
    s = np.concatenate([np.asarray(v, dtype=float) for v in per_record]) if n else np.zeros(0)
    if not np.isfinite(s).all():
        raise DataError("scores must be finite", field="scores")
    return s


def _as_rankings(rankings: Any) -> PreferenceDataset:
    if isinstance(rankings, PreferenceDataset):
        if rankings.kind != "ranking":
            raise DataError(f"needs a ranking dataset, got {rankings.kind}", source=rankings.name)
        return rankings
    return PreferenceDataset.from_records([{"ranking": list(r)} for r in rankings], kind="ranking")


def listwise_pair_credit(
    rankings: PreferenceDataset | Sequence[Sequence[str]], scores: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per record: ``(determined pairs, strictly correct pairs, credit)`` (credit: ties ½)."""
    ds = _as_rankings(rankings)
    n = len(ds)
    rec, items, rank = _candidates(ds)
    s = _scores(scores, rec, items, n)
    lengths = np.bincount(rec, minlength=n)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    pi, pj, pr = [], [], []
    for size in np.unique(lengths[lengths >= 2]):  # one vectorised block per list length
        records = np.flatnonzero(lengths == size)
        iu, ju = np.triu_indices(int(size), 1)
        pi.append((starts[records, None] + iu).ravel())
        pj.append((starts[records, None] + ju).ravel())
        pr.append(np.repeat(records, len(iu)))
    if not pi:
        zeros = np.zeros(n)
        return zeros, zeros, zeros
    i, j, r = np.concatenate(pi), np.concatenate(pj), np.concatenate(pr)
    true_sign = np.sign(rank[j] - rank[i])  # +1 when i is truly better
    det = true_sign != 0
    model_sign = np.sign(s[i] - s[j])
    right = det & (model_sign == true_sign)
    credit = np.where(right, 1.0, np.where(det & (model_sign == 0), 0.5, 0.0))
    return (
        np.bincount(r, weights=det, minlength=n),
        np.bincount(r, weights=right, minlength=n),
        np.bincount(r, weights=credit, minlength=n),
    )


NO_DETERMINED_PAIR = "no record with a positive weight has a pair that its ranking determines"


def _record_weights(ds: PreferenceDataset, sample_weight: Any) -> np.ndarray:
    return ds.weights() if sample_weight is None else np.asarray(sample_weight, dtype=float)


def ranking_exact_match(
    rankings: PreferenceDataset | Sequence[Sequence[str]],
    scores: Any,
    *,
    sample_weight: Any = None,
) -> float:
    """Share of records whose every determined pair the scores order strictly right."""
    ds = _as_rankings(rankings)
    det, right, _ = listwise_pair_credit(ds, scores)
    w = _record_weights(ds, sample_weight)
    use = det > 0
    if w[use].sum() <= 0:
        return undefined("exact_match", NO_DETERMINED_PAIR)
    return float(np.average(right[use] == det[use], weights=w[use]))


def ranking_pairwise_accuracy(
    rankings: PreferenceDataset | Sequence[Sequence[str]],
    scores: Any,
    *,
    average: str = "macro",
    sample_weight: Any = None,
) -> float:
    """Pairwise-within-list accuracy, ``average="macro"`` (per record) or ``"micro"`` (per pair)."""
    ds = _as_rankings(rankings)
    det, _, credit = listwise_pair_credit(ds, scores)
    w = _record_weights(ds, sample_weight)
    use = det > 0
    if w[use].sum() <= 0:
        return undefined("pairwise_accuracy", NO_DETERMINED_PAIR)
    if average == "macro":
        return float(np.average(credit[use] / det[use], weights=w[use]))
    if average == "micro":
        return float((w * credit)[use].sum() / (w * det)[use].sum())
    raise DataError(f"unknown average {average!r} (expected 'macro' or 'micro')", field="average")
