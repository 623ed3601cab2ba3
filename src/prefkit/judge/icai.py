r"""Inverse Constitutional AI (ICAI): compress pairwise preferences into a short list of
natural-language principles that let an LLM judge reconstruct the labels.

Findeis et al. 2024, "Inverse Constitutional AI: Compressing Preferences into Principles".  On
labelled pairs (x_i, a_i, b_i, y_i), with any judge backend (:mod:`prefkit.judge.backends`: a
live OpenAI-compatible model, a local causal LM, recorded replies):

1. **Propose** — for each of ``n_propose`` pairs the LLM sees the preferred and the other
   response and writes principles of the form "Select the response that …" (template
   ``icai_propose``; one principle per numbered or bulleted line).
2. **Deduplicate** — principles equal after normalisation, or with word-set Jaccard similarity
   ≥ ``dedupe_threshold`` (cosine of embeddings when an ``encoder`` is given), are merged; the
   first proposed is kept.  (The paper clusters embeddings with k-means and summarises each
   cluster with the LLM; this is the cheap deterministic stand-in.)
3. **Test** — each candidate principle p is shown with every pair (template ``icai_test``, both
   orders): the judge answers which response p prefers, or ``[[C]]`` when p does not apply.
   A vote counts when both orders name the same response.  Per principle::

       relevance(p) = #votes / n,   agreement(p) = #votes for the preferred response / n,
       net(p) = (#for − #against) / n

4. **Select** — the ``max_principles`` principles with the largest net(p) > 0 whose relevance
   is at least ``min_relevance`` form the constitution.
5. **Reconstruct** — the judge annotates every pair with the constitution in its prompt
   (template ``icai_annotate``, both orders, inconsistent orders = tie); the reconstruction
   accuracy (decisive judge votes that match the label, over all decisive labels) is compared
   with the same judge without a constitution.

Every request goes through :func:`prefkit.judge.asking.ask_parsed` (cache, re-asks, unparsed
replies kept as unparsed — never counted as votes).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from prefkit.errors import DataError
from prefkit.judge.asking import AskStats, ask_parsed, identity_of, session
from prefkit.judge.cache import JudgeCache
from prefkit.judge.parsing import Verdict, parse_pairwise_abc, unparsed
from prefkit.judge.templates import Template

_PAIR = ("[User Question]\n{{ question }}\n\n"
         "[The Start of Assistant A's Answer]\n{{ answer_a }}\n[The End of Assistant A's Answer]"
         "\n\n[The Start of Assistant B's Answer]\n{{ answer_b }}\n"
         "[The End of Assistant B's Answer]")

PROPOSE = Template("icai_propose", (
    "<<system>>\nYou explain human preferences between AI answers.\n<<user>>\n"
    "A person preferred the first answer below over the second.\n\n[User Question]\n"
    "{{ question }}\n\n[The Start of the Preferred Answer]\n{{ preferred }}\n"
    "[The End of the Preferred Answer]\n\n[The Start of the Other Answer]\n{{ other }}\n"
    "[The End of the Other Answer]\n\nWrite up to {{ k }} general principles that explain the "
    "preference, one per numbered line, each starting with \"Select the response that\"."),
    protocol="icai-principles")
TEST = Template("icai_test", (
    "<<system>>\nYou apply one principle to compare two AI answers.\n<<user>>\n"
    "[Principle]\n{{ principle }}\n[End of Principle]\n\n" + _PAIR + "\n\n"
    "Which answer does the principle prefer? Reply [[A]] or [[B]]; reply [[C]] if the principle "
    "does not apply to these answers or does not separate them."), protocol="pairwise-abc")
ANNOTATE = Template("icai_annotate", (
    "<<system>>\nYou compare two AI answers.\n<<user>>\n"
    "{% if principles %}[Constitution]\n{% for p in principles %}{{ loop.index }}. {{ p }}\n"
    "{% endfor %}[End of Constitution]\n\n{% endif %}" + _PAIR + "\n\n"
    "{% if principles %}Following the constitution, which{% else %}Which{% endif %} answer is "
    "better? Reply [[A]], [[B]] or [[C]] for a tie."), protocol="pairwise-abc")

_LINE = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s+(.{3,300}?)\s*$")


def parse_principles(text: Any) -> Verdict:
    """The principles of a proposal: every numbered (``1.``, ``1)``) or bulleted (``-``, ``*``,
    ``•``) line of 3–300 characters; none → unparsed."""
    if not isinstance(text, str) or not text.strip():
        return unparsed("no text")
    found: list[str] = []
    for line in text.splitlines():
        match = _LINE.match(line)
        if match and match.group(1) not in found:
            found.append(match.group(1))
    return Verdict(tuple(found), f"{len(found)} principles") if found else unparsed(
        "no principles")


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def dedupe_principles(principles: Sequence[str], *, threshold: float = 0.7,
                      encoder: Any = None) -> list[str]:
    """Principles in first-seen order without near-duplicates (word Jaccard ≥ ``threshold``,
    or embedding cosine ≥ ``threshold`` with an ``encoder``)."""
    seen: dict[str, str] = {}
    for p in principles:
        key = " ".join(sorted(_words(p)))
        if key and key not in seen:
            seen[key] = p
    unique = list(seen.values())
    if encoder is not None and unique:
        vecs = np.asarray(encoder.encode(unique), dtype=float)
        vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
        kept_idx: list[int] = []
        for i in range(len(unique)):
            if all(vecs[i] @ vecs[j] < threshold for j in kept_idx):
                kept_idx.append(i)
        return [unique[i] for i in kept_idx]
    kept: list[str] = []
    for p in unique:
        w = _words(p)
        if all(len(w & _words(q)) / max(len(w | _words(q)), 1) < threshold for q in kept):
            kept.append(p)
    return kept


@dataclass
class PrincipleScore:
    """One candidate principle's test over the pairs."""

    principle: str
    votes_for: int = 0
    votes_against: int = 0
    not_applicable: int = 0
    unparsed: int = 0
    n: int = 0

    @property
    def relevance(self) -> float:
        return (self.votes_for + self.votes_against) / self.n if self.n else 0.0

    @property
    def net(self) -> float:
        return (self.votes_for - self.votes_against) / self.n if self.n else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"principle": self.principle, "for": self.votes_for,
                "against": self.votes_against, "not_applicable": self.not_applicable,
                "unparsed": self.unparsed, "relevance": self.relevance, "net": self.net}


