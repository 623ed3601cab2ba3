"""Column helpers shared by the table adapters (internal: readers import this, never each other).

Finding columns by folded name (:func:`find_column`, :func:`find_pair`), reading a column as ids,
numbers or yes/no flags with the file line of any bad cell (:func:`id_strings`,
:func:`numeric_values`, :func:`bool_values`), covariate columns, rankings from rank matrices and
the final :func:`dataset`.  Also the column-name lists the sniffers share (:data:`USER_COLUMNS`,
:data:`TEXT_MARKERS` …).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from prefkit.data.readers.registry import Probe
from prefkit.data.schema import PreferenceDataset, known_fields
from prefkit.errors import DataError

TABLE_SUFFIXES = (".csv", ".tsv", ".txt", "")

# Columns that identify who gave a preference (folded: lower case, letters and digits only).
USER_COLUMNS = (
    "assessor",
    "assessor_id",
    "user",
    "user_id",
    "userid",
    "judge",
    "judge_id",
    "voter",
    "voter_id",
    "respondent",
    "respondent_id",
    "subject",
    "subject_id",
    "rater",
    "rater_id",
    "annotator",
    "annotator_id",
    "participant",
    "participant_id",
    "person",
    "person_id",
    "individual",
    "ranker",
    "evaluator",
    "reviewer",
    "panelist",
    "consumer",
    "customer",
    "student",
    "student_id",
    "farmer",
    "farmer_id",
    "worker",
    "worker_id",
    "id",
    "rownames",
    "unnamed_0",
    "",
)
# The same without row-number names: columns that certainly name a person.
PERSON_COLUMNS = tuple(c for c in USER_COLUMNS if c not in ("id", "rownames", "unnamed_0", ""))
# Columns that mark a text-preference (LLM) file: generic table sniffers stay away from those.
TEXT_MARKERS = (
    "prompt",
    "response",
    "response_a",
    "response_b",
    "response1",
    "response2",
    "completion",
    "completion_a",
    "completion_b",
    "chosen",
    "rejected",
    "output",
    "output_1",
    "output_2",
    "instruction",
    "question",
    "answer",
    "conversation",
    "conversation_a",
    "text",
    "model_a",
    "model_b",
    "generations",
    "query",
    "source",
    "target",
    "translation",
    "comment_body",
)


def fold(name: Any) -> str:
    """A column name folded for matching: ``"Home.Team"``, ``"home_team"`` -> ``"hometeam"``."""
    return "".join(ch for ch in str(name).casefold() if ch.isalnum())


def find_column(
    columns: Iterable[str], candidates: Sequence[str], *, exclude: Iterable[str] = ()
) -> str | None:
    """The first column, in ``candidates`` order, whose folded name matches a candidate's."""
    excluded = set(exclude)
    by_fold: dict[str, str] = {}
    for col in columns:
        if col not in excluded:
            by_fold.setdefault(fold(col), col)
    for cand in candidates:
        hit = by_fold.get(fold(cand))
        if hit is not None:
            return hit
    return None


def find_pair(
    columns: Iterable[str], pairs: Sequence[tuple[str, str]], *, exclude: Iterable[str] = ()
) -> tuple[str, str] | None:
    """The first ``(first, second)`` candidate pair whose two columns are both present."""
    columns = list(columns)
    for first, second in pairs:
        a = find_column(columns, (first,), exclude=exclude)
        b = find_column(columns, (second,), exclude=exclude)
        if a is not None and b is not None and a != b:
            return a, b
    return None


def find_pair_or_half(
    columns: Iterable[str], pairs: Sequence[tuple[str, str]], *, exclude: Iterable[str] = ()
) -> tuple[str | None, str | None]:
    """Like :func:`find_pair`; else the one half found (so errors can name the missing one)."""
    columns = list(columns)
    full = find_pair(columns, pairs, exclude=exclude)
    if full is not None:
        return full
    for first, second in pairs:
        a = find_column(columns, (first,), exclude=exclude)
        b = find_column(columns, (second,), exclude=exclude)
        if (a is None) != (b is None):
            return a, b
    return None, None


def looks_textual(columns: Iterable[str]) -> bool:
    """True when a header names text-preference columns (prompt, response, chosen …)."""
    markers = {fold(m) for m in TEXT_MARKERS}
    return any(fold(c) in markers for c in columns)


