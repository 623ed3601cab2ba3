"""Ask judges about every pair in both orders; stream judgments to JSONL; cache; resume.

:func:`run_pairwise` renders each (pair, order) with a :class:`~prefkit.judge.templates.Template`,
answers it from the :class:`~prefkit.judge.cache.JudgeCache` or the backend, reads the verdict
(the protocol's parser, :func:`prefkit.judge.parsing.parser_for`, on the text — or the
``probs`` of a scoring backend) and appends **one whole line per judgment** to the output file,
flushed as it arrives.  On start the output is read back: judgments already there are not asked
again (resume, keyed by pair, order and judge) and a torn last line of a killed run is cut off —
so no line is ever duplicated; an advisory lock (``flock``) keeps a second run from appending to
the same file (the output every protocol shares, :class:`prefkit.judge.runner.JsonlOutput`).
A request that fails after the backend's retries writes no line (the next run asks it again) and
is counted in :attr:`RunSummary.errors`.  An answer without a verdict is
re-asked up to ``reask`` times (each re-ask has its own cache key) and otherwise written with
``winner: null`` and ``parse_error`` — counted, never turned into a loss or a tie.

Several backends (a jury) are asked concurrently into one file; each judgment names its judge
(``annotator_id``) and :attr:`RunSummary.judges` reports each judge.  Backends with a
``session()`` (HTTP) are asked one request per task under their own concurrency limit; the others
(local LM, reward model, recorded) get batches through ``complete()`` in a worker thread.

The cached path is one batch: keys are hashes of the template inputs (nothing is rendered),
looked up 900 at a time, parsed and written without a task per judgment; only misses go to the
backend.  Token usage is summed per judge and priced when the caller gives :class:`Pricing`.

Record layout (``"format": "prefkit-judgment"``), the judgments layout of
:mod:`prefkit.data.readers._judgments` plus ``p_a`` (P(a ≻ b) of this order, scoring backends),
``probs``, ``parse_error``, ``usage``, ``reasks``, ``cached``; :func:`read_judgment_file` reads it
back (``prefkit judge analyze``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
import math
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefkit.core.limits import parse_json_line
from prefkit.data.readers._common import load_json_records
from prefkit.data.schema import PreferenceDataset
from prefkit.errors import DataError
from prefkit.judge.asking import identity_of
from prefkit.judge.backends.base import JudgeReply, JudgeRequest
from prefkit.judge.cache import JudgeCache, inputs_key, key_prefix
from prefkit.judge.parsing import Verdict, parser_for
from prefkit.judge.runner import JsonlOutput
from prefkit.judge.templates import Template

FORMAT = "prefkit-judgment"
ORDERS = ("ab", "ba")
#: verdict values of a scoring backend, in the positions shown
PROB_LABELS = ("A", "B", "tie")
#: requests per ``complete()`` call of a batch backend (progress advances between calls)
SYNC_CHUNK = 256
_ENCODE = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode
#: a JSON string as ``json.dumps(..., ensure_ascii=False)`` writes it
_ENCODE_STR = json.encoder.encode_basestring  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Pricing:
    """Prices in the caller's currency per 1,000 prompt and completion tokens."""

    prompt_per_1k: float = 0.0
    completion_per_1k: float = 0.0

    def cost(self, usage: dict[str, int]) -> float:
        return (usage.get("prompt_tokens", 0) * self.prompt_per_1k
                + usage.get("completion_tokens", 0) * self.completion_per_1k) / 1000.0


def _empty_usage() -> dict[str, int]:
    return {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}


@dataclass
class RunSummary:
    """What a run did: judgments written, where the answers came from, what failed, tokens
    (``usage`` of the answers received now) and ``cost`` (None without prices); ``judges``:
    the same per judge (a jury)."""

    total: int = 0
    already_done: int = 0
    written: int = 0
    asked: int = 0
    cached: int = 0
    unparsed: int = 0
    reasks: int = 0
    errors: int = 0
    tokens: int = 0
    usage: dict[str, int] = field(default_factory=_empty_usage)
    cost: float | None = None
    error_examples: list[str] = field(default_factory=list)
    judges: dict[str, RunSummary] = field(default_factory=dict)

    def add_usage(self, usage: dict[str, int], pricing: Pricing | None) -> None:
        for key in self.usage:
            self.usage[key] += int(usage.get(key, 0))
        self.tokens += int(usage.get("total_tokens", 0))
        if pricing is not None:
            self.cost = (self.cost or 0.0) + pricing.cost(usage)

    def status(self) -> str:
        """One short line for a progress bar: failures, tokens, cost."""
        text = f"{self.unparsed} unparsed, {self.errors} failed, {self.tokens:,} tokens"
        return text + (f", cost {self.cost:.4f}" if self.cost is not None else "")

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "judges"}
        out["usage"] = dict(self.usage)
        out["judges"] = {name: s.as_dict() for name, s in self.judges.items()}
        return out


