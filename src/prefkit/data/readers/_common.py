"""Helpers shared by the format adapters: JSON/JSONL/CSV loading with locations in errors."""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from prefkit.data.io import csv_delimiter, decode_text, head_bytes, read_bytes
from prefkit.data.json_guard import check_json_document, check_json_lines, check_line_lengths
from prefkit.data.schema import PreferenceDataset, known_fields
from prefkit.errors import DataError

# ``\ud800``-``\udfff`` escapes: a lone one decodes to a string UTF-8 cannot encode
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def json_error_reason(err: json.JSONDecodeError) -> str:
    return f"invalid JSON ({err.msg} at column {err.colno})"


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json`` object hook: a key given twice in one object is an error, not "last one wins"."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return obj


def _bad_unicode_field(value: Any) -> str | None:
    """Top-level field of ``value`` holding a string UTF-8 cannot encode (a lone surrogate)."""

    def bad(v: Any) -> bool:
        if isinstance(v, str):
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:
                return True
            return False
        if isinstance(v, list):
            return any(bad(x) for x in v)
        if isinstance(v, dict):
            return any(bad(k) or bad(x) for k, x in v.items())
        return False

    if isinstance(value, dict):
        for key, v in value.items():
            if bad(key) or bad(v):
                return str(key).encode("utf-8", "backslashreplace").decode("ascii")
        return None
    return "" if bad(value) else None


def parse_json(text: str, source: str, line: int | None) -> Any:
    """One JSON text, strictly: a duplicated key or a lone surrogate (``\\ud800``) is a
    DataError naming the line and field.  The caller has bounded the nesting depth."""
    try:
        value = json.loads(text, object_pairs_hook=_object_without_duplicates)
    except json.JSONDecodeError as err:
        at = line if line is not None else err.lineno
        raise DataError(json_error_reason(err), source=source, line=at) from None
    except _DuplicateKey as err:
        raise DataError(
            "key given twice in one object", source=source, line=line, field=err.key
        ) from None
    except RecursionError:  # pragma: no cover - the depth check comes first
        raise DataError("JSON nested too deeply", source=source, line=line) from None
    if _SURROGATE_ESCAPE.search(text):
        field = _bad_unicode_field(value)
        if field is not None:
            raise DataError(
                "text holds a lone surrogate escape such as \\ud800 (not valid Unicode)",
                source=source,
                line=line,
                field=field or None,
            )
    return value


def iter_json_lines(text: str, source: str) -> Iterable[tuple[int, Any]]:
    """(line number, value) for each non-blank line of a JSON-lines text.

    Bound the lines first (:func:`~prefkit.data.json_guard.check_json_lines` on the raw bytes):
    this parses them.
    """
    # split at line ends only: str.splitlines() also splits at U+2028, U+2029 and U+0085, which
    # JSON allows raw inside strings (ensure_ascii=False writers emit them)
    for number, line in enumerate(re.split(r"\r\n?|\n", text), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        yield number, parse_json(stripped, source, number)


def load_json_records(
    path: str, *, allow_dict_of_lists: bool = False
) -> tuple[list[dict[str, Any]], np.ndarray]:
    """Records of a JSON array file or a JSON-lines file, with the line where each starts.

    Returns ``(records, line_numbers)``.  A record that is not a JSON object is an error naming its
    line.
    """
    data = read_bytes(path)
    text = decode_text(data, path)
    stripped = text.lstrip()
    if not stripped:
        raise DataError("empty file", source=path)
    records: list[dict[str, Any]] = []
    lines: list[int] = []
    if stripped.startswith("["):
        check_json_document(data, path)
        value = parse_json(text, path, None)
        starts = _record_lines(text, len(value))
        for i, rec in enumerate(value):
            if not isinstance(rec, dict):
                raise DataError(
                    f"expected a JSON object, got {type(rec).__name__}", source=path, line=starts[i]
                )
            records.append(rec)
            lines.append(starts[i])
    elif stripped.startswith("{") and allow_dict_of_lists and _single_json_value(data, text, path):
        value = parse_json(text, path, None)
        frame = pd.DataFrame(value)
        return frame.to_dict("records"), np.arange(len(frame)) + 1
    else:
        check_json_lines(data, path)
        for number, rec in iter_json_lines(text, path):
            if not isinstance(rec, dict):
                raise DataError(
                    f"expected a JSON object, got {type(rec).__name__}", source=path, line=number
                )
            records.append(rec)
            lines.append(number)
    if not records:
        raise DataError("no records", source=path)
    return records, np.asarray(lines, dtype=np.int64)


def _single_json_value(data: bytes, text: str, path: str) -> bool:
    check_json_document(data, path)
    try:
        json.loads(text)
        return True
    except (json.JSONDecodeError, RecursionError):
        return False


def _record_lines(text: str, n: int) -> list[int]:
    """Line where each top-level element of a JSON array starts (best effort)."""
    if n == 0:
        return []
    decoder = json.JSONDecoder()
    pos = text.index("[") + 1
    out = []
    length = len(text)
    for _ in range(n):
        while pos < length and text[pos] in " \t\r\n,":
            pos += 1
        out.append(text.count("\n", 0, pos) + 1)
        try:
            _, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            out.extend([out[-1]] * (n - len(out)))
            break
    return out


def load_csv(path: str, *, sep: str | None = None, **kwargs: Any) -> pd.DataFrame:
    """A CSV/TSV file as a DataFrame; delimiter guessed from the name or the header.

    A column name given twice (after stripping spaces) is an error: pandas would silently keep
    the second one as ``name.1``.
    """
    data = read_bytes(path)
    check_line_lengths(data, path)
    text = decode_text(data, path)
    if not text.strip():
        raise DataError("empty file", source=path)
    if sep is None:
        sep = csv_delimiter(text.split("\n", 1)[0], path)
    _check_header(text, sep, path)
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, **kwargs)
    except (pd.errors.ParserError, ValueError) as err:
        message = str(err).strip().splitlines()[-1]
        found = re.search(r"\bline (\d+)", message)
        line = int(found.group(1)) if found else None
        raise DataError(f"malformed CSV ({message})", source=path, line=line) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    if '"' in text or re.search(r"\n[ \t\r]*\n", text.strip()):
        # quoted cells may span lines and blank lines are skipped: count lines for real
        frame.attrs["line_numbers"] = _fit_lines(csv_record_lines(text, sep), len(frame))
    return frame


