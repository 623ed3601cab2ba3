"""On-disk embedding cache keyed by (encoder id, text hash).

Layout: ``<root>/<encoder key>/shard-<id>.keys.npy`` (SHA-1 digests of the texts, ``S20``) and
``shard-<id>.vecs.npy`` (float32 vectors, same order).  A shard is written vectors first and keys
last, each through a temporary file and a rename, so a reader never sees half a shard; shards are
append-only, so several processes can share one cache.  Vectors are memory-mapped on load.

A shard that cannot be read back (truncated by a full disk or a kill outside prefkit's atomic
writes, keys and vectors of different lengths, vectors of another width) is skipped with one
warning and moved aside as ``*.bad`` so later runs do not trip on it; its texts are simply
encoded again.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from prefkit.data.io import atomic_path

DEFAULT_ROOT_ENV = "PREFKIT_CACHE"


def default_cache_root() -> Path:
    """``$PREFKIT_CACHE`` or ``~/.cache/prefkit``."""
    return Path(os.environ.get(DEFAULT_ROOT_ENV) or Path.home() / ".cache" / "prefkit")


def text_keys(texts: Sequence[str]) -> np.ndarray:
    """SHA-1 digest of each text's UTF-8 bytes, as an ``S20`` array."""
    return np.array([hashlib.sha1(t.encode("utf-8")).digest() for t in texts], dtype="S20")


def _shard_problem(keys: np.ndarray, vecs: np.ndarray, shards: list[np.ndarray]) -> str | None:
    """Why a shard's arrays cannot be used, or ``None``."""
    if keys.dtype != np.dtype("S20") or keys.ndim != 1:
        return f"keys are {keys.dtype} {keys.shape}, expected S20 (n,)"
    if vecs.ndim != 2 or vecs.dtype != np.float32:
        return f"vectors are {vecs.dtype} {vecs.shape}, expected float32 (n, dim)"
    if len(vecs) != len(keys):
        return f"{len(keys)} keys for {len(vecs)} vectors"
    if shards and vecs.shape[1] != shards[0].shape[1]:
        return f"vectors of width {vecs.shape[1]}, the cache holds {shards[0].shape[1]}"
    if not np.isfinite(np.asarray(vecs[:1])).all():
        return "non-finite vectors"
    return None


class EmbeddingCache:
    """Vectors of texts already encoded by one encoder, stored under ``root``."""

    def __init__(self, encoder_id: str, root: str | os.PathLike[str] | None = None) -> None:
        key = hashlib.sha1(encoder_id.encode("utf-8")).hexdigest()[:16]
        self.encoder_id = encoder_id
        self.directory = Path(root or default_cache_root()) / f"embeddings-{key}"
        self._index: dict[bytes, tuple[int, int]] = {}
        self._shards: list[np.ndarray] = []
        self._seen: set[str] = set()
        self.refresh()

    def refresh(self) -> None:
        """Pick up shards written since the last look (by this or another process)."""
        if not self.directory.is_dir():
            return
        for keys_file in sorted(self.directory.glob("shard-*.keys.npy")):
            name = keys_file.name[: -len(".keys.npy")]
            if name in self._seen:
                continue
            vecs_file = self.directory / f"{name}.vecs.npy"
            self._seen.add(name)
            try:
                keys = np.load(keys_file, allow_pickle=False)
                vecs = np.load(vecs_file, mmap_mode="r", allow_pickle=False)
                problem = _shard_problem(keys, vecs, self._shards)
            except (OSError, ValueError, EOFError) as err:
                problem = f"unreadable ({err})"
            if problem:
                self._quarantine(name, problem)
                continue
            shard = len(self._shards)
            self._shards.append(vecs)
            for row, k in enumerate(keys.tolist()):
                self._index.setdefault(k, (shard, row))

    def _quarantine(self, name: str, problem: str) -> None:
        """Warn about a broken shard and rename its files ``*.bad`` (best effort)."""
        warnings.warn(
            f"{self.directory / name}: embedding cache shard skipped: {problem}; "
            "its texts will be encoded again",
            RuntimeWarning,
            stacklevel=3,
        )
        for part in ("keys", "vecs"):
            path = self.directory / f"{name}.{part}.npy"
            with contextlib.suppress(OSError):
                path.rename(path.with_name(path.name + ".bad"))

    def __len__(self) -> int:
        return len(self._index)

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, list[int]]:
        """(found mask, rows of ``keys`` found); use :meth:`get` to gather the vectors."""
        found = np.array([k in self._index for k in keys.tolist()], dtype=bool)
        return found, np.flatnonzero(found).tolist()

    def get(self, keys: np.ndarray) -> np.ndarray:
        """Vectors of keys that are all in the cache, in order (one gather per shard)."""
        places = np.array([self._index[k] for k in keys.tolist()], dtype=np.int64).reshape(-1, 2)
        dim = self._shards[0].shape[1] if self._shards else 0
        out = np.empty((len(places), dim), dtype=np.float32)
        for shard in np.unique(places[:, 0]).tolist():
            mask = places[:, 0] == shard
            out[mask] = self._shards[shard][places[mask, 1]]
        return out

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        """Store new vectors (keys already present are skipped)."""
        new = np.array([k not in self._index for k in keys.tolist()], dtype=bool)
        if not new.any():
            return
        keys, vectors = keys[new], np.asarray(vectors, dtype=np.float32)[new]
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"shard-{uuid.uuid4().hex}"
        with atomic_path(self.directory / f"{name}.vecs.npy") as tmp, open(tmp, "wb") as fh:
            np.save(fh, vectors, allow_pickle=False)
        with atomic_path(self.directory / f"{name}.keys.npy") as tmp, open(tmp, "wb") as fh:
            np.save(fh, keys, allow_pickle=False)
        self.refresh()
