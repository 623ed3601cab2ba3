"""Arrow's multithreaded JSON-lines reader and the fast-path table helpers adapters share.

Internal: adapters import this module, never each other.  :func:`read_json_fast` returns ``None``
whenever Arrow cannot read a file, so the caller falls back to the record-by-record path (which
names the line of any problem).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.json as pajson

_ARROW_COMPRESSION = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd", ".zstd": "zstd"}


def arrow_stream(path: str) -> Any:
    """A streaming Arrow input for plain/gz/bz2/zst files (``None`` for other compressions),
    opened only after the limits and every line's size and nesting depth have been checked
    (:func:`prefkit.data.io.json_lines_stream`): Arrow's reader segfaults on deep nesting."""
    from prefkit.data.io import json_lines_stream

    return json_lines_stream(path)


def read_json_fast(path: str) -> pa.Table | None:
    """Arrow's streaming JSON-lines reader; ``None`` when it cannot read the file.

    Blocks of 1 MiB are parsed in parallel and only the parsed batches are kept, so peak memory
    stays near the size of the resulting table.  Files whose later lines change a field's type
    are retried with whole-file type inference, and failing that left to the slow, line-by-line
    path that reports the exact line.
    """
    options = pajson.ReadOptions(block_size=1 << 20, use_threads=True)
    errors = (
        pa.ArrowInvalid,
        pa.ArrowNotImplementedError,
        pa.ArrowTypeError,
        OSError,
        UnicodeError,
    )
    stream = arrow_stream(path)
    if stream is None:
        return None
    try:
        with stream:
            reader = pajson.open_json(stream, read_options=options)
            return _valid_utf8(pa.Table.from_batches(list(reader), schema=reader.schema))
    except errors:
        pass
    stream = arrow_stream(path)
    try:
        with stream:
            table = pajson.read_json(stream, read_options=pajson.ReadOptions(block_size=16 << 20))
            return _valid_utf8(table)
    except errors:
        return None


def _valid_utf8(table: pa.Table) -> pa.Table:
    """``table`` if its strings are valid UTF-8; Arrow's JSON reader does not check (ArrowInvalid).

    The slow path then names the line of the bad byte.
    """
    table.validate(full=True)
    return table


def is_text(col: pa.ChunkedArray) -> bool:
    return pa.types.is_string(col.type) or pa.types.is_large_string(col.type)


def is_bool(col: pa.ChunkedArray) -> bool:
    return pa.types.is_boolean(col.type)


def fast_table(
    path: str, text_fields: Sequence[str], kinds: dict[str, Any] | None = None
) -> pa.Table | None:
    """The file through Arrow's multithreaded JSON-lines reader, when every ``text_fields`` column
    is non-null text (and every ``kinds`` column non-null of that Arrow type check), and no other
    column is nested; else ``None`` (then the record-by-record path finds any problem's line)."""
    table = read_json_fast(path)
    if table is None or table.num_rows == 0:
        return None
    checks = {**dict.fromkeys(text_fields, is_text), **(kinds or {})}
    for name, check in checks.items():
        if name not in table.column_names:
            return None
        col = table.column(name)
        if not check(col) or col.null_count:
            return None
    if any(pa.types.is_nested(f.type) for f in table.schema if f.name not in checks):
        return None
    return table


def fast_extras(table: pa.Table, used: Sequence[str], reserved: set[str]) -> dict[str, Any]:
    """Covariate columns of a fast-path table (``orig_<name>`` for reserved names)."""
    out: dict[str, Any] = {}
    for name in table.column_names:
        if name in used:
            continue
        key = name
        while key in reserved or key in out:
            key = f"orig_{key}"
        out[key] = table.column(name)
    return out
