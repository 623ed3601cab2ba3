"""Match results (home vs away) → pairwise records with home advantage, margins and dates.

Layouts read (columns are detected by name, or passed as options):

* martj42 ``results.csv``: ``date, home_team, away_team, home_score, away_score, tournament,
  city, country, neutral``; its ``shootouts.csv`` (``date, home_team, away_team, winner``);
* FiveThirtyEight ``nfl_games.csv``: ``date, season, neutral, playoff, team1, team2, elo1, elo2,
  elo_prob1, score1, score2, result1`` (``team1`` is the home side);
* BradleyTerry2 ``football`` (``home, away, result`` ∈ {1, 0, −1}), ``icehockey`` (``date,
  visitor, v_goals, opponent, o_goals, result, home.ice``: the opponent is at home when
  ``home.ice``) and ``baseball`` (``home.team, away.team, home.wins, away.wins``: aggregated);
* football-data.co.uk (``Date, HomeTeam, AwayTeam, FTHG, FTAG, FTR`` ∈ {H, D, A}) and similar.

Mapping, one record per match::

    date,home_team,away_team,home_score,away_score,...,neutral
    1873-03-08,England,Scotland,4,2,...,FALSE
      ->  {"a": "England", "b": "Scotland", "winner": "a", "margin": 2.0,
           "date": 1873-03-08, "home_advantage": 1, "tournament": "Friendly", ...}

* ``a`` = the home side (``team1``; the ``opponent`` in the visitor/opponent layout), ``b`` = the
  away side;
* ``winner`` from the scores (equal scores = ``"tie"``), else from the result column (signs,
  1 / 0.5 / 0, H/D/A, home/draw/away or the winning team's name; ``result_coding=`` forces
  ``"sign"``, ``"prob"`` or ``"index"``); ``margin`` = score of ``a`` − score of ``b``;
* ``home_advantage`` = 1 when ``a`` plays at home, 0 at a neutral venue (from ``neutral`` /
  ``neutral_site``, or ``home.ice`` / ``home_field`` / ``at_home``); with no such column every
  match counts as played at ``a``'s home (pass ``home_advantage=False`` for neutral data);
* ``date`` (from ``date``, ``Date``, ``game_date`` …; ISO, ``20091008``, ``dd/mm/yyyy``) as a
  date column, records sorted by it (stably; undated rows last);
* aggregated win counts (``home.wins`` / ``away.wins`` [/ ``ties``]) → one weighted record per
  outcome with a positive count;
* every other column (``tournament``, ``season``, ``elo_prob1`` …) is kept as a covariate.

Matches with no scores and no result (fixtures not yet played) are dropped and counted in
``metadata["dropped"]``.  ``shootouts=`` (a martj42 ``shootouts.csv``) adds a
``shootout_winner`` column (``"a"``/``"b"``) to the matches it names (draws, and second legs
level on aggregate), matched on date and teams.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from prefkit.data.readers._columns import (
    bool_values,
    covariate_arrays,
    dataset,
    find_column,
    find_pair,
    find_pair_or_half,
    fold,
    id_strings,
    need_column,
    numeric_values,
    table_header,
)
from prefkit.data.readers._common import csv_line_numbers, load_csv, load_table
from prefkit.data.readers._pairwise_table import (
    count_records,
    decode_outcome,
    item_ids,
    outcome_records,
    pairwise_columns,
)
from prefkit.data.readers.registry import Probe, register_reader
from prefkit.data.schema import PreferenceDataset
from prefkit.errors import DataError

# (home side, away side); the visitor/opponent layout puts the opponent at home.
TEAM_PAIRS = (
    ("home_team", "away_team"),
    ("home", "away"),
    ("home_name", "away_name"),
    ("home_club", "away_club"),
    ("home_side", "away_side"),
    ("team1", "team2"),
    ("team_home", "team_away"),
    ("home_team", "visitor_team"),
    ("home_team", "visiting_team"),
    ("home", "visitor"),
    ("host", "guest"),
    ("host_team", "guest_team"),
    ("host", "visitor"),
    ("opponent", "visitor"),
    ("team_a", "team_b"),
)
SCORE_PAIRS = (
    ("home_score", "away_score"),
    ("score1", "score2"),
    ("home_goals", "away_goals"),
    ("fthg", "ftag"),
    ("hg", "ag"),
    ("home_pts", "away_pts"),
    ("pts_home", "pts_away"),
    ("home_points", "away_points"),
    ("score_home", "score_away"),
    ("hscore", "ascore"),
    ("home_team_score", "away_team_score"),
    ("home_team_goals", "away_team_goals"),
    ("goals_home", "goals_away"),
    ("o_goals", "v_goals"),
    ("opponent_goals", "visitor_goals"),
    ("home_score", "visitor_score"),
    ("home_goals", "visitor_goals"),
    ("h_goals", "v_goals"),
    ("goals1", "goals2"),
    ("points1", "points2"),
    ("pts1", "pts2"),
    ("score_a", "score_b"),
    ("team1_score", "team2_score"),
    ("score_team1", "score_team2"),
    ("home_runs", "away_runs"),
    ("home_final", "away_final"),
    ("host_score", "guest_score"),
)
WIN_PAIRS = (
    ("home_wins", "away_wins"),
    ("wins_home", "wins_away"),
    ("home_won", "away_won"),
    ("team1_wins", "team2_wins"),
    ("wins1", "wins2"),
    ("host_wins", "guest_wins"),
)
TIE_COLUMNS = ("ties", "draws", "tied", "drawn", "home_draws", "draw")
RESULT_COLUMNS = (
    "result1",
    "ftr",
    "result",
    "res",
    "outcome",
    "winner",
    "home_result",
    "result_home",
    "full_time_result",
)
NEUTRAL_COLUMNS = (
    "neutral",
    "neutral_site",
    "neutral_venue",
    "is_neutral",
    "neutral_ground",
    "neutral_field",
    "neutralsite",
)
HOME_COLUMNS = (
    "home_ice",
    "home_field",
    "home_advantage",
    "at_home",
    "is_home",
    "home_game",
    "home_court",
)
DATE_COLUMNS = (
    "date",
    "game_date",
    "match_date",
    "gamedate",
    "date_game",
    "datetime",
    "date_time",
    "kickoff",
    "start_date",
    "start_time",
    "day",
    "timestamp",
)
SPORT_LABELS = {
    "h": "a",
    "home": "a",
    "1": "a",
    "w": "a",
    "win": "a",
    "won": "a",
    "a": "b",
    "away": "b",
    "2": "b",
    "l": "b",
    "loss": "b",
    "lost": "b",
    "v": "b",
    "visitor": "b",
    "d": "tie",
    "draw": "tie",
    "x": "tie",
    "tie": "tie",
    "t": "tie",
    "drawn": "tie",
}
_DAY_FORMATS = ("%d/%m/%Y", "%d/%m/%y", "%m/%d/%Y", "%d.%m.%Y", "%Y%m%d", "%d-%m-%Y", "%Y/%m/%d")


def parse_dates(series: pd.Series, *, source: str, lines: np.ndarray, field: str) -> pd.Series:
    """Dates from ISO text, ``yyyymmdd`` numbers, epoch seconds/milliseconds or ``dd/mm/yyyy``."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return series
    if pd.api.types.is_numeric_dtype(series):
        values = series.astype(float)
        finite = values.dropna()
        whole = bool((finite == finite.round()).all())
        for low, high, fmt in ((1e7, 1e8, "%Y%m%d"), (1000, 3000, "%Y")):
            if whole and finite.between(low, high).all():
                digits = values.round().astype("Int64").astype("string")
                return parse_dates(
                    digits.str.zfill(len(fmt) + 2 if fmt == "%Y%m%d" else 4),
                    source=source,
                    lines=lines,
                    field=field,
                )
        unit = "ms" if (finite.abs() > 1e11).any() else "s"
        return pd.to_datetime(values, unit=unit, errors="coerce")
    text = series.astype("string").str.strip()
    text = text.mask(text == "")
    best = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)
    failed = int((best.isna() & text.notna()).sum())
    for fmt in _DAY_FORMATS:
        if not failed:
            break
        trial = pd.to_datetime(text, format=fmt, errors="coerce", utc=True)
        misses = int((trial.isna() & text.notna()).sum())
        if misses < failed:
            best, failed = trial, misses
    bad = (best.isna() & text.notna()).to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"expected a date, got {text.iloc[row]!r}",
            source=source,
            line=int(lines[row]),
            field=field,
        )
    return best.dt.tz_convert(None)


