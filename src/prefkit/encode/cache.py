"""On-disk embedding cache keyed by (encoder id, text hash).

Layout: ``<root>/<encoder key>/shard-<id>.keys.npy`` (SHA-1 digests of the texts, ``S20``) and
``shard-<id>.vecs.npy`` (float32 vectors, same order).  A shard is written vectors first and keys
last, each through a temporary file and a rename, so a reader never sees half a shard; a shard is
never modified once written, so several processes can share one cache.  Vectors are
memory-mapped on load (shards under :data:`MMAP_BYTES` are read).

Many small writes (a scoring server encoding a few new texts per call) must not make every call
slower, so:

* **one index per process** — hash → (shard, row) is built once when the cache opens and then
  updated in place: a shard this process writes is indexed from memory, and the directory is
  listed again (names only, no reads of known shards) only when a lookup misses, to pick up the
  shards other processes wrote meanwhile;
* **size-tiered compaction** — a shard of ``n`` rows is on level ``⌊log_F n⌋`` (``F`` =
  ``fanout``, 16).  When a level holds ``F`` shards they are merged into one shard (on a higher
  level), so the number of shards stays below ``(F - 1)`` per level, ``O(log_F N)`` levels for
  ``N`` cached texts, and each vector is rewritten ``O(log_F N)`` times in all (size-tiered
  merging as in log-structured merge trees: O'Neil et al., "The log-structured merge-tree",
  Acta Informatica 33, 1996).  Shards of ``sealed_bytes`` or more are never merged again.  A
  merge holds an exclusive ``flock`` on ``.compact.lock`` (another process that finds it busy
  skips its merge), lists the directory afresh, writes the merged shard — vectors copied
  unchanged, duplicate hashes kept once — and only then deletes its sources (keys file first; in
  a background thread that keeps the lock until it is done, as deleting files can take
  milliseconds each; :meth:`EmbeddingCache.wait`), so shards written concurrently are never
  touched and every entry stays readable at every moment.
  Opening a cache that an older prefkit filled with thousands of small shards merges them the
  same way on first use.  Without ``fcntl`` (Windows) nothing is merged.

A process that had a merged-away shard memory-mapped keeps reading it until the merged shard is
indexed; a lookup racing with a merge can at worst miss (the text is encoded again).

A shard that cannot be read back (truncated by a full disk or a kill outside prefkit's atomic
writes, keys and vectors of different lengths, vectors of another width) is skipped with one
warning and moved aside as ``*.bad`` so later runs do not trip on it; its texts are simply
encoded again.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import uuid
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from prefkit.core.atomic import atomic_path

try:  # POSIX only: without it nothing is compacted (shards still correct)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

DEFAULT_ROOT_ENV = "PREFKIT_CACHE"
#: shards per level that trigger a merge
DEFAULT_FANOUT = 16
#: a shard with this many bytes of vectors or more is never merged again
DEFAULT_SEALED_BYTES = 64 << 20
#: shards with vectors files this large or larger are memory-mapped, smaller ones read
MMAP_BYTES = 4 << 20
_KEYS = ".keys.npy"
_LOCK = ".compact.lock"


def default_cache_root() -> Path:
    """``$PREFKIT_CACHE`` or ``~/.cache/prefkit``."""
    return Path(os.environ.get(DEFAULT_ROOT_ENV) or Path.home() / ".cache" / "prefkit")


def text_keys(texts: Sequence[str]) -> np.ndarray:
    """SHA-1 digest of each text's UTF-8 bytes, as an ``S20`` array."""
    return np.array([hashlib.sha1(t.encode("utf-8")).digest() for t in texts], dtype="S20")


def _shard_problem(keys: np.ndarray, vecs: np.ndarray, width: int | None) -> str | None:
    """Why a shard's arrays cannot be used, or ``None``."""
    if keys.dtype != np.dtype("S20") or keys.ndim != 1:
        return f"keys are {keys.dtype} {keys.shape}, expected S20 (n,)"
    if vecs.ndim != 2 or vecs.dtype != np.float32:
        return f"vectors are {vecs.dtype} {vecs.shape}, expected float32 (n, dim)"
    if len(vecs) != len(keys):
        return f"{len(keys)} keys for {len(vecs)} vectors"
    if width is not None and vecs.shape[1] != width:
        return f"vectors of width {vecs.shape[1]}, the cache holds {width}"
    if not np.isfinite(np.asarray(vecs[:1])).all():
        return "non-finite vectors"
    return None