def table_header(probe: Probe, min_columns: int = 0) -> list[str] | None:
    """The header a table sniffer works from; ``None`` when the file is no CSV/TSV table, has
    fewer than ``min_columns`` columns or names text-preference columns (prompt, chosen …)."""
    if probe.suffix not in TABLE_SUFFIXES:
        return None
    header = probe.csv_header
    if len(header) < min_columns or looks_textual(header):
        return None
    return header


def need_column(
    frame: pd.DataFrame, given: str | None, found: str | None, role: str, source: str
) -> str:
    """The column for ``role``: the one the caller named (must exist) or the detected one."""
    if given is not None:
        if given not in frame.columns:
            raise DataError(
                f"missing column (found: {', '.join(map(str, frame.columns[:12]))})",
                source=source,
                field=given,
            )
        return given
    if found is None:
        raise DataError(
            f"cannot find the {role} column (found: {', '.join(map(str, frame.columns[:12]))}); "
            f"pass {role}=",
            source=source,
            field=role,
        )
    return found


def optional_column(
    frame: pd.DataFrame,
    given: str | None,
    candidates: Sequence[str],
    role: str,
    source: str,
    *,
    exclude: Iterable[str] = (),
) -> str | None:
    """The column for an optional ``role``: the one the caller named (must exist), else the
    first of ``candidates`` present (see :func:`find_column`), else ``None``."""
    if given is not None:
        return need_column(frame, given, None, role, source)
    return find_column(frame.columns, candidates, exclude=exclude)