def date_array(dates: pd.Series) -> pa.Array:
    """A date column (``date32`` when every value is at midnight, else a timestamp)."""
    values = dates.to_numpy(dtype="datetime64[ns]")
    mask = np.isnat(values)
    if (values[~mask] == values[~mask].astype("datetime64[D]")).all():
        return pa.array(values.astype("datetime64[D]"), pa.date32(), mask=mask)
    return pa.array(values.astype("datetime64[ms]"), pa.timestamp("ms"), mask=mask)


def _layout(frame: pd.DataFrame, options: dict[str, str | None]) -> dict[str, Any]:
    cols = list(frame.columns)
    teams = find_pair_or_half(cols, TEAM_PAIRS)
    home = options["home"] or teams[0]
    away = options["away"] or teams[1]
    used = [home, away]
    found: dict[str, Any] = {"home": home, "away": away}
    scores = find_pair(cols, SCORE_PAIRS, exclude=used)
    if scores is None and home is not None and away is not None:
        guess = (f"{home}_score", f"{away}_score")
        scores = find_pair(cols, (guess,), exclude=used)
    found["scores"] = scores
    used += list(scores or ())
    found["wins"] = find_pair(cols, WIN_PAIRS, exclude=used) if scores is None else None
    used += list(found["wins"] or ())
    found["ties"] = find_column(cols, TIE_COLUMNS, exclude=used) if found["wins"] else None
    used.append(found["ties"])
    found["result"] = options["result"] or find_column(cols, RESULT_COLUMNS, exclude=used)
    used.append(found["result"])
    found["neutral"] = find_column(cols, NEUTRAL_COLUMNS, exclude=used)
    found["at_home"] = find_column(cols, HOME_COLUMNS, exclude=used)
    used += [found["neutral"], found["at_home"]]
    found["date"] = options["date"] or find_column(cols, DATE_COLUMNS, exclude=used)
    found["visitor_layout"] = (
        fold(away or "").startswith("visit") and fold(home or "") == "opponent"
    )
    return found


