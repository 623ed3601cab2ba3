"""Paired comparisons by subjects with covariates (psychotree ``Topmodel2007``, ``CEMSChoice``;
BradleyTerry2 ``CEMS``) → pairwise records with ``user_id``.

Long layout, one row per subject and pair::

    subject,item_i,item_j,outcome,gender,age,q1,q2,q3     ->  {"a": "Barbara", "b": "Anni",
    1,Barbara,Anni,1,male,66,no,no,no                          "winner": "a", "user_id": "1",
                                                               "gender": "male", "age": 66, ...}

* subject (``user_id``): ``subject``, ``student``, ``user``, ``judge``, ``respondent`` …;
* items (``a``, ``b``): ``item_i``/``item_j``, ``item1``/``item2``, ``school1``/``school2``,
  ``object1``/``object2`` …;
* outcome, one column (``outcome``, ``result``, ``response``, ``preference``, ``choice``,
  ``winner`` …) coded as signs (1 = ``a`` preferred, −1 = ``b``, 0 = tie: psychotree
  ``paircomp``), as 1 / 0.5 / 0, as an index 1 / 2 (0 = tie), as labels (``a``/``b``/``tie``,
  ``first``/``second`` …) or as the winning item's name — ``outcome_coding="auto"`` tells them
  apart from the values (any negative value means signs), or pass ``"sign"``, ``"prob"``,
  ``"index"`` or ``"label"``;
* or counts (BradleyTerry2 ``CEMS``): ``win1``/``win2`` and optional ``tied`` (0/1 indicators or
  counts; counts other than 1 become ``weight``); their ``*.adj`` variants are left out.

Rows whose outcome is empty (pairs a subject did not judge: 91 in CEMS) give no record and are
counted in ``metadata["dropped"]``.  Every other column (subject covariates) is kept.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from prefkit.data.readers._columns import (
    PERSON_COLUMNS,
    USER_COLUMNS,
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
from prefkit.data.readers._pairwise_table import (
    ITEM_PAIRS,
    TIE_COLUMNS,
    WIN_PAIRS,
    count_records,
    decode_outcome,
    item_ids,
    outcome_records,
    pairwise_columns,
)
from prefkit.data.readers.registry import Probe, register_reader
from prefkit.data.schema import PreferenceDataset

PAIRS = tuple(p for p in ITEM_PAIRS if p != ("a", "b"))
OUTCOME_COLUMNS = (
    "outcome",
    "result",
    "response",
    "preference",
    "pref",
    "choice",
    "judgment",
    "judgement",
    "winner",
    "label",
    "y",
    "comparison",
    "answer_value",
)


def read_paired_covariates(
    path: str,
    *,
    user_column: str | None = None,
    a: str | None = None,
    b: str | None = None,
    outcome: str | None = None,
    outcome_coding: str = "auto",
    wins_a: str | None = None,
    wins_b: str | None = None,
    ties: str | None = None,
) -> PreferenceDataset:
    """Per-subject paired comparisons with covariates as pairwise records (see the module doc)."""
    frame, lines = load_table(path)
    cols = list(frame.columns)
    pair = find_pair_or_half(cols, PAIRS, exclude=[user_column])
    a_col = need_column(frame, a, pair[0], "a", path)
    b_col = need_column(frame, b, pair[1], "b", path)
    user = optional_column(
        frame, user_column, USER_COLUMNS, "user_column", path, exclude=[a_col, b_col]
    )
    taken = [a_col, b_col, user]
    ids_a, ids_b = item_ids(frame, a_col, b_col, source=path, lines=lines)
    out_col = outcome
    if out_col is None and wins_a is None and wins_b is None:
        out_col = find_column(cols, OUTCOME_COLUMNS, exclude=taken)
    consumed = set(taken)
    if out_col is not None:
        need_column(frame, out_col, None, "outcome", path)
        winner = decode_outcome(
            frame[out_col],
            ids_a,
            ids_b,
            source=path,
            lines=lines,
            field=str(out_col),
            coding=outcome_coding,
        )
        rows, winners, weights, used = outcome_records(winner)
        consumed.add(out_col)
        outcome_cols: dict[str, Any] = {"outcome": out_col}
    else:
        wins = find_pair_or_half(cols, WIN_PAIRS, exclude=taken)
        wa_col = need_column(frame, wins_a, wins[0], "outcome", path)
        wb_col = need_column(frame, wins_b, wins[1], "wins_b", path)
        t_col = ties or find_column(cols, TIE_COLUMNS, exclude=[*taken, wa_col, wb_col])
        count_cols = (wa_col, wb_col, t_col)
        rows, winners, weights, used = count_records(frame, count_cols, source=path, lines=lines)
        if (weights == 1).all():
            weights = None
        count_cols = tuple(c for c in count_cols if c is not None)
        consumed.update(count_cols)
        derived = {fold(c) + s for c in count_cols for s in ("adj", "adjusted")}
        consumed.update(c for c in cols if fold(c) in derived)
        outcome_cols = {"wins_a": wa_col, "wins_b": wb_col, "ties": t_col}
    columns = pairwise_columns(ids_a[rows], ids_b[rows], winners, weights)
    if user is not None:
        users = id_strings(frame[user], source=path, lines=lines, field=str(user))
        columns["user_id"] = pa.array(users[rows], pa.string())
    rest = [c for c in cols if c not in consumed]
    columns.update(covariate_arrays(frame, rest, "pairwise", taken=set(columns), rows=rows))
    metadata = {
        "dropped": int((~used).sum()),
        "columns": {"a": a_col, "b": b_col, "user_id": user, **outcome_cols},
    }
    return dataset(columns, "pairwise", source=path, lines=lines[rows], metadata=metadata)


def _sniff(probe: Probe) -> float:
    header = table_header(probe)
    if header is None or {"a", "b"} <= {fold(c) for c in header}:
        return 0.0
    pair = find_pair(header, PAIRS)
    if pair is None:
        return 0.0
    has_outcome = find_column(header, OUTCOME_COLUMNS, exclude=pair) is not None
    has_counts = find_pair(header, WIN_PAIRS, exclude=pair) is not None
    if not (has_outcome or has_counts):
        return 0.0
    person = find_column(header, PERSON_COLUMNS, exclude=pair) is not None
    return 0.9 if person else 0.5


register_reader(
    "paired-covariates",
    sniff=_sniff,
    description="paired comparisons per subject with covariates (Topmodel2007, CEMS)",
    suffixes=(".csv",),
)(read_paired_covariates)
