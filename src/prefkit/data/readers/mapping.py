"""Column mapping: any table becomes a :class:`PreferenceDataset` without a dedicated reader.

A mapping names, for each canonical field, the column of the file that fills it::

    prefkit.read("atp_matches.csv",
                 columns={"a": "winner_name", "b": "loser_name", "winner": "const:a"})
    prefkit.read("test.jsonl",
                 columns={"prompt": "question", "a_text": "response_0", "b_text": "response_1",
                          "winner": "label"},
                 labels={"0": "a", "1": "b", "2": "tie"})

    prefkit data validate atp_matches.csv --map a=winner_name --map b=loser_name \\
        --map winner=const:a
    prefkit data validate test.jsonl --map a_text=response_0 --map b_text=response_1 \\
        --map winner=label --label-map 0=a,1=b,2=tie

Rules (strict, checked per value, errors name the file line and the column):

* The file is a CSV/TSV, JSON array, JSON-lines or Parquet file (compressed or not), read as
  it is: no format sniffing.  A source is a column name (exact), a dotted path into a nested
  JSON object (``meta.model``) when no column has that exact name, or ``const:VALUE`` for the
  same value in every record.
* Targets are the canonical fields of one kind (``a``, ``b``, ``a_text``, ``b_text``, ``winner``,
  ``p_a``, ``prompt``, ``user_id``, ``weight`` … see docs/format.md); the kind follows from them
  (pairwise needs ``a`` or ``a_text``, ``b`` or ``b_text``, and ``winner`` or ``p_a``).
* ``winner``: with ``labels`` each value is looked up there (numbers by their text: ``1``,
  ``1.0`` → ``"1"``; then case-insensitively); a label maps to ``a``, ``b``, ``tie`` or ``drop``
  (the record is left out and counted in ``metadata["dropped"]``).  Without ``labels`` a value
  must be ``a``/``b``/``tie`` or equal the record's ``a`` (→ ``a``) or ``b`` (→ ``b``), so a
  column holding the winner's name works as it is.
* Ids (``a``, ``b``, ``id``, ``user_id`` …) are text; whole numbers are written without ``.0``;
  a boolean or a list is an error.  Texts (``a_text``, ``prompt`` …) are strings; a list or object
  (chat messages) is kept as its JSON text.  Numbers (``p_a``, ``weight``, ``margin``) must be
  numbers.
* Every column the mapping does not use is kept as a covariate column (renamed
  ``orig_<name>`` where it clashes with a canonical field).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from prefkit.data.readers._common import extra_columns, is_missing, load_records, where
from prefkit.data.schema import (
    KIND_FIELDS,
    REQUIRED,
    WINNER_LABELS,
    PreferenceDataset,
    known_fields,
    records_to_table,
)
from prefkit.errors import DataError

CONST_PREFIX = "const:"
#: What a label may map to: an outcome, or ``drop`` (leave the record out).
LABEL_TARGETS = (*WINNER_LABELS, "drop")
_NUMBER_FIELDS = frozenset({"p_a", "weight", "margin"})
_TEXT_FIELDS = frozenset({"a_text", "b_text", "prompt", "rationale", "text", "meta", "source"})
_LIST_FIELDS = frozenset({"ranking", "ranks", "unranked", "texts"})
_MISSING = object()


# ---------------------------------------------------------------------------- parsing specs
def parse_mapping(specs: Iterable[str], *, option: str = "--map") -> dict[str, str]:
    """``["a=winner_name", "winner=const:a"]`` → ``{"a": "winner_name", "winner": "const:a"}``.

    A malformed item or a target given twice is a DataError naming ``option``.
    """
    mapping: dict[str, str] = {}
    for spec in specs:
        target, sep, source = str(spec).partition("=")
        target, source = target.strip(), source.strip()
        if not sep or not target or not source:
            raise DataError(f"expected FIELD=COLUMN, got {spec!r}", field=option)
        if target in mapping:
            raise DataError(f"field {target!r} mapped twice", field=option)
        mapping[target] = source
    return mapping


def parse_labels(specs: Iterable[str], *, option: str = "--label-map") -> dict[str, str]:
    """``["0=a,1=b", "2=tie"]`` → ``{"0": "a", "1": "b", "2": "tie"}`` (items split on commas)."""
    labels: dict[str, str] = {}
    for spec in specs:
        for item in str(spec).split(","):
            if not item.strip():
                continue
            value, sep, label = item.partition("=")
            value, label = value.strip(), label.strip().lower()
            if not sep or not value:
                raise DataError(f"expected VALUE=LABEL, got {item.strip()!r}", field=option)
            if label not in LABEL_TARGETS:
                raise DataError(
                    f"label for {value!r} must be one of {', '.join(LABEL_TARGETS)}, got {label!r}",
                    field=option,
                )
            if value in labels and labels[value] != label:
                raise DataError(f"value {value!r} mapped twice", field=option)
            labels[value] = label
    return labels


# ---------------------------------------------------------------------------- checking a mapping
def mapping_kind(columns: Mapping[str, str]) -> str:
    """The kind the mapped fields make; a DataError names an unknown field or a missing one."""
    targets = set(columns)
    every = {name for kind in KIND_FIELDS for name in known_fields(kind)}
    for target in columns:
        if target not in every:
            raise DataError(
                f"unknown field {target!r} (known: {', '.join(sorted(every))})", field="--map"
            )
    kinds = [k for k in KIND_FIELDS if targets & set(KIND_FIELDS[k])]
    if len(kinds) != 1:
        shown = "; ".join(f"{k}: {', '.join(KIND_FIELDS[k])}" for k in KIND_FIELDS)
        reason = "mixes fields of several kinds" if kinds else "maps no record field"
        raise DataError(f"the mapping {reason} ({shown})", field="--map")
    kind = kinds[0]
    allowed = known_fields(kind)
    for target in columns:
        if target not in allowed:
            raise DataError(
                f"unknown field {target!r} for {kind} records (known: {', '.join(allowed)})",
                field="--map",
            )
    for group in REQUIRED[kind]:
        if not targets & set(group):
            need = " or ".join(f"{g}=" for g in group)
            raise DataError(
                f"the mapping needs {need} for {kind} records (e.g. --map {group[0]}=COLUMN)",
                field="--map",
            )
    return kind


def _lookup(rec: Mapping[str, Any], source: str) -> Any:
    """``rec[source]``, else the dotted path into nested objects, else ``_MISSING``."""
    if source in rec:
        return rec[source]
    if "." not in source:
        return _MISSING
    value: Any = rec
    for part in source.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def _check_sources(
    columns: Mapping[str, str], records: Sequence[Mapping[str, Any]], path: str
) -> None:
    """Every non-constant source is a column of the file (present in some record)."""
    names: dict[str, None] = {}
    for rec in records:
        names.update(dict.fromkeys(map(str, rec)))
    for target, source in columns.items():
        if source.startswith(CONST_PREFIX):
            continue
        if source in names or any(_lookup(rec, source) is not _MISSING for rec in records):
            continue
        found = ", ".join(list(names)[:12])
        raise DataError(
            f"no column {source!r} for {target}= (found: {found})", source=path, field="--map"
        )


# ---------------------------------------------------------------------------- values
def label_key(value: Any) -> str:
    """The text a label map is matched against: ``1``, ``1.0``, ``"1"`` → ``"1"``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _id_value(value: Any, fail: Any) -> str:
    if isinstance(value, (bool, list, dict)):
        raise fail(f"expected an id (text or number), got {json.dumps(value)[:40]}")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise fail(f"expected an id, got {value}")
        return str(int(value)) if value.is_integer() else repr(value)
    text = str(value).strip()
    if not text:
        raise fail("missing value")
    return text


