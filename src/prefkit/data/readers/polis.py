"""Polis votes (compdemocracy openData) → rating records, one per voter and statement.

``votes.csv``: ``timestamp, datetime, comment-id, voter-id, vote`` with vote 1 = agree,
−1 = disagree, 0 = pass::

    timestamp,datetime,comment-id,voter-id,vote    ->  {"item": "0", "user_id": "1",
    1500233625234,Mon Jul 17 ...,0,1,-1                 "scores": {"vote": -1.0},
                                                         "timestamp": 1500233625234, ...}

The wide export ``participant-votes.csv`` (``participant, group-id, n-comments, n-votes,
n-agree, n-disagree``, then one column per comment id, empty = not voted) is read too, with
``group-id`` kept.  Column names are folded (``comment-id`` = ``comment_id``; ``tid``/``pid``
and ``statement_id``/``participant`` work as well).

Repeated votes by one voter on one statement: the latest (by ``timestamp``; the last line where
there is none) is kept, the others are dropped and counted in ``metadata["duplicates"]``
(also ``metadata["dropped"]``).  Records keep file order.

Statement texts: ``comments=`` names a comments file (``comment-id`` and ``comment-body``);
otherwise one beside the votes file is used when found — the votes file name with ``votes``
replaced by ``comments`` (``votes.csv`` → ``comments.csv``, ``x_votes.csv`` → ``x_comments.csv``)
or ``comments.csv``.  Texts go to the ``text`` column.  ``comments=False`` turns the lookup off.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from prefkit.data.io import strip_compression
from prefkit.data.readers._columns import (
    TABLE_SUFFIXES,
    covariate_arrays,
    dataset,
    find_column,
    fold,
    id_strings,
    need_column,
    numeric_values,
)
from prefkit.data.readers._common import csv_line_numbers, load_csv, load_table
from prefkit.data.readers.registry import Probe, register_reader
from prefkit.data.schema import PreferenceDataset
from prefkit.errors import DataError

VOTER_COLUMNS = (
    "voter-id",
    "voter",
    "voter_id",
    "pid",
    "participant",
    "participant-id",
    "participant_id",
    "user",
    "user_id",
)
COMMENT_COLUMNS = (
    "comment-id",
    "comment_id",
    "tid",
    "statement_id",
    "statement-id",
    "statement",
    "comment",
)
VOTE_COLUMNS = ("vote", "votes", "value")
TIME_COLUMNS = ("timestamp", "modified", "created", "time")
TEXT_COLUMNS = ("comment-body", "comment_body", "txt", "text", "body", "statement", "comment")
WIDE_MARKERS = ("n-votes", "n-comments", "n-agree", "n-disagree")
WIDE_KEEP = ("group-id", "group_id")


def _comments_beside(path: str) -> str | None:
    folder, name = os.path.split(path)
    candidates = []
    if re.search("votes", name, re.IGNORECASE):
        swapped = re.sub("participant-votes|votes", "comments", name, flags=re.IGNORECASE)
        candidates += [swapped, strip_compression(swapped)]
    candidates += ["comments.csv", "comments.csv.gz"]
    for candidate in candidates:
        full = os.path.join(folder, candidate)
        if candidate != name and os.path.isfile(full):
            return full
    return None


def _comment_texts(path: str) -> dict[str, str]:
    frame = load_csv(path)
    lines = csv_line_numbers(frame)
    key = need_column(frame, None, find_column(frame.columns, COMMENT_COLUMNS), "comment-id", path)
    text_col = need_column(
        frame, None, find_column(frame.columns, TEXT_COLUMNS, exclude=[key]), "comment-body", path
    )
    ids = id_strings(frame[key], source=path, lines=lines, field=str(key))
    texts = frame[text_col].astype("string").to_numpy(dtype=object, na_value=None)
    return dict(zip(ids, texts, strict=True))


def _wide(frame: pd.DataFrame, path: str, lines: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """``participant-votes.csv`` melted to long ``voter, comment, vote`` rows."""
    voter = need_column(frame, None, find_column(frame.columns, VOTER_COLUMNS), "participant", path)
    keep = [c for c in frame.columns if fold(c) in {fold(k) for k in WIDE_KEEP}]
    skip = {voter, *keep, *(c for c in frame.columns if fold(c) in {fold(m) for m in WIDE_MARKERS})}
    comments = [c for c in frame.columns if c not in skip]
    long = frame.reset_index(names="_row").melt(
        id_vars=["_row", voter, *keep],
        value_vars=comments,
        var_name="comment-id",
        value_name="vote",
    )
    long = long[long["vote"].notna() & (long["vote"].astype("string").str.strip() != "")]
    long = long.sort_values(["_row"], kind="stable")
    row_lines = lines[long["_row"].to_numpy()]
    long = long.drop(columns="_row").rename(columns={voter: "voter-id"}).reset_index(drop=True)
    return long, row_lines


def _times(series: pd.Series) -> pd.Series:
    """Sortable vote times: epoch numbers as they are, text parsed as dates (NaT if not)."""
    if pd.api.types.is_numeric_dtype(series):
        return series.astype(float)
    return pd.to_datetime(series, errors="coerce", format="mixed", utc=True)


def read_polis(path: str, *, comments: str | bool | None = None) -> PreferenceDataset:
    """Polis votes (long ``votes.csv`` or wide ``participant-votes.csv``) as rating records."""
    frame, lines = load_table(path)
    wide = find_column(frame.columns, WIDE_MARKERS) is not None
    if wide:
        frame, lines = _wide(frame, path, lines)
    cols = list(frame.columns)
    voter = need_column(frame, None, find_column(cols, VOTER_COLUMNS), "voter-id", path)
    comment = need_column(
        frame, None, find_column(cols, COMMENT_COLUMNS, exclude=[voter]), "comment-id", path
    )
    vote_col = need_column(
        frame, None, find_column(cols, VOTE_COLUMNS, exclude=[voter, comment]), "vote", path
    )
    time_col = find_column(cols, TIME_COLUMNS, exclude=[voter, comment, vote_col])
    voters = id_strings(frame[voter], source=path, lines=lines, field=str(voter))
    items = id_strings(frame[comment], source=path, lines=lines, field=str(comment))
    votes = numeric_values(
        frame[vote_col], source=path, lines=lines, field=str(vote_col), required=True, what="a vote"
    )
    bad = ~np.isin(votes, (-1.0, 0.0, 1.0))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"unknown vote {votes[row]:g} (expected 1, -1 or 0)",
            source=path,
            line=int(lines[row]),
            field=str(vote_col),
        )
    order = pd.DataFrame({"v": voters, "c": items, "n": np.arange(len(frame))})
    if time_col is not None:
        order["t"] = _times(frame[time_col])
        order = order.sort_values(["t", "n"], kind="stable", na_position="first")
    latest = ~order.duplicated(["v", "c"], keep="last")
    keep = np.sort(order["n"].to_numpy()[latest.to_numpy()])
    n = len(keep)
    columns: dict[str, Any] = {
        "item": pa.array(items[keep], pa.string()),
        "user_id": pa.array(voters[keep], pa.string()),
        "scores": pa.MapArray.from_arrays(
            pa.array(np.arange(n + 1, dtype=np.int32)),
            pa.array(np.full(n, "vote", dtype=object), pa.string()),
            pa.array(votes[keep], pa.float64()),
        ),
    }
    source_of_text = None
    if comments is not False:
        source_of_text = comments if isinstance(comments, str) else _comments_beside(path)
        if isinstance(comments, str) and not os.path.isfile(comments):
            raise DataError("no such file", source=comments)
    if source_of_text is not None:
        texts = _comment_texts(source_of_text)
        columns["text"] = pa.array([texts.get(i) for i in items[keep]], pa.large_string())
    rest = [c for c in cols if c not in (voter, comment, vote_col)]
    columns.update(covariate_arrays(frame, rest, "rating", taken=set(columns), rows=keep))
    duplicates = len(frame) - n
    metadata = {
        "duplicates": duplicates,
        "dropped": duplicates,
        "layout": "wide" if wide else "long",
        "comments": None if source_of_text is None else str(Path(source_of_text)),
        "columns": {"user_id": voter, "item": comment, "vote": vote_col, "timestamp": time_col},
    }
    return dataset(columns, "rating", source=path, lines=lines[keep], metadata=metadata)


def _sniff(probe: Probe) -> float:
    if probe.suffix not in TABLE_SUFFIXES:
        return 0.0
    header = probe.csv_header
    folded = {fold(c) for c in header}
    if {"commentid", "voterid", "vote"} <= folded:
        return 1.0
    if {"participant", "nvotes"} <= folded and {"nagree", "ndisagree"} & folded:
        return 0.95
    voter = find_column(header, VOTER_COLUMNS)
    comment = find_column(header, COMMENT_COLUMNS, exclude=[voter])
    if voter and comment and find_column(header, ("vote",)):
        return 0.85
    return 0.0


register_reader(
    "polis",
    sniff=_sniff,
    description="Polis votes (voter, comment, vote ∈ {1, -1, 0}) as rating records",
    suffixes=(".csv",),
)(read_polis)
