"""Limits on untrusted data files, as the data layer applies them.

The values live in :data:`prefkit.core.limits.LIMITS` (one place for the whole package; each is
raised with an environment variable ``PREFKIT_MAX_…``).  This module turns a broken limit into
a one-line :class:`~prefkit.errors.DataError` that names the limit and how to raise it::

    battles.jsonl:2: nesting deeper than 64 (limit max_json_depth = 64; raise it with
    PREFKIT_MAX_JSON_DEPTH)

Limits (see ``docs/format.md``, "Limits"):

``max_expanded_bytes``
    decompressed size of one input file (all formats, compressed or not);
``max_expansion_ratio``
    decompressed size / compressed file size, checked once 256 MiB have been decompressed
    (a decompression bomb: 1.5 MB of gzip expanding to 1.5 GB);
``max_record_bytes``
    bytes of one line of a JSON-lines or CSV file;
``max_text_chars``
    characters of one text cell (prompt, response, id …) of a dataset;
``max_json_depth``
    nesting depth of one JSON value (Arrow's JSON reader crashes on ~20,000 levels and Python's
    on ~1,000).
"""

from __future__ import annotations

from prefkit.core.limits import LIMIT_FIELDS, LIMITS, Limits
from prefkit.errors import DataError

#: expansion ratios are judged only past this many decompressed bytes (small files may compress
#: very well: a file of identical lines)
RATIO_FLOOR_BYTES = 256 << 20

__all__ = [
    "LIMITS",
    "LIMIT_FIELDS",
    "RATIO_FLOOR_BYTES",
    "Limits",
    "allowed_expanded_bytes",
    "limit_error",
]


def limit_error(
    what: str,
    limit_field: str,
    *,
    source: str | None = None,
    line: int | None = None,
    row: int | None = None,
    field: str | None = None,
) -> DataError:
    """``what`` + the limit in force and its environment variable, as a DataError."""
    value = getattr(LIMITS, limit_field)
    env = Limits.env_name(limit_field)
    return DataError(
        f"{what} (limit {limit_field} = {value}; raise it with {env})",
        source=source,
        line=line,
        row=row,
        field=field,
    )


def allowed_expanded_bytes(compressed_size: int | None) -> tuple[int, str]:
    """The decompressed bytes a file of ``compressed_size`` bytes may expand to, and the name of
    the limit that sets it (``None`` size: an uncompressed file, only the absolute limit)."""
    absolute = LIMITS.max_expanded_bytes
    if compressed_size is None:
        return absolute, "max_expanded_bytes"
    by_ratio = max(RATIO_FLOOR_BYTES, LIMITS.max_expansion_ratio * max(compressed_size, 1))
    if by_ratio < absolute:
        return by_ratio, "max_expansion_ratio"
    return absolute, "max_expanded_bytes"
