"""File plumbing shared by readers and writers: safe opening, transparent decompression with
limits, atomic writes (re-exported from :mod:`prefkit.core.atomic`).

Every input file goes through :func:`check_input_file` first: it must be a regular file (a FIFO
would block every command forever, a device such as ``/dev/zero`` never ends), and a missing
file, a directory or a symbolic-link loop each get their own one-line error.  Decompressed bytes
are bounded (:mod:`prefkit.data.limits`): a decompression bomb stops with an error naming the
limit instead of filling memory.  A ``.zst`` file must end with a complete frame, like ``.gz``,
``.bz2`` and ``.xz`` files must.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import io
import os
import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from prefkit.core.atomic import atomic_path, atomic_write_text
from prefkit.data.limits import allowed_expanded_bytes, limit_error
from prefkit.errors import DataError

__all__ = [
    "COMPRESSED_SUFFIXES",
    "atomic_path",
    "atomic_write_text",
    "check_input_file",
    "check_json_lines_file",
    "csv_delimiter",
    "data_suffix",
    "decode_text",
    "head_bytes",
    "head_line",
    "json_lines_stream",
    "open_binary",
    "read_bytes",
    "read_text",
    "save_figure",
    "strip_compression",
]

COMPRESSED_SUFFIXES = (".gz", ".zip", ".zst", ".zstd", ".bz2", ".xz")
_READ_CHUNK = 16 << 20


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


_FILE_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def check_input_file(path: str | os.PathLike[str]) -> os.stat_result:
    """The ``stat`` of ``path`` if it is a regular file (symlinks followed), else a one-line
    DataError: no such file, a broken symbolic link, a symbolic link loop, a directory, not a
    regular file (FIFO, device, socket), permission denied."""
    path = os.fspath(path)
    try:
        st = os.stat(path)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise DataError("symbolic link loop", source=path) from None
        if err.errno == errno.ENOENT:
            if os.path.islink(path):
                target = os.readlink(path)
                raise DataError(f"broken symbolic link (to {target!r})", source=path) from None
            raise DataError("no such file", source=path) from None
        if err.errno == errno.EACCES:
            raise DataError("permission denied", source=path) from None
        raise DataError(f"cannot open ({err.strerror or err})", source=path) from None
    if stat.S_ISDIR(st.st_mode):
        raise DataError("is a directory, expected a file", source=path)
    if not stat.S_ISREG(st.st_mode):
        what = next((name for test, name in _FILE_KINDS if test(st.st_mode)), "not a file")
        raise DataError(f"not a regular file but {what}; copy it to a file first", source=path)
    return st


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


_ZSTD_MAGIC = 0xFD2FB528


def check_zstd_frames(raw: IO[bytes], size: int, source: str) -> None:
    """Walk the frames of a zstd file (RFC 8878, section 3.1) without decompressing: every
    frame must be complete (its last block and checksum inside the file).

    zstd's streaming decoders stop quietly at the end of a truncated frame, so without this
    check a cut-off ``.zst`` file reads as a shorter valid one.
    """
    pos = 0

    def need(n: int) -> bytes:
        raw.seek(pos)
        data = raw.read(n)
        if len(data) < n:
            raise DataError("truncated zstd file (incomplete frame)", source=source)
        return data

    while pos < size:
        magic = int.from_bytes(need(4), "little")
        if 0x184D2A50 <= magic <= 0x184D2A5F:  # skippable frame
            pos += 4
            skip = int.from_bytes(need(4), "little")
            pos += 4 + skip
            if pos > size:
                raise DataError("truncated zstd file (incomplete frame)", source=source)
            continue
        if magic != _ZSTD_MAGIC:
            raise DataError("not a zstd file (bad frame magic number)", source=source)
        pos += 4
        descriptor = need(1)[0]
        single_segment = bool(descriptor & 0x20)
        checksum = bool(descriptor & 0x04)
        dict_bytes = (0, 1, 2, 4)[descriptor & 0x03]
        fcs_flag = descriptor >> 6
        fcs_bytes = (1 if single_segment else 0, 2, 4, 8)[fcs_flag]
        pos += 1 + (0 if single_segment else 1) + dict_bytes + fcs_bytes
        while True:
            header = int.from_bytes(need(3), "little")
            last, block_type, block_size = header & 1, (header >> 1) & 3, header >> 3
            if block_type == 3:
                raise DataError("corrupt zstd file (reserved block type)", source=source)
            pos += 3 + (1 if block_type == 1 else block_size)
            if pos > size:
                raise DataError("truncated zstd file (incomplete frame)", source=source)
            if last:
                break
        if checksum:
            pos += 4
            if pos > size:
                raise DataError("truncated zstd file (incomplete frame)", source=source)
    raw.seek(0)


class _Bounded(io.RawIOBase):
    """A readable stream that counts the (decompressed) bytes read through it and raises a
    DataError naming the limit once they pass ``allowed``."""

    def __init__(self, inner: Any, allowed: int, limit_name: str, source: str) -> None:
        self._inner = inner
        self._allowed = allowed
        self._limit_name = limit_name
        self._source = source
        self.count = 0

    def readable(self) -> bool:
        return True

    def _counted(self, n: int) -> None:
        self.count += n
        if self.count > self._allowed:
            if self._limit_name == "max_expansion_ratio":
                what = f"decompresses to more than {self._allowed} bytes (a decompression bomb?)"
            else:
                what = f"larger than {self._allowed} bytes once decompressed"
            raise limit_error(what, self._limit_name, source=self._source)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def read(self, size: int | None = -1) -> bytes:
        try:
            if size is None or size < 0:
                parts = []
                while chunk := self._inner.read(_READ_CHUNK):
                    self._counted(len(chunk))
                    parts.append(chunk)
                return b"".join(parts)
            data = self._inner.read(size)
        except (OSError, EOFError, zipfile.BadZipFile) as err:
            raise DataError(f"cannot read compressed file ({err})", source=self._source) from None
        except Exception as err:  # zstd's ZstdError and lzma's LZMAError are not OSErrors
            if type(err).__name__ not in ("ZstdError", "LZMAError"):
                raise
            raise DataError(f"cannot read compressed file ({err})", source=self._source) from None
        self._counted(len(data))
        return data

    def readall(self) -> bytes:
        return self.read(-1)


@contextlib.contextmanager
def open_binary(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """Open a plain, ``.gz``, ``.zip`` (one member), ``.zst``, ``.bz2`` or ``.xz`` file.

    The file must be a regular file (:func:`check_input_file`); what is read from it is bounded
    by ``LIMITS.max_expanded_bytes`` (and, compressed, ``LIMITS.max_expansion_ratio``).
    """
    path = os.fspath(path)
    st = check_input_file(path)
    lower = path.lower()
    compressed = lower.endswith(COMPRESSED_SUFFIXES)
    allowed, limit_name = allowed_expanded_bytes(st.st_size if compressed else None)
    if not compressed and st.st_size > allowed:
        raise limit_error(f"larger than {allowed} bytes", limit_name, source=path)
    try:
        with contextlib.ExitStack() as stack:
            raw = stack.enter_context(open(path, "rb"))
            if lower.endswith(".gz"):
                inner: Any = stack.enter_context(gzip.GzipFile(fileobj=raw, mode="rb"))
            elif lower.endswith(".zip"):
                archive = stack.enter_context(zipfile.ZipFile(raw))
                inner = stack.enter_context(archive.open(_zip_member(archive, path)))
            elif lower.endswith((".zst", ".zstd")):
                import zstandard

                check_zstd_frames(raw, st.st_size, path)
                inner = stack.enter_context(
                    zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
                )
            elif lower.endswith(".bz2"):
                import bz2

                inner = stack.enter_context(bz2.BZ2File(raw, "rb"))
            elif lower.endswith(".xz"):
                import lzma

                inner = stack.enter_context(lzma.LZMAFile(raw, "rb"))
            else:
                inner = raw
            # a plain file's size was checked above: hand it over as it is (one allocation)
            yield _Bounded(inner, allowed, limit_name, path) if compressed else inner
    except (OSError, EOFError, zipfile.BadZipFile) as err:
        raise DataError(f"cannot read compressed file ({err})", source=path) from None
    except Exception as err:  # zstd's ZstdError and lzma's LZMAError are not OSErrors
        if isinstance(err, DataError) or type(err).__name__ not in ("ZstdError", "LZMAError"):
            raise
        raise DataError(f"cannot read compressed file ({err})", source=path) from None


def read_bytes(path: str | os.PathLike[str]) -> bytes:
    """Whole (decompressed) content of a file."""
    with open_binary(path) as fh:
        return fh.read()


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
        return fh.read(size)


_ARROW_CODECS = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd", ".zstd": "zstd"}


def check_json_lines_file(path: str | os.PathLike[str]) -> None:
    """One streaming pass over a (possibly compressed) JSON-lines file: the checks and limits
    of :func:`open_binary`, and each line's size (``LIMITS.max_record_bytes``) and nesting depth
    (``LIMITS.max_json_depth``); the first problem is a DataError naming its line."""
    from prefkit.data.json_guard import JsonLinesGuard

    path = os.fspath(path)
    guard = JsonLinesGuard(path)
    with open_binary(path) as fh:
        while chunk := fh.read(8 << 20):
            guard.feed(chunk)
    guard.close()


def json_lines_stream(path: str | os.PathLike[str]) -> Any:
    """An Arrow input stream of a plain, ``.gz``, ``.bz2`` or ``.zst`` JSON-lines file for
    Arrow's JSON reader, after :func:`check_json_lines_file` has passed (so Arrow never sees a
    line it could crash on); ``None`` for other compressions (read them record by record).

    Arrow reads the file itself (a native stream: a Python file object under Arrow's reader
    threads can abort the interpreter at exit).  Close it (``with``) when done.
    """
    import pyarrow as pa

    path = os.fspath(path)
    lower = path.lower()
    if lower.endswith((".zip", ".xz")):
        return None
    check_json_lines_file(path)
    for suffix, codec in _ARROW_CODECS.items():
        if lower.endswith(suffix):
            return pa.input_stream(path, compression=codec)
    return pa.input_stream(path)


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


def save_figure(fig: Any, path: str | os.PathLike[str]) -> None:
    """Save a matplotlib figure atomically (format from the suffix, PNG by default)."""
    fmt = Path(path).suffix.lstrip(".") or "png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=120)
