"""Reader registry and ``--format auto`` sniffing.

A reader is a function ``read(path: str, **options) -> PreferenceDataset`` registered under a
name with :func:`register_reader`, together with a ``sniff(probe) -> float`` function that says
how sure it is (0 = not mine, 1 = certainly mine) from the first bytes of the file.  Every module in
``prefkit.data.readers`` is imported on first use, so adding a format is adding one file.
"""

from __future__ import annotations

import csv
import importlib
import io
import json
import os
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from prefkit.core.limits import LIMITS
from prefkit.data.ids import reading_ids_as_text
from prefkit.data.io import csv_delimiter, data_suffix, head_bytes
from prefkit.data.schema import PreferenceDataset
from prefkit.errors import DataError, FormatDetectionError

ReaderFunc = Callable[..., PreferenceDataset]
#: Bytes of a file the sniffers see (more for JSON whose first record is longer, see _probe).
SNIFF_BYTES = 65536


@dataclass
class Probe:
    """What sniffers see of a file: its name, suffix and first decompressed bytes."""

    path: str
    head: bytes
    suffix: str = ""
    name: str = ""

    @cached_property
    def text(self) -> str:
        return self.head.decode("utf-8-sig", errors="replace")

    @cached_property
    def first_json(self) -> Any:
        """The first JSON value of a JSON-lines file, or the first element of a JSON array."""
        text = self.text.lstrip()
        if not text:
            return None
        if text.startswith("["):
            decoder = json.JSONDecoder()
            try:
                value, _ = decoder.raw_decode(text[1:].lstrip())
                return value
            except (ValueError, RecursionError):
                return None
        line = text.split("\n", 1)[0]
        try:
            return json.loads(line)
        except (ValueError, RecursionError):  # the reader reports it, with its line
            return None

    @cached_property
    def json_keys(self) -> set[str]:
        value = self.first_json
        return set(value) if isinstance(value, dict) else set()

    @cached_property
    def csv_header(self) -> list[str]:
        """Column names when the file looks like CSV/TSV (comma, tab or semicolon separated)."""
        if self.text.lstrip().startswith(("{", "[")):
            return []
        # the first non-blank line, as pandas reads it (blank lines before the header are skipped)
        first = next((ln.strip("\r") for ln in self.text.split("\n") if ln.strip()), "")
        if not first:
            return []
        delimiter = csv_delimiter(first)
        try:
            row = next(csv.reader(io.StringIO(first), delimiter=delimiter))
        except (csv.Error, StopIteration):
            return []
        return [c.strip() for c in row]


@dataclass
class ReaderSpec:
    name: str
    read: ReaderFunc
    sniff: Callable[[Probe], float]
    description: str = ""
    suffixes: tuple[str, ...] = field(default_factory=tuple)


_READERS: dict[str, ReaderSpec] = {}
_LOADED = False


def register_reader(
    name: str,
    *,
    sniff: Callable[[Probe], float],
    description: str = "",
    suffixes: tuple[str, ...] = (),
) -> Callable[[ReaderFunc], ReaderFunc]:
    """Decorator: register ``func`` as the reader for format ``name``."""

    def decorate(func: ReaderFunc) -> ReaderFunc:
        _READERS[name] = ReaderSpec(
            name, func, sniff, description or (func.__doc__ or "").strip().split("\n")[0], suffixes
        )
        return func

    return decorate


def _load_all() -> None:
    global _LOADED
    if _LOADED:
        return
    package = importlib.import_module("prefkit.data.readers")
    for module in pkgutil.iter_modules(package.__path__):
        if not module.name.startswith("_") and module.name != "registry":
            importlib.import_module(f"prefkit.data.readers.{module.name}")
    _LOADED = True


def readers() -> dict[str, ReaderSpec]:
    """All registered readers by name."""
    _load_all()
    return dict(sorted(_READERS.items()))


