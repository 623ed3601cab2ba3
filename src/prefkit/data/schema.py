"""The one data type: :class:`PreferenceDataset`, an Arrow table of preference records.

A dataset has an explicit ``kind``:

``pairwise``
    Two candidates ``a`` and ``b`` and an outcome: ``winner`` in ``{"a", "b", "tie"}`` or a soft
    label ``p_a`` = P(a ≻ b) in [0, 1].  A candidate is an item id (``a``/``b``: a model name, a
    team), a text (``a_text``/``b_text``: a response), or both.
``ranking``
    ``ranking``: candidates ordered best first; ``ranks`` (optional, 1 = best) gives equal ranks to
    tied candidates; ``unranked`` (optional) lists the rest of the choice set, all below the ranked
    ones and unordered among themselves (a top-1 choice is ``ranking=[winner]``,
    ``unranked=[the others]``); ``texts`` (optional) are the ranked candidates' texts.
``rating``
    One candidate (``item`` and/or ``text``) with ``scores``, a map from attribute name
    (``"overall"``, ``"helpfulness"``, …) to a number.

Every record may carry ``prompt``, ``user_id``, ``annotator_id``, ``weight`` (≥ 0), ``margin``,
``rationale``, ``source``, ``id`` and ``meta`` (a JSON object, stored as text).  Any further
columns (``date``, ``neutral``, ``len_a`` …) are kept as they are: they are covariates that models
may use.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from prefkit.data.ids import hint_for, ids_as_text_enabled, record_ids_as_text, table_ids_as_text
from prefkit.errors import DataError

Kind = Literal["pairwise", "ranking", "rating"]
KINDS: tuple[str, ...] = ("pairwise", "ranking", "rating")
WINNER_LABELS: tuple[str, ...] = ("a", "b", "tie")

COMMON_FIELDS: dict[str, pa.DataType] = {
    "id": pa.string(),
    "prompt": pa.large_string(),
    "user_id": pa.string(),
    "annotator_id": pa.string(),
    "weight": pa.float64(),
    "margin": pa.float64(),
    "rationale": pa.large_string(),
    "source": pa.string(),
    "meta": pa.large_string(),
}
KIND_FIELDS: dict[str, dict[str, pa.DataType]] = {
    "pairwise": {
        "a": pa.string(),
        "b": pa.string(),
        "a_text": pa.large_string(),
        "b_text": pa.large_string(),
        "winner": pa.string(),
        "p_a": pa.float64(),
    },
    "ranking": {
        "ranking": pa.list_(pa.string()),
        "ranks": pa.list_(pa.int32()),
        "unranked": pa.list_(pa.string()),
        "texts": pa.list_(pa.large_string()),
    },
    "rating": {
        "item": pa.string(),
        "text": pa.large_string(),
        "scores": pa.map_(pa.string(), pa.float64()),
    },
}
# Columns a kind cannot do without (at least one of each tuple must be present).
REQUIRED: dict[str, list[tuple[str, ...]]] = {
    "pairwise": [("a", "a_text"), ("b", "b_text"), ("winner", "p_a")],
    "ranking": [("ranking",)],
    "rating": [("item", "text"), ("scores",)],
}


def known_fields(kind: str) -> dict[str, pa.DataType]:
    """All typed columns of ``kind``: the kind's own, then the common ones."""
    return {**KIND_FIELDS[kind], **COMMON_FIELDS}


def infer_kind(keys: Iterable[str]) -> str:
    """Tell the kind of a record (or table) from its field names."""
    keys = set(keys)
    if keys & {"winner", "p_a"} or {"a", "b"} <= keys or {"a_text", "b_text"} <= keys:
        return "pairwise"
    if "ranking" in keys:
        return "ranking"
    if "scores" in keys:
        return "rating"
    raise DataError(
        "cannot tell the kind of record: expected 'winner' or 'p_a' (pairwise), "
        "'ranking' (ranking) or 'scores' (rating)"
    )


