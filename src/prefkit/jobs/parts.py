"""Shards of a job and the resumable parts directory.

A shard is a slice of the input's records.  Its *content hash* digests the job's key (the
model's content fingerprint and settings) and the shard's records (their Arrow IPC bytes), so a
restarted job recognises finished shards even if the input file was rewritten with the same
records, and never reuses a shard computed by another model.  Finished shards are JSON-lines
files ``NNNNNN-HASH.jsonl`` in ``OUT.parts/``, each written atomically and followed by a
``NAME.sha256`` of its bytes: a resumed job reuses a part only when it still has those bytes (a
part edited, truncated or replaced by hand is computed again).  The directory carries prefkit's
manifest, so only a directory prefkit wrote is ever read from, and only the files prefkit wrote
there are ever removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from prefkit.core.atomic import MANIFEST, TEMP_PREFIX, atomic_path, atomic_write_text, read_manifest
from prefkit.errors import ModelFileError

#: Records per shard by default: big enough to amortise a model call, small enough to resume.
DEFAULT_SHARD_ROWS = 4096
#: suffix of the file holding a part's SHA-256 (written after the part: a part without it, or
#: whose bytes no longer match it, is not finished)
CHECKSUM = ".sha256"
#: names of the files prefkit writes into a parts directory (parts and their checksums)
PART_NAME = re.compile(r"\d{6,}-[0-9a-f]{16}\.(jsonl|npy)(\.sha256)?")


@dataclass(frozen=True)
class Shard:
    """Records ``start … stop - 1`` of the input and their content hash."""

    index: int
    start: int
    stop: int
    digest: str

    def name(self, suffix: str = ".jsonl") -> str:
        return f"{self.index:06d}-{self.digest}{suffix}"


def table_digest(table: pa.Table) -> str:
    """SHA-256 of a table's records (Arrow IPC stream bytes, schema included)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return hashlib.sha256(sink.getvalue()).hexdigest()


def plan_shards(table: pa.Table, job_key: str, shard_rows: int = DEFAULT_SHARD_ROWS) -> list[Shard]:
    """Cut ``table`` into shards of ``shard_rows`` records, each hashed with ``job_key``."""
    if shard_rows < 1:
        raise ValueError("shard_rows must be ≥ 1")
    shards = []
    for index, start in enumerate(range(0, table.num_rows, shard_rows)):
        stop = min(start + shard_rows, table.num_rows)
        body = table_digest(table.slice(start, stop - start))
        digest = hashlib.sha256(f"{job_key}\0{start}\0{body}".encode()).hexdigest()[:16]
        shards.append(Shard(index, start, stop, digest))
    return shards


