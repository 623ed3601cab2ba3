"""Ask a judge about every pair in both orders; stream judgments to JSONL; cache; resume.

:func:`run_pairwise` renders each (pair, order) with a :class:`~prefkit.judge.templates.Template`,
answers it from the :class:`~prefkit.judge.cache.JudgeCache` or the backend, parses the verdict
(:func:`prefkit.judge.parsing.parser_for`) and appends **one whole line per judgment** to the
output file, flushed as it arrives.  On start the output is read back: judgments already there are
not asked again (resume) and a torn last line of a killed run is cut off — so no line is ever
duplicated; an advisory lock (``flock``) keeps a second run from appending to the same file.
A request that fails after the backend's retries writes no line (the next run asks it again)
and is counted in :attr:`RunSummary.errors`.  An answer without a verdict is re-asked up to
``reask`` times (each re-ask has its own cache key) and otherwise written with ``winner: null``
and ``parse_error`` — counted, never turned into a loss or a tie.

Record layout (``"format": "prefkit-judgment"``), the judgments layout of
:mod:`prefkit.data.readers._judgments` plus ``parse_error``, ``usage``, ``reasks``, ``cached``;
:func:`read_judgment_file` reads it back (``prefkit judge analyze``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefkit.data.schema import PreferenceDataset
from prefkit.errors import DataError
from prefkit.judge.backends.base import JudgeReply, JudgeRequest
from prefkit.judge.cache import JudgeCache, cache_key
from prefkit.judge.parsing import parser_for
from prefkit.judge.templates import Template

FORMAT = "prefkit-judgment"
ORDERS = ("ab", "ba")
_FRAME = {"ab": {"A": "a", "B": "b", "tie": "tie"}, "ba": {"A": "b", "B": "a", "tie": "tie"}}


@dataclass
class RunSummary:
    """What a run did: judgments written, where the answers came from, what failed."""

    total: int = 0
    already_done: int = 0
    written: int = 0
    asked: int = 0
    cached: int = 0
    unparsed: int = 0
    reasks: int = 0
    errors: int = 0
    tokens: int = 0
    error_examples: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class _Item:
    pair_id: str
    order: str
    prompt: str
    a: str | None
    b: str | None
    a_text: str
    b_text: str


def _items(dataset: PreferenceDataset | PairsToJudge, orders: Iterable[str]) -> list[_Item]:
    if isinstance(dataset, PreferenceDataset):
        if dataset.kind != "pairwise":
            raise DataError(f"judge pairwise needs pairwise data, not {dataset.kind}",
                            source=dataset.name)
        n = len(dataset)
        columns = {name: (list(dataset.column(name)) if dataset.has(name) else [None] * n)
                   for name in ("pair_id", "prompt", "a", "b", "a_text", "b_text")}
        pairs = PairsToJudge(dataset.name or "<data>", columns, None)
    else:
        pairs = dataset
    columns, n = pairs.columns, len(pairs.columns["prompt"])
    for name in ("prompt", "a_text", "b_text"):
        missing = [i for i, v in enumerate(columns[name]) if not isinstance(v, str)]
        if missing:
            i = missing[0]
            raise DataError("the pairwise template needs this text", source=pairs.source,
                            line=pairs.lines[i] if pairs.lines else None,
                            row=None if pairs.lines else i, field=name)
    ids = [str(v) if v is not None else str(i) for i, v in enumerate(columns["pair_id"])]
    if len(set(ids)) != n:
        raise DataError("pair_id is not unique", source=pairs.source, field="pair_id")
    return [
        _Item(ids[i], order, columns["prompt"][i], columns["a"][i], columns["b"][i],
              columns["a_text"][i], columns["b_text"][i])
        for i in range(n) for order in orders
    ]


def check_pairs(dataset: PreferenceDataset | PairsToJudge) -> None:
    """Raise the DataError :func:`run_pairwise` would raise for ``dataset`` (missing texts,
    duplicate ``pair_id``), without asking anybody."""
    _items(dataset, ("ab",))


@dataclass
class PairsToJudge:
    """Unlabelled pairs (no winner yet): ``columns`` pair_id, prompt, a, b, a_text, b_text."""

    source: str
    columns: dict[str, list[Any]]
    lines: list[int] | None

    def __len__(self) -> int:
        return len(self.columns["prompt"])


def read_pairs_jsonl(path: str | os.PathLike[str]) -> PairsToJudge:
    """Pairs to judge from JSONL: ``prompt``, ``a_text``, ``b_text`` (``response_a``/
    ``response_b`` also accepted), optional ``pair_id`` (or ``id``), ``a``, ``b`` (names)."""
    source = os.fspath(path)
    names = ("pair_id", "prompt", "a", "b", "a_text", "b_text")
    aliases = {"pair_id": ("pair_id", "id", "question_id"), "a_text": ("a_text", "response_a"),
               "b_text": ("b_text", "response_b"), "a": ("a", "model_a"), "b": ("b", "model_b")}
    columns: dict[str, list[Any]] = {name: [] for name in names}
    lines = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                raise DataError("not JSON", source=source, line=number) from None
            if not isinstance(record, dict):
                raise DataError("not a JSON object", source=source, line=number)
            for name in names:
                value = next((record[k] for k in aliases.get(name, (name,)) if k in record),
                             None)
                columns[name].append(value)
            lines.append(number)
    return PairsToJudge(source, columns, lines)


def _render(template: Template, item: _Item) -> tuple[dict[str, str], ...]:
    first, second = (item.a_text, item.b_text) if item.order == "ab" else (item.b_text,
                                                                            item.a_text)
    return template.render(question=item.prompt, answer_a=first, answer_b=second)


def done_judgments(out: Path) -> set[tuple[str, str]]:
    """``(pair_id, order)`` already in ``out``; a torn last line (killed writer) is cut off."""
    if not out.exists():
        return set()
    data = out.read_bytes()
    end = data.rfind(b"\n") + 1
    if end < len(data):
        with open(out, "r+b") as handle:
            handle.truncate(end)
    done = set()
    for number, line in enumerate(data[:end].splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            done.add((str(record["pair_id"]), record["order"]))
        except (ValueError, KeyError, TypeError):
            raise DataError("not a prefkit judgment line; choose another --out",
                            source=str(out), line=number) from None
    return done


def _lock(handle: Any, out: Path) -> None:
    """An exclusive advisory lock on the output (POSIX): two runs never append to one file."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no advisory locks
        return
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        raise DataError("another run is writing this file", source=str(out)) from None