def _json_or_none(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and value != value):  # None or NaN
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _type_family(arrow_type: pa.DataType) -> str:
    """``number``, ``string``, ``boolean``, ``null``, ``list``, ``map`` or ``other``."""
    if pa.types.is_dictionary(arrow_type):
        return _type_family(arrow_type.value_type)
    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type):
        return "number"
    if pa.types.is_decimal(arrow_type):
        return "number"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "string"
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_null(arrow_type):
        return "null"
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return "list"
    if pa.types.is_map(arrow_type) or pa.types.is_struct(arrow_type):
        return "map"
    return "other"


def _first_present(col: pa.ChunkedArray) -> tuple[int | None, Any]:
    """Index and value of the first non-null entry of ``col``."""
    valid = pc.is_valid(col).to_numpy(zero_copy_only=False)
    hits = np.flatnonzero(valid)
    if not hits.size:
        return None, None
    row = int(hits[0])
    return row, col[row].as_py()


def _type_error(
    name: str,
    col: pa.ChunkedArray,
    expected: str,
    source: str | None,
    line_numbers: np.ndarray | None,
    reason: str | None = None,
) -> DataError:
    row, value = _first_present(col)
    line = None
    if row is not None and line_numbers is not None and row < len(line_numbers):
        line = int(line_numbers[row])
    family = _type_family(col.type)
    shown = json.dumps(value, ensure_ascii=False, default=str)
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    what = reason or f"expected {expected}, got {family} {shown}{hint_for(name, value)}"
    return DataError(what, source=source, line=line, row=None if line else row, field=name)


def _conform(
    table: pa.Table, kind: str, source: str | None, line_numbers: np.ndarray | None = None
) -> pa.Table:
    """Cast known columns to their canonical types; keep any other column as it is.

    Strict, per value (see docs/format.md, "Validation rules"): a number field takes numbers
    only (never ``true`` or ``"0.7"``); a text field takes text only (never ``true`` or
    ``12``); integers become floats and ``string`` becomes ``large_string`` as needed.  Integer
    ids become text only while a read asks for it (:mod:`prefkit.data.ids`).
    """
    if ids_as_text_enabled():
        table = table_ids_as_text(table)
    fields = known_fields(kind)
    columns, names = [], []
    for name in table.column_names:
        col = table.column(name)
        target = fields.get(name)
        if target is not None and col.type != target:
            family, wanted = _type_family(col.type), _type_family(target)
            if name == "meta" and not pa.types.is_string(col.type):
                col = pa.chunked_array(
                    [pa.array([_json_or_none(v) for v in col.to_pylist()], pa.large_string())]
                )
            elif family not in (wanted, "null"):
                expected = {"number": "number", "string": "string"}.get(wanted, str(target))
                raise _type_error(name, col, expected, source, line_numbers)
            elif _text_list(target) and _type_family(col.type.value_type) not in ("string", "null"):
                # list<int64> casts to list<string> without a word: refuse it as the records do
                raise _type_error(name, col, "string list", source, line_numbers)
            elif name == "scores" and pa.types.is_struct(col.type):
                try:
                    col = pa.chunked_array(
                        [pa.array([_scores_map(v) for v in col.to_pylist()], target)]
                    )
                except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
                    raise _type_error(
                        name, col, "number map", source, line_numbers, "expected number map"
                    ) from None
            else:
                try:
                    col = col.cast(target)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as err:
                    raise DataError(
                        f"column has type {col.type}, expected {target} ({_short(err)})",
                        source=source,
                        field=name,
                    ) from None
        columns.append(col)
        names.append(name)
    return pa.table(columns, names=names)


def _text_list(arrow_type: pa.DataType) -> bool:
    return pa.types.is_list(arrow_type) and _type_family(arrow_type.value_type) == "string"


def _scores_map(value: Mapping[str, Any] | None) -> list[tuple[str, float]] | None:
    if value is None:
        return None
    return [(k, v) for k, v in value.items() if v is not None]