def read_sports(
    path: str,
    *,
    home: str | None = None,
    away: str | None = None,
    home_score: str | None = None,
    away_score: str | None = None,
    result: str | None = None,
    result_coding: str = "auto",
    date: str | None = None,
    home_advantage: bool | None = None,
    shootouts: str | None = None,
) -> PreferenceDataset:
    """Match results as pairwise records (see the module doc for the mapping)."""
    frame, lines = load_table(path)
    for given in (home, away, home_score, away_score, result, date):
        if given is not None:
            need_column(frame, given, None, "column", path)
    found = _layout(frame, {"home": home, "away": away, "result": result, "date": date})
    if home_score is not None or away_score is not None:
        found["scores"] = (
            need_column(frame, home_score, None, "home_score", path),
            need_column(frame, away_score, None, "away_score", path),
        )
        found["wins"] = None
    home_col = need_column(frame, home, found["home"], "home", path)
    away_col = need_column(frame, away, found["away"], "away", path)
    ids_a, ids_b = item_ids(frame, home_col, away_col, source=path, lines=lines)
    n = len(frame)
    consumed = {home_col, away_col}
    margin = None
    if found["wins"] is not None:
        count_cols = (*found["wins"], found["ties"])
        rows, winners, weights, used = count_records(frame, count_cols, source=path, lines=lines)
        consumed.update(c for c in count_cols if c is not None)
    else:
        winner = np.full(n, None, dtype=object)
        if found["scores"] is not None:
            sa, sb = (
                numeric_values(frame[c], source=path, lines=lines, field=str(c), what="a score")
                for c in found["scores"]
            )
            one_sided = np.isnan(sa) != np.isnan(sb)
            if one_sided.any():
                row = int(np.flatnonzero(one_sided)[0])
                col = found["scores"][0] if np.isnan(sa[row]) else found["scores"][1]
                raise DataError(
                    "missing value (the other score is given)",
                    source=path,
                    line=int(lines[row]),
                    field=str(col),
                )
            margin = sa - sb
            winner = np.where(margin > 0, "a", np.where(margin < 0, "b", "tie")).astype(object)
            winner[np.isnan(margin)] = None
            consumed.update(found["scores"])
        if found["result"] is not None:
            decoded = decode_outcome(
                frame[found["result"]],
                ids_a,
                ids_b,
                source=path,
                lines=lines,
                field=str(found["result"]),
                coding=result_coding,
                labels=SPORT_LABELS,
                orientation="b" if found["visitor_layout"] else "a",
            )
            winner = np.where(np.equal(winner, None), decoded, winner)
            consumed.add(found["result"])
        elif found["scores"] is None:
            raise DataError(
                "cannot find the scores or the result (e.g. home_score/away_score, "
                "score1/score2, result); pass home_score=/away_score= or result=",
                source=path,
                field="result",
            )
        rows, winners, weights, used = outcome_records(winner)
    at_home = np.ones(n, dtype=np.int8)
    if home_advantage is not None:
        at_home[:] = int(bool(home_advantage))
    elif found["neutral"] is not None:
        col = found["neutral"]
        at_home = 1 - bool_values(frame[col], source=path, lines=lines, field=str(col)).astype(
            np.int8
        )
        consumed.add(col)
    elif found["at_home"] is not None:
        col = found["at_home"]
        at_home = bool_values(frame[col], source=path, lines=lines, field=str(col)).astype(np.int8)
        consumed.add(col)
    columns = pairwise_columns(ids_a[rows], ids_b[rows], winners, weights)
    if margin is not None:
        columns["margin"] = pa.array(margin[rows], pa.float64())
    columns["home_advantage"] = pa.array(at_home[rows], pa.int8())
    dates = None
    if found["date"] is not None:
        dates = parse_dates(
            frame[found["date"]], source=path, lines=lines, field=str(found["date"])
        )
        columns["date"] = date_array(dates.iloc[rows])
        consumed.add(found["date"])
    if shootouts is not None:
        side = _shootout_winners(shootouts, ids_a, ids_b, dates)
        columns["shootout_winner"] = pa.array(side[rows], pa.string())
    rest = [c for c in frame.columns if c not in consumed]
    columns.update(covariate_arrays(frame, rest, "pairwise", taken=set(columns), rows=rows))
    record_lines = lines[rows]
    if dates is not None:
        key = dates.iloc[rows].to_numpy(dtype="datetime64[ns]").astype(np.int64).astype(float)
        key[np.isnat(dates.iloc[rows].to_numpy(dtype="datetime64[ns]"))] = np.inf
        order = np.argsort(key, kind="stable")
        columns = {k: v.take(pa.array(order)) for k, v in columns.items()}
        record_lines = record_lines[order]
    metadata = {
        "dropped": int((~used).sum()),
        "columns": {k: v for k, v in found.items() if k != "visitor_layout"},
    }
    return dataset(columns, "pairwise", source=path, lines=record_lines, metadata=metadata)