@dataclass(frozen=True)
class _Item:
    pair_id: str
    order: str
    prompt: str
    a: str | None
    b: str | None
    a_text: str
    b_text: str

    @property
    def shown(self) -> tuple[str, str, str]:
        """(question, answer shown first, answer shown second)."""
        if self.order == "ab":
            return self.prompt, self.a_text, self.b_text
        return self.prompt, self.b_text, self.a_text


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
    records, lines = load_json_records(source)  # bounded: size, nesting, one-line errors
    columns: dict[str, list[Any]] = {
        name: [next((r[k] for k in aliases.get(name, (name,)) if k in r), None) for r in records]
        for name in names}
    return PairsToJudge(source, columns, lines.tolist())


def _render(template: Template, item: _Item) -> tuple[dict[str, str], ...]:
    question, first, second = item.shown
    return template.render(question=question, answer_a=first, answer_b=second)


def judgment_key(record: dict[str, Any]) -> tuple[str, str, str]:
    """The resume key of a judgment line: ``(pair_id, order, judge)``."""
    return (str(record["pair_id"]), record["order"], str(record.get("annotator_id") or ""))


#: (verdict, order) → winner for the common verdicts (a dictionary look-up in the hot loop)
_WINNERS = {("A", "ab"): "a", ("B", "ab"): "b", ("tie", "ab"): "tie",
            ("A", "ba"): "b", ("B", "ba"): "a", ("tie", "ba"): "tie"}


def winner_of(value: Any, order: str) -> str | None:
    """A positional verdict (``"A"``, ``"B"``, ``"tie"``, ``"A>>B"``, ``"A=B"`` …) in the pair's
    original frame (``a``/``b``/``tie``); None when unparsed."""
    if value is None:
        return None
    text = str(value)
    if text == "tie" or "=" in text:
        return "tie"
    first = text[:1].upper() == "A"
    return ("a" if first else "b") if order == "ab" else ("b" if first else "a")


def read_verdict(text: str, probs: dict[str, float] | None, parse: Callable[[Any], Verdict],
                 order: str) -> tuple[Any, str | None, float | None]:
    """(verdict value, why unparsed, P(a ≻ b) of this order): the most probable value and
    P(first) + ½ P(tie) mapped to the original frame for a scoring backend; the parser's
    verdict for a text."""
    if probs:
        value = max(PROB_LABELS, key=lambda k: probs.get(k, 0.0))
        first = probs.get("A", 0.0) + 0.5 * probs.get("tie", 0.0)
        return value, None, first if order == "ab" else 1.0 - first
    verdict = parse(text)
    return verdict.value, verdict.reason, None


@functools.cache
def parser_fingerprint(protocol: str) -> str:
    """The protocol and a hash of the parsers' source: a verdict stored in the cache with this
    fingerprint is what parsing the text again would give (any edit of the parsers changes it)."""
    from prefkit.judge import parsing

    code = Path(parsing.__file__).read_bytes()
    return f"{protocol}:{hashlib.sha256(code).hexdigest()[:16]}"


@dataclass
class _Judge:
    """One backend's share of a run: its pending items and their first-ask cache hits."""

    backend: Any
    pending: list[_Item]
    prefix: bytes
    keys: list[str]
    hits: dict[str, Any]
    summary: RunSummary
    pricing: Pricing | None

    @property
    def name(self) -> str:
        return str(self.backend.name)

    def key(self, item: _Item, index: int, r: int) -> str:
        return self.keys[index] if r == 0 else inputs_key(self.prefix, item.shown, r)


def _plan(items: list[_Item], backends: Sequence[Any], done: set[tuple[str, str, str]],
          template: Template, cache: JudgeCache | None,
          pricing: dict[str, Pricing] | None) -> list[_Judge]:
    names = [b.name for b in backends]
    if len(set(names)) != len(names):
        twice = sorted(n for n in names if names.count(n) > 1)[0]
        raise DataError(f"two judges are named {twice!r}; judges must have distinct names",
                        field="--model")
    plans = []
    for backend in backends:
        name = str(backend.name)
        pending = [it for it in items if (it.pair_id, it.order, name) not in done]
        prefix = key_prefix(identity_of(backend), template.hash)
        keys = [inputs_key(prefix, it.shown, 0) for it in pending]
        hits = (cache.get_many_parsed(keys, parser_fingerprint(template.protocol))
                if cache is not None and keys else {})
        summary = RunSummary(total=len(items), already_done=len(items) - len(pending))
        plans.append(_Judge(backend, pending, prefix, keys, hits, summary,
                            (pricing or {}).get(name)))
    return plans


