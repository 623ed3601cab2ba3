"""Checklist grading (TICK): a judge writes YES/NO questions per instruction, then answers each
for every response; the score is the share of YES.

Cook et al. 2024, "TICK'ing all the boxes: generated checklists improve LLM evaluation and
generation".  For an instruction x with generated checklist Q(x) and a response y::

    score(y) = (1 / |Q(x)|) · Σ_{q ∈ Q(x)} 1[judge answers YES to q for y]

(the pass rate); a pairwise verdict is sign(score(y_a) − score(y_b)), a tie when equal.

Two replaceable templates: ``checklist_generate`` (variables ``question``; parsed by
:func:`prefkit.judge.parsing.parse_checklist_questions`: numbered/bulleted lines ending in
``?``) and ``checklist_answer`` (``question``, ``response``, ``item``; parsed by
:func:`prefkit.judge.parsing.parse_yes_no`: ``[[YES]]``/``[[NO]]``, else a last line YES/NO).
One checklist per distinct instruction (asked once, cached, shared by its responses); one request
per (response, question).  Checklists may also be given (``checklists``: instruction → questions).

**Every item is kept**: the output line of a response lists each question with its answer, raw
reply and parse error.  An unparsed answer is re-asked up to ``reask`` times; if one stays
unparsed the response's ``score`` is ``null`` (``parse_error`` says how many) — an unanswered
item is never counted as NO.  An instruction whose checklist cannot be parsed gives ``null``
scores for all its responses.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefkit.core.limits import parse_json_line
from prefkit.data.schema import PreferenceDataset
from prefkit.errors import DataError
from prefkit.judge.asking import Answer, AskFn, ask_parsed, identity_of
from prefkit.judge.cache import JudgeCache
from prefkit.judge.grading import GradeItems
from prefkit.judge.parsing import parse_checklist_questions, parse_yes_no
from prefkit.judge.runner import RecordRun, RecordsSummary, read_rated
from prefkit.judge.templates import Template, load_template

FORMAT = "prefkit-checklist"


@dataclass
class ChecklistSummary(RecordsSummary):
    """What a checklist run did: checklists generated, responses written, request counts."""

    checklists: int = 0
    checklists_unparsed: int = 0

    def protocol_counts(self) -> dict[str, Any]:
        return {"checklists": self.checklists, "checklists_unparsed": self.checklists_unparsed}


def _prompt_id(prompt: str) -> str:
    return "checklist:" + hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:16]


def pass_rate(answers: list[str | None]) -> float | None:
    """Share of ``"yes"`` among the answers; ``None`` if any is unparsed or there are none."""
    if not answers or any(a is None for a in answers):
        return None
    return sum(a == "yes" for a in answers) / len(answers)


async def achecklist(
    items: GradeItems,
    backend: Any,
    out: str | os.PathLike[str],
    *,
    generate_template: Template | None = None,
    answer_template: Template | None = None,
    checklists: dict[str, list[str]] | None = None,
    cache: JudgeCache | None = None,
    reask: int = 1,
    advance: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> ChecklistSummary:
    """Checklist-grade every response of ``items`` into ``out`` (JSONL, resumable)."""
    gen = generate_template or load_template("checklist_generate")
    ans = answer_template or load_template("checklist_answer")
    items.check()
    identity = identity_of(backend)
    summary = ChecklistSummary()
    run = RecordRun(out, FORMAT, items.ids, summary)
    given = dict(checklists or {})
    prompts = sorted({items.prompts[i] for i in run.pending} - set(given))
    if on_total:
        on_total(len(prompts) + len(run.pending))
    made: dict[str, Answer] = {}

    async def generate(ask: AskFn) -> None:
        """One checklist per instruction, asked before any response is checked."""

        async def make(prompt: str) -> tuple[str, Answer]:
            answer = await ask_parsed(
                ask, item_id=_prompt_id(prompt), messages=gen.render(question=prompt),
                template=gen, parse=parse_checklist_questions, identity=identity,
                cache=cache, reask=reask, stats=summary.stats)
            if advance:
                advance(1)
            return prompt, answer

        made.update(await asyncio.gather(*(make(p) for p in prompts)))
        summary.checklists = len(made)
        summary.checklists_unparsed = sum(not a.verdict.parsed for a in made.values())

    async def answer(ask: AskFn, i: int) -> dict[str, Any] | None:
        prompt, response = items.prompts[i], items.responses[i]
        generated = made.get(prompt)
        questions = given.get(prompt) or (
            list(generated.verdict.value) if generated and generated.verdict.parsed else [])
        if generated is not None and generated.error is not None:
            return None  # the checklist request failed: nothing written, asked next run
        answers = await asyncio.gather(*(
            ask_parsed(ask, item_id=f"{items.ids[i]}#{k}",
                       messages=ans.render(question=prompt, response=response, item=q),
                       template=ans, parse=parse_yes_no, identity=identity,
                       cache=cache, reask=reask, stats=summary.stats)
            for k, q in enumerate(questions)))
        if any(a.error is not None for a in answers):
            return None
        values = [a.verdict.value for a in answers]
        unparsed = sum(v is None for v in values)
        error = ("no checklist" if not questions else
                 f"{unparsed} of {len(values)} checklist answers unparsed" if unparsed else None)
        return {
            "format": FORMAT, "id": items.ids[i], "item": items.items[i],
            "prompt": prompt, "text": response, "score": pass_rate(values),
            "yes": values.count("yes"), "no": values.count("no"),
            "unparsed": unparsed, "parse_error": error,
            "checklist": [
                {"question": q, "answer": a.verdict.value,
                 "parse_error": a.verdict.reason, "rationale": a.text,
                 "reasks": a.reasks, "cached": a.cached}
                for q, a in zip(questions, answers, strict=True)],
            "checklist_source": "given" if prompt in given else "generated",
            "checklist_rationale": None if generated is None else generated.text,
            "annotator_id": getattr(backend, "name", None),
            "template_hash": {"generate": gen.hash, "answer": ans.hash},
        }

    await run.ask_all(backend, answer, before=generate, advance=advance)
    return summary


def checklist(*args: Any, **kwargs: Any) -> ChecklistSummary:
    """Synchronous :func:`achecklist`."""
    return asyncio.run(achecklist(*args, **kwargs))


def read_checklists(path: str | os.PathLike[str]) -> PreferenceDataset:
    """A ``prefkit-checklist`` JSONL as a ``rating`` dataset (``scores = {"overall": pass
    rate}``, the items as JSON in ``meta``); unscored responses in ``metadata["unparsed"]``."""
    return read_rated(path, FORMAT, empty="no scored response in the file",
                      extra=lambda r: {"meta": json.dumps({"checklist": r.get("checklist")},
                                                          ensure_ascii=False)})


def load_checklists(path: str | os.PathLike[str]) -> dict[str, list[str]]:
    """Given checklists: JSON object instruction → list of questions, or JSONL lines with
    ``prompt`` and ``checklist`` (a list of questions)."""
    source = os.fspath(path)
    text = Path(path).read_text(encoding="utf-8")
    try:
        value = parse_json_line(text, source)
        rows = list(value.items()) if isinstance(value, dict) else None
    except DataError:
        rows = None
    if rows is None:
        rows = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            rec = parse_json_line(line, source, number)
            try:
                rows.append((rec["prompt"], rec["checklist"]))
            except (KeyError, TypeError):
                raise DataError("expected {\"prompt\", \"checklist\"}", source=source,
                                line=number) from None
    out: dict[str, list[str]] = {}
    for prompt, questions in rows:
        if not isinstance(questions, list) or not all(isinstance(q, str) for q in questions):
            raise DataError("a checklist must be a list of questions", source=source,
                            field="checklist")
        out[str(prompt)] = questions
    return out
