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

The resumable output and the run around the questions are :mod:`prefkit.judge.runner`.
"""

from __future__ import annotations

import contextlib
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
