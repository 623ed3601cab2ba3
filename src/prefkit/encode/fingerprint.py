"""Content fingerprints of model directories, for cache keys that cannot collide.

Two encoders in directories with the same name must not share cached vectors, and an encoder
whose weights changed in place must not read its old vectors.  So an encoder's cache id names a
digest of what the directory *holds*:

* every file whose name ends in ``.json``, ``.txt``, ``.model`` (configs, tokenizer files,
  pooling settings under ``1_Pooling/`` …) and every weights file (``.safetensors``, ``.bin``,
  ``.pt``, ``.pth``, ``.h5``, ``.msgpack``) — read in full up to :data:`FULL_HASH_BYTES`;
* a larger weights file by its size, its first and last :data:`SAMPLE_BYTES` bytes, and its
  modification time (a re-trained checkpoint of identical size still changes the digest).

Files are visited in sorted relative-path order; the digest covers each path, its size and its
content (or sample).  A digest is memoised per process by (path, size, mtime) so repeated
encoders on the same directory hash once.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

#: files up to this size are hashed in full
FULL_HASH_BYTES = 512 * 1024 * 1024
#: bytes read at each end of a larger file
SAMPLE_BYTES = 4 * 1024 * 1024
_SUFFIXES = {".json", ".txt", ".model", ".safetensors", ".bin", ".pt", ".pth", ".h5", ".msgpack"}
_MEMO: dict[tuple[str, int, int], str] = {}


def _file_digest(path: Path, size: int, mtime_ns: int) -> str:
    key = (str(path), size, mtime_ns)
    if key in _MEMO:
        return _MEMO[key]
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        if size <= FULL_HASH_BYTES:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        else:
            h.update(fh.read(SAMPLE_BYTES))
            fh.seek(max(size - SAMPLE_BYTES, 0))
            h.update(fh.read(SAMPLE_BYTES))
            h.update(str(mtime_ns).encode())
    _MEMO[key] = h.hexdigest()
    return _MEMO[key]


def directory_fingerprint(directory: str | os.PathLike[str]) -> str:
    """Hex digest (16 characters) of a model directory's configs and weights (module docstring)."""
    root = Path(directory)
    h = hashlib.sha256()
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    for path in files:
        if (path.is_file() and path.suffix.lower() in _SUFFIXES) or path == root:
            stat = path.stat()
            rel = path.name if path == root else path.relative_to(root).as_posix()
            h.update(f"{rel}\0{stat.st_size}\0".encode())
            h.update(_file_digest(path.resolve(), stat.st_size, stat.st_mtime_ns).encode())
    return h.hexdigest()[:16]
