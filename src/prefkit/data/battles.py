"""Plain battle logs straight to integer codes: the two items and the winner of each battle of a
Parquet or JSON-lines file as NumPy arrays, without building a
:class:`~prefkit.data.schema.PreferenceDataset`.

A covariate-free pairwise model sees the data only through its win/tie count table
(:mod:`prefkit.choice.counts`), i.e. through each battle's two item codes and its outcome.  For a
file that holds nothing but three text columns — prefkit's ``a``, ``b``, ``winner``
(``a``/``b``/``tie``), or LMArena's ``model_a``, ``model_b``, ``winner``
(``model_a``/``model_b``/``tie``/``tie (bothbad)``, as the ``arena`` reader reads them) —
:func:`read_battle_codes` reads just those columns — Parquet as
dictionary arrays (``read_dictionary``), JSON lines through Arrow's reader with an explicit
schema after the same line-size and nesting-depth guard as the general reader — and takes the
codes from the dictionary indices with NumPy.  Nothing is converted to Python objects except the
(few) distinct names.

Anything else returns ``None`` — other columns, a null, an empty or over-long name, a label
other than ``a``/``b``/``tie``, an item compared with itself, bytes that are not UTF-8, a file
Arrow cannot read — and the caller takes the general reader, which validates every record and
names the line of any problem.  So whenever this returns codes, they equal
``PreferenceDataset.item_codes()`` / ``outcome_codes()`` of the general reader's dataset
(``tests/data/test_battles.py``).

Integer ids (``"a": 17``, an integer ``model_a`` column) are read only with ``ids_as_text=True``,
as their decimal text, like ``read(path, ids_as_text=True)`` reads them (:mod:`prefkit.data.ids`;
``tests/data/test_ids_as_text.py``); without it such a file goes to the general reader, whose
error names the option.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from prefkit.core.limits import LIMITS
from prefkit.errors import PrefkitError

#: the columns (JSON keys) of a plain battle log, and the outcome code of each winner label
COLUMNS = ("a", "b", "winner")
OUTCOME_CODES = {"a": 0, "b": 1, "tie": 2}
#: the layouts read here: their three columns, and the outcome code of each winner label
LAYOUTS: dict[str, tuple[tuple[str, str, str], dict[str, int]]] = {
    "plain": (COLUMNS, OUTCOME_CODES),
    "arena": (("model_a", "model_b", "winner"),
              {"model_a": 0, "model_b": 1, "tie": 2, "tie (bothbad)": 2}),
}
PARQUET_SUFFIXES = (".parquet",)
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".jsonl.gz", ".jsonl.bz2", ".jsonl.zst", ".jsonl.zstd",
                  ".ndjson.gz", ".ndjson.bz2", ".ndjson.zst", ".ndjson.zstd")


@dataclass
class BattleCodes:
    """Battles as codes: ``items`` sorted; ``ia``/``ib`` positions in it; ``outcome`` int8 with
    0 = a won, 1 = b won, 2 = tie (the form :func:`prefkit.choice.counts.count_outcomes` takes)."""

    items: list[str]
    ia: np.ndarray
    ib: np.ndarray
    outcome: np.ndarray
    source: str

    def __len__(self) -> int:
        return int(self.ia.size)


def battle_file_format(path: str | os.PathLike[str], file_format: str = "auto") -> str | None:
    """``"parquet"`` or ``"jsonl"`` when :func:`read_battle_codes` may read ``path`` with
    ``file_format`` (auto, jsonl, arena, parquet), else ``None``."""
    name = os.fspath(path).lower()
    if file_format in ("auto", "parquet") and name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if file_format in ("auto", "jsonl", "arena") and name.endswith(JSONL_SUFFIXES):
        return "jsonl"
    return None


def _layout(names: list[str], file_format: str) -> str | None:
    """The layout whose three columns are exactly ``names`` (and that ``file_format`` reads)."""
    for layout, (columns, _) in LAYOUTS.items():
        if sorted(names) == sorted(columns):
            allowed = {"plain": ("auto", "jsonl", "parquet"), "arena": ("auto", "arena",
                                                                        "parquet")}[layout]
            return layout if file_format in allowed else None
    return None


def read_battle_codes(
    path: str | os.PathLike[str], file_format: str = "auto", *, ids_as_text: bool = False
) -> BattleCodes | None:
    """The battles of a plain ``a``/``b``/``winner`` file as codes, or ``None`` (see the module
    docstring: then read the file with :func:`prefkit.data.read`, which reports any problem).
    ``ids_as_text``: integer ids are read as their decimal text (else ``None`` for them)."""
    name = os.fspath(path)
    kind = battle_file_format(name, file_format)
    if kind is None:
        return None
    import pyarrow as pa

    try:
        if kind == "parquet":
            found = _parquet_columns(name, file_format, ids_as_text)
        else:
            found = _jsonl_columns(name, file_format, ids_as_text)
        return None if found is None else _codes(*found, name)
    except PrefkitError:
        raise  # a broken limit (line size, nesting depth): the general reader would say the same
    except (pa.ArrowException, OSError, ValueError):
        return None


def _parquet_columns(
    path: str, file_format: str, ids_as_text: bool
) -> tuple[list[Any], dict[str, int]] | None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    with open(path, "rb") as fh:
        if fh.read(4) != b"PAR1":
            return None
    with pq.ParquetFile(path) as parquet:
        schema = parquet.schema_arrow
    layout = _layout(schema.names, file_format)
    kind = (schema.metadata or {}).get(b"prefkit.kind")
    if layout is None or kind not in (None, b"pairwise"):
        return None
    columns, labels = LAYOUTS[layout]
    integer = {c for c in columns[:2] if pa.types.is_integer(schema.field(c).type)}
    if integer and not ids_as_text:
        return None  # the general reader's error names the option
    text = [c for c in columns if c not in integer]
    with pq.ParquetFile(path, read_dictionary=text) as parquet:
        table = parquet.read(columns=list(columns))
    return [_text_dictionary(table.column(c)) if c in integer else table.column(c)
            for c in columns], labels


def _first_keys(path: str) -> list[str] | None:
    """The keys of the first record of a JSON-lines file (``None``: not one flat object)."""
    import json

    from prefkit.data.io import head_bytes

    line = head_bytes(path, 65536).split(b"\n", 1)[0]
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        return None
    return list(record) if isinstance(record, dict) else None


def _jsonl_columns(
    path: str, file_format: str, ids_as_text: bool
) -> tuple[list[Any], dict[str, int]] | None:
    import pyarrow as pa

    keys = _first_keys(path)
    layout = None if keys is None else _layout(keys, file_format)
    if layout is None:
        return None
    columns, labels = LAYOUTS[layout]
    table = _read_jsonl(path, [(c, pa.string()) for c in columns])
    if table is None:
        return None
    if isinstance(table, pa.ArrowInvalid):  # not all text
        if not ids_as_text:
            return None
        # both ids integers in every line (a mix of text and integers: the general reader)
        table = _read_jsonl(path, [(c, pa.int64() if c in columns[:2] else pa.string())
                                   for c in columns])
        if not isinstance(table, pa.Table):
            return None
    return [_text_dictionary(table.column(c)) for c in columns], labels


def _read_jsonl(path: str, fields: list[tuple[str, Any]]) -> Any:
    """The JSON-lines file read with an explicit schema of exactly ``fields``; the ArrowInvalid
    (returned) when a value does not fit; ``None`` for compressions Arrow cannot stream."""
    import pyarrow as pa
    import pyarrow.json as pajson

    from prefkit.data.io import json_lines_stream

    stream = json_lines_stream(path)  # size and nesting-depth guard first (DataError: raised)
    if stream is None:
        return None
    parse = pajson.ParseOptions(explicit_schema=pa.schema(fields),
                                unexpected_field_behavior="error")
    read = pajson.ReadOptions(block_size=1 << 20, use_threads=True)
    with stream:
        try:
            reader = pajson.open_json(stream, read_options=read, parse_options=parse)
            return pa.Table.from_batches(list(reader), schema=reader.schema)
        except pa.ArrowInvalid as err:
            return err


def _text_dictionary(column: Any) -> Any:
    """A text or integer column as a dictionary of text (an integer as its decimal text)."""
    import pyarrow as pa
    from pyarrow import _compute  # the kernels alone: pyarrow.compute's wrappers cost ~60 ms

    chunks = column.chunks
    if pa.types.is_integer(column.type):
        to_text = _compute.CastOptions.safe(pa.string())
        chunks = [_compute.call_function("cast", [chunk], to_text) for chunk in chunks]
    return pa.chunked_array(
        [_compute.call_function("dictionary_encode", [chunk]) for chunk in chunks],
        type=pa.dictionary(pa.int32(), pa.string()),
    )


def _dictionary_chunks(column: Any) -> list[tuple[list[str], np.ndarray]] | None:
    """(dictionary values, indices) per chunk of a dictionary column; ``None`` on a null, a
    dictionary that is not text, or text that is not valid UTF-8."""
    import pyarrow as pa

    if not pa.types.is_dictionary(column.type):
        return None
    if not (pa.types.is_string(column.type.value_type)
            or pa.types.is_large_string(column.type.value_type)):
        return None
    chunks = []
    for chunk in column.chunks:
        if chunk.null_count or chunk.dictionary.null_count:
            return None
        chunk.dictionary.validate(full=True)  # UTF-8 (ArrowInvalid: the general reader says where)
        chunks.append((chunk.dictionary.to_pylist(), _indices(chunk.indices)))
    return chunks


def _indices(indices: Any) -> np.ndarray:
    """The integer indices of a null-free dictionary chunk, read from its data buffer (Arrow's
    ``to_numpy`` imports pandas, ~0.3 s, to check for it)."""
    dtype = np.dtype(indices.type.to_pandas_dtype())
    buffer = indices.buffers()[1]
    return np.frombuffer(buffer, dtype=dtype, count=len(indices),
                         offset=indices.offset * dtype.itemsize)


def _used(chunks: list[tuple[list[str], np.ndarray]]) -> set[str]:
    names: set[str] = set()
    for values, indices in chunks:
        if indices.size:
            seen = np.bincount(indices, minlength=len(values)) > 0
            names.update(v for v, s in zip(values, seen, strict=True) if s)
    return names


def _encode(chunks: list[tuple[list[str], np.ndarray]], position: dict[str, int],
            dtype: Any) -> np.ndarray:
    parts = [np.array([position.get(v, -1) for v in values], dtype=dtype)[indices]
             for values, indices in chunks]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)


def _codes(columns: list[Any], labels: dict[str, int], source: str) -> BattleCodes | None:
    sides = [_dictionary_chunks(c) for c in columns]
    if any(s is None for s in sides):
        return None
    a_chunks, b_chunks, w_chunks = sides  # type: ignore[misc]
    names = _used(a_chunks) | _used(b_chunks)
    limit = LIMITS.max_text_chars
    if not names or any(not n or len(n) > limit for n in names):
        return None  # empty or over-long names: the general reader reports them
    if not _used(w_chunks) <= set(labels):
        return None
    items = sorted(names)
    position = {n: k for k, n in enumerate(items)}
    ia = _encode(a_chunks, position, np.int64)
    ib = _encode(b_chunks, position, np.int64)
    if ia.size == 0 or bool(np.any(ia == ib)):
        return None  # an item compared with itself: the general reader names the record
    outcome = _encode(w_chunks, labels, np.int8)
    return BattleCodes(items, ia, ib, outcome, source)