def _encodable(value: Any) -> bool:
    """Whether every string in ``value`` (nested lists, tuples, dicts) is valid Unicode."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, (list, tuple)):
        return all(_encodable(v) for v in value)
    if isinstance(value, dict):
        return all(_encodable(k) and _encodable(v) for k, v in value.items())
    return True


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _value_ok(value: Any, target: pa.DataType) -> tuple[bool, str]:
    """Whether one value fits a canonical column type, and the type's name."""
    if pa.types.is_floating(target):
        return _is_number(value), "number"
    if pa.types.is_string(target) or pa.types.is_large_string(target):
        return isinstance(value, str), "string"
    if pa.types.is_list(target):
        inner = target.value_type
        if not isinstance(value, (list, tuple)):
            return False, "list"
        if pa.types.is_integer(inner):
            ok = all(isinstance(v, int) and not isinstance(v, bool) for v in value if v is not None)
            return ok, "integer list"
        ok = all(isinstance(v, str) for v in value if v is not None)
        return ok, "string list"
    if pa.types.is_map(target):
        ok = isinstance(value, (list, tuple)) and all(
            isinstance(pair, (list, tuple)) and len(pair) == 2 and _is_number(pair[1])
            for pair in value
        )
        return ok, "number map"
    return True, str(target)


def _check_values(key: str, values: list[Any], target: pa.DataType, source: str | None) -> None:
    """Strict types per value: ``True`` is not a number, ``"0.7"`` is not a number, ``3`` is
    not a string (pyarrow would quietly turn the first into 1.0 and ``1.5`` ranks into 1)."""
    for row, value in enumerate(values):
        if value is None:
            continue
        ok, expected = _value_ok(value, target)
        if not ok:
            if isinstance(value, (list, tuple)) and pa.types.is_map(target):
                value = dict(value) if all(isinstance(p, (list, tuple)) for p in value) else value
            shown = json.dumps(value, ensure_ascii=False, default=str)
            shown = shown if len(shown) <= 40 else shown[:37] + "..."
            raise DataError(
                f"expected {expected}, got {type(value).__name__} {shown}{hint_for(key, value)}",
                source=source,
                row=row,
                field=key,
            )


def records_to_table(
    rows: Sequence[Mapping[str, Any]],
    *,
    source: str | None = None,
    types: Mapping[str, pa.DataType] | None = None,
) -> pa.Table:
    """Arrow table from dicts, with the union of their keys as columns (missing = null).

    ``types`` fixes the Arrow type of known columns; others are inferred.
    """
    types = types or {}
    if ids_as_text_enabled():
        rows = [record_ids_as_text(row) for row in rows]
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    columns = {}
    for key in names:
        values = [row.get(key) for row in rows]
        if key in types:
            _check_values(key, values, types[key], source)
        try:
            columns[key] = pa.array(values, type=types.get(key))
        except UnicodeEncodeError:
            row = next(i for i, v in enumerate(values) if not _encodable(v))
            raise DataError(
                "text holds a lone surrogate such as \\ud800 (not valid Unicode)",
                source=source,
                row=row,
                field=key,
            ) from None
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as err:
            raise DataError(
                f"values of mixed types ({_short(err)})", source=source, field=key
            ) from None
    return pa.table(columns)


def _encode(column: pa.ChunkedArray | pa.Array) -> tuple[list[Any], np.ndarray]:
    """Dictionary-encode a column: (distinct values, int32 index per row; nulls -> len(values))."""
    if isinstance(column, pa.Array):
        column = pa.chunked_array([column])
    if len(column) == 0:  # no rows (a header-only file may still hold one empty chunk)
        return [], np.zeros(0, dtype=np.int32)
    encoded = pa.table({"x": pc.dictionary_encode(column)}).unify_dictionaries().column("x")
    values = encoded.chunk(0).dictionary.to_pylist()
    parts = []
    for chunk in encoded.chunks:
        indices = chunk.indices
        if indices.null_count:
            indices = pc.fill_null(indices, len(values))
        parts.append(indices.to_numpy(zero_copy_only=False))
    return values, np.concatenate(parts).astype(np.int32, copy=False)


def _short(err: Exception) -> str:
    return str(err).splitlines()[0][:200]


