"""Shards of a job and the resumable parts directory.

A shard is a slice of the input's records.  Its *content hash* digests the job's key (the
model's content fingerprint and settings) and the shard's records (their Arrow IPC bytes), so a
restarted job recognises finished shards even if the input file was rewritten with the same
records, and never reuses a shard computed by another model.  Finished shards are JSON-lines
files ``NNNNNN-HASH.jsonl`` in ``OUT.parts/``, each written atomically; the directory carries
prefkit's manifest, so only a directory prefkit wrote is ever read from or removed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from prefkit.core.atomic import MANIFEST, atomic_path, read_manifest
from prefkit.errors import ModelFileError

#: Records per shard by default: big enough to amortise a model call, small enough to resume.
DEFAULT_SHARD_ROWS = 4096


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
        self.path = self.out.with_name(self.out.name + ".parts")
        if self.path.exists() and not self._ours():
            raise ModelFileError(
                f"{self.path}: exists and was not written by prefkit; move it away to run this job"
            )

    def _ours(self) -> bool:
        return self.path.is_dir() and not self.path.is_symlink() and (
            read_manifest(self.path) is not None
        )

    def done(self, shards: Iterable[Shard]) -> set[int]:
        """Indices of the shards whose part file is already here (same content hash)."""
        if not self.path.is_dir():
            return set()
        present = {p.name for p in self.path.iterdir() if p.is_file()}
        return {s.index for s in shards if s.name(self.suffix) in present}

    def write(self, shard: Shard, payload: Iterable[str] | np.ndarray) -> None:
        """Keep one finished shard (atomically: a killed job leaves whole parts only)."""
        if not self.path.exists():
            self.path.mkdir(parents=True)
            manifest = {"files": [], "written_by": "prefkit", "purpose": f"parts of {self.out}"}
            (self.path / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
        with atomic_path(self.path / shard.name(self.suffix)) as tmp:
            if self.suffix == ".npy":
                with open(tmp, "wb") as fh:
                    np.save(fh, np.asarray(payload), allow_pickle=False)
                return
            with open(tmp, "w", encoding="utf-8") as fh:
                for line in payload:
                    fh.write(line + "\n")

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
        if self._ours():
            shutil.rmtree(self.path)
