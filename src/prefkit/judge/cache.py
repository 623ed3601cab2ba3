"""On-disk cache of judge replies: one SQLite file (stdlib ``sqlite3``, WAL journal).

Key = sha256 of the canonical JSON of (backend, model, sampling parameters, template hash,
messages, re-ask number).  Only received texts are stored — an error is never cached, so a later
run asks again.  The API key is never part of a key or a value.  Each ``put`` commits, so a killed
run loses at most the reply in flight.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

from prefkit.errors import DataError


def cache_key(identity: dict[str, Any], template_hash: str | None,
              messages: Any, reask: int = 0) -> str:
    """The cache key of one request (hex sha256)."""
    blob = json.dumps(
        {"identity": identity, "template_hash": template_hash, "messages": list(messages),
         "reask": reask},
        sort_keys=True, ensure_ascii=False, separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class JudgeCache:
    """``get(key) -> (text, usage) | None``, ``put(key, text, usage)``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, text TEXT NOT NULL,"
                " usage TEXT NOT NULL)"
            )
        except sqlite3.DatabaseError as err:
            raise DataError(f"not a judge cache: {err}", source=str(self.path)) from None
        self.hits = 0

    def get(self, key: str) -> tuple[str, dict[str, int]] | None:
        row = self.db.execute("SELECT text, usage FROM replies WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        self.hits += 1
        return row[0], json.loads(row[1])

    def get_many(self, keys: list[str]) -> dict[str, tuple[str, dict[str, int]]]:
        """The cached replies among ``keys`` (one query per 500 keys); not counted as hits."""
        found: dict[str, tuple[str, dict[str, int]]] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(
                f"SELECT key, text, usage FROM replies WHERE key IN ({marks})", chunk)
            for key, text, usage in rows:
                found[key] = (text, json.loads(usage))
        return found

    def put(self, key: str, text: str, usage: dict[str, int] | None = None) -> None:
        self.db.execute("INSERT OR REPLACE INTO replies VALUES (?, ?, ?)",
                        (key, text, json.dumps(usage or {})))

    def __len__(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM replies").fetchone()[0])

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> JudgeCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