def _check_header(text: str, sep: str, path: str) -> None:
    """No column name twice in the header of a CSV text."""
    if len(sep) == 1:
        try:
            header = next((row for row in csv.reader(io.StringIO(text), delimiter=sep) if row), [])
        except csv.Error:
            return  # pandas reports the malformed CSV
    else:
        first = next((line for line in text.splitlines() if line.strip()), "")
        header = re.split(sep, first.strip())
    seen: dict[str, int] = {}
    for position, raw in enumerate(header, start=1):
        name = raw.strip()
        if not name:
            continue
        if name in seen:
            raise DataError(
                f"column name given twice (columns {seen[name]} and {position})",
                source=path,
                line=1,
                field=name,
            )
        seen[name] = position


def load_table(path: str) -> tuple[pd.DataFrame, np.ndarray]:
    """A CSV/TSV file that has data rows (:func:`load_csv`) and the file line of each row."""
    frame = load_csv(path)
    if frame.empty:
        raise DataError("no records", source=path)
    return frame, csv_line_numbers(frame)


def require_columns(
    frame: pd.DataFrame | Mapping[str, Any],
    columns: Sequence[str],
    source: str,
    *,
    what: str = "column",
) -> None:
    """Raise a DataError naming the first missing column."""
    present = set(frame.columns if isinstance(frame, pd.DataFrame) else frame)
    for col in columns:
        if col not in present:
            raise DataError(
                f"missing {what} (found: {', '.join(sorted(map(str, present))[:12])})",
                source=source,
                field=col,
            )


def require_fields(
    records: Sequence[Mapping[str, Any]], fields: Sequence[str], source: str, lines: np.ndarray
) -> None:
    """Every record has every field (and not null); else a DataError naming the line and field."""
    for i, rec in enumerate(records):
        for name in fields:
            if rec.get(name) is None:
                raise DataError("missing field", source=source, line=int(lines[i]), field=name)


def csv_line_numbers(frame: pd.DataFrame) -> np.ndarray:
    """File line of each row of a :func:`load_csv` frame (header on line 1).

    Exact for multi-line quoted cells and blank lines (counted by :func:`load_csv`); otherwise
    row ``i`` is on line ``i + 2``.
    """
    lines = frame.attrs.get("line_numbers")
    if lines is not None and len(lines) == len(frame):
        return np.asarray(lines, dtype=np.int64)
    return np.arange(len(frame), dtype=np.int64) + 2


def is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def label_error(
    value: Any, allowed: Iterable[Any], *, source: str, line: int | None, field: str
) -> DataError:
    shown = ", ".join(repr(v) for v in allowed)
    return DataError(
        f"unknown label {value!r} (expected one of {shown})", source=source, line=line, field=field
    )


