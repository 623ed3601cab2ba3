"""Tricot / crowdsourced trials (PlackettLuce ``beans``): best/worst of K plus a local check.

Each row is one farmer who grew K varieties, said which did best and which worst, and compared
each with their local variety::

    variety_a,variety_b,variety_c,best,worst,var_a,var_b,var_c,season,...,farmer_row
    BRT 103-182,SJC 730-79,PM2 Don Rey,C,A,Worse,Worse,Better,Ap - 15,...,1

becomes, per farmer (``user_id`` = the farmer column, else the data row number), one record for
the trial and one per local comparison, all ranking records:

* ``comparison="trial"``: best ≻ the middle ones ≻ worst, e.g. ``ranking=[PM2 Don Rey,
  SJC 730-79, BRT 103-182]``, ``ranks=[1, 2, 3]`` (with K > 3 the middle varieties share rank 2);
* ``comparison="local"``: a 2-item ranking per variety against ``"Local"`` (the ``local=`` name):
  ``Better`` → ``[variety, Local]``, ``Worse`` → ``[Local, variety]``, ``Same``/``Equal``/``Tie``
  → both with rank 1.

Column detection: the item columns are ``<stem>_a, <stem>_b …`` (or ``<stem>1, <stem>2 …``) with
a stem such as ``variety``, ``item``, ``option``, ``technology``; the local-comparison columns
share their suffixes and hold better/worse; ``best``/``worst`` hold a suffix letter (``A``), a
1-based index, or the variety name itself.  Every other column (season, year, maxTN, lon, lat,
planting_date …) is a farmer covariate, repeated on each of the farmer's records.

Missing answers: no best and no worst → no trial record; only a best → a top-1 choice
(``ranking=[best]``, the others ``unranked``); only a worst → no trial record (that choice cannot
be written as a ranking); an empty local answer → no record for that pair.  Trials left out are
counted in ``metadata["dropped"]``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from prefkit.data.readers._columns import (
    covariate_arrays,
    dataset,
    find_column,
    fold,
    id_strings,
    need_column,
    optional_column,
    rankings_from_matrix,
    table_header,
    unranked_lists,
    user_ids,
)
from prefkit.data.readers._common import load_table
from prefkit.data.readers.registry import Probe, register_reader
from prefkit.data.schema import PreferenceDataset
from prefkit.errors import DataError

ITEM_STEMS = (
    "variety",
    "item",
    "option",
    "technology",
    "tech",
    "genotype",
    "cultivar",
    "alternative",
    "product",
    "treatment",
    "entry",
)
LOCAL_STEMS = ("var", "local", "vs_local", "check", "compare", "comparison", "vs_check")
BEST_COLUMNS = ("best", "best_item", "best_variety", "most", "top", "best_option")
WORST_COLUMNS = ("worst", "worst_item", "worst_variety", "least", "bottom", "worst_option")
FARMER_COLUMNS = (
    "farmer",
    "farmer_id",
    "farmer_row",
    "participant",
    "participant_id",
    "id",
    "user",
    "user_id",
    "respondent",
    "respondent_id",
    "plot",
    "plot_id",
)
BETTER = ("better", "b", "yes", "+", "1", "superior", "higher")
WORSE = ("worse", "w", "no", "-", "-1", "inferior", "lower")
SAME = ("same", "equal", "tie", "similar", "0", "=")
_SUFFIX_RE = re.compile(
    r"^(?P<stem>.+?)(?:[\s_.-]+(?P<letter>[a-z])|[\s_.-]*(?P<digit>\d{1,2}))$", re.IGNORECASE
)


def _suffix_groups(columns: Sequence[str]) -> dict[str, dict[str, str]]:
    """Columns ending in a/b/c or 1/2/3 by stem: ``{"variety": {"a": "variety_a", ...}}``."""
    groups: dict[str, dict[str, str]] = {}
    for col in columns:
        match = _SUFFIX_RE.match(str(col))
        if match:
            suffix = (match.group("letter") or match.group("digit")).lower()
            groups.setdefault(fold(match.group("stem")), {})[suffix] = col
    return {stem: cols for stem, cols in groups.items() if len(cols) >= 2}


def _detect(columns: Sequence[str]) -> tuple[dict[str, str], dict[str, str]] | None:
    groups = _suffix_groups(columns)
    items = next((groups[fold(s)] for s in ITEM_STEMS if fold(s) in groups), None)
    if items is None:
        return None
    local = next(
        (
            groups[fold(s)]
            for s in LOCAL_STEMS
            if fold(s) in groups and set(groups[fold(s)]) == set(items) and groups[fold(s)] != items
        ),
        {},
    )
    return items, local


def _choice_index(
    raw: np.ndarray,
    suffixes: list[str],
    names: np.ndarray,
    source: str,
    lines: np.ndarray,
    field: str,
) -> np.ndarray:
    """Column index named by a best/worst answer (suffix letter, 1-based index or item name)."""
    k = len(suffixes)
    index = np.full(len(raw), -1, dtype=np.int64)
    folded = np.array([None if v is None else v.casefold() for v in raw], dtype=object)
    for j, suffix in enumerate(suffixes):
        index[folded == suffix] = j
        index[(index < 0) & (folded == str(j + 1))] = j
        index[(index < 0) & (raw == names[:, j])] = j
    bad = (index < 0) & np.not_equal(raw, None)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        allowed = ", ".join(s.upper() for s in suffixes)
        raise DataError(
            f"{raw[row]!r} is not one of {allowed}, 1..{k} or the row's items",
            source=source,
            line=int(lines[row]),
            field=field,
        )
    return index


def _verdicts(raw: np.ndarray, source: str, lines: np.ndarray, field: str) -> np.ndarray:
    """+1 better, -1 worse, 0 same, NaN missing."""
    folded = np.array([None if v is None else v.casefold() for v in raw], dtype=object)
    out = np.full(len(raw), np.nan)
    out[np.isin(folded, BETTER)] = 1.0
    out[np.isin(folded, WORSE)] = -1.0
    out[np.isin(folded, SAME)] = 0.0
    bad = np.isnan(out) & np.not_equal(raw, None)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"expected Better or Worse, got {raw[row]!r}",
            source=source,
            line=int(lines[row]),
            field=field,
        )
    return out


def read_beans(
    path: str,
    *,
    items: Sequence[str] | None = None,
    local_columns: Sequence[str] | None = None,
    best: str | None = None,
    worst: str | None = None,
    user_column: str | None = None,
    local: str = "Local",
) -> PreferenceDataset:
    """Best/worst-of-K trials with local comparisons as ranking records (see the module doc)."""
    frame, lines = load_table(path)
    detected = _detect(list(frame.columns))
    if items is not None:
        for col in items:
            need_column(frame, col, None, "items", path)
        item_map = {chr(ord("a") + j): c for j, c in enumerate(items)}
    elif detected is not None:
        item_map = detected[0]
    else:
        raise DataError(
            "cannot find the item columns (variety_a, variety_b, ...); pass items=",
            source=path,
            field="items",
        )
    if local_columns is not None:
        for col in local_columns:
            need_column(frame, col, None, "local_columns", path)
        local_map = dict(zip(item_map, local_columns, strict=True))
    else:
        local_map = detected[1] if detected is not None and items is None else {}
    suffixes = list(item_map)
    k = len(suffixes)
    best_col = need_column(frame, best, find_column(frame.columns, BEST_COLUMNS), "best", path)
    worst_col = need_column(frame, worst, find_column(frame.columns, WORST_COLUMNS), "worst", path)
    consumed = {*item_map.values(), *local_map.values(), best_col, worst_col}
    user = optional_column(
        frame, user_column, FARMER_COLUMNS, "user_column", path, exclude=consumed
    )
    names = np.column_stack(
        [
            id_strings(frame[item_map[s]], source=path, lines=lines, field=str(item_map[s]))
            for s in suffixes
        ]
    )
    for j in range(1, k):
        same = (names[:, :j] == names[:, j : j + 1]).any(axis=1)
        if same.any():
            row = int(np.flatnonzero(same)[0])
            raise DataError(
                f"trial repeats item {names[row, j]!r}",
                source=path,
                line=int(lines[row]),
                field=str(item_map[suffixes[j]]),
            )
    b = _choice_index(
        id_strings(frame[best_col], source=path, lines=lines, field=best_col, required=False),
        suffixes,
        names,
        path,
        lines,
        best_col,
    )
    w = _choice_index(
        id_strings(frame[worst_col], source=path, lines=lines, field=worst_col, required=False),
        suffixes,
        names,
        path,
        lines,
        worst_col,
    )
    clash = (b >= 0) & (b == w)
    if clash.any():
        row = int(np.flatnonzero(clash)[0])
        raise DataError(
            f"best and worst are both {names[row, b[row]]!r}",
            source=path,
            line=int(lines[row]),
            field=worst_col,
        )
    n = len(frame)
    cols = np.arange(k)[None, :]
    both = (b >= 0) & (w >= 0)
    only_best = (b >= 0) & (w < 0)
    key = np.where(cols == b[:, None], 1.0, np.where(cols == w[:, None], 3.0, 2.0))
    key[only_best] = np.where(cols == b[only_best, None], 1.0, np.nan)
    key[~(both | only_best)] = np.nan
    ranking, ranks, _ = rankings_from_matrix(key, names)
    trial: dict[str, pa.Array] = {"ranking": ranking, "ranks": ranks}
    if only_best.any():
        trial["unranked"] = unranked_lists(np.isnan(key) & only_best[:, None], names)
    has_trial = both | only_best
    parts = [(trial, np.arange(n), has_trial, 0)]
    for j, suffix in enumerate(suffixes):
        if suffix not in local_map:
            continue
        col = local_map[suffix]
        raw = id_strings(frame[col], source=path, lines=lines, field=str(col), required=False)
        verdict = _verdicts(raw, path, lines, str(col))
        pair = np.column_stack([names[:, j], np.full(n, local, dtype=object)])
        value = np.column_stack([np.where(verdict < 0, 2.0, 1.0), np.where(verdict > 0, 2.0, 1.0)])
        r, rk, _ = rankings_from_matrix(value, pair)
        parts.append(({"ranking": r, "ranks": rk}, np.arange(n), ~np.isnan(verdict), j + 1))
    rows = np.concatenate([p[1][p[2]] for p in parts])
    order_key = np.concatenate([np.full(int(p[2].sum()), p[3]) for p in parts])
    perm = np.lexsort((order_key, rows))
    columns: dict[str, Any] = {}
    for name in ("ranking", "ranks", "unranked"):
        pieces = []
        for table, _, mask, _ in parts:
            arr = table.get(name)
            if arr is None:
                arr = pa.array([[]] * len(mask), pa.list_(pa.string()))
            pieces.append(arr.filter(pa.array(mask)))
        if name == "unranked" and "unranked" not in trial:
            continue
        columns[name] = pa.concat_arrays(pieces).take(pa.array(perm))
    row_of = rows[perm]
    users = user_ids(frame, user, source=path, lines=lines)
    columns["user_id"] = pa.array(users[row_of], pa.string())
    columns["comparison"] = pa.array(np.where(order_key[perm] == 0, "trial", "local"))
    covariates = [c for c in frame.columns if c not in consumed and c != user]
    columns.update(covariate_arrays(frame, covariates, "ranking", taken=set(columns), rows=row_of))
    metadata = {
        "dropped": int((~has_trial).sum()),
        "local": local,
        "columns": {
            "items": list(item_map.values()),
            "local": list(local_map.values()),
            "best": best_col,
            "worst": worst_col,
            "user_id": user,
        },
    }
    return dataset(columns, "ranking", source=path, lines=lines[row_of], metadata=metadata)


def _sniff(probe: Probe) -> float:
    header = table_header(probe)
    if header is None:
        return 0.0
    detected = _detect(header)
    if detected is None:
        return 0.0
    if find_column(header, BEST_COLUMNS) is None or find_column(header, WORST_COLUMNS) is None:
        return 0.0
    return 0.95 if detected[1] else 0.85


register_reader(
    "beans",
    sniff=_sniff,
    description="best/worst-of-K trials with local comparisons (PlackettLuce beans)",
    suffixes=(".csv",),
)(read_beans)
