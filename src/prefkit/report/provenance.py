"""Provenance of a report section: data hash, model, prompt/template hash, seed, prefkit version.

Hashes are SHA-256 of the bytes on disk: of a data file, of a result file (``leaderboard.json``,
``quality.json``, ``align_config.json``), or of a saved model's files in sorted order (name and
bytes).  The same inputs always give the same provenance, so a report can be checked against the
files it claims to show.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

CHUNK = 1 << 20


def file_hash(path: str | os.PathLike[str]) -> str:
    """SHA-256 (hex) of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def directory_hash(path: str | os.PathLike[str]) -> str:
    """SHA-256 over the files of a directory (relative name and bytes, sorted; hidden files and
    temporaries left out)."""
    root = Path(path)
    h = hashlib.sha256()
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = file.relative_to(root).as_posix()
        if any(part.startswith(".") for part in rel.split("/")):
            continue
        h.update(rel.encode("utf-8") + b"\0")
        with open(file, "rb") as fh:
            while chunk := fh.read(CHUNK):
                h.update(chunk)
    return h.hexdigest()


def provenance(*, data: str | os.PathLike[str] | None = None, data_hash: str | None = None,
               model: str | None = None, template_hash: str | None = None,
               seed: int | None = None, **extra: Any) -> dict[str, Any]:
    """The provenance block of one section (keys always present; None shows as "—")."""
    from prefkit import __version__

    if data_hash is None and data is not None:
        path = Path(data)
        data_hash = directory_hash(path) if path.is_dir() else file_hash(path)
    out: dict[str, Any] = {
        "data": None if data is None else Path(data).name,
        "data sha256": data_hash,
        "model": model,
        "prompt/template sha256": template_hash,
        "seed": seed,
        "prefkit": __version__,
    }
    out.update({k: v for k, v in extra.items() if v is not None})
    return out