# ------------------------------------------------------------------------------------------------
# Record-style adapters (LLM preference formats): any container, typed fields, extra columns.


def csv_record_lines(text: str, sep: str = ",", *, quoting: int = csv.QUOTE_MINIMAL) -> np.ndarray:
    """File line where each data record of a CSV text starts (quoted cells may span lines).

    Blank lines are skipped, as pandas does.  Best effort: stops at the first malformed record.
    A separator that is not one character (a regular expression such as whitespace) means no
    quoting: one record per non-blank line.
    """
    if len(sep) != 1:
        starts = [i for i, line in enumerate(text.split("\n"), start=1) if line.strip()]
        return np.asarray(starts[1:], dtype=np.int64)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, quoting=quoting)
    starts: list[int] = []
    line = 1
    try:
        for row in reader:
            if row:
                starts.append(line)
            line = reader.line_num + 1
    except csv.Error:
        pass
    return np.asarray(starts[1:], dtype=np.int64)


def _fit_lines(lines: np.ndarray, n: int) -> np.ndarray:
    """``lines`` cut or extended (one line per record) to exactly ``n`` entries."""
    if len(lines) >= n:
        return lines[:n]
    last = int(lines[-1]) if len(lines) else 1
    return np.concatenate([lines, last + 1 + np.arange(n - len(lines), dtype=np.int64)])


def _decode_json_cell(value: Any) -> Any:
    """A CSV cell holding a JSON list or object, decoded (strictly: see :func:`parse_json`);
    other cells, and cells that are not valid JSON, as they are."""
    if isinstance(value, str) and value.lstrip()[:1] in ("[", "{"):
        check_json_document(value.encode("utf-8", "surrogatepass"), "")
        try:
            return parse_json(value, "", None)
        except DataError as err:
            if err.reason.startswith("invalid JSON"):
                return value
            raise
    return value


_INT_TEXT = re.compile(r"-?(?:0|[1-9][0-9]{0,17})")
_FLOAT_TEXT = re.compile(r"-?(?:0|[1-9][0-9]*)?(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")


def _number_converter(values: pd.Series) -> type | None:
    """``int`` or ``float`` when every present cell of a text column is such a number."""
    present = values.dropna()
    if present.empty:
        return None
    if present.str.fullmatch(_INT_TEXT).all():
        return int
    if present.str.fullmatch(_FLOAT_TEXT).all() and present.str.contains("[0-9]").all():
        return float
    return None


def load_records(
    path: str, *, json_columns: Sequence[str] = (), text_columns: Sequence[str] = ()
) -> tuple[list[dict[str, Any]], np.ndarray | None]:
    """Records of a JSON array, JSON-lines, CSV/TSV or Parquet file (compressed or not).

    Returns ``(records, lines)``: the file line where each record starts, or ``None`` for
    Parquet (locate errors by record index then, see :func:`where`).  CSV cells: empty =
    missing; cells of ``json_columns`` holding a JSON list or object are decoded; other columns
    not in ``text_columns`` whose every cell is a plain number (no leading zeros) become numbers;
    everything else stays text.
    """
    head = head_bytes(path, 4096)
    if head[:4] == b"PAR1":
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(pa.BufferReader(read_bytes(path)))
        except (pa.ArrowException, OSError) as err:
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise DataError(f"not a readable Parquet file ({reason})", source=path) from None
        records = table.to_pylist()
        if not records:
            raise DataError("no records", source=path)
        return records, None
    start = head.decode("utf-8-sig", errors="replace").lstrip()[:1]
    if start == "[":
        return load_json_records(path)
    if start == "{":
        try:
            return load_json_records(path)
        except DataError as err:  # one pretty-printed object is one record
            data = read_bytes(path)
            check_json_document(data, path)
            try:
                value = json.loads(decode_text(data, path))
            except (json.JSONDecodeError, RecursionError):
                raise err from None
            value = parse_json(decode_text(data, path), path, None)
            if not isinstance(value, dict):
                raise err from None
            return [value], np.ones(1, dtype=np.int64)
    text = decode_text(read_bytes(path), path)
    first = text.split("\n", 1)[0]
    name = path.lower()
    sep = "\t" if ("\t" in first or ".tsv" in name) else ","
    frame = load_csv(path, sep=sep, dtype=str, keep_default_na=False, na_values=[""])
    decode = set(json_columns)
    keep = set(text_columns) | decode
    convert = {c: _number_converter(frame[c]) for c in frame.columns if c not in keep}
    records = []
    lines = _fit_lines(csv_record_lines(text, sep), len(frame))
    for i, row in enumerate(frame.to_dict("records")):
        rec = {}
        for k, v in row.items():
            if is_missing(v):
                continue
            if k in decode:
                try:
                    v = _decode_json_cell(v)
                except DataError as err:
                    raise DataError(
                        err.reason, source=path, line=int(lines[i]), field=err.field or k
                    ) from None
            elif convert.get(k) is not None:
                v = convert[k](v)
            rec[k] = v
        records.append(rec)
    if not records:
        raise DataError("no records", source=path)
    return records, lines