@contextlib.asynccontextmanager
async def _no_session() -> AsyncIterator[None]:
    yield None


async def _ajudge(
    items: list[_Item],
    backends: Sequence[Any],
    *,
    template: Template,
    done: set[tuple[str, str, str]],
    open_sink: Callable[[], contextlib.AbstractContextManager[Any]],
    cache: JudgeCache | None = None,
    reask: int = 0,
    advance: Callable[[int], None] | None = None,
    pricing: dict[str, Pricing] | None = None,
    summary: RunSummary | None = None,
) -> RunSummary:
    """Every item by every backend; records go to the sink ``open_sink()`` yields, opened only
    after every backend that must be asked passed its pre-flight check."""
    parse = parser_for(template.protocol)
    fingerprint = parser_fingerprint(template.protocol)
    plans = _plan(items, backends, done, template, cache, pricing)
    total = summary if summary is not None else RunSummary()
    total.total = len(items) * len(backends)
    total.already_done = sum(p.summary.already_done for p in plans)
    total.judges = {str(p.backend.name): p.summary for p in plans}
    tick = advance or (lambda _k: None)

    def account(plan: _Judge, **counts: int) -> None:
        for key, value in counts.items():
            setattr(plan.summary, key, getattr(plan.summary, key) + value)
            setattr(total, key, getattr(total, key) + value)

    def fail(plan: _Judge, item: _Item, error: str | None) -> None:
        account(plan, errors=1)
        for s in (plan.summary, total):
            if len(s.error_examples) < 5:
                s.error_examples.append(f"{plan.backend.name}: {item.pair_id}/{item.order}: "
                                        f"{error}")
        tick(1)

    async with contextlib.AsyncExitStack() as stack:
        sessions = []
        for plan in plans:  # pre-flight checks run here, before the output is touched
            needs_server = len(plan.hits) < len(plan.pending)
            session = (plan.backend.session(preflight=needs_server)
                       if hasattr(plan.backend, "session") and needs_server else _no_session())
            if needs_server and not hasattr(plan.backend, "session") \
                    and hasattr(plan.backend, "preflight"):
                await asyncio.to_thread(plan.backend.preflight)  # open a local model
            sessions.append(await stack.enter_async_context(session))
        sink = stack.enter_context(open_sink())

        tails = {p.name: _ENCODE({
            "annotator_id": p.backend.name, "protocol": template.protocol,
            "template": template.name, "template_hash": template.hash})[1:-1] for p in plans}
        shared: dict[str, str] = {}  # pair_id → the JSON of the fields both orders share

        enc = _ENCODE_STR
        head = f'{{"format":"{FORMAT}","pair_id":'

        def line_of(plan: _Judge, it: _Item, text: str, usage: dict[str, int] | str,
                    probs: dict[str, float] | None, value: Any, reason: str | None,
                    p_a: float | None, r: int, cached: bool) -> tuple[str, bool]:
            """(one judgment line, whether it has a verdict): the record of the module notes,
            assembled from pre-encoded parts (``usage``: a dict, or its JSON text from the
            cache)."""
            winner = _WINNERS.get((value, it.order)) if value.__class__ is str else None
            if winner is None and value is not None:
                winner = winner_of(value, it.order)
            pair = shared.get(it.pair_id)
            if pair is None:
                pair = shared[it.pair_id] = _ENCODE({
                    "prompt": it.prompt, "a": it.a, "b": it.b, "a_text": it.a_text,
                    "b_text": it.b_text})[1:-1]
            if winner is None:
                error = enc(reason or "no verdict")
                verdict = "null" if value is None else _ENCODE(value)
                won = "null"
            else:
                error = "null"
                verdict = enc(value) if value.__class__ is str else _ENCODE(value)
                won = f'"{winner}"'
            prob = "null" if p_a is None or not math.isfinite(p_a) else repr(float(p_a))
            return (
                f'{head}{enc(it.pair_id)},"order":"{it.order}",{pair},"winner":{won},'
                f'"verdict":{verdict},"parse_error":{error},"p_a":{prob},'
                f'"probs":{"null" if probs is None else _ENCODE(probs)},"rationale":{enc(text)},'
                f'{tails[plan.name]},"reasks":{r},"cached":{"true" if cached else "false"},'
                f'"usage":{usage if usage.__class__ is str else _ENCODE(usage)}}}'
            ), winner is not None

        def emit(plan: _Judge, it: _Item, text: str, usage: dict[str, int],
                 probs: dict[str, float] | None, value: Any, reason: str | None,
                 p_a: float | None, r: int, cached: bool) -> None:
            """Write and flush one judgment line."""
            line, decided = line_of(plan, it, text, usage, probs, value, reason, p_a, r, cached)
            account(plan, written=1, unparsed=not decided)
            sink.write(line, True)
            tick(1)

        # 1. every judgment whose first answer is cached: one pass, no task, no rendering,
        #    the lines written at once
        rest: list[tuple[_Judge, Any, list[tuple[int, _Item, int]]]] = []
        for plan, session in zip(plans, sessions, strict=True):
            todo = []
            hits, keys = plan.hits, plan.keys
            lines: list[str] = []
            cached = unparsed = reasks = 0
            for index, it in enumerate(plan.pending):
                hit = hits.get(keys[index])
                if hit is None:
                    todo.append((index, it, 0))
                    continue
                text, usage, probs, parsed = hit
                if parsed is not None and not probs:  # parsed when it was stored
                    value, reason, p_a = parsed[0], parsed[1], None
                else:
                    value, reason, p_a = read_verdict(text, probs, parse, it.order)
                cached += 1
                if value is None and reask > 0:
                    reasks += 1
                    todo.append((index, it, 1))
                    continue
                line, decided = line_of(plan, it, text, usage, probs, value, reason, p_a, 0,
                                        True)
                lines.append(line)
                unparsed += not decided
            sink.write_lines(lines)
            account(plan, cached=cached, written=len(lines), unparsed=unparsed, reasks=reasks)
            tick(len(lines))
            plan.hits = {}
            rest.append((plan, session, todo))

        async def settle(plan: _Judge, it: _Item, index: int, r: int,
                         ask: Callable[[JudgeRequest], Awaitable[JudgeReply]] | None,
                         reply: JudgeReply | None) -> tuple[int, _Item, int] | None:
            """Write the answer of round ``r`` or return the next round's work (re-ask)."""
            while True:
                if reply is None:
                    # round 0 was looked up with the whole batch already
                    hit = (cache.get(plan.key(it, index, r)) if cache is not None and r > 0
                           else None)
                    if hit is not None:
                        account(plan, cached=1)
                        text, usage, probs = hit
                        cached = True
                    elif ask is None:
                        return (index, it, r)  # a batch backend: asked in the next batch
                    else:
                        reply = await ask(_request(it, template))
                        continue
                else:
                    account(plan, asked=1)
                    if reply.text is None:
                        fail(plan, it, reply.error)
                        return None
                    text, usage, probs = reply.text, dict(reply.usage), reply.probs
                    plan.summary.add_usage(usage, plan.pricing)
                    total.add_usage(usage, plan.pricing)
                    cached = False
                value, reason, p_a = read_verdict(text, probs, parse, it.order)
                if not cached and cache is not None:
                    cache.put(plan.key(it, index, r), text, usage, probs,
                              (fingerprint, value, reason))
                if value is None and r < reask:
                    account(plan, reasks=1)
                    r, reply = r + 1, None
                    continue
                emit(plan, it, text, usage, probs, value, reason, p_a, r, cached)
                return None

        async def one_by_one(plan: _Judge, ask: Any, todo: list[tuple[int, _Item, int]]) -> None:
            await asyncio.gather(*(settle(plan, it, index, r, ask, None)
                                   for index, it, r in todo))

        async def in_batches(plan: _Judge, todo: list[tuple[int, _Item, int]]) -> None:
            while todo:
                waiting = []
                for index, it, r in todo:  # cached answers of later rounds first
                    work = await settle(plan, it, index, r, None, None)
                    if work is not None:
                        waiting.append(work)
                todo = []
                for start in range(0, len(waiting), SYNC_CHUNK):
                    chunk = waiting[start:start + SYNC_CHUNK]
                    requests = [_request(it, template) for _, it, _ in chunk]
                    replies = await asyncio.to_thread(plan.backend.complete, requests)
                    if len(replies) != len(requests):
                        raise DataError(f"judge {plan.backend.name} answered {len(replies)} of "
                                        f"{len(requests)} requests")
                    for (index, it, r), reply in zip(chunk, replies, strict=True):
                        again = await settle(plan, it, index, r, None, reply)
                        if again is not None:
                            todo.append(again)

        await asyncio.gather(*(
            one_by_one(plan, session, todo) if session is not None
            else in_batches(plan, todo)
            for plan, session, todo in rest if todo
        ))
    return total


