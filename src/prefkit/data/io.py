"""File plumbing shared by readers and writers: transparent decompression, atomic writes."""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from prefkit.errors import DataError

COMPRESSED_SUFFIXES = (".gz", ".zip", ".zst", ".zstd", ".bz2", ".xz")


def strip_compression(name: str) -> str:
    """``battles.jsonl.gz`` -> ``battles.jsonl``."""
    lower = name.lower()
    for suffix in COMPRESSED_SUFFIXES:
        if lower.endswith(suffix):
            return name[: -len(suffix)]
    return name


def data_suffix(path: str | os.PathLike[str]) -> str:
    """The format suffix under any compression suffix: ``x.jsonl.gz`` -> ``.jsonl``."""
    return Path(strip_compression(Path(path).name)).suffix.lower()


def _zip_member(archive: zipfile.ZipFile, path: str) -> str:
    members = [
        m
        for m in archive.namelist()
        if not m.endswith("/") and not Path(m).name.startswith(".") and "__MACOSX" not in m
    ]
    if not members:
        raise DataError("zip archive holds no file", source=path)
    if len(members) > 1:
        inner = strip_compression(Path(path).name)
        matching = [m for m in members if Path(m).name == inner]
        if len(matching) != 1:
            raise DataError(f"zip archive holds {len(members)} files; expected one", source=path)
        return matching[0]
    return members[0]


@contextlib.contextmanager
def open_binary(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """Open a plain, ``.gz``, ``.zip`` (one member), ``.zst``, ``.bz2`` or ``.xz`` file."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise DataError("no such file", source=path)
    if os.path.isdir(path):
        raise DataError("is a directory, expected a file", source=path)
    lower = path.lower()
    try:
        if lower.endswith(".gz"):
            with gzip.open(path, "rb") as fh:
                yield fh
        elif lower.endswith(".zip"):
            with zipfile.ZipFile(path) as archive, archive.open(_zip_member(archive, path)) as fh:
                yield fh
        elif lower.endswith((".zst", ".zstd")):
            import zstandard

            with open(path, "rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw) as fh:
                yield io.BufferedReader(fh)  # type: ignore[arg-type]
        elif lower.endswith(".bz2"):
            import bz2

            with bz2.open(path, "rb") as fh:
                yield fh
        elif lower.endswith(".xz"):
            import lzma

            with lzma.open(path, "rb") as fh:
                yield fh
        else:
            with open(path, "rb") as fh:
                yield fh
    except (OSError, EOFError, zipfile.BadZipFile) as err:
        if isinstance(err, DataError):
            raise
        raise DataError(f"cannot read compressed file ({err})", source=path) from None


def read_bytes(path: str | os.PathLike[str]) -> bytes:
    """Whole (decompressed) content of a file."""
    with open_binary(path) as fh:
        try:
            return fh.read()
        except (OSError, EOFError, zipfile.BadZipFile) as err:
            raise DataError(f"cannot read file ({err})", source=os.fspath(path)) from None


def decode_text(data: bytes, source: str) -> str:
    """UTF-8 (with or without BOM); a bad byte gives the line where it is."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise DataError(
            f"not valid UTF-8 (byte 0x{data[err.start]:02x} at offset {err.start})",
            source=source,
            line=line,
        ) from None


def read_text(path: str | os.PathLike[str]) -> str:
    return decode_text(read_bytes(path), os.fspath(path))


def head_bytes(path: str | os.PathLike[str], size: int = 65536) -> bytes:
    """The first ``size`` decompressed bytes of a file (for format sniffing)."""
    with open_binary(path) as fh:
        try:
            return fh.read(size)
        except (OSError, EOFError, zipfile.BadZipFile) as err:
            raise DataError(f"cannot read file ({err})", source=os.fspath(path)) from None


def csv_delimiter(header_line: str, path: str | os.PathLike[str] = "") -> str:
    """The delimiter of a CSV-like file: tab for ``.tsv`` names or a header with tabs, else the
    more frequent of comma and semicolon in the header (comma on a tie: European-locale
    spreadsheets export ``;``-separated CSV)."""
    name = strip_compression(os.fspath(path).lower())
    if name.endswith(".tsv") or "\t" in header_line:
        return "\t"
    return ";" if header_line.count(";") > header_line.count(",") else ","


def head_line(path: str | os.PathLike[str]) -> str:
    """The first line of a (possibly compressed) text file, BOM removed (for sniffing)."""
    raw = head_bytes(path, 65536).split(b"\n", 1)[0]
    return raw.decode("utf-8", errors="replace").lstrip("\ufeff").rstrip("\r")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[str]:
    """Yield a temporary path beside ``path``; rename it over ``path`` only on success.

    Nothing half-written is ever left at ``path``: on any error the temporary file is removed.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=Path(path).suffix, dir=directory)
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)


def save_figure(fig: Any, path: str | os.PathLike[str]) -> None:
    """Save a matplotlib figure atomically (format from the suffix, PNG by default)."""
    fmt = Path(path).suffix.lstrip(".") or "png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=120)
