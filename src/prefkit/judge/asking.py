"""Asking a judge one rendered question, with cache, parse and re-asks; a resumable JSONL sink.

Shared by the grading and checklist protocols (:mod:`prefkit.judge.grading`,
:mod:`prefkit.judge.checklist`); the pairwise runner (:mod:`prefkit.judge.run`) does the same
for pairs.  One question = one chat request:

1. its cache key — (backend identity, template hash, messages, re-ask number),
   :func:`prefkit.judge.cache.cache_key` — is looked up; a hit sends nothing;
2. otherwise the backend is asked (its own retries apply); a failed request is an ``error``,
   never a verdict, and is not cached;
3. the reply is parsed; an unparsed reply is asked again up to ``reask`` times (each re-ask has
   its own key) and otherwise kept with ``verdict.reason`` — counted, never scored.

:class:`JsonlSink` appends one whole JSON line per finished item, flushed as it arrives; on open it
cuts a torn last line of a killed run and reads back the ids already written (resume), and holds
an advisory lock so two runs never write one file.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefkit.core.limits import parse_json_line
from prefkit.errors import DataError
from prefkit.judge.backends.base import JudgeReply, JudgeRequest
from prefkit.judge.cache import JudgeCache, cache_key
from prefkit.judge.parsing import Verdict
from prefkit.judge.templates import Template

AskFn = Callable[[JudgeRequest], Awaitable[JudgeReply]]


@dataclass
class Answer:
    """One question's outcome: the raw reply, its parse, where it came from."""

    text: str | None
    verdict: Verdict
    usage: dict[str, int] = field(default_factory=dict)
    reasks: int = 0
    cached: bool = False
    error: str | None = None


@dataclass
class AskStats:
    """Counts over a run: requests asked, cache hits, re-asks, failures, tokens."""

    asked: int = 0
    cached: int = 0
    reasks: int = 0
    errors: int = 0
    unparsed: int = 0
    tokens: int = 0
    error_examples: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def identity_of(backend: Any) -> dict[str, Any]:
    """What identifies a backend's answers in the cache."""
    return getattr(backend, "cache_identity", None) or {
        "backend": type(backend).__name__, "name": getattr(backend, "name", "")}


@contextlib.asynccontextmanager
async def session(backend: Any, *, preflight: bool = True) -> AsyncIterator[AskFn]:
    """``ask(request) -> reply`` for any backend: async ones share pools and limits
    (``backend.session``), others answer through ``complete([request])``."""
    if hasattr(backend, "session"):
        async with backend.session(preflight=preflight) as ask:
            yield ask
        return

    async def ask_sync(request: JudgeRequest) -> JudgeReply:
        return backend.complete([request])[0]

    yield ask_sync


async def ask_parsed(
    ask: AskFn,
    *,
    item_id: str,
    messages: tuple[dict[str, str], ...],
    template: Template,
    parse: Callable[[Any], Verdict],
    identity: dict[str, Any],
    cache: JudgeCache | None,
    reask: int,
    stats: AskStats,
) -> Answer:
    """Ask one question (see the module notes)."""
    verdict = Verdict(None, None, "no reply")
    text: str | None = None
    usage: dict[str, int] = {}
    cached = True
    r = 0
    for r in range(reask + 1):
        key = cache_key(identity, template.hash, messages, r)
        hit = cache.get(key) if cache is not None else None
        if hit is not None:
            text, usage = hit[0], dict(hit[1])
            stats.cached += 1
        else:
            reply = await ask(JudgeRequest(item_id, "ab", messages, template.hash))
            stats.asked += 1
            if reply.text is None:
                stats.errors += 1
                if len(stats.error_examples) < 5:
                    stats.error_examples.append(f"{item_id}: {reply.error}")
                return Answer(None, Verdict(None, None, "request failed"), error=reply.error)
            text, usage, cached = reply.text, dict(reply.usage), False
            stats.tokens += int(usage.get("total_tokens", 0))
            if cache is not None:
                cache.put(key, text, usage)
        verdict = parse(text)
        if verdict.parsed:
            break
        if r < reask:
            stats.reasks += 1
    if not verdict.parsed:
        stats.unparsed += 1
    return Answer(text, verdict, usage, r, cached)


class JsonlSink:
    """Append-only JSONL output keyed by ``key`` (resume; see the module notes)."""

    def __init__(self, path: str | Path, key: str = "id", fmt: str | None = None) -> None:
        self.path = Path(path)
        self.key = key
        self.format = fmt
        self.done: set[str] = set()
        self.handle: Any = None

    def __enter__(self) -> JsonlSink:
        if self.path.exists():
            data = self.path.read_bytes()
            end = data.rfind(b"\n") + 1
            if end < len(data):
                with open(self.path, "r+b") as handle:
                    handle.truncate(end)
            for number, line in enumerate(data[:end].splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    record = parse_json_line(line, str(self.path), number)
                    if self.format is not None and record.get("format") != self.format:
                        raise KeyError("format")
                    self.done.add(str(record[self.key]))
                except (ValueError, KeyError, TypeError, AttributeError):
                    raise DataError(f"not a {self.format or 'prefkit'} line; choose another --out",
                                    source=str(self.path), line=number) from None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = open(self.path, "a", encoding="utf-8")
        try:
            import fcntl

            fcntl.flock(self.handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # pragma: no cover - no advisory locks on Windows
            pass
        except OSError:
            self.handle.close()
            raise DataError("another run is writing this file", source=str(self.path)) from None
        return self

    def write(self, record: dict[str, Any]) -> None:
        self.handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.handle.flush()
        self.done.add(str(record[self.key]))

    def __exit__(self, *exc: object) -> None:
        if self.handle is not None:
            self.handle.close()


def written_ids(path: str | Path, key: str = "id") -> set[str]:
    """Ids already in a (possibly torn) JSONL output, read without changing it; bad lines are
    left for :class:`JsonlSink` to report."""
    path = Path(path)
    if not path.exists():
        return set()
    data = path.read_bytes()
    ids = set()
    for line in data[: data.rfind(b"\n") + 1].splitlines():
        try:
            ids.add(str(parse_json_line(line, str(path))[key]))
        except (ValueError, KeyError, TypeError):
            continue
    return ids


def read_jsonl(path: str | Path, fmt: str) -> list[tuple[int, dict[str, Any]]]:
    """(line number, record) of every whole line of a prefkit JSONL output of format ``fmt``."""
    source = str(path)
    data = Path(path).read_text(encoding="utf-8")
    whole = data if data.endswith("\n") else data[: data.rfind("\n") + 1]
    out = []
    for number, line in enumerate(whole.splitlines(), 1):
        if not line.strip():
            continue
        record = parse_json_line(line, source, number)
        if not isinstance(record, dict) or record.get("format") != fmt:
            raise DataError(f"not a {fmt} line", source=source, line=number)
        out.append((number, record))
    return out