def _level(rows: int, fanout: int) -> int:
    """⌊log_fanout rows⌋ (0 for fewer than ``fanout`` rows)."""
    level = 0
    while rows >= fanout:
        rows //= fanout
        level += 1
    return level


class EmbeddingCache:
    """Vectors of texts already encoded by one encoder, stored under ``root``.

    Args:
        encoder_id: names the encoder (its model and settings); one directory per id.
        root: the cache root (default :func:`default_cache_root`).
        fanout: shards per level that are merged into one (module docstring); ``0`` never merges.
        sealed_bytes: shards with this many bytes of vectors or more are never merged.
    """

    def __init__(
        self,
        encoder_id: str,
        root: str | os.PathLike[str] | None = None,
        *,
        fanout: int = DEFAULT_FANOUT,
        sealed_bytes: int = DEFAULT_SEALED_BYTES,
    ) -> None:
        key = hashlib.sha1(encoder_id.encode("utf-8")).hexdigest()[:16]
        self.encoder_id = encoder_id
        self.directory = Path(root or default_cache_root()) / f"embeddings-{key}"
        self.fanout = int(fanout)
        self.sealed_bytes = int(sealed_bytes)
        self._lock = threading.RLock()
        self._index: dict[bytes, tuple[int, int]] = {}
        # per slot: vectors (None once no index entry needs them), rows, index entries pointing
        # at it; a slot whose shard left the directory is "stale" and reused once unreferenced
        self._shards: list[np.ndarray | None] = []
        self._rows: list[int] = []
        self._live: list[int] = []
        self._stale: set[int] = set()
        self._free: list[int] = []
        self._slot_of: dict[str, int] = {}  # shards in the directory -> slot
        self._seen: set[str] = set()  # names already handled (indexed, skipped or quarantined)
        self._width: int | None = None
        self._deleter: threading.Thread | None = None
        self.refresh()
        self._compact_while_needed()

    # -- reading --------------------------------------------------------------------------------

    def _listing(self) -> set[str] | None:
        try:
            with os.scandir(self.directory) as entries:
                return {
                    e.name[: -len(_KEYS)]
                    for e in entries
                    if e.name.startswith("shard-") and e.name.endswith(_KEYS)
                }
        except (FileNotFoundError, NotADirectoryError):
            return None

    def refresh(self) -> None:
        """Pick up shards written since the last look (by this or another process) and forget
        shards merged away; reads only shards not seen before."""
        with self._lock:
            names = self._listing()
            if names is None:
                return
            for name in [n for n in self._slot_of if n not in names]:
                self._retire(self._slot_of.pop(name))
            self._seen &= names  # names never come back: keep the set as small as the directory
            for name in sorted(names - self._seen):
                self._seen.add(name)
                vecs_file = self.directory / f"{name}.vecs.npy"
                try:
                    keys = np.load(self.directory / f"{name}{_KEYS}", allow_pickle=False)
                    small = vecs_file.stat().st_size < MMAP_BYTES
                    vecs = np.load(vecs_file, mmap_mode=None if small else "r", allow_pickle=False)
                    problem = _shard_problem(keys, vecs, self._width)
                except FileNotFoundError:
                    continue  # merged away between the listing and the read
                except (OSError, ValueError, EOFError) as err:
                    problem = f"unreadable ({err})"
                if problem:
                    self._quarantine(name, problem)
                    continue
                self._register(name, keys, vecs)

    def _register(self, name: str, keys: np.ndarray, vecs: np.ndarray) -> None:
        """Index a shard: new keys point at it, and so do keys whose shard was merged away."""
        slot = self._free.pop() if self._free else len(self._shards)
        if slot == len(self._shards):
            self._shards.append(vecs)
            self._rows.append(len(keys))
            self._live.append(0)
        else:
            self._shards[slot], self._rows[slot], self._live[slot] = vecs, len(keys), 0
        self._slot_of[name] = slot
        self._width = int(vecs.shape[1]) if self._width is None else self._width
        index, live, stale = self._index, self._live, self._stale
        pointed = 0
        for row, k in enumerate(keys.tolist()):
            place = index.get(k)
            if place is None:
                index[k] = (slot, row)
                pointed += 1
            elif place[0] in stale:
                index[k] = (slot, row)
                pointed += 1
                live[place[0]] -= 1
                if live[place[0]] == 0:
                    self._release(place[0])
        live[slot] += pointed

    def _retire(self, slot: int) -> None:
        """The slot's shard left the directory: keep its vectors only while the index needs them."""
        self._stale.add(slot)
        if self._live[slot] == 0:
            self._release(slot)

    def _release(self, slot: int) -> None:
        if slot in self._stale:
            self._stale.discard(slot)
            self._shards[slot] = None
            self._free.append(slot)

    def _quarantine(self, name: str, problem: str) -> None:
        """Warn about a broken shard and rename its files ``*.bad`` (best effort)."""
        warnings.warn(
            f"{self.directory / name}: embedding cache shard skipped: {problem}; "
            "its texts will be encoded again",
            RuntimeWarning,
            stacklevel=4,
        )
        for part in ("keys", "vecs"):
            path = self.directory / f"{name}.{part}.npy"
            with contextlib.suppress(OSError):
                path.rename(path.with_name(path.name + ".bad"))

    def __len__(self) -> int:
        return len(self._index)

    @property
    def shard_count(self) -> int:
        """Shards in the directory as this process last saw it."""
        return len(self._slot_of)

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, list[int]]:
        """(found mask, rows of ``keys`` found); use :meth:`get` to gather the vectors.

        When some keys are missing, the directory is listed once for shards written meanwhile by
        other processes (a names-only listing, bounded by the compaction)."""
        with self._lock:
            found = np.array([k in self._index for k in keys.tolist()], dtype=bool)
            if not found.all():
                self.refresh()
                found = np.array([k in self._index for k in keys.tolist()], dtype=bool)
            return found, np.flatnonzero(found).tolist()

    def get(self, keys: np.ndarray) -> np.ndarray:
        """Vectors of keys that are all in the cache, in order (one gather per shard)."""
        with self._lock:
            places = np.array([self._index[k] for k in keys.tolist()], dtype=np.int64)
            places = places.reshape(-1, 2)
            out = np.empty((len(places), self._width or 0), dtype=np.float32)
            for slot in np.unique(places[:, 0]).tolist():
                mask = places[:, 0] == slot
                out[mask] = self._shards[slot][places[mask, 1]]  # type: ignore[index]
            return out

    # -- writing --------------------------------------------------------------------------------

    def _write_shard(self, keys: np.ndarray, vectors: np.ndarray) -> str:
        """Write a shard (vectors, then keys, each atomically); return its name."""
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"shard-{uuid.uuid4().hex}"
        with atomic_path(self.directory / f"{name}.vecs.npy") as tmp, open(tmp, "wb") as fh:
            np.save(fh, vectors, allow_pickle=False)
        with atomic_path(self.directory / f"{name}{_KEYS}") as tmp, open(tmp, "wb") as fh:
            np.save(fh, keys, allow_pickle=False)
        return name

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        """Store new vectors (keys already present are skipped); merges shards when a level is
        full (module docstring)."""
        with self._lock:
            new = np.array([k not in self._index for k in keys.tolist()], dtype=bool)
            if not new.any():
                return
            keys = np.ascontiguousarray(keys[new], dtype="S20")
            vectors = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32)[new])
            if vectors.ndim != 2 or (self._width is not None and vectors.shape[1] != self._width):
                raise ValueError(
                    f"{self.directory}: vectors of shape {vectors.shape} for a cache of width "
                    f"{self._width}"
                )
            name = self._write_shard(keys, vectors)
            self._seen.add(name)
            self._register(name, keys, vectors)
            if self._full_level() is not None:
                self._compact_while_needed()

    # -- compaction -----------------------------------------------------------------------------

    def _mergeable(self) -> dict[int, list[str]]:
        """Unsealed shards by level."""
        width = self._width or 0
        levels: dict[int, list[str]] = {}
        for name, slot in self._slot_of.items():
            rows = self._rows[slot]
            if rows * width * 4 < self.sealed_bytes:
                levels.setdefault(_level(rows, self.fanout), []).append(name)
        return levels

    def _full_level(self) -> int | None:
        if self.fanout < 2 or fcntl is None:
            return None
        full = [lv for lv, names in self._mergeable().items() if len(names) >= self.fanout]
        return min(full) if full else None

    def _try_lock(self) -> int | None:
        """A descriptor holding the exclusive ``flock`` on the directory's merges, or ``None``
        when another process (or this one's deleter) holds it or locking is impossible."""
        try:
            fd = os.open(self.directory / _LOCK, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return None
        return fd

    def compact(self) -> int:
        """Merge every full level now (normally automatic); returns the number of merges."""
        with self._lock:
            return self._compact_while_needed()

    def wait(self) -> None:
        """Wait until the shards this cache merged away are deleted (a background thread
        deletes them, still holding the merge lock, so a call does not wait on the disk)."""
        if self._deleter is not None:
            self._deleter.join()

    def _compact_while_needed(self) -> int:
        """Best effort: a read-only directory or a busy lock leaves the shards as they are."""
        if self._full_level() is None:
            return 0
        self.wait()  # this process's own deletions hold the lock: let them finish
        fd = self._try_lock()
        if fd is None:
            return 0
        merged_away: list[str] = []
        merges = 0
        try:
            self.refresh()  # the directory as it is now, under the lock
            while (level := self._full_level()) is not None:
                sources = self._merge(self._mergeable()[level])
                if not sources:
                    break
                merged_away += sources
                merges += 1
        except OSError:
            pass
        finally:
            self._delete_in_background(merged_away, fd)
        return merges

    def _delete_in_background(self, names: list[str], fd: int) -> None:
        """Delete merged-away shards (keys file first), then release the lock ``fd``."""

        def delete() -> None:
            try:
                for name in names:
                    for suffix in (_KEYS, ".vecs.npy"):
                        with contextlib.suppress(OSError):
                            (self.directory / f"{name}{suffix}").unlink()
            finally:
                with contextlib.suppress(OSError):
                    fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)

        if not names:
            delete()
            return
        self.wait()
        thread = threading.Thread(target=delete, name="prefkit-cache-delete", daemon=False)
        try:
            thread.start()
        except RuntimeError:  # interpreter shutting down
            delete()
            return
        self._deleter = thread

    def _merge(self, names: list[str]) -> list[str]:
        """Write one shard holding every entry of ``names`` and index it; returns the names
        merged (for deletion), empty when there was nothing to merge."""
        parts: list[tuple[str, np.ndarray, np.ndarray]] = []
        for name in names:
            try:
                keys = np.load(self.directory / f"{name}{_KEYS}", allow_pickle=False)
                # read, not mapped: unmapping a deleted file costs milliseconds on ext4
                vecs = np.load(self.directory / f"{name}.vecs.npy", allow_pickle=False)
            except (OSError, ValueError, EOFError):
                continue  # gone or broken since it was indexed: left to the next refresh
            if _shard_problem(keys, vecs, self._width) is None:
                parts.append((name, keys, vecs))
        if len(parts) < 2:
            return []
        keys = np.concatenate([k for _, k, _ in parts])
        vecs = np.concatenate([v for _, _, v in parts])
        _, first = np.unique(keys, return_index=True)
        if len(first) < len(keys):
            first.sort()
            keys, vecs = keys[first], vecs[first]
        merged = self._write_shard(keys, vecs)
        for name, _, _ in parts:  # still listed until deleted: kept in _seen, never re-read
            self._retire(self._slot_of.pop(name))
        self._seen.add(merged)
        self._register(merged, keys, vecs)  # repoints every entry of the sources
        return [name for name, _, _ in parts]
