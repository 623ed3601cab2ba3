"""Pieces shared by the pairwise table adapters (pair counts, sports, beach, paired covariates).

Each reads a CSV with one row per compared pair (or per stated preference).  These helpers check
the two item columns, turn win/tie count columns or an outcome column into records (which rows
give a record, with which winner and weight) and build the ``a``/``b``/``winner`` columns; the
column-name lists (:data:`ITEM_PAIRS`, :data:`WIN_PAIRS`, :data:`TIE_COLUMNS`) and the outcome
decoder (:func:`decode_outcome`) live here too, so no adapter imports another.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from prefkit.data.readers._columns import fold, id_strings, numeric_values
from prefkit.errors import DataError

#: What ``(rows, winners, weights, used)`` each record-making helper returns.
Records = tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]

ITEM_PAIRS = (
    ("i", "j"),
    ("item_i", "item_j"),
    ("item1", "item2"),
    ("item_a", "item_b"),
    ("a", "b"),
    ("player1", "player2"),
    ("player_a", "player_b"),
    ("object1", "object2"),
    ("object_i", "object_j"),
    ("first", "second"),
    ("left", "right"),
    ("alt1", "alt2"),
    ("option1", "option2"),
    ("option_a", "option_b"),
    ("x", "y"),
    ("name1", "name2"),
    ("competitor1", "competitor2"),
    ("school1", "school2"),
    ("stimulus1", "stimulus2"),
)
WIN_PAIRS = (
    ("w_ij", "w_ji"),
    ("wins_a", "wins_b"),
    ("win1", "win2"),
    ("wins1", "wins2"),
    ("a_wins", "b_wins"),
    ("wins_i", "wins_j"),
    ("i_wins", "j_wins"),
    ("n_ij", "n_ji"),
    ("win_a", "win_b"),
    ("w1", "w2"),
    ("won1", "won2"),
    ("count_a", "count_b"),
    ("w_ab", "w_ba"),
    ("wins_first", "wins_second"),
    ("first_wins", "second_wins"),
    ("a_win", "b_win"),
    ("x_wins", "y_wins"),
    ("wins_x", "wins_y"),
    ("player1_wins", "player2_wins"),
    ("left_wins", "right_wins"),
)
TIE_COLUMNS = (
    "t_ij",
    "ties",
    "tied",
    "tie",
    "draws",
    "draw",
    "n_ties",
    "ties_ab",
    "t_ab",
    "tie_count",
    "drawn",
    "t",
)


def check_distinct(
    a: np.ndarray, b: np.ndarray, *, source: str, lines: np.ndarray, field: str
) -> None:
    """An item compared with itself is a DataError naming the line and ``field``."""
    same = a == b
    if same.any():
        row = int(np.flatnonzero(same)[0])
        raise DataError(
            f"item {a[row]!r} compared with itself",
            source=source,
            line=int(lines[row]),
            field=field,
        )


def item_ids(
    frame: pd.DataFrame, a_col: str, b_col: str, *, source: str, lines: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The ids in the two item columns; a missing id or an item compared with itself is a
    DataError naming the line and column."""
    ids_a = id_strings(frame[a_col], source=source, lines=lines, field=str(a_col))
    ids_b = id_strings(frame[b_col], source=source, lines=lines, field=str(b_col))
    check_distinct(ids_a, ids_b, source=source, lines=lines, field=str(b_col))
    return ids_a, ids_b


def count_values(
    frame: pd.DataFrame, columns: Sequence[str | None], *, source: str, lines: np.ndarray
) -> list[tuple[str, str, np.ndarray]]:
    """``(label, field, counts)`` of the columns counting ``a`` wins, ``b`` wins and ties
    (in that order; ``None`` = no such column), as :func:`expand_counts` takes them."""
    return [
        (
            label,
            str(col),
            numeric_values(frame[col], source=source, lines=lines, field=str(col), what="a count"),
        )
        for label, col in zip(("a", "b", "tie"), columns, strict=True)
        if col is not None
    ]