def _shootout_winners(
    path: str, home: np.ndarray, away: np.ndarray, dates: pd.Series | None
) -> np.ndarray:
    """Per match, ``"a"``/``"b"`` where ``shootouts.csv`` says who won the shoot-out."""
    frame = load_csv(path)
    lines = csv_line_numbers(frame)
    teams = find_pair(frame.columns, TEAM_PAIRS) or (None, None)
    h = need_column(frame, None, teams[0], "home_team", path)
    a = need_column(frame, None, teams[1], "away_team", path)
    w = need_column(frame, None, find_column(frame.columns, ("winner",)), "winner", path)
    d = find_column(frame.columns, DATE_COLUMNS)
    key_cols = {
        "h": id_strings(frame[h], source=path, lines=lines, field=str(h)),
        "a": id_strings(frame[a], source=path, lines=lines, field=str(a)),
    }
    winners = id_strings(frame[w], source=path, lines=lines, field=str(w))
    side = np.where(winners == key_cols["h"], "a", np.where(winners == key_cols["a"], "b", None))
    bad = np.equal(side, None)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"winner {winners[row]!r} played neither side",
            source=path,
            line=int(lines[row]),
            field=str(w),
        )
    shoot = pd.DataFrame({**key_cols, "side": side})
    matches = pd.DataFrame({"h": home, "a": away})
    keys = ["h", "a"]
    if d is not None and dates is not None:
        shoot["d"] = parse_dates(frame[d], source=path, lines=lines, field=str(d)).dt.normalize()
        matches["d"] = dates.dt.normalize().to_numpy()
        keys.append("d")
    shoot = shoot.drop_duplicates(keys, keep="last")
    merged = matches.merge(shoot, on=keys, how="left")
    return merged["side"].astype(object).where(merged["side"].notna(), None).to_numpy()


def _sniff(probe: Probe) -> float:
    header = table_header(probe)
    if header is None:
        return 0.0
    teams = find_pair(header, TEAM_PAIRS)
    if teams is None:
        return 0.0
    rest = [c for c in header if c not in teams]
    if find_pair(rest, SCORE_PAIRS) is not None:
        return 0.95
    if find_pair(rest, WIN_PAIRS) is not None:
        return 0.9
    if find_column(rest, RESULT_COLUMNS) is not None:
        return 0.85
    return 0.0


register_reader(
    "sports",
    sniff=_sniff,
    description="match results (home, away, scores or result) as pairwise records",
    suffixes=(".csv",),
)(read_sports)