def where(lines: np.ndarray | None, index: int) -> dict[str, int]:
    """DataError location keywords of record ``index``: its file line, else its index."""
    if lines is None:
        return {"row": index}
    return {"line": int(lines[index])}


_TYPE_NAMES = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "list",
    dict: "object",
}


def type_name(value: Any) -> str:
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def preview(value: Any, width: int = 40) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= width else text[: width - 3] + "..."


def get_field(
    rec: Mapping[str, Any],
    name: str,
    *,
    source: str,
    lines: np.ndarray | None,
    index: int,
    types: tuple[type, ...] = (str,),
    expected: str = "a string",
    required: bool = True,
) -> Any:
    """``rec[name]`` checked against ``types``; a DataError names the line and field.

    Missing, null and NaN values are "missing field" when ``required``, else ``None``.  Booleans
    are accepted only when ``bool`` is in ``types``.
    """
    value = rec.get(name)
    if is_missing(value):
        if required:
            raise DataError("missing field", source=source, field=name, **where(lines, index))
        return None
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        raise DataError(
            f"expected {expected}, got {type_name(value)} {preview(value)}",
            source=source,
            field=name,
            **where(lines, index),
        )
    return value


def _plain_cell(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return value


def extra_columns(
    records: Sequence[Mapping[str, Any]], used: Iterable[str], reserved: Iterable[str]
) -> dict[str, pa.Array]:
    """Columns for the fields of ``records`` that an adapter did not map (kept as covariates).

    Fields in ``used`` are skipped.  A field whose name is ``reserved`` (a canonical column or one
    the adapter fills) is kept as ``orig_<name>``.  Lists and objects become JSON text; a field of
    mixed types becomes text.
    """
    skip = set(used)
    taken = set(reserved)
    names: dict[str, None] = {}
    for rec in records:
        names.update(dict.fromkeys(rec))
    out: dict[str, pa.Array] = {}
    for key in names:
        if key in skip:
            continue
        values = [_plain_cell(rec.get(key)) for rec in records]
        try:
            array = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
            array = pa.array(
                [v if v is None or isinstance(v, str) else json.dumps(v) for v in values],
                pa.large_string(),
            )
        name = str(key)
        while name in taken or name in out:
            name = f"orig_{name}"
        out[name] = array
    return out


def records_dataset(
    columns: Mapping[str, Any],
    kind: str,
    records: Sequence[Mapping[str, Any]],
    used: Iterable[str],
    *,
    source: str,
    lines: np.ndarray | None,
) -> PreferenceDataset:
    """The dataset of a record-style adapter: the mapped ``columns``, then every field of
    ``records`` not in ``used`` kept as a covariate column (see :func:`extra_columns`)."""
    reserved = set(known_fields(kind)) | set(columns)
    table = pa.table({**columns, **extra_columns(records, used, reserved)})
    return PreferenceDataset(table, kind, name=source, line_numbers=lines)


_KEY_HINT = re.compile(r'"([^"\\]{1,64})"\s*:')


def probe_keys(probe: Any) -> tuple[set[str], bool]:
    """Field names a sniffer can see: ``(keys, exact)``.

    ``exact`` keys are those of the first JSON record or the CSV header.  When the first record
    is too long to parse from the probe, the quoted ``"name":`` tokens of the head are returned
    instead (a superset that may include nested keys), with ``exact=False``.
    """
    if probe.json_keys:
        return set(probe.json_keys), True
    text = probe.text.lstrip()
    if text[:1] in ("[", "{"):
        return set(_KEY_HINT.findall(text[:65536])), False
    return set(probe.csv_header), True


def get_text(
    rec: Mapping[str, Any],
    name: str,
    *,
    source: str,
    lines: np.ndarray | None,
    index: int,
    required: bool = True,
) -> str | None:
    """A text field; a bare JSON number or boolean (``"response": true``) is taken as its JSON
    text (``"true"``), a list or object is an error naming the line and field."""
    value = get_field(
        rec,
        name,
        source=source,
        lines=lines,
        index=index,
        types=(str, int, float, bool),
        expected="a string",
        required=required,
    )
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)
