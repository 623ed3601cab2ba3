"""Long race results → one ranking per race (PlackettLuce ``nascar``, Ergast-style results).

One row per competitor and race::

    race,position,driver_id,driver          ->  {"race": 1, "ranking": ["Ward Burton",
    1,1,83,Ward Burton                            "Elliott Sadler", ...], "ranks": [1, 2, ...]}
    1,2,18,Elliott Sadler

Three columns, detected by name (or passed as ``group=``, ``position=``, ``item=``):

* group: ``race``, ``event``, ``heat``, ``game``, ``round``, ``election``, ``query`` …; an
  assessor-like group (``assessor``, ``user``, ``voter`` …) also becomes ``user_id``.  Without a
  group column the whole file is one ranking.
* position: ``position``, ``pos``, ``place``, ``finish``, ``rank``, ``placing`` … (smaller is
  better; equal positions in one race are ties, with equal ``ranks``).
* item: ``driver``, ``player``, ``horse``, ``team``, ``item``, ``name`` … (a name column is
  preferred to an ``*_id`` one), else the one remaining text column.

Competitors without a position (an empty cell or a non-finisher code such as ``DNF``, ``DNS``,
``DSQ``, ``RET``, ``R``, ``NC``, ``\\N``) are listed in ``unranked``: below every finisher,
unordered.  Races that compare fewer than two competitors are dropped and counted in
``metadata["dropped"]``.  Columns constant within every race (date, track …) are kept, one value
per race; per-competitor columns (``driver_id``, points …) are left out and listed in
``metadata["dropped_columns"]``.  Records come in order of each race's first row.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from prefkit.data.readers._columns import (
    USER_COLUMNS,
    arrow_column,
    dataset,
    find_column,
    fold,
    id_strings,
    list_array,
    need_column,
    numeric_values,
    table_header,
)
from prefkit.data.readers._common import load_table
from prefkit.data.readers.registry import Probe, register_reader
from prefkit.data.schema import PreferenceDataset, known_fields
from prefkit.errors import DataError

GROUP_COLUMNS = (
    "race",
    "race_id",
    "raceid",
    "race_name",
    "event",
    "event_id",
    "heat",
    "heat_id",
    "contest",
    "contest_id",
    "competition_id",
    "round",
    "game",
    "game_id",
    "match_id",
    "election",
    "election_id",
    "ballot",
    "ballot_id",
    "ranking_id",
    "list_id",
    "query",
    "query_id",
    "qid",
    "task",
    "task_id",
    "session",
    "session_id",
    "trial",
    "trial_id",
    "stage",
    "meet",
    "meet_id",
    "tournament_id",
    "leg",
    "grand_prix",
)
POSITION_COLUMNS = (
    "position",
    "pos",
    "finish",
    "finishing_position",
    "finish_position",
    "final_position",
    "place",
    "placing",
    "placement",
    "position_order",
    "positionorder",
    "rank",
    "rank_position",
    "result_position",
    "fin",
    "finish_pos",
    "plc",
)
ITEM_COLUMNS = (
    "driver",
    "driver_name",
    "item",
    "item_name",
    "player",
    "player_name",
    "horse",
    "horse_name",
    "runner",
    "athlete",
    "competitor",
    "entrant",
    "candidate",
    "alternative",
    "team",
    "team_name",
    "rider",
    "skater",
    "swimmer",
    "boat",
    "car",
    "model",
    "system",
    "doc",
    "document",
    "name",
    "item_id",
    "driver_id",
    "driverid",
    "player_id",
    "horse_id",
    "athlete_id",
    "competitor_id",
    "candidate_id",
    "team_id",
    "doc_id",
    "docid",
)
UNPLACED = (
    "DNF",
    "DNS",
    "DSQ",
    "DQ",
    "DNQ",
    "RET",
    "R",
    "NC",
    "\\N",
    "NA",
    "N/A",
    "-",
    "W",
    "D",
    "F",
    "EX",
    "RETIRED",
    "DISQUALIFIED",
    "ABANDONED",
    "PU",
    "UR",
    "BD",
    "RO",
    "SU",
)


def _detect(
    frame: pd.DataFrame, group: str | None, position: str | None, item: str | None
) -> tuple[str | None, str | None, str | None]:
    cols = list(frame.columns)
    if position is None:
        position = find_column(cols, POSITION_COLUMNS, exclude=[group, item])
    if group is None:
        group = find_column(cols, GROUP_COLUMNS, exclude=[position, item]) or find_column(
            cols, USER_COLUMNS, exclude=[position, item]
        )
    if item is None:
        item = find_column(cols, ITEM_COLUMNS, exclude=[group, position])
        if item is None:
            rest = [c for c in cols if c not in (group, position)]
            text = [c for c in rest if not pd.api.types.is_numeric_dtype(frame[c])]
            item = text[0] if len(text) == 1 else (rest[0] if len(rest) == 1 else None)
    return group, position, item


def read_race_results(
    path: str,
    *,
    group: str | None = None,
    position: str | None = None,
    item: str | None = None,
) -> PreferenceDataset:
    """Long results (group, position, item per row) as one ranking per group."""
    frame, lines = load_table(path)
    for given in (group, position, item):
        if given is not None:
            need_column(frame, given, None, "column", path)
    found_group, found_pos, found_item = _detect(frame, group, position, item)
    pos_col = need_column(frame, position, found_pos, "position", path)
    item_col = need_column(frame, item, found_item, "item", path)
    group_col = group or found_group
    items = id_strings(frame[item_col], source=path, lines=lines, field=str(item_col))
    places = numeric_values(
        frame[pos_col],
        source=path,
        lines=lines,
        field=str(pos_col),
        missing_tokens=UNPLACED,
        what="a position",
    )
    if group_col is not None:
        keys = id_strings(frame[group_col], source=path, lines=lines, field=str(group_col))
        codes, uniques = pd.factorize(pd.Series(keys), sort=False)
    else:
        codes, uniques = np.zeros(len(frame), dtype=np.int64), np.array(["all"], dtype=object)
    n_groups = len(uniques)
    dup = pd.DataFrame({"g": codes, "i": items}).duplicated().to_numpy()
    if dup.any():
        row = int(np.flatnonzero(dup)[0])
        where = f"race {uniques[codes[row]]!r} " if group_col is not None else ""
        raise DataError(
            f"{where}ranking repeats item {items[row]!r}",
            source=path,
            line=int(lines[row]),
            field=str(item_col),
        )
    placed = ~np.isnan(places)
    order = np.lexsort((np.where(placed, places, np.inf), codes))
    sorted_codes, sorted_places, sorted_placed = codes[order], places[order], placed[order]
    counts = np.bincount(codes[placed], minlength=n_groups)
    others = np.bincount(codes[~placed], minlength=n_groups)
    change = np.ones(len(order), dtype=bool)
    change[1:] = (sorted_codes[1:] != sorted_codes[:-1]) | (sorted_places[1:] != sorted_places[:-1])
    starts = np.r_[True, sorted_codes[1:] != sorted_codes[:-1]]
    cum = np.cumsum(change)
    dense = cum - np.maximum.accumulate(np.where(starts, cum, 0)) + 1
    table: dict[str, Any] = {}
    first_row = np.full(n_groups, len(frame), dtype=np.int64)
    np.minimum.at(first_row, codes, np.arange(len(frame)))
    user_group = group_col is not None and fold(group_col) in {fold(u) for u in USER_COLUMNS}
    if group_col is not None:
        name = "user_id" if user_group else str(group_col)
        if name in known_fields("ranking") and name != "user_id":
            name = f"{name}_src"
        values = (
            pa.array(uniques.astype(object), pa.string())
            if user_group
            else arrow_column(frame[group_col]).take(pa.array(first_row))
        )
        table[name] = values
    table["ranking"] = list_array(items[order][sorted_placed], counts, pa.string())
    table["ranks"] = list_array(dense[sorted_placed].astype(np.int32), counts, pa.int32())
    if others.any():
        table["unranked"] = list_array(items[order][~sorted_placed], others, pa.string())
    consumed = {group_col, pos_col, item_col}
    constant, dropped_cols = [], []
    rest = [c for c in frame.columns if c not in consumed]
    if rest and group_col is not None:
        spread = frame[rest].groupby(codes, sort=False).nunique(dropna=False).max()
        constant = [c for c in rest if spread[c] <= 1]
        dropped_cols = [str(c) for c in rest if spread[c] > 1]
    elif rest:
        dropped_cols = [str(c) for c in rest]
    for col in constant:
        name = str(col)
        while name in table or name in known_fields("ranking"):
            name = f"{name}_src"
        table[name] = arrow_column(frame[col]).take(pa.array(first_row))
    keep = (counts >= 1) & (counts + others >= 2)
    index = pa.array(np.flatnonzero(keep))
    table = {k: v.take(index) for k, v in table.items()}
    metadata = {
        "dropped": int((~keep).sum()),
        "dropped_columns": dropped_cols,
        "columns": {"group": group_col, "position": pos_col, "item": item_col},
    }
    return dataset(table, "ranking", source=path, lines=lines[first_row[keep]], metadata=metadata)


def _sniff(probe: Probe) -> float:
    header = table_header(probe, min_columns=3)
    if header is None:
        return 0.0
    position = find_column(header, POSITION_COLUMNS)
    item = find_column(header, ITEM_COLUMNS, exclude=[position])
    if position is None or item is None:
        return 0.0
    if find_column(header, GROUP_COLUMNS, exclude=[position, item]) is not None:
        return 0.8
    if find_column(header, USER_COLUMNS, exclude=[position, item]) is not None:
        return 0.65
    return 0.0


register_reader(
    "race-results",
    sniff=_sniff,
    description="long race results (race, position, driver) as one ranking per race",
    suffixes=(".csv",),
)(read_race_results)