def _text_value(value: Any, fail: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    raise fail(f"expected text, got {type(value).__name__} {json.dumps(value)[:40]}")


def _number_value(value: Any, fail: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise fail(f"expected a number, got {json.dumps(value, default=str)[:40]}")
    if not math.isfinite(value):
        raise fail(f"must be a finite number, got {value}")
    return float(value)


def _winner_value(
    value: Any, rec: Mapping[str, Any], labels: Mapping[str, str] | None, fail: Any
) -> str:
    key = label_key(value)
    if labels:
        if key in labels:
            return labels[key]
        folded = {k.casefold(): v for k, v in labels.items()}
        if key.casefold() in folded:
            return folded[key.casefold()]
        shown = ", ".join(repr(k) for k in labels)
        raise fail(f"unknown label {key!r} (expected one of {shown}; add it to --label-map)")
    if key.lower() in WINNER_LABELS:
        return key.lower()
    for side in ("a", "b"):
        if side in rec and key == rec[side]:
            return side
    raise fail(f"unknown winner {key!r} (expected a, b, tie or the a/b id; pass --label-map)")


def _convert(
    target: str, value: Any, rec: Mapping[str, Any], labels: Mapping[str, str] | None, fail: Any
) -> Any:
    if target == "winner":
        return _winner_value(value, rec, labels, fail)
    if target in _NUMBER_FIELDS:
        return _number_value(value, fail)
    if target in _TEXT_FIELDS:
        return _text_value(value, fail)
    if target in _LIST_FIELDS:
        if isinstance(value, str) and value.lstrip().startswith("["):
            try:
                value = json.loads(value)
            except ValueError:
                raise fail("expected a JSON list") from None
        if not isinstance(value, list):
            raise fail(f"expected a list, got {type(value).__name__}")
        return value
    if target == "scores":
        if isinstance(value, str) and value.lstrip().startswith("{"):
            try:
                value = json.loads(value)
            except ValueError:
                raise fail("expected a JSON object") from None
        if not isinstance(value, dict):
            raise fail(f"expected an object of scores, got {type(value).__name__}")
        return value
    return _id_value(value, fail)


# ---------------------------------------------------------------------------- reading
def read_mapped(
    path: str,
    columns: Mapping[str, str],
    labels: Mapping[str, str] | None = None,
) -> PreferenceDataset:
    """Read the table at ``path`` and fill the canonical fields from the mapped columns.

    Args:
        path: CSV/TSV, JSON, JSON-lines or Parquet file (``.gz`` … ok).
        columns: canonical field → source column (or ``"const:VALUE"``, or a dotted path).
        labels: for ``winner``: raw value (as text) → ``a``, ``b``, ``tie`` or ``drop``.
    """
    columns = {str(k): str(v) for k, v in columns.items()}
    labels = {label_key(k): str(v).strip().lower() for k, v in (labels or {}).items()}
    for value, label in labels.items():
        if label not in LABEL_TARGETS:
            raise DataError(
                f"label for {value!r} must be one of {', '.join(LABEL_TARGETS)}, got {label!r}",
                source=path,
                field="--label-map",
            )
    try:
        kind = mapping_kind(columns)
    except DataError as err:
        raise err.with_context(source=path) from None
    if labels and "winner" not in columns:
        raise DataError("a label map needs winner= in the mapping", source=path, field="--map")
    records, lines = load_records(path)
    _check_sources(columns, records, path)
    order = sorted(columns, key=lambda t: t == "winner")  # winner last: it may compare to a/b
    rows: list[dict[str, Any]] = []
    kept: list[int] = []
    for index, rec in enumerate(records):
        row: dict[str, Any] = {}
        for target in order:
            source = columns[target]
            field = source if not source.startswith(CONST_PREFIX) else target

            def fail(reason: str, field: str = field, index: int = index) -> DataError:
                return DataError(reason, source=path, field=field, **where(lines, index))

            if source.startswith(CONST_PREFIX):
                value: Any = source[len(CONST_PREFIX) :]
            else:
                value = _lookup(rec, source)
            if value is _MISSING or is_missing(value):
                if target in ("winner", "a", "b", "a_text", "b_text", "ranking", "scores"):
                    raise fail("missing value")
                continue
            row[target] = _convert(target, value, row, labels, fail)
        if row.get("winner") == "drop":
            continue
        rows.append(row)
        kept.append(index)
    if not rows:
        raise DataError("no records left after the mapping", source=path)
    keep = np.asarray(kept, dtype=np.int64)
    used = {s for s in columns.values() if not s.startswith(CONST_PREFIX)}
    mapped = records_to_table(rows, source=path, types=known_fields(kind))
    kept_records = [records[i] for i in kept]
    reserved = set(known_fields(kind)) | set(mapped.column_names)
    table = mapped
    for name, array in extra_columns(kept_records, used, reserved).items():
        table = table.append_column(name, array)
    metadata = {
        "format": "mapping",
        "mapping": dict(columns),
        "labels": dict(labels),
        "dropped": len(records) - len(rows),
    }
    return PreferenceDataset(
        table,
        kind,
        name=path,
        metadata=metadata,
        line_numbers=None if lines is None else lines[keep],
    )
