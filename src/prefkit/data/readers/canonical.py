"""prefkit's canonical formats: JSON lines (the reference), CSV and Parquet with the same fields.

Canonical JSON lines — one record per line (see ``docs/format.md``)::

    {"a": "gpt-4", "b": "llama", "winner": "a"}                  # pairwise, hard label
    {"a": "gpt-4", "b": "llama", "p_a": 0.7}                     # pairwise, soft label
    {"ranking": ["x", "y", "z"], "ranks": [1, 1, 2]}             # ranking (x and y tied)
    {"item": "resp-1", "scores": {"helpfulness": 4, "safety": 5}}  # rating

Any record may add ``prompt``, ``user_id``, ``annotator_id``, ``weight``, ``margin``,
``rationale``, ``source``, ``id``, ``meta`` (an object) and pairwise ``a_text`` / ``b_text``.

Large files take a fast path (Arrow's multithreaded JSON reader, streaming, compressed or not);
when that fails, a line-by-line pass finds the exact line and field to report.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

import numpy as np
import pyarrow as pa

from prefkit.data.ids import hint_for, ids_as_text_enabled, record_ids_as_text
from prefkit.data.io import data_suffix
from prefkit.data.readers._common import csv_line_numbers, load_csv, load_json_records
from prefkit.data.readers._fast_json import read_json_fast
from prefkit.data.readers.registry import Probe, register_reader
from prefkit.data.schema import (
    COMMON_FIELDS,
    KIND_FIELDS,
    PreferenceDataset,
    infer_kind,
    known_fields,
    records_to_table,
)
from prefkit.errors import DataError, FormatDetectionError

CANONICAL_KEYS = {"a", "b", "a_text", "b_text", "winner", "p_a", "ranking", "scores"}


def _looks_canonical(keys: set[str]) -> bool:
    if {"winner", "p_a"} & keys and ({"a", "b"} <= keys or {"a_text", "b_text"} <= keys):
        return True
    # ImageReward records also have a ``ranking`` (ranks of ``generations``): not canonical.
    ranking = "ranking" in keys and "generations" not in keys
    return ranking or ("scores" in keys and ({"item", "text"} & keys))


def _sniff_jsonl(probe: Probe) -> float:
    if probe.suffix not in (".jsonl", ".json", ".ndjson", "") or not probe.json_keys:
        return 0.0
    if probe.text.lstrip().startswith("["):
        return 0.5 if _looks_canonical(probe.json_keys) else 0.0
    return 1.0 if _looks_canonical(probe.json_keys) else 0.0


_TYPE_NAMES = {
    "string": (str,),
    "number": (int, float),
}


def _expect(value: Any, expected: str, field: str, source: str, line: int) -> None:
    ok: bool
    if expected == "string":
        ok = isinstance(value, str)
    elif expected == "number":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if ok and not math.isfinite(float(value)):
            raise DataError(
                f"must be a finite number, got {value}", source=source, line=line, field=field
            )
    elif expected == "string-list":
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    elif expected == "int-list":
        ok = isinstance(value, list) and all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        )
    elif expected == "number-map":
        ok = isinstance(value, dict) and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value.values()
        )
    else:
        ok = True
    if not ok:
        raise DataError(
            f"expected {expected.replace('-', ' ')}, got {type(value).__name__} {_preview(value)}"
            + hint_for(field, value),
            source=source,
            line=line,
            field=field,
        )


def _preview(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def _field_kind(arrow_type: pa.DataType) -> str:
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "string"
    if pa.types.is_floating(arrow_type):
        return "number"
    if pa.types.is_map(arrow_type):
        return "number-map"
    if pa.types.is_list(arrow_type):
        return "int-list" if pa.types.is_integer(arrow_type.value_type) else "string-list"
    return "any"


def check_canonical_record(rec: dict[str, Any], kind: str, source: str, line: int) -> None:
    """Type-check one canonical record; a DataError names the line and field."""
    expected = {**KIND_FIELDS[kind], **COMMON_FIELDS}
    for name, value in rec.items():
        if value is None or name not in expected or name == "meta":
            continue
        _expect(value, _field_kind(expected[name]), name, source, line)


def _dataset_from_records(
    records: list[dict[str, Any]], lines: np.ndarray, source: str, kind: str | None
) -> PreferenceDataset:
    if ids_as_text_enabled():
        records = [record_ids_as_text(rec) for rec in records]
    if kind is None:
        try:
            kind = infer_kind(records[0].keys())
        except DataError as err:
            raise err.with_context(source=source, line=int(lines[0])) from None
    for rec, line in zip(records, lines, strict=False):
        check_canonical_record(rec, kind, source, int(line))
        if kind == "pairwise" and not (rec.keys() & {"winner", "p_a"}):
            raise DataError(
                "missing: needs 'winner' or 'p_a'", source=source, line=int(line), field="winner"
            )
    rows = []
    for rec in records:
        row = dict(rec)
        if "meta" in row and not isinstance(row["meta"], str) and row["meta"] is not None:
            row["meta"] = json.dumps(row["meta"], ensure_ascii=False, sort_keys=True)
        if isinstance(row.get("scores"), dict):
            row["scores"] = list(row["scores"].items())
        rows.append(row)
    try:
        table = records_to_table(rows, source=source, types=known_fields(kind))
    except DataError as err:
        bad = _first_inconsistent(records)
        raise DataError(
            err.reason,
            source=source,
            line=int(lines[bad[0]]) if bad else None,
            field=bad[1] if bad else err.field,
        ) from None
    return PreferenceDataset(table, kind, name=source, line_numbers=lines)


def _first_inconsistent(records: list[dict[str, Any]]) -> tuple[int, str] | None:
    seen: dict[str, type] = {}
    for i, rec in enumerate(records):
        for key, value in rec.items():
            if value is None:
                continue
            t = float if isinstance(value, int) and not isinstance(value, bool) else type(value)
            if key in seen and seen[key] is not t:
                return i, key
            seen.setdefault(key, t)
    return None


def read_canonical_jsonl(path: str, kind: str | None = None) -> PreferenceDataset:
    """Canonical prefkit JSON lines (pairwise, ranking or rating records)."""
    table = read_json_fast(path)
    if table is not None and table.num_rows:
        try:
            if "meta" in table.column_names and not pa.types.is_string(table.column("meta").type):
                table = table.set_column(
                    table.column_names.index("meta"),
                    "meta",
                    pa.array(
                        [
                            None if v is None else json.dumps(v, sort_keys=True)
                            for v in table.column("meta").to_pylist()
                        ],
                        pa.large_string(),
                    ),
                )
            return PreferenceDataset(table, kind or infer_kind(table.column_names), name=path)
        except DataError:
            pass  # locate the problem precisely below
    records, lines = load_json_records(path)
    return _dataset_from_records(records, lines, path, kind)


register_reader(
    "jsonl", sniff=_sniff_jsonl, description="prefkit canonical JSON lines", suffixes=(".jsonl",)
)(read_canonical_jsonl)


def _decode_cell(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except (ValueError, RecursionError):  # too deep: kept as text, validation names it
            return value
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _sniff_csv(probe: Probe) -> float:
    if probe.suffix not in (".csv", ".tsv"):
        return 0.0
    return 0.9 if _looks_canonical(set(probe.csv_header)) else 0.0


def read_canonical_csv(path: str, kind: str | None = None) -> PreferenceDataset:
    """Canonical fields as CSV columns; list, map and object cells as JSON text."""
    frame = load_csv(
        path,
        dtype={
            "a": str,
            "b": str,
            "winner": str,
            "item": str,
            "user_id": str,
            "annotator_id": str,
            "id": str,
        },
        keep_default_na=False,
        na_values=[""],
    )
    records = [
        {k: _number_cell(k, _decode_cell(v)) for k, v in row.items() if not _missing(v)}
        for row in frame.to_dict("records")
    ]
    if not records:
        raise DataError("no records", source=path)
    return _dataset_from_records(records, csv_line_numbers(frame), path, kind)


_NUMBER_FIELDS = frozenset(
    name
    for fields in (*KIND_FIELDS.values(), COMMON_FIELDS)
    for name, arrow_type in fields.items()
    if pa.types.is_floating(arrow_type)
)


def _number_cell(name: str, value: Any) -> Any:
    """A numeric field's text cell as a float (``"nan"`` stays NaN, for validation to reject).

    pandas keeps a whole column as text when one cell is not a number, so without this a bad
    cell would be reported on the first row instead of its own.
    """
    if name in _NUMBER_FIELDS and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


register_reader(
    "csv", sniff=_sniff_csv, description="canonical fields as CSV columns", suffixes=(".csv",)
)(read_canonical_csv)


def _sniff_parquet(probe: Probe) -> float:
    return 1.0 if probe.head[:4] == b"PAR1" else 0.0


def read_parquet(path: str, kind: str | None = None) -> PreferenceDataset:
    """Parquet: canonical columns (as ``PreferenceDataset.write`` writes them), or any layout
    the JSON readers know (TRL, arena, HH-RLHF …), as Hugging Face datasets ship them."""
    import pyarrow.parquet as pq

    try:  # one file, read directly: pq.read_table goes through pyarrow.dataset, which imports
        # pandas (~120 ms) when it is installed
        with pq.ParquetFile(path) as parquet:
            table = parquet.read()
    except (pa.ArrowInvalid, OSError) as err:
        raise DataError(
            f"not a readable Parquet file ({str(err).splitlines()[0]})", source=path
        ) from None
    kind = (
        kind
        or (table.schema.metadata and (table.schema.metadata.get(b"prefkit.kind") or b"").decode())
        or None
    )
    if kind is None and not _looks_canonical(set(table.column_names)):
        return _read_rows_as_json_lines(table, path)
    return PreferenceDataset(table, kind or infer_kind(table.column_names), name=path)


def _read_rows_as_json_lines(table: pa.Table, path: str) -> PreferenceDataset:
    """Parquet in another tool's layout (a Hugging Face dataset's TRL, arena, HH-RLHF … columns):
    its rows go through the same format sniffing and readers as JSON lines would."""
    import tempfile
    from pathlib import Path

    from prefkit.data.readers.registry import read

    with tempfile.TemporaryDirectory(prefix="prefkit-parquet-") as tmp:
        lines = Path(tmp) / f"{Path(path).stem}.jsonl"
        with open(lines, "w", encoding="utf-8") as fh:
            for batch in table.to_batches(max_chunksize=8192):
                for row in batch.to_pylist():
                    fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        try:
            dataset = read(lines)
        except FormatDetectionError:
            columns = ", ".join(table.column_names[:12])
            raise FormatDetectionError(
                f"neither canonical columns nor a known layout (columns: {columns})", source=path
            ) from None
        except DataError as err:  # name the Parquet file and its row, not the temporary file
            row = err.line - 1 if err.line is not None else err.row
            raise DataError(err.reason, source=path, row=row, field=err.field) from None
    dataset.metadata["format"] = f"parquet/{dataset.metadata.get('format')}"
    dataset.metadata["path"] = path
    dataset.name = Path(path).name
    return dataset


register_reader(
    "parquet",
    sniff=_sniff_parquet,
    description="Parquet: canonical columns, or any layout the JSON readers know",
    suffixes=(".parquet",),
)(read_parquet)


def suffix_of(path: str) -> str:
    return data_suffix(os.fspath(path))
