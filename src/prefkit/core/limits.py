"""Bounds on untrusted input: files, records, texts, JSON nesting, model directories.

Files and model directories come from strangers.  Every bound here is generous but finite, and
each can be raised with an environment variable (read when the limit is checked)::

    PREFKIT_MAX_EXPANDED_BYTES   decompressed size of one input file        (default 8 GiB)
    PREFKIT_MAX_EXPANSION_RATIO  decompressed / compressed size, past 256 MiB (default 200)
    PREFKIT_MAX_RECORD_BYTES     bytes of one record (one JSON line / row)  (default 64 MiB)
    PREFKIT_MAX_TEXT_CHARS       characters of one text field               (default 8,000,000)
    PREFKIT_MAX_JSON_DEPTH       nesting depth of one JSON value            (default 64)
    PREFKIT_MAX_CONFIG_BYTES     size of a model's JSON config              (default 64 MiB)
    PREFKIT_MAX_ARRAY_BYTES      size of one stored array of a model        (default 16 GiB)

:func:`read_config` reads a model config from a regular file only (never a FIFO, a device or a
symlink to one), bounded in size and nesting, and :func:`check_inside` refuses a path recorded in
a model file that would lead out of the model's directory.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from prefkit.errors import DataError, ModelFileError

GiB = 1 << 30
MiB = 1 << 20


@dataclass(frozen=True)
class Limits:
    max_expanded_bytes: int = 8 * GiB
    max_expansion_ratio: int = 200
    max_record_bytes: int = 64 * MiB
    max_text_chars: int = 8_000_000
    max_json_depth: int = 64
    max_config_bytes: int = 64 * MiB
    max_array_bytes: int = 16 * GiB

    @staticmethod
    def env_name(field: str) -> str:
        return "PREFKIT_" + field.upper()

    def __getattribute__(self, name: str) -> Any:
        value = object.__getattribute__(self, name)
        if name.startswith("max_"):
            raw = os.environ.get("PREFKIT_" + name.upper())
            if raw:
                try:
                    return int(float(raw))
                except ValueError:
                    return value
        return value

    def describe(self, field: str) -> str:
        """``'max_json_depth = 64 (raise with PREFKIT_MAX_JSON_DEPTH)'``."""
        return f"{field} = {getattr(self, field)} (raise with {self.env_name(field)})"


#: the limits in force (environment variables override the defaults)
LIMITS = Limits()
LIMIT_FIELDS = tuple(f.name for f in fields(Limits))


def json_depth_ok(text: str | bytes, limit: int | None = None) -> bool:
    """Whether the bracket nesting of a JSON text stays within ``limit`` (strings skipped).

    A cheap upper-bound check: when the text has fewer ``{``/``[`` than the limit it is accepted
    without scanning.
    """
    limit = LIMITS.max_json_depth if limit is None else limit
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    if data.count(b"{") + data.count(b"[") <= limit:
        return True
    depth = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x7B, 0x5B):
            depth += 1
            if depth > limit:
                return False
        elif byte in (0x7D, 0x5D):
            depth -= 1
    return True


def parse_json_line(line: str | bytes, source: str, number: int | None = None) -> Any:
    """One JSON value from a stranger's file (a JSON line, or a whole small document), bounded
    in size and nesting; any failure is a one-line :class:`DataError` naming ``source:number``.
    """
    if len(line) > LIMITS.max_record_bytes:
        raise DataError(f"record larger than {LIMITS.describe('max_record_bytes')}",
                        source=source, line=number)
    if not json_depth_ok(line):
        raise DataError(f"nesting deeper than {LIMITS.describe('max_json_depth')}",
                        source=source, line=number)
    try:
        return json.loads(line)
    except (ValueError, RecursionError) as err:
        reason = f"not JSON ({err.msg})" if isinstance(err, json.JSONDecodeError) else "not JSON"
        raise DataError(reason, source=source, line=number) from None


def regular_file(path: str | os.PathLike[str], what: str = "file") -> Path:
    """``path`` if it is a regular file (symlinks followed); a one-line ModelFileError if not."""
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise ModelFileError(f"{p}: no such {what}") from None
    except OSError as err:
        raise ModelFileError(f"{p}: cannot read {what} ({err.strerror or err})") from None
    if not stat.S_ISREG(st.st_mode):
        raise ModelFileError(f"{p}: not a regular file")
    return p


def read_config(path: str | os.PathLike[str], *, what: str = "model config") -> dict[str, Any]:
    """A JSON object from a regular file, bounded in size and nesting depth."""
    p = regular_file(path, what)
    limit = LIMITS.max_config_bytes
    try:
        with open(p, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as err:
        raise ModelFileError(f"{p}: cannot read {what} ({err.strerror or err})") from None
    if len(data) > limit:
        raise ModelFileError(f"{p}: {what} larger than {LIMITS.describe('max_config_bytes')}")
    if not json_depth_ok(data):
        raise ModelFileError(f"{p}: nesting deeper than {LIMITS.describe('max_json_depth')}")
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise ModelFileError(f"{p}: {what} is not valid JSON ({err})") from None
    if not isinstance(doc, dict):
        raise ModelFileError(f"{p}: {what} must be a JSON object, not {type(doc).__name__}")
    return doc


def check_inside(path: str | os.PathLike[str], root: str | os.PathLike[str]) -> Path:
    """``root/path`` resolved, if it stays inside ``root``; a one-line ModelFileError if not.

    For paths recorded in model files (an encoder, a base model): those are followed only inside
    the model's own directory; anything else must be given by the user explicitly.
    """
    base = Path(root).resolve()
    candidate = Path(path)
    full = (candidate if candidate.is_absolute() else base / candidate).resolve()
    if full != base and base not in full.parents:
        raise ModelFileError(
            f"{root}: refers to {os.fspath(path)!r} outside the model directory; "
            "pass that path explicitly if you trust it"
        )
    return full
