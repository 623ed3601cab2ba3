"""Winner/loser preference tables (BayesMallows ``beach_preferences``) → pairwise records.

One row per stated preference, the preferred item in one column and the other in another::

    assessor,bottom_item,top_item      ->  {"a": "15", "b": "2", "winner": "a", "user_id": "1"}
    1,2,15

Mapping: ``a`` = the preferred item, ``b`` = the other, ``winner="a"`` (``"tie"`` where an
optional tie column — ``tie``, ``tied``, ``is_tie``, ``draw`` — is true); the assessor column
(``assessor``, ``user``, ``judge``, ``voter``, ``rater`` …), when there is one, is ``user_id``.
Column pairs detected (preferred first): ``top_item``/``bottom_item``, ``winner``/``loser``,
``preferred``/``not_preferred``, ``better``/``worse``, ``higher``/``lower`` and their ``_name`` /
``_item`` / ``_id`` forms (a ``_name`` pair is preferred to an ``_id`` pair: in an ATP-style match
table ``winner_name``/``loser_name`` are the items, ``winner_id``/``loser_id`` stay covariates); or
pass ``winner=`` and ``loser=``.  Other columns are kept as covariates.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from prefkit.data.readers._columns import (
    USER_COLUMNS,
    bool_values,
    covariate_arrays,
    dataset,
    find_column,
    find_pair,
    find_pair_or_half,
    fold,
    id_strings,
    need_column,
    optional_column,
    table_header,
)
from prefkit.data.readers._common import load_table
from prefkit.data.readers._pairwise_table import item_ids, pairwise_columns
from prefkit.data.readers.registry import Probe, register_reader
from prefkit.data.schema import PreferenceDataset

WINNER_PAIRS = tuple(
    (f"{w}{s}", f"{lo}{s}")
    for w, lo in (
        ("top_item", "bottom_item"),
        ("top", "bottom"),
        ("winner", "loser"),
        ("preferred", "not_preferred"),
        ("preferred", "nonpreferred"),
        ("preferred", "other"),
        ("better", "worse"),
        ("higher", "lower"),
        ("winning", "losing"),
        ("won", "lost"),
        ("preferred_item", "other_item"),
        ("chosen_item", "rejected_item"),
        ("win", "lose"),
        ("more_preferred", "less_preferred"),
    )
    # Names before bare columns before ids: an ATP-style match table has ``winner_id`` *and*
    # ``winner_name``, and players must show as names (the ids stay as covariates).
    for s in ("_name", "", "_item", "_id")
)
TIE_FLAGS = ("tie", "tied", "is_tie", "draw", "is_draw")


def read_beach(
    path: str,
    *,
    winner: str | None = None,
    loser: str | None = None,
    user_column: str | None = None,
    tie: str | None = None,
) -> PreferenceDataset:
    """Winner/loser rows (``assessor, bottom_item, top_item``) as pairwise records."""
    frame, lines = load_table(path)
    cols = list(frame.columns)
    pair = find_pair_or_half(cols, WINNER_PAIRS)
    win_col = need_column(frame, winner, pair[0], "winner", path)
    lose_col = need_column(frame, loser, pair[1], "loser", path)
    user = optional_column(
        frame, user_column, USER_COLUMNS, "user_column", path, exclude=[win_col, lose_col]
    )
    tie_col = tie or find_column(cols, TIE_FLAGS, exclude=[win_col, lose_col, user])
    first, second = item_ids(frame, win_col, lose_col, source=path, lines=lines)
    outcome = np.full(len(frame), "a", dtype=object)
    if tie_col is not None:
        need_column(frame, tie_col, None, "tie", path)
        outcome[bool_values(frame[tie_col], source=path, lines=lines, field=str(tie_col))] = "tie"
    columns = pairwise_columns(first, second, outcome)
    if user is not None:
        columns["user_id"] = pa.array(
            id_strings(frame[user], source=path, lines=lines, field=str(user)), pa.string()
        )
    rest = [c for c in cols if c not in (win_col, lose_col, user, tie_col)]
    columns.update(covariate_arrays(frame, rest, "pairwise", taken=set(columns)))
    metadata = {
        "dropped": 0,
        "columns": {"winner": win_col, "loser": lose_col, "user_id": user, "tie": tie_col},
    }
    return dataset(columns, "pairwise", source=path, lines=lines, metadata=metadata)


def _sniff(probe: Probe) -> float:
    header = table_header(probe)
    if header is None:
        return 0.0
    pair = find_pair(header, WINNER_PAIRS)
    if pair is None:
        return 0.0
    return 0.9 if fold(pair[0]).startswith("top") else 0.75


register_reader(
    "beach",
    sniff=_sniff,
    description="winner/loser preference rows (assessor, bottom_item, top_item) as pairs",
    suffixes=(".csv",),
)(read_beach)