def first_index(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def id_strings(
    series: pd.Series, *, source: str, lines: np.ndarray, field: str, required: bool = True
) -> np.ndarray:
    """Identifiers as text (``3.0`` -> ``"3"``, stripped); ``None`` where missing.

    With ``required``, a missing value is a DataError naming its line and ``field``.
    """
    values = series
    if pd.api.types.is_bool_dtype(values):
        values = values.astype("string")
    elif pd.api.types.is_numeric_dtype(values):
        num = values.astype(float)
        given = num.dropna()
        if (given == np.round(given)).all() and (given.abs() < 2**53).all():
            values = num.astype("Int64")
    text = values.astype("string").str.strip()
    text = text.mask(text == "")
    missing = text.isna().to_numpy()
    if required and missing.any():
        row = first_index(missing)
        raise DataError("missing value", source=source, line=int(lines[row]), field=field)
    return text.to_numpy(dtype=object, na_value=None)


def numeric_values(
    series: pd.Series,
    *,
    source: str,
    lines: np.ndarray,
    field: str,
    required: bool = False,
    missing_tokens: Iterable[str] = (),
    what: str = "a number",
) -> np.ndarray:
    """A column as float64 (NaN where empty); text that is not a number is a DataError."""
    if pd.api.types.is_bool_dtype(series):
        values = series.astype(float).to_numpy()
    elif pd.api.types.is_numeric_dtype(series):
        values = series.to_numpy(dtype=float, na_value=np.nan)
    else:
        text = series.astype("string").str.strip()
        tokens = {t.upper() for t in missing_tokens}
        if tokens:
            text = text.mask(text.str.upper().isin(tokens))
        text = text.mask(text == "")
        num = pd.to_numeric(text, errors="coerce")
        bad = (num.isna() & text.notna()).to_numpy()
        if bad.any():
            row = first_index(bad)
            raise DataError(
                f"expected {what}, got {text.iloc[row]!r}",
                source=source,
                line=int(lines[row]),
                field=field,
            )
        values = num.to_numpy(dtype=float, na_value=np.nan)
    if np.isinf(values).any():
        row = first_index(np.isinf(values))
        raise DataError(
            f"must be a finite number, got {values[row]}",
            source=source,
            line=int(lines[row]),
            field=field,
        )
    if required and np.isnan(values).any():
        row = first_index(np.isnan(values))
        raise DataError("missing value", source=source, line=int(lines[row]), field=field)
    return values


def arrow_column(series: pd.Series) -> pa.Array:
    """A pandas column as an Arrow array (text when its values are of mixed types)."""
    try:
        return pa.array(series, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return pa.array(series.astype("string"), from_pandas=True)


def covariate_arrays(
    frame: pd.DataFrame,
    columns: Iterable[str],
    kind: str,
    *,
    taken: set[str] | None = None,
    rows: np.ndarray | None = None,
) -> dict[str, pa.Array]:
    """Covariate columns, renamed ``<name>_src`` where a name is a canonical field of ``kind``.

    With ``rows``, only those rows of the frame (in that order, repeats allowed).
    """
    reserved = set(known_fields(kind)) | set(taken or ())
    take = None if rows is None else pa.array(rows)
    out: dict[str, pa.Array] = {}
    for col in columns:
        name = str(col)
        while name in reserved or name in out:
            name = f"{name}_src"
        array = arrow_column(frame[col])
        out[name] = array if take is None else array.take(take)
    return out


def user_ids(
    frame: pd.DataFrame, user: str | None, *, source: str, lines: np.ndarray
) -> np.ndarray:
    """Each row's user: the ``user`` column's ids, else the data row number (1-based)."""
    if user is not None:
        return id_strings(frame[user], source=source, lines=lines, field=str(user))
    return np.array([str(i + 1) for i in range(len(frame))], dtype=object)


def list_array(flat: np.ndarray, counts: np.ndarray, value_type: pa.DataType) -> pa.ListArray:
    """Arrow lists from the concatenated values and the length of each list."""
    offsets = np.zeros(len(counts) + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), pa.array(flat, value_type))


def rankings_from_matrix(
    values: np.ndarray, items: np.ndarray
) -> tuple[pa.ListArray, pa.ListArray, np.ndarray]:
    """Rankings from a matrix of rank values (rows = rankings, smaller = better, NaN = absent).

    ``items`` names the columns (shape ``(k,)``) or each cell (shape ``(n, k)``).  Returns
    ``(ranking, ranks, counts)``: the items best first, their dense ranks (ties equal) and the
    number ranked per row.
    """
    key = np.where(np.isnan(values), np.inf, values)
    order = np.argsort(key, axis=1, kind="stable")
    sorted_key = np.take_along_axis(key, order, axis=1)
    valid = np.isfinite(sorted_key)
    counts = valid.sum(axis=1)
    named = items[order] if items.ndim == 1 else np.take_along_axis(items, order, axis=1)
    change = np.ones(sorted_key.shape, dtype=bool)
    change[:, 1:] = sorted_key[:, 1:] != sorted_key[:, :-1]
    dense = np.cumsum(change, axis=1)
    ranking = list_array(named[valid], counts, pa.string())
    ranks = list_array(dense[valid].astype(np.int32), counts, pa.int32())
    return ranking, ranks, counts


def unranked_lists(mask: np.ndarray, items: np.ndarray) -> pa.ListArray:
    """Per row, the items where ``mask`` is true (in column order)."""
    names = np.broadcast_to(items, mask.shape)
    return list_array(names[mask], mask.sum(axis=1), pa.string())


def sample_rows(probe: Probe, limit: int = 40) -> list[list[str]]:
    """The first data rows of a CSV/TSV probe (the header left out), as lists of cells."""
    text = probe.text
    if len(probe.head) >= 65536:  # the last line may be cut
        text = text[: text.rfind("\n") + 1]
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 2:
        return []
    first = lines[0]
    delimiter = "\t" if "\t" in first else ("," if "," in first else ";")
    try:
        rows = list(csv.reader(io.StringIO("\n".join(lines[1 : limit + 1])), delimiter=delimiter))
    except csv.Error:
        return []
    return [[c.strip() for c in row] for row in rows if row]


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def dataset(
    columns: dict[str, Any],
    kind: str,
    *,
    source: str,
    lines: np.ndarray,
    metadata: dict[str, Any],
) -> PreferenceDataset:
    """Build and validate the dataset (validation errors name the file line of the record)."""
    table = pa.table(columns)
    return PreferenceDataset(table, kind, name=source, metadata=metadata, line_numbers=lines)


_TRUE = {"1", "true", "t", "yes", "y"}
_FALSE = {"0", "false", "f", "no", "n"}


def bool_values(series: pd.Series, *, source: str, lines: np.ndarray, field: str) -> np.ndarray:
    """A yes/no column (true/false, 1/0, yes/no, t/f) as booleans; anything else is a DataError."""
    if pd.api.types.is_bool_dtype(series) and not series.isna().any():
        return series.to_numpy(dtype=bool)
    text = series.astype("string").str.strip().str.lower()
    if pd.api.types.is_numeric_dtype(series):
        text = text.str.replace(r"\.0+$", "", regex=True)
    truth = text.isin(_TRUE).to_numpy(dtype=bool, na_value=False)
    falsity = text.isin(_FALSE).to_numpy(dtype=bool, na_value=False)
    bad = ~(truth | falsity)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        value = series.iloc[row]
        reason = "missing value" if pd.isna(value) else f"expected true or false, got {value!r}"
        raise DataError(reason, source=source, line=int(lines[row]), field=field)
    return truth