def expand_counts(
    counts: Sequence[tuple[str, str, np.ndarray]], *, source: str, lines: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One record per positive count.

    ``counts`` lists ``(label, field, values)`` per outcome (``"a"``, ``"b"``, ``"tie"``).
    Returns ``(rows, winners, weights, used)``: the source row, outcome label and count of each
    record (row-major, in ``counts`` order) and which rows gave any record.  A row with some
    counts empty and others not, or a negative count, is a DataError naming its line and field.
    """
    matrix = np.column_stack([values for _, _, values in counts])
    missing = np.isnan(matrix)
    partial = missing.any(axis=1) & ~missing.all(axis=1)
    if partial.any():
        row = int(np.flatnonzero(partial)[0])
        col = int(np.flatnonzero(missing[row])[0])
        raise DataError(
            "missing value (the other counts are given)",
            source=source,
            line=int(lines[row]),
            field=counts[col][1],
        )
    negative = np.nan_to_num(matrix) < 0
    if negative.any():
        row, col = (int(v[0]) for v in np.nonzero(negative))
        raise DataError(
            f"negative count {matrix[row, col]:g}",
            source=source,
            line=int(lines[row]),
            field=counts[col][1],
        )
    weights = np.nan_to_num(matrix)
    rows, cols = np.nonzero(weights > 0)
    labels = np.array([label for label, _, _ in counts], dtype=object)
    used = np.zeros(len(matrix), dtype=bool)
    used[rows] = True
    return rows, labels[cols], weights[rows, cols], used


def count_records(
    frame: pd.DataFrame, columns: Sequence[str | None], *, source: str, lines: np.ndarray
) -> Records:
    """:func:`expand_counts` of the ``a``-wins, ``b``-wins and ties columns (see
    :func:`count_values`)."""
    counts = count_values(frame, columns, source=source, lines=lines)
    return expand_counts(counts, source=source, lines=lines)


def outcome_records(winner: np.ndarray) -> Records:
    """One unweighted record per row whose outcome is known (``winner`` not ``None``), as
    ``(rows, winners, None, used)`` like :func:`expand_counts`."""
    used = np.not_equal(winner, None)
    rows = np.flatnonzero(used)
    return rows, winner[rows], None, used


def pairwise_columns(
    a: np.ndarray, b: np.ndarray, winners: np.ndarray, weights: np.ndarray | None = None
) -> dict[str, Any]:
    """The ``a``, ``b`` and ``winner`` columns of pairwise records (and ``weight``, if given)."""
    columns: dict[str, Any] = {
        "a": pa.array(a, pa.string()),
        "b": pa.array(b, pa.string()),
        "winner": pa.array(winners, pa.string()),
    }
    if weights is not None:
        columns["weight"] = pa.array(weights, pa.float64())
    return columns


# ------------------------------------------------------------------ outcome columns
LABELS: dict[str, str] = {
    "a": "a",
    "first": "a",
    "left": "a",
    "i": "a",
    "itemi": "a",
    "item1": "a",
    "one": "a",
    "b": "b",
    "second": "b",
    "right": "b",
    "j": "b",
    "itemj": "b",
    "item2": "b",
    "two": "b",
    "tie": "tie",
    "draw": "tie",
    "tied": "tie",
    "equal": "tie",
    "same": "tie",
    "none": "tie",
    "neither": "tie",
    "both": "tie",
    "indifferent": "tie",
    "t": "tie",
    "d": "tie",
}
CODINGS = ("auto", "sign", "prob", "index", "label")


def decode_outcome(
    values: pd.Series,
    a: np.ndarray,
    b: np.ndarray,
    *,
    source: str,
    lines: np.ndarray,
    field: str,
    coding: str = "auto",
    labels: Mapping[str, str] | None = None,
    orientation: str = "a",
) -> np.ndarray:
    """Outcome labels ``"a"``/``"b"``/``"tie"`` (``None`` where empty) from an outcome column.

    ``coding`` is ``"sign"`` (>0 a, <0 b, 0 tie), ``"prob"`` (1, 0, 0.5), ``"index"`` (1, 2, 0),
    ``"label"`` (the item's name, or a word in ``labels``) or ``"auto"``.  ``orientation="b"``
    reads numbers from the second item's side.
    """
    if coding not in CODINGS:
        raise DataError(
            f"unknown outcome coding {coding!r} (expected {', '.join(CODINGS)})",
            source=source,
            field=field,
        )
    text = values.astype("string").str.strip()
    text = text.mask(text == "")
    numbers = pd.to_numeric(text, errors="coerce")
    numeric = bool((numbers.notna() | text.isna()).all())
    if coding == "label" or (coding == "auto" and not numeric):
        return _decode_labels(
            text.to_numpy(dtype=object, na_value=None), a, b, labels or LABELS, source, lines, field
        )
    nums = numeric_values(values, source=source, lines=lines, field=field, what="an outcome")
    present = np.unique(nums[~np.isnan(nums)])
    if coding == "auto":
        if (present < 0).any():
            coding = "sign"
        elif np.isin(present, (0.0, 0.5, 1.0)).all():
            coding = "prob"
        elif np.isin(present, (0.0, 1.0, 2.0)).all():
            coding = "index"
        else:
            raise DataError(
                "cannot tell how outcomes are coded (values "
                f"{', '.join(f'{v:g}' for v in present[:6])}); pass outcome_coding='sign', "
                "'prob' or 'index'",
                source=source,
                field=field,
            )
    out = np.full(len(nums), None, dtype=object)
    if coding == "sign":
        out[nums > 0], out[nums < 0], out[nums == 0] = "a", "b", "tie"
    else:
        codes = {"prob": (1.0, 0.0, 0.5), "index": (1.0, 2.0, 0.0)}[coding]
        for label, code in zip(("a", "b", "tie"), codes, strict=True):
            out[nums == code] = label
        bad = ~np.isnan(nums) & np.equal(out, None)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            allowed = ", ".join(f"{c:g}" for c in codes)
            raise DataError(
                f"unknown outcome {nums[row]:g} (expected {allowed})",
                source=source,
                line=int(lines[row]),
                field=field,
            )
    if orientation == "b":
        swapped = out.copy()
        swapped[out == "a"], swapped[out == "b"] = "b", "a"
        out = swapped
    return out


def _decode_labels(
    raw: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    labels: Mapping[str, str],
    source: str,
    lines: np.ndarray,
    field: str,
) -> np.ndarray:
    out = np.full(len(raw), None, dtype=object)
    folded = np.array([None if v is None else fold(v) for v in raw], dtype=object)
    for word, label in labels.items():
        out[folded == fold(word)] = label
    out[raw == a] = "a"
    out[raw == b] = "b"
    bad = np.not_equal(raw, None) & np.equal(out, None)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"unknown outcome {raw[row]!r} (expected {a[row]!r}, {b[row]!r} or a label such as "
            "'a', 'b', 'tie')",
            source=source,
            line=int(lines[row]),
            field=field,
        )
    return out