@contextlib.asynccontextmanager
async def _sync_session(backend: Any) -> AsyncIterator[Callable[[JudgeRequest], Awaitable[Any]]]:
    async def ask(request: JudgeRequest) -> JudgeReply:
        return backend.complete([request])[0]

    yield ask


async def arun_pairwise(
    dataset: PreferenceDataset,
    backend: Any,
    out: str | os.PathLike[str],
    *,
    template: Template,
    orders: Iterable[str] = ORDERS,
    cache: JudgeCache | None = None,
    reask: int = 0,
    advance: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> RunSummary:
    """Judge every pair of ``dataset`` in ``orders``; see the module docstring."""
    out = Path(out)
    orders = tuple(orders)
    if not orders or set(orders) - set(ORDERS):
        raise DataError(f"orders must be among {ORDERS}", field="--orders")
    items = _items(dataset, orders)
    done = done_judgments(out)
    pending = [it for it in items if (it.pair_id, it.order) not in done]
    summary = RunSummary(total=len(items), already_done=len(items) - len(pending))
    if on_total:
        on_total(len(pending))
    identity = getattr(backend, "cache_identity", {"backend": type(backend).__name__,
                                                   "name": backend.name})
    parse = parser_for(template.protocol)
    rendered = {(it.pair_id, it.order): _render(template, it) for it in pending}

    keys: dict[tuple[str, str, int], str] = {}

    def key(it: _Item, r: int) -> str:
        k = (it.pair_id, it.order, r)
        if k not in keys:
            keys[k] = cache_key(identity, template.hash, rendered[(it.pair_id, it.order)], r)
        return keys[k]

    prefetched = cache.get_many([key(it, 0) for it in pending]) if cache is not None else {}
    need_server = len(prefetched) < len(pending)
    session = (backend.session(preflight=need_server) if hasattr(backend, "session")
               else _sync_session(backend))
    async with session as ask:  # the pre-flight check runs before the output is touched
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out, "a", encoding="utf-8") as handle:
            _lock(handle, out)

            async def judge(it: _Item) -> None:
                messages = rendered[(it.pair_id, it.order)]
                usage: dict[str, int] = {}
                cached = True
                for r in range(reask + 1):
                    k = key(it, r)
                    hit = prefetched.pop(k, None) if r == 0 else None
                    if hit is None and cache is not None:
                        hit = cache.get(k)
                    if hit is not None:
                        text, usage = hit
                        summary.cached += 1
                    else:
                        request = JudgeRequest(it.pair_id, it.order, messages, template.hash)
                        reply = await ask(request)
                        summary.asked += 1
                        if reply.text is None:
                            summary.errors += 1
                            if len(summary.error_examples) < 5:
                                summary.error_examples.append(
                                    f"{it.pair_id}/{it.order}: {reply.error}")
                            if advance:
                                advance(1)
                            return
                        text, usage, cached = reply.text, dict(reply.usage), False
                        summary.tokens += int(usage.get("total_tokens", 0))
                        if cache is not None:
                            cache.put(k, text, usage)
                    verdict = parse(text)
                    if verdict.value is not None:
                        break
                    if r < reask:
                        summary.reasks += 1
                winner = _FRAME[it.order][verdict.value] if verdict.value is not None else None
                summary.unparsed += winner is None
                record = {
                    "format": FORMAT, "pair_id": it.pair_id, "order": it.order,
                    "prompt": it.prompt, "a": it.a, "b": it.b,
                    "a_text": it.a_text, "b_text": it.b_text, "winner": winner,
                    "verdict": verdict.value, "parse_error": verdict.reason,
                    "rationale": text, "annotator_id": backend.name,
                    "protocol": template.protocol, "template": template.name,
                    "template_hash": template.hash, "usage": usage, "reasks": r,
                    "cached": cached,
                }
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
                handle.flush()
                summary.written += 1
                if advance:
                    advance(1)

            await asyncio.gather(*(judge(it) for it in pending))
    return summary