class PreferenceDataset:
    """Preference records of one ``kind`` held in an Arrow table, plus metadata.

    Build one with :meth:`from_records`, :meth:`from_pandas`, :meth:`from_arrow`,
    :meth:`from_hf` or :func:`prefkit.data.read`.  The constructor validates the table
    (see :meth:`validate`) and raises :class:`~prefkit.errors.DataError` naming the record and
    field of the first problem.

    Example:
        >>> ds = PreferenceDataset.from_records([
        ...     {"a": "gpt", "b": "llama", "winner": "a"},
        ...     {"a": "llama", "b": "gpt", "winner": "tie", "user_id": "u1"},
        ... ])
        >>> ds.kind, len(ds), ds.items()
        ('pairwise', 2, ['gpt', 'llama'])
    """

    def __init__(
        self,
        table: pa.Table,
        kind: str | None = None,
        *,
        name: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        validate: bool = True,
        line_numbers: np.ndarray | None = None,
    ) -> None:
        if kind is None:
            kind = infer_kind(table.column_names)
        if kind not in KINDS:
            raise DataError(f"unknown kind {kind!r} (expected one of {', '.join(KINDS)})")
        self.kind: str = kind
        self.name: str | None = name
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.table: pa.Table = _conform(table, kind, name, line_numbers)
        if validate:
            self.validate(line_numbers=line_numbers)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_records(
        cls,
        records: Sequence[Mapping[str, Any]],
        kind: str | None = None,
        *,
        name: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> PreferenceDataset:
        """Build from a list of dicts in the canonical record layout (see module docstring)."""
        if not records:
            if kind is None:
                raise DataError("no records", source=name)
            return cls.empty(kind, name=name)
        if kind is None:
            kind = infer_kind(records[0].keys())
        rows = []
        for rec in records:
            row = dict(rec)
            if "meta" in row:
                row["meta"] = _json_or_none(row["meta"])
            if "scores" in row and isinstance(row["scores"], Mapping):
                row["scores"] = _scores_map(row["scores"])
            rows.append(row)
        return cls(
            records_to_table(rows, source=name, types=known_fields(kind)),
            kind,
            name=name,
            metadata=metadata,
        )

    @classmethod
    def empty(cls, kind: str, *, name: str | None = None) -> PreferenceDataset:
        fields = known_fields(kind)
        required = [group[0] for group in REQUIRED[kind]]
        schema = pa.schema([(c, fields[c]) for c in required])
        return cls(schema.empty_table(), kind, name=name, validate=False)

    @classmethod
    def from_arrow(
        cls, table: pa.Table, kind: str | None = None, **kwargs: Any
    ) -> PreferenceDataset:
        return cls(table, kind, **kwargs)

    @classmethod
    def from_pandas(cls, frame: Any, kind: str | None = None, **kwargs: Any) -> PreferenceDataset:
        """Build from a pandas DataFrame whose columns follow the canonical layout."""
        frame = frame.copy()
        if "meta" in frame.columns:
            frame["meta"] = [_json_or_none(v) for v in frame["meta"]]
        if "scores" in frame.columns:
            frame["scores"] = [
                _scores_map(v) if isinstance(v, Mapping) else v for v in frame["scores"]
            ]
        table = pa.Table.from_pandas(frame, preserve_index=False)
        return cls(table, kind, **kwargs)

    @classmethod
    def from_hf(cls, hf_dataset: Any, kind: str | None = None, **kwargs: Any) -> PreferenceDataset:
        """Build from a Hugging Face ``datasets.Dataset`` with canonical column names."""
        return cls(hf_dataset.data.table, kind, **kwargs)

    # ------------------------------------------------------------------ export
    def to_arrow(self) -> pa.Table:
        return self.table

    def to_pandas(self) -> Any:
        return self.table.to_pandas()

    def to_hf(self) -> Any:
        """Return a Hugging Face ``datasets.Dataset`` (needs the ``hf`` extra)."""
        try:
            import datasets
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ImportError(
                "to_hf needs the 'datasets' package: pip install prefkit[hf]"
            ) from err
        return datasets.Dataset(self.table)

    def to_records(self) -> list[dict[str, Any]]:
        """Canonical records (dicts) with null fields left out and ``meta`` decoded."""
        out = []
        for row in self.table.to_pylist():
            rec = {k: v for k, v in row.items() if v is not None}
            if "meta" in rec:
                with contextlib.suppress(TypeError, ValueError, RecursionError):
                    rec["meta"] = json.loads(rec["meta"])
            if "scores" in rec:
                rec["scores"] = dict(rec["scores"])
            out.append(rec)
        return out

    def write(self, path: str, format: str | None = None) -> None:
        """Write to ``.jsonl``, ``.csv`` or ``.parquet`` (atomically: temp file, then rename)."""
        from prefkit.data.writers import write_dataset

        write_dataset(self, path, format=format)

    # ------------------------------------------------------------------ access
    def __len__(self) -> int:
        return self.table.num_rows

    def __repr__(self) -> str:
        label = f" {self.name!r}" if self.name else ""
        return (
            f"PreferenceDataset{label}(kind={self.kind!r}, records={len(self)}, "
            f"columns={self.columns})"
        )

    @property
    def columns(self) -> list[str]:
        return self.table.column_names

    def has(self, column: str) -> bool:
        """True if the column exists and holds at least one non-null value."""
        return column in self.table.column_names and self.table.column(column).null_count < len(
            self
        )

    def column(self, name: str) -> np.ndarray:
        """A column as a NumPy array (object array for strings and lists)."""
        return self.table.column(name).to_numpy(zero_copy_only=False)

    def replace(
        self, table: pa.Table, *, kind: str | None = None, validate: bool = False
    ) -> PreferenceDataset:
        """A new dataset with the same name and metadata and another table."""
        return PreferenceDataset(
            table, kind or self.kind, name=self.name, metadata=self.metadata, validate=validate
        )

    def take(self, indices: Sequence[int] | np.ndarray) -> PreferenceDataset:
        return self.replace(self.table.take(pa.array(np.asarray(indices, dtype=np.int64))))

    def filter(self, mask: Sequence[bool] | np.ndarray) -> PreferenceDataset:
        return self.replace(self.table.filter(pa.array(np.asarray(mask, dtype=bool))))

    def with_column(self, name: str, values: Any) -> PreferenceDataset:
        table = self.table
        if name in table.column_names:
            table = table.drop_columns([name])
        return self.replace(table.append_column(name, pa.array(values)), validate=True)

    @staticmethod
    def concat(datasets: Sequence[PreferenceDataset]) -> PreferenceDataset:
        """Stack datasets of one kind (columns missing from some become null)."""
        if not datasets:
            raise DataError("nothing to concatenate")
        kinds = {d.kind for d in datasets}
        if len(kinds) > 1:
            raise DataError(f"cannot concatenate datasets of different kinds: {sorted(kinds)}")
        table = pa.concat_tables([d.table for d in datasets], promote_options="permissive")
        first = datasets[0]
        return PreferenceDataset(table, first.kind, name=first.name, metadata=first.metadata)

    # ------------------------------------------------------------------ candidates
    def _candidate_column(self, side: str) -> pa.ChunkedArray:
        """Ids of one side of a pairwise dataset, falling back to the text where no id is."""
        ids = self.table.column(side) if side in self.table.column_names else None
        texts = (
            self.table.column(f"{side}_text") if f"{side}_text" in self.table.column_names else None
        )
        if ids is None:
            return texts.cast(pa.string())
        if texts is None:
            return ids
        return pc.coalesce(ids, texts.cast(pa.string()))

    def item_codes(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Integer codes of the two candidates of each pairwise record.

        Returns ``(items, ia, ib)``: the sorted candidate names (ids, or texts where a record has
        no id) and, per record, the positions of ``a`` and ``b`` in that list.
        """
        self._require("pairwise", "item_codes")
        sides = [_encode(self._candidate_column(side)) for side in ("a", "b")]
        names = sorted(set(sides[0][0]) | set(sides[1][0]))
        position = {name: k for k, name in enumerate(names)}
        codes = []
        for values, indices in sides:
            # dictionary codes of this side -> positions in the sorted list (nulls -> -1)
            remap = np.array([position[v] for v in values] + [-1], dtype=np.int64)
            codes.append(remap[indices])
        return names, codes[0], codes[1]

    def items(self) -> list[str]:
        """Sorted distinct candidates (ids, or texts where a record has no id)."""
        if self.kind == "pairwise":
            return self.item_codes()[0]
        if self.kind == "ranking":
            parts = [pc.list_flatten(self.table.column("ranking"))]
            if "unranked" in self.table.column_names:
                parts.append(pc.list_flatten(self.table.column("unranked")))
            values = pa.chunked_array(
                [c for p in parts for c in (p.chunks if hasattr(p, "chunks") else [p])],
                type=pa.string(),
            )
        else:
            values = (
                self.table.column("item")
                if "item" in self.table.column_names
                else self.table.column("text").cast(pa.string())
            )
        uniq = pc.unique(values).drop_null()
        return sorted(uniq.to_pylist())

    def outcomes(self) -> np.ndarray:
        """P(a ≻ b) per pairwise record: 1 if a won, 0 if b won, 0.5 for a tie, else ``p_a``."""
        self._require("pairwise", "outcomes")
        out = np.full(len(self), np.nan)
        if "p_a" in self.table.column_names:
            out = pc.fill_null(self.table.column("p_a"), np.nan).to_numpy(zero_copy_only=False)
            out = np.asarray(out, dtype=float)
        if "winner" in self.table.column_names:
            values, indices = _encode(self.table.column("winner"))
            table = {"a": 1.0, "b": 0.0, "tie": 0.5}
            lookup = np.array([table.get(v, np.nan) for v in values] + [np.nan])
            hard = lookup[indices]
            out = np.where(np.isnan(hard), out, hard)
        return out

    def outcome_codes(self) -> np.ndarray:
        """Per pairwise record, int8: 0 = a won, 1 = b won, 2 = tie, -1 = soft label / none."""
        self._require("pairwise", "outcome_codes")
        if "winner" not in self.table.column_names:
            return np.full(len(self), -1, dtype=np.int8)
        values, indices = _encode(self.table.column("winner"))
        table = {"a": 0, "b": 1, "tie": 2}
        return np.array([table.get(v, -1) for v in values] + [-1], dtype=np.int8)[indices]

    def is_tie(self) -> np.ndarray:
        """Boolean mask of pairwise records whose winner is ``"tie"``."""
        self._require("pairwise", "is_tie")
        if "winner" not in self.table.column_names:
            return np.zeros(len(self), dtype=bool)
        values, indices = _encode(self.table.column("winner"))
        return np.array([v == "tie" for v in values] + [False])[indices]

    def weights(self) -> np.ndarray:
        """Per-record weights (1 where none is given)."""
        if "weight" not in self.table.column_names:
            return np.ones(len(self))
        return pc.fill_null(self.table.column("weight"), 1.0).to_numpy(zero_copy_only=False)

    def _require(self, kind: str, what: str) -> None:
        if self.kind != kind:
            raise DataError(
                f"{what} needs a {kind} dataset, this one is {self.kind}", source=self.name
            )

    # ------------------------------------------------------------------ validation
    def validate(self, *, line_numbers: np.ndarray | None = None) -> PreferenceDataset:
        """Check every record; raise :class:`DataError` naming the first bad record and field.

        ``line_numbers`` (one per record) lets readers of text files report file lines instead of
        record indices.
        """
        from prefkit.data.validate import validate_table

        validate_table(self.table, self.kind, source=self.name, line_numbers=line_numbers)
        return self

    # ------------------------------------------------------------------ summaries & conversions
    def describe(self) -> dict[str, Any]:
        """Counts: records, ties, users, annotators, items, comparison-graph components."""
        from prefkit.data.describe import describe

        return describe(self)

    def to_pairs(self, method: str | None = None, **kwargs: Any) -> PreferenceDataset:
        """Pairwise view: rank breaking for rankings (``method`` full|adjacent, default full),
        binarization for ratings (``method`` all|best_worst|best_rest, default all)."""
        from prefkit.data import convert

        if self.kind == "pairwise":
            return self
        if self.kind == "ranking":
            return convert.ranking_to_pairs(self, method=method or "full", **kwargs)
        return convert.ratings_to_pairs(self, method=method or "all", **kwargs)

    def aggregate_annotators(self, method: str = "majority", **kwargs: Any) -> PreferenceDataset:
        """Collapse per-annotator pairwise rows to one row per comparison."""
        from prefkit.data import convert

        return convert.aggregate_annotators(self, method=method, **kwargs)

    def split(
        self, by: str = "random", test_size: float = 0.2, seed: int = 0
    ) -> tuple[PreferenceDataset, PreferenceDataset]:
        """Train/test split by ``random``, ``prompt``, ``user`` or ``item`` (leakage-checked)."""
        from prefkit.data.split import split

        return split(self, by=by, test_size=test_size, seed=seed)