class PartsDirectory:
    """``OUT.parts/``: finished shards of one output file, kept until the output is whole.

    A shard's payload is a list of JSON lines (a ``.jsonl`` part; the output is JSON lines) or a
    numpy array (a ``.npy`` part; the output is one ``.npy`` of all shards' rows in order).
    """

    def __init__(self, out: str | os.PathLike[str], suffix: str = ".jsonl") -> None:
        if suffix not in (".jsonl", ".npy"):
            raise ValueError(f"parts are .jsonl or .npy, not {suffix}")
        self.suffix = suffix
        self.out = Path(out)
        if self.out.is_dir():
            raise ModelFileError(f"{self.out}: is a directory, expected a file name")
        self.path = self.out.with_name(self.out.name + ".parts")
        empty = self.path.is_dir() and not self.path.is_symlink() and not any(self.path.iterdir())
        if self.path.exists() and not (self._ours() or empty):  # empty: a kill before the manifest
            raise ModelFileError(
                f"{self.path}: exists and was not written by prefkit; move it away to run this job"
            )

    def _ours(self) -> bool:
        return self.path.is_dir() and not self.path.is_symlink() and (
            read_manifest(self.path) is not None
        )

    def done(self, shards: Iterable[Shard]) -> set[int]:
        """Indices of the shards whose part is already here (same content hash) and intact (its
        bytes match the checksum written with it)."""
        if not self._ours():
            return set()
        return {s.index for s in shards if self._intact(self.path / s.name(self.suffix))}

    @staticmethod
    def _intact(part: Path) -> bool:
        mark = part.with_name(part.name + CHECKSUM)
        if part.is_symlink() or mark.is_symlink() or not (part.is_file() and mark.is_file()):
            return False
        try:
            return mark.read_text(encoding="ascii").strip() == _file_sha256(part)
        except (OSError, UnicodeDecodeError):
            return False

    def write(self, shard: Shard, payload: Iterable[str] | np.ndarray) -> None:
        """Keep one finished shard (atomically: a killed job leaves whole parts only)."""
        if not self._ours():  # new (or left empty by a kill): the manifest first, atomically
            self.path.mkdir(parents=True, exist_ok=True)
            manifest = {"files": [], "written_by": "prefkit", "purpose": f"parts of {self.out}"}
            atomic_write_text(self.path / MANIFEST, json.dumps(manifest))
        with atomic_path(self.path / shard.name(self.suffix)) as tmp:
            if self.suffix == ".npy":
                with open(tmp, "wb") as fh:
                    np.save(fh, np.asarray(payload), allow_pickle=False)
            else:
                with open(tmp, "w", encoding="utf-8") as fh:
                    for line in payload:
                        fh.write(line + "\n")
        part = self.path / shard.name(self.suffix)
        atomic_write_text(part.with_name(part.name + CHECKSUM), _file_sha256(part) + "\n")

    def join(self, shards: list[Shard]) -> None:
        """Write ``OUT`` from every shard's part, in order, atomically; then drop the parts."""
        with atomic_path(self.out) as tmp:
            if self.suffix == ".npy":
                self._join_arrays(shards, tmp)
            else:
                with open(tmp, "w", encoding="utf-8") as fh:
                    for shard in shards:
                        with open(self.path / shard.name(), encoding="utf-8") as part:
                            shutil.copyfileobj(part, fh)
        self.remove()

    def _join_arrays(self, shards: list[Shard], target: str) -> None:
        """Stack the shards' arrays into one ``.npy`` through a memory map (no second copy)."""
        arrays = [np.load(self.path / s.name(".npy"), mmap_mode="r", allow_pickle=False)
                  for s in shards]
        if not arrays:
            np.save(target, np.zeros((0,), dtype=np.float32))
            return
        shape = (sum(a.shape[0] for a in arrays), *arrays[0].shape[1:])
        out = np.lib.format.open_memmap(target, mode="w+", dtype=arrays[0].dtype, shape=shape)
        row = 0
        for array in arrays:
            out[row: row + array.shape[0]] = array
            row += array.shape[0]
        out.flush()
        del out

    def remove(self) -> None:
        """Delete the parts and checksums (and temporary files) prefkit wrote; the directory
        goes too unless someone put files of their own there (those are never touched)."""
        if not self._ours():
            return
        for entry in self.path.iterdir():
            ours = PART_NAME.fullmatch(entry.name) or entry.name.startswith(TEMP_PREFIX)
            if ours and (entry.is_file() or entry.is_symlink()):
                entry.unlink()
        if {p.name for p in self.path.iterdir()} <= {MANIFEST}:
            with contextlib.suppress(FileNotFoundError):
                (self.path / MANIFEST).unlink()
            self.path.rmdir()


def check_job_output(
    out: str | os.PathLike[str], inputs: Iterable[str | os.PathLike[str] | None]
) -> None:
    """Refuse, in one line and before any work, an output that is a directory, that is one of
    the job's input files (it would be replaced), or that lies inside an input directory (a
    saved model or encoder: the output and its parts would change it)."""
    target = Path(out)
    if target.is_dir():
        raise ModelFileError(f"{target}: is a directory, expected a file name")
    real = Path(os.path.realpath(target))
    for item in inputs:
        if item is None or not Path(item).exists():
            continue
        source = Path(item)
        if source.is_dir():
            base = Path(os.path.realpath(source))
            if base == real or base in real.parents:
                raise ModelFileError(f"{target}: inside the input directory {source}; write the "
                                     "output somewhere else")
        elif target.exists() and os.path.samefile(target, source):
            raise ModelFileError(f"{target}: is the input file {source}; choose another output")


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