@dataclass
class ICAIResult:
    """The constitution, every tested principle and the reconstruction accuracies."""

    constitution: list[str]
    scores: list[PrincipleScore]
    proposed: int
    accuracy_with: float | None
    accuracy_without: float | None
    n_pairs: int
    stats: AskStats = field(default_factory=AskStats)

    def as_dict(self) -> dict[str, Any]:
        return {"constitution": self.constitution, "proposed": self.proposed,
                "candidates": [s.as_dict() for s in self.scores],
                "reconstruction": {"with_constitution": self.accuracy_with,
                                   "without_constitution": self.accuracy_without,
                                   "n_pairs": self.n_pairs},
                "requests": self.stats.as_dict()}


def _pairs(dataset: Any) -> tuple[list[str], list[str], list[str], np.ndarray]:
    if dataset.kind != "pairwise":
        dataset = dataset.to_pairs()
    for col in ("a_text", "b_text"):
        if not dataset.has(col):
            raise DataError("ICAI needs response texts", source=dataset.name, field=col)
    a, b = [list(dataset.column(c)) for c in ("a_text", "b_text")]
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        if not x or not y:
            raise DataError("missing response text", source=dataset.name, row=i,
                            field="a_text" if not x else "b_text")
    prompts = ([str(p or "") for p in dataset.column("prompt")] if dataset.has("prompt")
               else [""] * len(a))
    return prompts, [str(x) for x in a], [str(y) for y in b], dataset.outcomes()


def _side(verdict: Verdict, order: str) -> str | None:
    """The judge's pick as the record's side ``a``/``b`` (``None``: tie or unparsed)."""
    if verdict.value not in ("A", "B"):
        return None
    shown_first = verdict.value == "A"
    return ("a" if shown_first else "b") if order == "ab" else ("b" if shown_first else "a")


