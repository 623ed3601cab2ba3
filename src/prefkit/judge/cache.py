"""On-disk cache of judge replies: one SQLite file (stdlib ``sqlite3``, WAL journal).

Key = sha256 of (backend, model, sampling parameters, template hash, the template's inputs as
shown, re-ask number).  The template is deterministic — same text (hash) and same inputs give
the same messages — so :func:`inputs_key` hashes the inputs instead of the rendered messages
and a cached re-run renders nothing; :func:`cache_key` (hash of rendered messages) remains for
protocols without named inputs.  The fixed part (backend, model, parameters, template hash) is
serialised once per run (:func:`key_prefix`); each key then costs one sha256 of the
length-prefixed inputs.  Only received answers are stored (text, token usage and, for scoring
backends, the verdict probabilities) — an error is never cached, so a later run asks again.  The
API key is never part of a key or a value.  Puts are committed in groups (every
``commit_every`` replies or ``commit_seconds``, and on close): one transaction per reply cost
more CPU than the HTTP request itself.  A killed run loses at most the last group — never a
judgment, since the run writes each judgment to its output file as it arrives, and a resumed run
skips what the output holds.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prefkit.errors import DataError

#: a cached reply: (text, usage, probs or None)
Hit = tuple[str, dict[str, int], "dict[str, float] | None"]


def cache_key(identity: dict[str, Any], template_hash: str | None,
              messages: Any, reask: int = 0) -> str:
    """The cache key of one request by its rendered messages (hex sha256)."""
    blob = json.dumps(
        {"identity": identity, "template_hash": template_hash, "messages": list(messages),
         "reask": reask},
        sort_keys=True, ensure_ascii=False, separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def key_prefix(identity: dict[str, Any], template_hash: str | None) -> bytes:
    """The serialised fixed part of every key of one (backend, template)."""
    blob = json.dumps({"identity": identity, "template_hash": template_hash, "v": "inputs-1"},
                      sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return blob.encode("utf-8")


def inputs_key(prefix: bytes, inputs: Sequence[str], reask: int = 0) -> str:
    """The cache key of one request by the template's inputs (values in a fixed order, each
    length-prefixed so no two different inputs give the same bytes)."""
    if len(inputs) == 3:  # the pairwise case, without a generator (a cached re-run's hot loop)
        q, a, b = inputs
        parts = f"{len(q)}\x1f{q}{len(a)}\x1f{a}{len(b)}\x1f{b}"
    else:
        parts = "".join(f"{len(v)}\x1f{v}" for v in inputs)
    return hashlib.sha256(prefix + f"\x1e{reask}\x1e{parts}".encode()).hexdigest()


def _verdict_text(verdict: tuple[str, Any, str | None] | None) -> str | None:
    """``fingerprint \x1f kind \x1f payload``: kind ``s`` (a text verdict), ``n`` (unparsed;
    payload = reason) or ``j`` (JSON [value, reason]) — split, not parsed, on the way back."""
    if verdict is None:
        return None
    made_by, value, reason = verdict
    if isinstance(value, str):
        return f"{made_by}\x1fs\x1f{value}"
    if value is None:
        return f"{made_by}\x1fn\x1f{reason or ''}"
    return f"{made_by}\x1fj\x1f{json.dumps([value, reason])}"


class JudgeCache:
    """``get(key) -> (text, usage, probs) | None``, ``put(key, text, usage, probs)``."""

    def __init__(self, path: str | Path, *, commit_every: int = 64,
                 commit_seconds: float = 0.5) -> None:
        self.path = Path(path)
        self.commit_every = commit_every
        self.commit_seconds = commit_seconds
        self._pending = 0
        self._since = time.monotonic()
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None)
            tables = {row[0] for row in self.db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
            if tables and "replies" not in tables:  # someone else's database: never touch it
                self.db.close()
                raise DataError("not a judge cache: an SQLite database with other tables "
                                f"({', '.join(sorted(tables)[:3])}); choose another cache file",
                                source=str(self.path))
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, text TEXT NOT NULL,"
                " usage TEXT NOT NULL)"
            )
            columns = {row[1] for row in self.db.execute("PRAGMA table_info(replies)")}
            if "probs" not in columns:  # caches written before scoring backends existed
                self.db.execute("ALTER TABLE replies ADD COLUMN probs TEXT")
            if "verdict" not in columns:
                self.db.execute("ALTER TABLE replies ADD COLUMN verdict TEXT")
        except sqlite3.DatabaseError as err:
            raise DataError(f"not a judge cache: {err}", source=str(self.path)) from None
        self.hits = 0

    @staticmethod
    def _row(text: str, usage: str, probs: str | None) -> Hit:
        return text, json.loads(usage), (json.loads(probs) if probs else None)

    def get(self, key: str) -> Hit | None:
        row = self.db.execute("SELECT text, usage, probs FROM replies WHERE key = ?",
                              (key,)).fetchone()
        if row is None:
            return None
        self.hits += 1
        return self._row(*row)

    def get_many(self, keys: Sequence[str], *, raw_usage: bool = False) -> dict[str, Hit]:
        """The cached replies among ``keys`` (one query per 900 keys); not counted as hits.
        ``raw_usage``: usage as its stored JSON text (written out unparsed)."""
        found: dict[str, Hit] = {}
        loads = json.loads
        use = str if raw_usage else loads
        for start in range(0, len(keys), 900):
            chunk = list(keys[start:start + 900])
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(
                f"SELECT key, text, usage, probs FROM replies WHERE key IN ({marks})", chunk)
            for key, text, usage, probs in rows:
                found[key] = (text, use(usage), loads(probs) if probs else None)
        return found

    def get_many_parsed(self, keys: Sequence[str], parser: str
                        ) -> dict[str, tuple[str, str, dict[str, float] | None, Any]]:
        """Like :meth:`get_many` with raw usage, plus the stored parse of each text when it was
        made by ``parser`` (a fingerprint of the parser's code), else None: a re-run with the
        same parser need not parse again."""
        found: dict[str, tuple[str, str, dict[str, float] | None, Any]] = {}
        loads = json.loads
        for start in range(0, len(keys), 900):
            chunk = list(keys[start:start + 900])
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(
                f"SELECT key, text, usage, probs, verdict FROM replies WHERE key IN ({marks})",
                chunk)
            for key, text, usage, probs, verdict in rows:
                parsed = None
                if verdict is not None:
                    made_by, kind, payload = verdict.split("\x1f", 2)
                    if made_by == parser:
                        parsed = ((payload, None) if kind == "s" else (None, payload)
                                  if kind == "n" else tuple(loads(payload)))
                found[key] = (text, usage, loads(probs) if probs else None, parsed)
        return found

    def put(self, key: str, text: str, usage: dict[str, int] | None = None,
            probs: dict[str, float] | None = None,
            verdict: tuple[str, Any, str | None] | None = None) -> None:
        """Store a reply; ``verdict``: (parser fingerprint, value, reason) of its parse."""
        if not self._pending:
            self.db.execute("BEGIN")
            self._since = time.monotonic()
        self.db.execute(
            "INSERT OR REPLACE INTO replies (key, text, usage, probs, verdict)"
            " VALUES (?, ?, ?, ?, ?)",
            (key, text, json.dumps(usage or {}), json.dumps(probs) if probs else None,
             _verdict_text(verdict)))
        self._pending += 1
        if (self._pending >= self.commit_every
                or time.monotonic() - self._since >= self.commit_seconds):
            self.commit()

    def commit(self) -> None:
        """Make every put so far durable."""
        if self._pending:
            self.db.execute("COMMIT")
            self._pending = 0

    def __len__(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM replies").fetchone()[0])

    def close(self) -> None:
        self.commit()
        self.db.close()

    def __enter__(self) -> JudgeCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
