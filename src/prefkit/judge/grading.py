"""Absolute grading: a judge scores each response on a rubric, with or without a reference answer.

Two published protocols, each a replaceable Jinja2 template (:mod:`prefkit.judge.templates`):

* **1–5 rubric, Prometheus-style** (Kim et al. 2024, "Prometheus 2"; template ``prometheus``):
  feedback, then ``[RESULT] 4`` — parsed by :func:`prefkit.judge.parsing.parse_prometheus`
  (an integer 1–5; the template's own ``[RESULT] <an integer …>`` line never matches);
* **1–10 rating, MT-Bench-style** (Zheng et al. 2023, ``single-v1`` / ``single-v1-ref``;
  template ``mt_bench``): an explanation, then ``Rating: [[9]]`` — parsed by
  :func:`prefkit.judge.parsing.parse_rating` (``[[9]]``, ``[[9.5]]``, else ``9/10``).

A rubric is text (``.txt``/``.md``, inserted as it is) or Prometheus's own JSON/YAML record
(``criteria``, ``score1_description`` … ``score5_description``).  The reference answer is used
when an item has one (``reference``); ``require_reference=True`` makes a missing one an error
naming the field.

**Unparsed answers are never scored**: re-asked up to ``reask`` times, then written with
``score: null`` and ``parse_error``; :func:`read_grades` keeps them in
``metadata["unparsed"]`` (a rating record needs a score), where they are counted.

Output: one JSON line per item (``"format": "prefkit-grade"``), streamed as answers arrive and
resumable (:class:`prefkit.judge.runner.RecordRun`); :func:`read_grades` turns it into a
``rating`` :class:`~prefkit.data.schema.PreferenceDataset` (``item`` = model, ``text``,
``scores = {"overall": grade}``, ``annotator_id`` = judge, ``rationale`` = raw judge text).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from prefkit.core.limits import json_depth_ok
from prefkit.data.readers._common import load_json_records
from prefkit.data.schema import PreferenceDataset
from prefkit.errors import DataError
from prefkit.judge.asking import AskFn, ask_parsed, identity_of
from prefkit.judge.cache import JudgeCache, cache_key
from prefkit.judge.parsing import parse_prometheus, parse_rating
from prefkit.judge.runner import RecordRun, RecordsSummary, read_rated
from prefkit.judge.templates import Template, load_template

FORMAT = "prefkit-grade"
#: scale top → (built-in template, low, high)
SCALES: dict[int, tuple[str, int, int]] = {5: ("prometheus", 1, 5), 10: ("mt_bench", 1, 10)}
DEFAULT_RUBRICS: dict[int, str] = {
    5: ("[Is the response helpful, correct and complete for the instruction?]\n"
        "Score 1: The response is unhelpful, wrong or off-topic.\n"
        "Score 2: The response addresses the instruction but has major errors or omissions.\n"
        "Score 3: The response is partly correct and helpful, with noticeable gaps.\n"
        "Score 4: The response is correct and helpful with minor issues.\n"
        "Score 5: The response is correct, complete and fully helpful."),
    10: ("Your evaluation should consider factors such as the helpfulness, relevance, "
         "accuracy, depth, creativity and level of detail of the response."),
}
_ALIASES = {
    "id": ("id", "question_id", "item_id", "uid"),
    "prompt": ("prompt", "instruction", "question"),
    "response": ("response", "text", "answer", "output"),
    "reference": ("reference", "reference_answer", "ref_answer"),
    "item": ("item", "model", "generator"),
}


def load_rubric(path: str | os.PathLike[str] | None, scale: int = 10) -> str:
    """The rubric text of ``path`` (see the module notes); the default rubric when ``None``."""
    if path is None:
        return DEFAULT_RUBRICS[scale]
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"cannot read rubric: {err}", source=str(path), field="--rubric") from None
    if path.suffix.lower() not in (".json", ".yaml", ".yml"):
        if not text.strip():
            raise DataError("empty rubric", source=str(path), field="--rubric")
        return text.strip()
    if not json_depth_ok(text):  # also bounds YAML flow collections
        raise DataError("nesting too deep for a rubric record", source=str(path))
    try:
        if path.suffix.lower() == ".json":
            record = json.loads(text)
        else:
            import yaml

            record = yaml.safe_load(text)
    except Exception as err:  # any parse error of the rubric file is bad input
        raise DataError(f"not a rubric record: {err}", source=str(path)) from None
    if not isinstance(record, dict) or "criteria" not in record:
        raise DataError("a rubric record needs 'criteria' and score descriptions",
                        source=str(path), field="criteria")
    lines = [f"[{record['criteria']}]"]
    for k in range(1, scale + 1):
        desc = record.get(f"score{k}_description")
        if desc is None:
            raise DataError(f"rubric without score{k}_description", source=str(path),
                            field=f"score{k}_description")
        lines.append(f"Score {k}: {desc}")
    return "\n".join(lines)


@dataclass
class GradeItems:
    """Responses to grade: parallel lists; ``lines`` (file line numbers) when read from JSONL."""

    source: str
    ids: list[str]
    prompts: list[Any]
    responses: list[Any]
    references: list[Any]
    items: list[Any]
    lines: list[int] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def where(self, i: int) -> dict[str, Any]:
        return {"line": self.lines[i]} if self.lines else {"row": i}

    def check(self, *, require_reference: bool = False) -> None:
        """One DataError naming the first record and field without the text a template
        needs; duplicate ids are an error too."""
        needed = [("prompt", self.prompts), ("response", self.responses)]
        if require_reference:
            needed.append(("reference", self.references))
        for name, values in needed:
            for i, v in enumerate(values):
                if not isinstance(v, str) or not v.strip():
                    raise DataError("the grading template needs this text", source=self.source,
                                    field=name, **self.where(i))
        if len(set(self.ids)) != len(self.ids):
            raise DataError("id is not unique", source=self.source, field="id")


def _pick(record: dict[str, Any], name: str) -> Any:
    return next((record[k] for k in _ALIASES[name] if k in record), None)


def read_items_jsonl(path: str | os.PathLike[str]) -> GradeItems:
    """Responses from JSONL: ``prompt`` (or ``instruction``/``question``), ``response`` (or
    ``text``/``answer``/``output``), optional ``reference``, ``id``, ``model`` (or ``item``)."""
    source = os.fspath(path)
    records, numbers = load_json_records(source)  # bounded: size, nesting, one-line errors
    cols = {name: [_pick(r, name) for r in records] for name in _ALIASES}
    lines = numbers.tolist()
    ids = [str(v) if v is not None else str(k) for k, v in enumerate(cols["id"])]
    return GradeItems(source, ids, cols["prompt"], cols["response"], cols["reference"],
                      cols["item"], lines)


def items_from_dataset(ds: PreferenceDataset) -> GradeItems:
    """Responses of a dataset: a rating record's ``text``; both texts of a pairwise record
    (ids ``PAIR/a`` and ``PAIR/b``)."""
    n = len(ds)

    def col(name: str) -> list[Any]:
        return list(ds.column(name)) if ds.has(name) else [None] * n

    prompts, refs = col("prompt"), col("reference")
    if ds.kind == "rating":
        ids = [str(v) if v is not None else str(k) for k, v in enumerate(col("id"))]
        return GradeItems(ds.name or "<data>", ids, prompts, col("text"), refs, col("item"))
    if ds.kind != "pairwise":
        raise DataError(f"cannot grade {ds.kind} data", source=ds.name)
    pair = col("pair_id") if ds.has("pair_id") else col("id")
    pids = [str(v) if v is not None else str(k) for k, v in enumerate(pair)]
    g = GradeItems(ds.name or "<data>", [], [], [], [], [])
    for side in ("a", "b"):
        g.ids += [f"{p}/{side}" for p in pids]
        g.prompts += prompts
        g.responses += col(f"{side}_text")
        g.references += refs
        g.items += col(side)
    return g


class GradeSummary(RecordsSummary):
    """What a grading run did."""


def grading_template(scale: int, template: str | Path | None = None) -> tuple[Template, int, int]:
    """The template of a scale (5 or 10; or a user file) and the score range."""
    if scale not in SCALES:
        raise DataError(f"scale must be 5 or 10, got {scale}", field="--scale")
    name, low, high = SCALES[scale]
    protocol = "prometheus" if scale == 5 else "rating"
    return load_template(template or name, protocol=protocol), low, high


async def agrade(
    items: GradeItems,
    backend: Any,
    out: str | os.PathLike[str],
    *,
    scale: int = 10,
    rubric: str | None = None,
    template: Template | None = None,
    cache: JudgeCache | None = None,
    reask: int = 1,
    require_reference: bool = False,
    advance: Callable[[int], None] | None = None,
) -> GradeSummary:
    """Grade every response of ``items`` into ``out`` (JSONL, resumable)."""
    tmpl, low, high = grading_template(scale)
    tmpl = template or tmpl
    items.check(require_reference=require_reference)
    rubric = rubric if rubric is not None else DEFAULT_RUBRICS[scale]

    def parse(text: Any) -> Any:
        if tmpl.protocol == "prometheus":
            return parse_prometheus(text, low=low, high=high)
        return parse_rating(text, low=low, high=high)

    identity = identity_of(backend)
    summary = GradeSummary()
    run = RecordRun(out, FORMAT, items.ids, summary)
    rendered = {i: tmpl.render(question=items.prompts[i], response=items.responses[i],
                               rubric=rubric, reference=items.references[i] or None)
                for i in run.pending}
    keys = [cache_key(identity, tmpl.hash, rendered[i], 0) for i in run.pending]
    need = cache is None or len(cache.get_many(keys)) < len(keys)

    async def answer(ask: AskFn, i: int) -> dict[str, Any] | None:
        reply = await ask_parsed(
            ask, item_id=items.ids[i], messages=rendered[i], template=tmpl, parse=parse,
            identity=identity, cache=cache, reask=reask, stats=summary.stats)
        if reply.error is not None:
            return None
        return {"format": FORMAT, "id": items.ids[i], "item": items.items[i],
                "prompt": items.prompts[i], "text": items.responses[i],
                "reference": items.references[i], "score": reply.verdict.value,
                "parse_error": reply.verdict.reason, "rationale": reply.text,
                "annotator_id": getattr(backend, "name", None), "protocol": tmpl.protocol,
                "template": tmpl.name, "template_hash": tmpl.hash, "scale": [low, high],
                "usage": reply.usage, "reasks": reply.reasks, "cached": reply.cached}

    await run.ask_all(backend, answer, preflight=need, advance=advance)
    return summary


def grade(*args: Any, **kwargs: Any) -> GradeSummary:
    """Synchronous :func:`agrade`."""
    return asyncio.run(agrade(*args, **kwargs))


def read_grades(path: str | os.PathLike[str]) -> PreferenceDataset:
    """A ``prefkit-grade`` JSONL as a ``rating`` dataset; unparsed grades in
    ``metadata["unparsed"]`` (``id``, ``item``, ``line``, ``reason``, ``rationale``)."""
    return read_rated(path, FORMAT, empty="no parsed grade in the file",
                      extra=lambda r: {"rationale": r.get("rationale")},
                      unparsed_extra=lambda r: {"rationale": r.get("rationale")})


def grade_summary(ds: PreferenceDataset) -> dict[str, Any]:
    """n, unparsed, mean score and its distribution, and the mean per item (model)."""
    scores = np.array([dict(s)["overall"] for s in ds.column("scores")], dtype=float)
    items = [str(v) for v in (ds.column("item") if ds.has("item") else [None] * len(ds))]
    values, counts = np.unique(scores, return_counts=True)
    per_item = {m: float(scores[[i == m for i in items]].mean()) for m in sorted(set(items))}
    unparsed = len(ds.metadata.get("unparsed") or [])
    return {"n": len(ds) + unparsed, "graded": len(ds), "unparsed": unparsed,
            "mean_score": float(scores.mean()),
            "score_counts": {f"{v:g}": int(c) for v, c in zip(values, counts, strict=True)},
            "mean_by_item": per_item}


class Grader:
    """A live judge grading responses: ``grade(data) -> rating dataset``, ``score(data)``.

    ``score`` answers the model contract for absolute grading: one grade per response (per
    record of a rating dataset; for pairwise data an (n, 2) array of both sides' grades), NaN
    where the judge's answer stayed unparsed.
    """

    def __init__(self, backend: Any, *, scale: int = 10, rubric: str | None = None,
                 template: str | Path | None = None, reask: int = 1,
                 cache: JudgeCache | None = None) -> None:
        self.backend = backend
        self.scale = scale
        self.rubric = rubric
        self.template, _, _ = grading_template(scale, template)
        self.reask = reask
        self.cache = cache

    def grade(self, data: PreferenceDataset | GradeItems, out: str | os.PathLike[str],
              advance: Callable[[int], None] | None = None) -> PreferenceDataset:
        items = data if isinstance(data, GradeItems) else items_from_dataset(data)
        grade(items, self.backend, out, scale=self.scale, rubric=self.rubric,
              template=self.template, cache=self.cache, reask=self.reask, advance=advance)
        return read_grades(out)

    def score(self, data: PreferenceDataset, out: str | os.PathLike[str]) -> np.ndarray:
        graded = self.grade(data, out)
        by_id = {i: dict(s)["overall"] for i, s in zip(graded.column("id"),
                                                       graded.column("scores"), strict=True)}
        items = items_from_dataset(data)
        values = np.array([by_id.get(i, np.nan) for i in items.ids], dtype=float)
        return values.reshape(2, -1).T if data.kind == "pairwise" else values


def pairwise_verdicts(pairs: PreferenceDataset, scored: PreferenceDataset) -> np.ndarray:
    """P(a ≻ b) per pair from the absolute scores of its two answers (ids ``PAIR/a``,
    ``PAIR/b`` as :func:`items_from_dataset` makes them): 1 if a scored higher, 0 if lower, ½ if
    equal (TICK's sign(score_a − score_b)); NaN where either answer has no score."""
    by_id = {str(i): dict(s)["overall"]
             for i, s in zip(scored.column("id"), scored.column("scores"), strict=True)}
    items = items_from_dataset(pairs)
    n = len(pairs)
    a = np.array([by_id.get(i, np.nan) for i in items.ids[:n]], dtype=float)
    b = np.array([by_id.get(i, np.nan) for i in items.ids[n:]], dtype=float)
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(a) & np.isfinite(b), 0.5 + 0.5 * np.sign(a - b), np.nan)


def agreement_with_labels(pairs: PreferenceDataset, p_a: np.ndarray) -> dict[str, Any]:
    """TICK's exact agreement of the score-derived verdicts with the pairs' own ``winner``:
    share of pairs with a verdict whose verdict (a, b or tie) equals the label."""
    if pairs.kind != "pairwise" or not pairs.has("winner"):
        return {}
    winners = list(pairs.column("winner"))
    decided = [(("a" if p > 0.5 else "b" if p < 0.5 else "tie"), w)
               for p, w in zip(p_a, winners, strict=True) if np.isfinite(p) and w is not None]
    agree = sum(v == w for v, w in decided)
    return {"pairs": len(pairs), "pairs_with_verdict": len(decided),
            "agreement_with_labels": agree / len(decided) if decided else None}