def _request(it: _Item, template: Template) -> JudgeRequest:
    question, first, second = it.shown
    return JudgeRequest(it.pair_id, it.order, _render(template, it), template.hash,
                        inputs={"question": question, "answer_a": first, "answer_b": second})


class _ListSink:
    """Keeps the records in memory (:func:`judge_records`); the file sink is
    :class:`~prefkit.judge.runner.JsonlOutput`."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def write(self, line: str, flush: bool = True) -> None:
        self.records.append(json.loads(line))

    def flush(self) -> None:
        pass

    def write_lines(self, lines: list[str]) -> None:
        self.records.extend(json.loads(line) for line in lines)


def _orders(orders: Iterable[str], field: str) -> tuple[str, ...]:
    orders = tuple(orders)
    if not orders or set(orders) - set(ORDERS):
        raise DataError(f"orders must be among {ORDERS}", field=field)
    return orders


def _backends(backend: Any) -> list[Any]:
    return list(backend) if isinstance(backend, (list, tuple)) else [backend]


async def arun_pairwise(
    dataset: PreferenceDataset | PairsToJudge,
    backend: Any,
    out: str | os.PathLike[str],
    *,
    template: Template,
    orders: Iterable[str] = ORDERS,
    cache: JudgeCache | None = None,
    reask: int = 0,
    advance: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
    pricing: dict[str, Pricing] | None = None,
    summary: RunSummary | None = None,
) -> RunSummary:
    """Judge every pair of ``dataset`` in ``orders`` by ``backend`` (or a list of backends: a
    jury) into the JSONL ``out``; see the module docstring.  ``pricing``: judge name → prices;
    ``summary``: a :class:`RunSummary` to fill while running (a progress bar reads it)."""
    items = _items(dataset, _orders(orders, "--orders"))
    backends = _backends(backend)
    output = JsonlOutput(out, judgment_key, what="prefkit judgment")
    done = output.read_back()
    if on_total:
        names = [str(b.name) for b in backends]
        on_total(sum((it.pair_id, it.order, n) not in done for it in items for n in names))
    return await _ajudge(items, backends, template=template, done=done,
                         open_sink=lambda: output, cache=cache, reask=reask,
                         advance=advance, pricing=pricing, summary=summary)


def run_pairwise(*args: Any, **kwargs: Any) -> RunSummary:
    """Synchronous :func:`arun_pairwise`."""
    return asyncio.run(arun_pairwise(*args, **kwargs))


def judge_records(
    dataset: PreferenceDataset | PairsToJudge,
    backend: Any,
    *,
    template: Template,
    orders: Iterable[str] = ORDERS,
    cache: JudgeCache | None = None,
    reask: int = 0,
    advance: Callable[[int], None] | None = None,
    summary: RunSummary | None = None,
) -> list[dict[str, Any]]:
    """The judgment records of every pair in ``orders`` by ``backend`` (or a list), in memory
    (no output file) — what :class:`~prefkit.judge.live.LLMJudge` builds its datasets from."""
    items = _items(dataset, _orders(orders, "orders"))
    sink = _ListSink()
    asyncio.run(_ajudge(items, _backends(backend), template=template, done=set(),
                        open_sink=lambda: contextlib.nullcontext(sink), cache=cache,
                        reask=reask, advance=advance, summary=summary))
    return sink.records


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
    import pyarrow as pa

    from prefkit.data.readers._judgments import JUDGMENT_COLUMNS, judgments_dataset

    source = os.fspath(path)
    data = Path(path).read_text(encoding="utf-8")
    whole = data if data.endswith("\n") else data[: data.rfind("\n") + 1]
    columns: dict[str, list[Any]] = {name: [] for name in JUDGMENT_COLUMNS}
    columns["unparsed_label"] = []
    p_a: list[float | None] = []
    lines = []
    for number, line in enumerate(whole.splitlines(), 1):
        if not line.strip():
            continue
        record = parse_json_line(line, source, number)
        if not isinstance(record, dict):
            raise DataError("not a JSON object", source=source, line=number)
        for name in JUDGMENT_COLUMNS:
            columns[name].append(record.get(name))
        columns["unparsed_label"].append(record.get("parse_error"))
        p_a.append(record.get("p_a"))
        lines.append(number)
    extra = {"p_a": pa.array(p_a, pa.float64())} if any(p is not None for p in p_a) else None
    dataset = judgments_dataset(columns, extra, source=source, lines=lines)
    dataset.metadata["format"] = FORMAT
    return dataset