def run_pairwise(*args: Any, **kwargs: Any) -> RunSummary:
    """Synchronous :func:`arun_pairwise`."""
    return asyncio.run(arun_pairwise(*args, **kwargs))


def is_judgment_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` starts with a ``prefkit-judgment`` line."""
    try:
        with open(path, encoding="utf-8") as handle:
            first = handle.readline(1 << 20)
        return json.loads(first).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def read_judgment_file(path: str | os.PathLike[str]) -> PreferenceDataset:
    """A ``prefkit-judgment`` JSONL as a judgments dataset (a torn last line is ignored)."""
    from prefkit.data.readers._judgments import JUDGMENT_COLUMNS, judgments_dataset

    source = os.fspath(path)
    data = Path(path).read_text(encoding="utf-8")
    whole = data if data.endswith("\n") else data[: data.rfind("\n") + 1]
    columns: dict[str, list[Any]] = {name: [] for name in JUDGMENT_COLUMNS}
    columns["unparsed_label"] = []
    lines = []
    for number, line in enumerate(whole.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            raise DataError("not JSON", source=source, line=number) from None
        for name in JUDGMENT_COLUMNS:
            columns[name].append(record.get(name))
        columns["unparsed_label"].append(record.get("parse_error"))
        lines.append(number)
    dataset = judgments_dataset(columns, source=source, lines=lines)
    dataset.metadata["format"] = FORMAT
    return dataset