def _probe(path: str) -> Probe:
    """What the sniffers see: the first :data:`SNIFF_BYTES` of the file, or more when the file is
    JSON whose first record does not fit (long first records are normal in LLM data): the head
    grows until the first record parses, up to ``LIMITS.max_record_bytes``."""
    size = SNIFF_BYTES
    while True:
        probe = Probe(
            path=path, head=head_bytes(path, size), suffix=data_suffix(path), name=Path(path).name
        )
        cut = len(probe.head) >= size and probe.text.lstrip()[:1] in ("{", "[")
        if not cut or probe.first_json is not None or size >= LIMITS.max_record_bytes:
            return probe
        size = min(size * 16, LIMITS.max_record_bytes)


def sniff_format(path: str | os.PathLike[str]) -> str:
    """Name of the reader that best fits ``path``; :class:`FormatDetectionError` if none does."""
    path = os.fspath(path)
    probe = _probe(path)
    if not probe.head.strip():
        raise DataError("empty file", source=path)
    scores = []
    for spec in readers().values():
        try:
            score = float(spec.sniff(probe))
        except Exception:  # a sniffer must never break detection
            score = 0.0
        if score > 0:
            scores.append((score, spec.name))
    if not scores:
        raise FormatDetectionError(
            "cannot tell the format; pass --format (one of: " + ", ".join(readers()) + ")",
            source=path,
        )
    scores.sort(reverse=True)
    if len(scores) > 1 and scores[0][0] == scores[1][0]:
        raise FormatDetectionError(
            f"ambiguous format ({scores[0][1]} or {scores[1][1]}); pass --format", source=path
        )
    return scores[0][1]


def read(
    path: str | os.PathLike[str],
    format: str = "auto",
    *,
    columns: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    ids_as_text: bool = False,
    **options: Any,
) -> PreferenceDataset:
    """Read a preference file into a :class:`PreferenceDataset`.

    ``format="auto"`` sniffs the content; compressed files (``.gz``, ``.zip``, ``.zst``, ``.bz2``,
    ``.xz``) are read transparently.  Every problem is a one-line :class:`DataError`.

    ``columns`` (a column mapping, canonical field → column of the file, or ``"const:VALUE"``)
    reads any table without a dedicated reader; ``labels`` maps the raw values of the mapped
    ``winner`` column to ``a``/``b``/``tie``/``drop`` (see :mod:`prefkit.data.readers.mapping`).

    ``ids_as_text=True`` reads an integer id (``"a": 17``, an integer ``user_id`` column, the
    entries of ``ranking``) as its decimal text ``"17"``; floats, booleans, lists and objects in
    an id field stay errors (see :mod:`prefkit.data.ids`).  Without it an integer id is an error
    that names the option.

    Example:
        >>> ds = read("battles.jsonl.gz")                 # doctest: +SKIP
        >>> ds = read("votes.csv", format="arena")        # doctest: +SKIP
        >>> ds = read("arena_log.jsonl", ids_as_text=True)  # doctest: +SKIP
        >>> ds = read("matches.csv", columns={"a": "winner_name", "b": "loser_name",
        ...                                   "winner": "const:a"})  # doctest: +SKIP
    """
    path = os.fspath(path)
    if columns is not None or labels is not None:
        if format not in ("auto", None, "mapping"):
            raise DataError(
                f"a column mapping reads the file as it is; leave out format={format!r}",
                source=path,
            )
        if not columns:
            raise DataError("a label map needs a column mapping", source=path, field="--map")
        from prefkit.data.readers.mapping import read_mapped

        _check_file(path)
        with reading_ids_as_text(ids_as_text):
            dataset = read_mapped(path, columns, labels, **options)
        dataset.metadata.setdefault("path", path)
        if dataset.name is None:
            dataset.name = Path(path).name
        return dataset
    name = sniff_format(path) if format in ("auto", None) else format
    specs = readers()
    if name not in specs:
        raise DataError(f"unknown format {name!r} (known: {', '.join(specs)})", source=path)
    _check_file(path)
    with reading_ids_as_text(ids_as_text):
        dataset = specs[name].read(path, **options)
    dataset.metadata.setdefault("format", name)
    dataset.metadata.setdefault("path", path)
    if dataset.name is None:
        dataset.name = Path(path).name
    return dataset


def _check_file(path: str) -> None:
    from prefkit.data.io import check_input_file

    check_input_file(path)  # regular file only: no FIFO, device, directory or link loop
