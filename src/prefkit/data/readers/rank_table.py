"""Wide rank tables → rankings (BayesMallows ``sushi_rankings``, ``potato_visual``/``weighing``).

Three layouts, told apart from the header and the cells (or forced with ``layout=``):

``ranks``
    One row per assessor, one column per item holding that item's rank (1 = best; any numbers
    work, smaller is better)::

        assessor,shrimp,sea eel,tuna,...        ->  ranking=[salmon roe, shrimp, squid, ...],
        1,2,8,10,...                                ranks=[1, 2, 3, ...], user_id="1"

    The assessor column (``assessor``, ``user``, ``judge``, ``id`` … or else a first column of
    text) becomes ``user_id``; without one, the data row number (1-based) does.  Equal ranks are
    ties (equal ``ranks``, dense: 1, 1, 2 …); an empty cell means the item was not ranked.
``ordering``
    Columns ``rank1 … rankK`` (``choice_1``, ``pref 2``, ``1st``, ``first`` …) holding the item
    placed there, best first: ``voter,rank1,rank2,rank3`` / ``v1,tuna,egg,squid``.
``single`` (``potato_true_ranking``)
    Two columns, item and rank: the whole file is one ranking (``id`` = the rank column's name).

Items missing from a row: with ``incomplete="subset"`` (default) the row is a complete ranking of
the items it has and the others are not compared; with ``incomplete="top"`` they are listed in
``unranked`` (below every ranked item, unordered).  Rows that compare fewer than two items are
dropped and counted in ``metadata["dropped"]``.  Columns named in ``covariates`` are kept as they
are; any other non-item column must be named there (a text cell among ranks is an error).

"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from prefkit.data.readers._columns import (
    USER_COLUMNS,
    covariate_arrays,
    dataset,
    find_column,
    first_index,
    fold,
    id_strings,
    is_number,
    list_array,
    need_column,
    numeric_values,
    rankings_from_matrix,
    sample_rows,
    table_header,
    unranked_lists,
    user_ids,
)
from prefkit.data.readers._common import load_table
from prefkit.data.readers.registry import Probe, register_reader
from prefkit.data.schema import PreferenceDataset
from prefkit.errors import DataError

RANK_WORDS = ("rank", "ranking", "choice", "pref", "preference", "position", "place", "pos", "top")
ORDINALS = (
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
)
_WORDS = "|".join(RANK_WORDS)
_POSITION_RE = re.compile(
    rf"^(?:(?:{_WORDS})[\s_.-]*(\d+)|(\d+)(?:st|nd|rd|th)(?:[\s_.-]*(?:{_WORDS}))?"
    rf"|({'|'.join(ORDINALS)})(?:[\s_.-]*(?:{_WORDS}))?)$",
    re.IGNORECASE,
)


# ---------------------------------------------------------------------------- layouts
def _position_number(name: str) -> int | None:
    match = _POSITION_RE.match(str(name).strip())
    if not match:
        return None
    if match.group(1) or match.group(2):
        return int(match.group(1) or match.group(2))
    return ORDINALS.index(match.group(3).lower()) + 1


def _position_columns(columns: Sequence[str]) -> list[str]:
    found = [(n, c) for c in columns if (n := _position_number(c)) is not None]
    return [c for _, c in sorted(found)]


def _mostly_text(series: pd.Series) -> bool:
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return False
    text = series.dropna().astype("string").str.strip()
    return bool(len(text)) and pd.to_numeric(text, errors="coerce").isna().mean() > 0.5


def _user_column(frame: pd.DataFrame, exclude: Iterable[str]) -> str | None:
    """The assessor column: a user-like name, else a first column holding mostly text."""
    excluded = set(exclude)
    col = find_column(frame.columns, USER_COLUMNS, exclude=excluded)
    if col is not None:
        return col
    first = next((c for c in frame.columns if c not in excluded), None)
    if first is not None and _mostly_text(frame[first]):
        return first
    return None


def _detect_layout(frame: pd.DataFrame, user_column: str | None) -> str:
    cols = [c for c in frame.columns if c != user_column]
    if len(_position_columns(cols)) >= 2:
        return "ordering"
    if frame.shape[1] == 2 and user_column is None:
        second = fold(frame.columns[1])
        if any(w in second for w in ("rank", "position", "place", "order")) or (
            pd.api.types.is_numeric_dtype(frame[frame.columns[1]])
            and not pd.api.types.is_numeric_dtype(frame[frame.columns[0]])
        ):
            return "single"
    return "ranks"


def read_rank_table(
    path: str,
    *,
    layout: str = "auto",
    user_column: str | None = None,
    items: Sequence[str] | None = None,
    covariates: Sequence[str] = (),
    incomplete: str = "subset",
) -> PreferenceDataset:
    """Wide rank tables (one row per assessor, a rank per item) as ranking records.

    Args:
        layout: ``"auto"``, ``"ranks"``, ``"ordering"`` or ``"single"`` (see the module doc).
        user_column: the assessor column (default: detected; the row number otherwise).
        items: the item columns (``ranks``) or place columns (``ordering``); default: the rest.
        covariates: further columns to keep as they are.
        incomplete: ``"subset"`` (items a row leaves empty are not compared) or ``"top"`` (they
            are ``unranked``, below the ranked ones).
    """
    if incomplete not in ("subset", "top"):
        raise DataError(f"incomplete must be 'subset' or 'top', got {incomplete!r}", source=path)
    frame, lines = load_table(path)
    for col in covariates:
        need_column(frame, col, None, "covariate", path)
    if user_column is not None:
        need_column(frame, user_column, None, "user_column", path)
    places = _position_columns([c for c in frame.columns if c != user_column])
    if layout == "auto":
        guess = user_column or _user_column(frame, exclude=[*covariates, *places])
        layout = _detect_layout(frame, guess if len(frame.columns) > 2 else user_column)
    if layout == "single":
        return _read_single(frame, path, lines, items, covariates, incomplete)
    if layout not in ("ranks", "ordering"):
        raise DataError(
            f"unknown layout {layout!r} (expected ranks, ordering or single)", source=path
        )
    skip = [*covariates, *(places if layout == "ordering" else []), *(items or [])]
    user = user_column or _user_column(frame, exclude=skip)
    rest = [c for c in frame.columns if c != user and c not in set(covariates)]
    if items is not None:
        for col in items:
            need_column(frame, col, None, "items", path)
        rest = list(items)
    if layout == "ordering":
        places = places if items is None else list(rest)
        table, keep, meta = _ordering(frame, places, path, lines, incomplete)
    else:
        table, keep, meta = _ranks(frame, rest, path, lines, incomplete)
    users = user_ids(frame, user, source=path, lines=lines)
    columns: dict[str, Any] = {"user_id": pa.array(users, pa.string()), **table}
    columns.update(covariate_arrays(frame, covariates, "ranking", taken=set(columns)))
    index = pa.array(np.flatnonzero(keep))
    columns = {k: v.take(index) for k, v in columns.items()}
    metadata = {
        "layout": layout,
        "dropped": int((~keep).sum()),
        "columns": {"user_id": user, **meta},
        "incomplete": incomplete,
    }
    return dataset(columns, "ranking", source=path, lines=lines[keep], metadata=metadata)


def _ranks(
    frame: pd.DataFrame, items: list[str], source: str, lines: np.ndarray, incomplete: str
) -> tuple[dict[str, pa.Array], np.ndarray, dict[str, Any]]:
    if len(items) < 2:
        raise DataError("a rank table needs at least 2 item columns", source=source)
    values = np.column_stack(
        [
            numeric_values(frame[c], source=source, lines=lines, field=str(c), what="a rank")
            for c in items
        ]
    )
    names = np.array([str(c) for c in items], dtype=object)
    ranking, ranks, counts = rankings_from_matrix(values, names)
    missing = np.isnan(values)
    table: dict[str, pa.Array] = {"ranking": ranking, "ranks": ranks}
    if incomplete == "top":
        table["unranked"] = unranked_lists(missing, names)
        keep = (counts >= 1) & (counts + missing.sum(axis=1) >= 2)
    else:
        keep = counts >= 2
    return table, keep, {"items": [str(c) for c in items]}


def _ordering(
    frame: pd.DataFrame, places: list[str], source: str, lines: np.ndarray, incomplete: str
) -> tuple[dict[str, pa.Array], np.ndarray, dict[str, Any]]:
    if len(places) < 2:
        raise DataError("an ordering table needs at least 2 place columns", source=source)
    cells = np.column_stack(
        [
            id_strings(frame[c], source=source, lines=lines, field=str(c), required=False)
            for c in places
        ]
    )
    present = np.not_equal(cells, None)
    codes, uniques = pd.factorize(pd.Series(cells.ravel()), sort=True)
    codes = codes.reshape(cells.shape)
    ordered = np.sort(codes, axis=1)
    dup = ((ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] >= 0)).any(axis=1)
    if dup.any():
        row = first_index(dup)
        seen: set[str] = set()
        for col, value in zip(places, cells[row], strict=True):
            if value is not None and value in seen:
                raise DataError(
                    f"ranking repeats item {value!r}",
                    source=source,
                    line=int(lines[row]),
                    field=str(col),
                )
            seen.add(value)
    counts = present.sum(axis=1)
    table: dict[str, pa.Array] = {"ranking": list_array(cells[present], counts, pa.string())}
    if incomplete == "top":
        member = np.zeros((len(frame), len(uniques)), dtype=bool)
        rows = np.repeat(np.arange(len(frame)), cells.shape[1])
        flat = codes.ravel()
        member[rows[flat >= 0], flat[flat >= 0]] = True
        table["unranked"] = unranked_lists(~member, np.asarray(uniques, dtype=object))
        keep = (counts >= 1) & (len(uniques) >= 2)
    else:
        keep = counts >= 2
    return table, keep, {"places": [str(c) for c in places]}


def _read_single(
    frame: pd.DataFrame,
    source: str,
    lines: np.ndarray,
    items: Sequence[str] | None,
    covariates: Sequence[str],
    incomplete: str,
) -> PreferenceDataset:
    cols = [c for c in frame.columns if c not in set(covariates)]
    if items is not None and len(items) == 2:
        cols = list(items)
    if len(cols) != 2:
        raise DataError("a single ranking needs an item column and a rank column", source=source)
    item_col, rank_col = cols
    names = id_strings(frame[item_col], source=source, lines=lines, field=str(item_col))
    dup = pd.Series(names).duplicated().to_numpy()
    if dup.any():
        row = first_index(dup)
        raise DataError(
            f"ranking repeats item {names[row]!r}",
            source=source,
            line=int(lines[row]),
            field=str(item_col),
        )
    values = numeric_values(
        frame[rank_col], source=source, lines=lines, field=str(rank_col), what="a rank"
    )
    ranking, ranks, counts = rankings_from_matrix(values[None, :], names)
    columns: dict[str, Any] = {"id": pa.array([str(rank_col)]), "ranking": ranking, "ranks": ranks}
    missing = np.isnan(values)[None, :]
    if incomplete == "top":
        columns["unranked"] = unranked_lists(missing, names)
    total = int(counts[0]) + (int(missing.sum()) if incomplete == "top" else 0)
    metadata = {
        "layout": "single",
        "dropped": 0,
        "incomplete": incomplete,
        "columns": {"item": item_col, "rank": rank_col},
    }
    if counts[0] < 1 or total < 2:
        raise DataError("the ranking compares fewer than 2 items", source=source, field=rank_col)
    return dataset(
        columns, "ranking", source=source, lines=np.array([int(lines[0])]), metadata=metadata
    )


# ---------------------------------------------------------------------------- sniffing
def _sniff(probe: Probe) -> float:
    header = table_header(probe, min_columns=2)
    if header is None:
        return 0.0
    rows = [r for r in sample_rows(probe) if len(r) == len(header)]
    if not rows:
        return 0.0
    places = [i for i, c in enumerate(header) if _position_number(c) is not None]
    if len(places) >= 2 and any(not header[i].strip().isdigit() for i in places):
        return 0.75
    if len(header) == 2:
        second = fold(header[1])
        ranked = any(w in second for w in ("rank", "position", "place"))
        numeric = all(is_number(r[1]) for r in rows if r[1])
        textual = not all(is_number(r[0]) for r in rows)
        return 0.6 if ranked and numeric and textual else 0.0
    user_names = {fold(u) for u in USER_COLUMNS}
    user = next((i for i, c in enumerate(header) if fold(c) in user_names), None)
    if user is None and not all(is_number(r[0]) for r in rows):
        user = 0
    item_idx = [i for i in range(len(header)) if i != user]
    k = len(item_idx)
    if k < 3:
        return 0.0
    for row in rows:
        cells = [row[i] for i in item_idx if row[i]]
        if len(cells) < 2 or not all(is_number(c) for c in cells):
            return 0.0
        values = [float(c) for c in cells]
        if any(v != int(v) or v < 1 or v > k for v in values):
            return 0.0
    if user is None:
        return 0.45
    return 0.7 if fold(header[user]) in user_names else 0.55


register_reader(
    "rank-table",
    sniff=_sniff,
    description="wide rank tables: one row per assessor, one rank per item (sushi, potato)",
    suffixes=(".csv",),
)(read_rank_table)
