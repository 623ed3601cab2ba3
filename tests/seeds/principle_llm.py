"""A fake LLM judge backend that follows known principles (for the ICAI, routing and P-GenRM
tests): it answers prefkit's judge requests in-process through the backend protocol
(``name`` + ``complete``), so the algorithms run exactly as with a live or local model.

Properties of a response it can see: ``polite`` (contains "please"), ``number`` (contains a
digit), ``longer`` (more characters), ``brief`` (fewer characters), ``formal`` (contains
"regards").

* ICAI proposal: one principle per property that the preferred answer has more of than the
  other, in a numbered list (the polite one twice, in two wordings, to exercise deduplication);
* principle test / constitution: the first principle whose property separates the two answers
  decides ``[[A]]``/``[[B]]``, otherwise ``[[C]]``; without principles it prefers the longer
  answer (a length-biased judge);
* P-GenRM persona / rubric: from a user's history it names the property the user's chosen
  answers have most often and the user's first prompt (``Persona: likes <property> (first
  asked: …)``), and scores a response 1–10 under a
  rubric by whether it has that property (7 or 4, plus noise in −4…4 that differs from one
  evaluation sample to the next, clipped to 1–10: ``Score: [[n]]``);
* a response containing ``NOVERDICT`` gets a reply without a verdict.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence

from prefkit.judge.backends.base import JudgeReply, JudgeRequest

PROPERTIES = {
    "polite": lambda t: "please" in t,
    "number": lambda t: bool(re.search(r"\d", t)),
    "formal": lambda t: "regards" in t,
}
WORDING = {"polite": "is more polite", "number": "gives a concrete number",
           "formal": "is more formal", "longer": "is longer", "brief": "is more brief"}


def has(prop: str, text: str) -> float:
    if prop in PROPERTIES:
        return float(PROPERTIES[prop](text))
    return float(len(text)) if prop == "longer" else -float(len(text))


def _between(content: str, start: str, end: str) -> str | None:
    match = re.search(re.escape(start) + r"\n(.*?)\n" + re.escape(end), content, re.S)
    return match.group(1) if match else None


def _prop_of(principle: str) -> str | None:
    return next((p for p, w in WORDING.items() if w in principle or p in principle), None)


def _decide(principles: list[str], a: str, b: str, fallback: str | None) -> str:
    for principle in principles:
        prop = _prop_of(principle)
        if prop is None:
            continue
        ha, hb = has(prop, a), has(prop, b)
        if ha != hb:
            return "[[A]]" if ha > hb else "[[B]]"
    if fallback is not None:
        ha, hb = has(fallback, a), has(fallback, b)
        if ha != hb:
            return "[[A]]" if ha > hb else "[[B]]"
    return "[[C]]"


class PrincipleLLM:
    """The fake judge (module notes); counts the requests it answered."""

    name = "principle-llm"

    def __init__(self) -> None:
        self.requests = 0
        self.cache_identity = {"backend": "PrincipleLLM"}

    def reply(self, content: str) -> str:
        if "NOVERDICT" in content:
            return "I cannot tell."
        preferred = _between(content, "[The Start of the Preferred Answer]",
                             "[The End of the Preferred Answer]")
        if preferred is not None:
            other = _between(content, "[The Start of the Other Answer]",
                             "[The End of the Other Answer]") or ""
            lines = []
            for prop in ("polite", "number", "formal", "longer"):
                if has(prop, preferred) > has(prop, other):
                    lines.append(f"Select the response that {WORDING[prop]}.")
                    if prop == "polite":
                        lines.append("Select the response that is more polite")
            return "Principles:\n" + "\n".join(f"{k}. {p}" for k, p in enumerate(lines, 1))
        if "[User History]" in content:
            chosen = re.findall(r"Chosen: (.*)", content)
            counts = {p: sum(has(p, c) > 0 for c in chosen) for p in PROPERTIES}
            best = max(counts, key=lambda p: (counts[p], p))
            asked = (re.findall(r"Prompt: (.*)", content) or [""])[0]
            return (f"Persona: likes {best} (first asked: {asked}).\nRubric:\n"
                    f"1. The response {WORDING[best]}.")
        rubric = _between(content, "[Rubric]", "[End of Rubric]")
        response = _between(content, "[The Start of the Response]", "[The End of the Response]")
        if rubric is not None and response is not None:
            prop = _prop_of(rubric)
            good = prop is not None and has(prop, response) > 0
            noise = zlib.crc32(content.encode()) % 9 - 4  # differs per evaluation sample
            return f"Score: [[{min(10, max(1, (7 if good else 4) + noise))}]]"
        a = _between(content, "[The Start of Assistant A's Answer]",
                     "[The End of Assistant A's Answer]") or ""
        b = _between(content, "[The Start of Assistant B's Answer]",
                     "[The End of Assistant B's Answer]") or ""
        principle = _between(content, "[Principle]", "[End of Principle]")
        if principle is not None:
            return "Verdict: " + _decide([principle], a, b, None)
        constitution = _between(content, "[Constitution]", "[End of Constitution]")
        if constitution is not None:
            rules = [line.split(". ", 1)[-1] for line in constitution.splitlines()]
            return "Verdict: " + _decide(rules, a, b, "longer")
        return "Verdict: " + _decide([], a, b, "longer")

    def complete(self, requests: Sequence[JudgeRequest]) -> list[JudgeReply]:
        out = []
        for request in requests:
            self.requests += 1
            content = "\n".join(m["content"] for m in request.messages)
            out.append(JudgeReply(self.reply(content), usage={"total_tokens": 10}))
        return out