async def _pairwise(ask: Any, template: Template, item_id: str, prompt: str, a: str, b: str,
                    values: dict[str, Any], both_orders: bool, identity: dict[str, Any],
                    cache: JudgeCache | None, reask: int, stats: AskStats) -> str | None:
    """'a', 'b', 'tie' (or the principle does not apply / the orders disagree), None (unparsed
    or failed)."""
    orders = ("ab", "ba") if both_orders else ("ab",)
    answers = await asyncio.gather(*(
        ask_parsed(ask, item_id=f"{item_id}:{o}",
                   messages=template.render(question=prompt,
                                            answer_a=a if o == "ab" else b,
                                            answer_b=b if o == "ab" else a, **values),
                   template=template, parse=parse_pairwise_abc, identity=identity, cache=cache,
                   reask=reask, stats=stats) for o in orders))
    if any(not ans.verdict.parsed for ans in answers):
        return None
    sides = {_side(ans.verdict, o) for ans, o in zip(answers, orders, strict=True)}
    if len(sides) != 1:
        return "tie"  # the two orders disagree
    return sides.pop() or "tie"


async def ainverse_constitution(
    dataset: Any, backend: Any, *, n_propose: int | None = None, per_pair: int = 3,
    max_principles: int = 5, min_relevance: float = 0.05, dedupe_threshold: float = 0.7,
    encoder: Any = None, both_orders: bool = True, baseline: bool = True,
    cache: JudgeCache | None = None, reask: int = 1, seed: int = 0,
    principles: Sequence[str] | None = None,
) -> ICAIResult:
    """Run ICAI (module notes) on a pairwise dataset with texts and labels; ``principles``:
    candidates to test instead of proposing them."""
    prompts, a, b, p_a = _pairs(dataset)
    decisive = [i for i in range(len(a)) if np.isfinite(p_a[i]) and p_a[i] != 0.5]
    if not decisive:
        raise DataError("ICAI needs pairs with a preferred response", source=dataset.name)
    label = {i: "a" if p_a[i] > 0.5 else "b" for i in decisive}
    identity = identity_of(backend)
    stats = AskStats()
    rng = np.random.default_rng(seed)
    async with session(backend) as ask:
        if principles is None:
            chosen = (decisive if n_propose is None or n_propose >= len(decisive)
                      else sorted(rng.choice(decisive, n_propose, replace=False).tolist()))
            proposals = await asyncio.gather(*(
                ask_parsed(ask, item_id=f"icai-propose:{i}", messages=PROPOSE.render(
                    question=prompts[i], preferred=a[i] if label[i] == "a" else b[i],
                    other=b[i] if label[i] == "a" else a[i], k=per_pair),
                    template=PROPOSE, parse=parse_principles, identity=identity, cache=cache,
                    reask=reask, stats=stats) for i in chosen))
            raw = [p for ans in proposals if ans.verdict.parsed for p in ans.verdict.value]
        else:
            raw = list(principles)
        candidates = dedupe_principles(raw, threshold=dedupe_threshold, encoder=encoder)
        scores = [PrincipleScore(p, n=len(decisive)) for p in candidates]

        async def test(k: int, i: int) -> None:
            side = await _pairwise(ask, TEST, f"icai-test:{k}:{i}", prompts[i], a[i], b[i],
                                   {"principle": candidates[k]}, both_orders, identity, cache,
                                   reask, stats)
            s = scores[k]
            if side is None:
                s.unparsed += 1
            elif side == "tie":
                s.not_applicable += 1
            elif side == label[i]:
                s.votes_for += 1
            else:
                s.votes_against += 1

        await asyncio.gather(*(test(k, i) for k in range(len(candidates)) for i in decisive))
        ranked = sorted(scores, key=lambda s: (-s.net, -s.relevance, s.principle))
        constitution = [s.principle for s in ranked
                        if s.net > 0 and s.relevance >= min_relevance][:max_principles]

        async def accuracy(rules: list[str]) -> float:
            sides = await asyncio.gather(*(
                _pairwise(ask, ANNOTATE, f"icai-annotate:{len(rules)}:{i}", prompts[i], a[i],
                          b[i], {"principles": rules}, both_orders, identity, cache, reask,
                          stats) for i in decisive))
            return float(np.mean([s == label[i] for s, i in zip(sides, decisive, strict=True)]))

        with_c = await accuracy(constitution) if constitution else None
        without = await accuracy([]) if baseline else None
    return ICAIResult(constitution, ranked, len(raw), with_c, without, len(decisive), stats)


def inverse_constitution(*args: Any, **kwargs: Any) -> ICAIResult:
    """Synchronous :func:`ainverse_constitution`."""
    return asyncio.run(ainverse_constitution(*args, **kwargs))


__all__ = ["ANNOTATE", "PROPOSE", "TEST", "ICAIResult", "PrincipleScore", "ainverse_constitution",
           "dedupe_principles", "inverse_constitution", "parse_principles"]
