"""Aggregated pair counts with ties (PlackettLuce ``pudding``) → weighted pairwise records.

One row per pair of items with how often each won and how often they tied::

    i,j,r_ij,w_ij,w_ji,t_ij         ->  {"a": "1", "b": "2", "winner": "a",   "weight": 19}
    1,2,57,19,22,16                     {"a": "1", "b": "2", "winner": "b",   "weight": 22}
                                        {"a": "1", "b": "2", "winner": "tie", "weight": 16}

Records with weight 0 are left out; rows whose counts are all 0 or all empty give no record and
are counted in ``metadata["dropped"]``.  Column names are detected (or passed as options):

* items: ``i``/``j``, ``item_i``/``item_j``, ``item1``/``item2``, ``a``/``b``, ``player1``/
  ``player2``, ``first``/``second`` …;
* wins: ``w_ij``/``w_ji``, ``wins_a``/``wins_b``, ``win1``/``win2``, ``wins1``/``wins2``,
  ``a_wins``/``b_wins`` …;
* ties (optional): ``t_ij``, ``ties``, ``tied``, ``draws``, ``tie`` …;
* total (optional, checked against the sum when present): ``r_ij``, ``n``, ``total``, ``games`` ….

``names=`` maps item ids to names (a mapping, or a sequence for ids 1..K).  Other columns are
kept as covariates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from prefkit.data.readers._columns import (
    PERSON_COLUMNS,
    covariate_arrays,
    dataset,
    find_pair,
    find_pair_or_half,
    fold,
    need_column,
    numeric_values,
    optional_column,
    table_header,
)
from prefkit.data.readers._common import load_table
from prefkit.data.readers._pairwise_table import (
    ITEM_PAIRS,
    TIE_COLUMNS,
    WIN_PAIRS,
    count_values,
    expand_counts,
    item_ids,
    pairwise_columns,
)
from prefkit.data.readers.registry import Probe, register_reader
from prefkit.data.schema import PreferenceDataset
from prefkit.errors import DataError

TOTAL_COLUMNS = (
    "r_ij",
    "n_total",
    "total",
    "comparisons",
    "n_comparisons",
    "games",
    "trials",
    "matches",
    "n",
)


def map_names(ids: np.ndarray, names: Mapping[Any, str] | Sequence[str] | None) -> np.ndarray:
    """Item ids renamed through ``names`` (a mapping, or a sequence for ids 1..K)."""
    if names is None:
        return ids
    if isinstance(names, Mapping):
        lookup = {str(k): str(v) for k, v in names.items()}
    else:
        lookup = {str(i + 1): str(v) for i, v in enumerate(names)}
    return np.array([lookup.get(v, v) for v in ids], dtype=object)


def read_pair_counts(
    path: str,
    *,
    a: str | None = None,
    b: str | None = None,
    wins_a: str | None = None,
    wins_b: str | None = None,
    ties: str | None = None,
    total: str | None = None,
    names: Mapping[Any, str] | Sequence[str] | None = None,
) -> PreferenceDataset:
    """Aggregated win/tie counts per pair as weighted pairwise records (see the module doc)."""
    frame, lines = load_table(path)
    cols = list(frame.columns)
    items = find_pair_or_half(cols, ITEM_PAIRS)
    a_col = need_column(frame, a, items[0], "a", path)
    b_col = need_column(frame, b, items[1], "b", path)
    wins = find_pair_or_half(cols, WIN_PAIRS, exclude=[a_col, b_col])
    wa_col = need_column(frame, wins_a, wins[0], "wins_a", path)
    wb_col = need_column(frame, wins_b, wins[1], "wins_b", path)
    used_cols = [a_col, b_col, wa_col, wb_col]
    t_col = optional_column(frame, ties, TIE_COLUMNS, "ties", path, exclude=used_cols)
    if t_col is not None:
        used_cols.append(t_col)
    n_col = optional_column(frame, total, TOTAL_COLUMNS, "total", path, exclude=used_cols)
    ids_a, ids_b = item_ids(frame, a_col, b_col, source=path, lines=lines)
    counts = count_values(frame, (wa_col, wb_col, t_col), source=path, lines=lines)
    if n_col is not None:
        declared = numeric_values(
            frame[n_col], source=path, lines=lines, field=str(n_col), what="a count"
        )
        summed = np.nansum(np.column_stack([v for _, _, v in counts]), axis=1)
        off = ~np.isnan(declared) & (np.abs(declared - summed) > 1e-9 * np.maximum(1, declared))
        if off.any():
            row = int(np.flatnonzero(off)[0])
            raise DataError(
                f"total {declared[row]:g} differs from the sum of the counts {summed[row]:g}",
                source=path,
                line=int(lines[row]),
                field=str(n_col),
            )
    rows, winners, weights, used = expand_counts(counts, source=path, lines=lines)
    a_names, b_names = map_names(ids_a, names)[rows], map_names(ids_b, names)[rows]
    columns = pairwise_columns(a_names, b_names, winners, weights)
    consumed = {*used_cols, n_col}
    rest = [c for c in cols if c not in consumed]
    columns.update(covariate_arrays(frame, rest, "pairwise", taken=set(columns), rows=rows))
    metadata = {
        "dropped": int((~used).sum()),
        "columns": {
            "a": a_col,
            "b": b_col,
            "wins_a": wa_col,
            "wins_b": wb_col,
            "ties": t_col,
            "total": n_col,
        },
    }
    return dataset(columns, "pairwise", source=path, lines=lines[rows], metadata=metadata)


def _sniff(probe: Probe) -> float:
    header = table_header(probe)
    if header is None:
        return 0.0
    items = find_pair(header, ITEM_PAIRS)
    if items is None:
        return 0.0
    wins = find_pair(header, WIN_PAIRS, exclude=items)
    if wins is None:
        return 0.0
    users = {fold(u) for u in PERSON_COLUMNS}
    if any(fold(c) in users for c in header if c not in (*items, *wins)):
        return 0.3  # per-person rows: the paired-covariates reader's
    return 0.95 if {fold(w) for w in wins} == {"wij", "wji"} else 0.85


register_reader(
    "pair-counts",
    sniff=_sniff,
    description="aggregated win/tie counts per pair (pudding) as weighted pairwise records",
    suffixes=(".csv",),
)(read_pair_counts)
