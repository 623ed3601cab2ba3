"""Verdict parsers: one small function per judge protocol, each with its grammar.

Every parser returns a :class:`Verdict`.  An answer the grammar does not cover is an explicit
*unparsed* verdict (``verdict.parsed is False``, ``verdict.reason`` says why) — never a loss,
never a tie.  Callers count and report them.

Shared rules (all token grammars below):

* **Bounded work.** Only the last :data:`MAX_SCAN_CHARS` characters of an answer are read (judges
  end with their verdict; a verdict only at the start of a huge answer is reported unparsed,
  reason ``"no verdict"``).  The scanned tail is NFKC-normalised, so full-width brackets and
  letters (``［［Ａ］］``) read as ASCII.  Every regular expression is linear (no nested
  quantifiers), so a hostile answer costs O(tail length).
* **Last verdict wins** (arena-hard-auto's rule): a judge that quotes the format, changes its
  mind or repeats itself is read by its last well-formed token.
* **Conflicting verdicts are unparsed.**  *Conflicting* means: the line that holds the last token
  also holds a token with a *different* value (``"[[A]]" if A is better, "[[B]]" if B is better``
  — a template echoed at the end — or ``My verdict: [[A>B]] or [[B>A]]``).  Tokens on earlier
  lines never conflict with the last one: they are overridden by it.  A line is text between
  ``\\n`` characters.

These rules differ from the reference implementations in two documented places: FastChat's
``[[A]]/[[B]]/[[C]]`` check takes ``[[A]]`` if it occurs *anywhere* (then B, then C), and
arena-hard-auto v0.1 rejects an answer with two different tokens anywhere (v2 takes the last).
On the recorded files in ``../shared/data/judges`` the choices agree (see docs/judge.md).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: Characters read from the end of an answer (see the module notes).
MAX_SCAN_CHARS = 65536


@dataclass(frozen=True)
class Verdict:
    """A parsed judge answer.

    ``value``: the verdict (``"A"``, ``"B"``, ``"tie"`` for pairwise answers in the positions the
    judge saw; ``"A>>B"`` … for Arena-Hard; a number for ratings), or ``None`` when unparsed.
    ``token``: the text that was read (``"[[A]]"``).  ``reason``: why it is unparsed.
    """

    value: Any
    token: str | None = None
    reason: str | None = None

    @property
    def parsed(self) -> bool:
        return self.value is not None


def unparsed(reason: str) -> Verdict:
    """The explicit unparsed verdict."""
    return Verdict(None, None, reason)


def _tail(text: Any) -> str | None:
    if not isinstance(text, str):
        return None
    tail = text[-MAX_SCAN_CHARS:]
    return unicodedata.normalize("NFKC", tail)


def _last_token(
    pattern: re.Pattern[str], text: Any, value_of: Callable[[re.Match[str]], Any]
) -> Verdict:
    """Apply the shared rules: last token wins; a different token on its line conflicts."""
    tail = _tail(text)
    if tail is None:
        return unparsed("no text")
    matches = list(pattern.finditer(tail))
    if not matches:
        return unparsed("no verdict")
    last = matches[-1]
    value = value_of(last)
    line_start = tail.rfind("\n", 0, last.start()) + 1
    for match in reversed(matches[:-1]):
        if match.start() < line_start:
            break
        if value_of(match) != value:
            return unparsed("conflicting verdicts")
    if value is None:
        return Verdict(None, last.group(0), "out of range")
    return Verdict(value, last.group(0))


# ------------------------------------------------------------------ FastChat pairwise
_ABC = re.compile(r"\[\[\s*([ABC])\s*\]\]", re.IGNORECASE)
_ABC_VALUE = {"A": "A", "B": "B", "C": "tie"}


def parse_pairwise_abc(text: Any) -> Verdict:
    """FastChat MT-Bench pairwise verdict (``pair-v2``, ``pair-math-v1`` …).

    Grammar (case-insensitive; spaces inside the brackets allowed)::

        token := "[[" ("A" | "B" | "C") "]]"        A → "A", B → "B", C → "tie"

    Shared rules: last token wins; a different token on the same line → unparsed
    ("conflicting verdicts"); none → unparsed ("no verdict").
    """
    return _last_token(_ABC, text, lambda m: _ABC_VALUE[m.group(1).upper()])


# ------------------------------------------------------------------ Arena-Hard
_ARENA = re.compile(r"\[\[\s*([AB])\s*(>>|<<|>|<|=)\s*([AB])\s*\]\]", re.IGNORECASE)
#: Canonical Arena-Hard verdicts, best for A first.
ARENA_VERDICTS: tuple[str, ...] = ("A>>B", "A>B", "A=B", "B>A", "B>>A")


def canonical_arena(left: str, op: str, right: str) -> str | None:
    """``("B", "<", "A")`` → ``"A>B"``; ``None`` for a malformed verdict (``A>A``)."""
    left, right = left.upper(), right.upper()
    if left == right:
        return None
    if op == "=":
        return "A=B"
    if op in ("<", "<<"):  # X<Y is Y>X
        left, right, op = right, left, op.replace("<", ">")
    return f"{left}{op}{right}"


def canonical_arena_text(value: Any) -> str | None:
    """A recorded Arena-Hard label (``"A>>B"``, ``"B<A"``, ``"B=A"``) in canonical form, or
    ``None`` when it is not one."""
    if not isinstance(value, str):
        return None
    match = re.fullmatch(r"\s*([AB])\s*(>>|<<|>|<|=)\s*([AB])\s*", value, re.IGNORECASE)
    return canonical_arena(*match.groups()) if match else None


def parse_arena_hard(text: Any) -> Verdict:
    """Arena-Hard five-way verdict.

    Grammar (case-insensitive; spaces allowed)::

        token := "[[" side op side "]]"
        side  := "A" | "B"
        op    := ">>" | ">" | "=" | "<" | "<<"

    normalised to one of :data:`ARENA_VERDICTS` (``[[B<A]]`` → ``"A>B"``, ``[[B=A]]`` →
    ``"A=B"``); ``[[A>A]]`` is out of range (unparsed).  Shared rules: last token wins; a
    different verdict on the same line → unparsed ("conflicting verdicts").
    """
    return _last_token(_ARENA, text, lambda m: canonical_arena(*m.groups()))


# ------------------------------------------------------------------ absolute ratings
_NUMBER = r"(\d{1,4}(?:\.\d{1,4})?)"
_RATING_BRACKETS = re.compile(r"\[\[\s*" + _NUMBER + r"\s*\]\]")


def _slash_pattern(high: float) -> re.Pattern[str]:
    top = str(int(high)) if float(high).is_integer() else str(high)
    return re.compile(r"(?<![\d.])" + _NUMBER + r"\s*/\s*" + re.escape(top) + r"(?!\d|\.\d)")


def parse_rating(text: Any, *, low: float = 1, high: float = 10) -> Verdict:
    """MT-Bench-style absolute rating.

    Grammar, tried in this order::

        bracket := "[[" number "]]"          ("Rating: [[9]]", "[[9.5]]")
        slash   := number "/" HIGH           ("9/10", "8.5 / 10"; the denominator must be HIGH)
        number  := digits ["." digits]       (at most 4 digits each side)

    The first form that occurs at all is used, with the shared rules (last token wins, a different
    value on its line conflicts).  A value outside ``[low, high]`` is unparsed ("out of range").
    """

    def in_range(m: re.Match[str]) -> float | None:
        v = float(m.group(1))
        return v if low <= v <= high else None

    verdict = _last_token(_RATING_BRACKETS, text, in_range)
    if verdict.reason != "no verdict":
        return verdict
    return _last_token(_slash_pattern(high), text, in_range)


# ------------------------------------------------------------------ Prometheus
_PROMETHEUS = re.compile(r"\[RESULT\]\s*(\d{1,4}(?:\.\d{1,4})?)(?!\d|\.\d)", re.IGNORECASE)


def parse_prometheus(text: Any, *, low: int = 1, high: int = 5) -> Verdict:
    """Prometheus rubric score.

    Grammar::

        token := "[RESULT]" spaces integer        ("[RESULT] 4")

    The integer must lie in ``[low, high]`` (1–5), else unparsed ("out of range"); a fractional
    score is out of range.  The template's own instruction, ``"[RESULT] (an integer number
    between 1 and 5)"``, does not match: a digit must follow ``[RESULT]`` directly (the regex of
    prometheus-eval once matched its template and returned 5 for everything).  Shared rules.
    """

    def value(m: re.Match[str]) -> int | None:
        v = float(m.group(1))
        return int(v) if v.is_integer() and low <= v <= high else None

    return _last_token(_PROMETHEUS, text, value)


# ------------------------------------------------------------------ PandaLM
_PANDALM = {"1": "A", "2": "B", "tie": "tie"}


def parse_pandalm(text: Any) -> Verdict:
    """PandaLM's verdict line (its own output and the GPT verdicts it released).

    Grammar: the first non-blank line of the answer, stripped, case-insensitive::

        verdict := "1" | "2" | "Tie"        1 → "A" (response1), 2 → "B", Tie → "tie"

    Anything else (``"garbage"`` in the release) is unparsed ("no verdict").
    """
    if not isinstance(text, str):
        return unparsed("no text")
    head = text[:MAX_SCAN_CHARS].lstrip().split("\n", 1)[0].strip()
    value = _PANDALM.get(unicodedata.normalize("NFKC", head).lower())
    return Verdict(value, head) if value is not None else unparsed("no verdict")


# ------------------------------------------------------------------ checklists (TICK)
_YES_NO = re.compile(r"\[\[\s*(YES|NO)\s*\]\]", re.IGNORECASE)
_YES_NO_LINE = re.compile(r"(?:(?:final\s+)?answer\s*:\s*)?\**\s*(yes|no)\s*\**[.!]?",
                          re.IGNORECASE)


def parse_yes_no(text: Any) -> Verdict:
    """A checklist answer: ``"yes"`` or ``"no"``.

    Grammar, tried in this order::

        bracket := "[[" ("YES" | "NO") "]]"                (case-insensitive; shared rules)
        line    := the last non-blank line, exactly ["Answer:"] ("YES" | "NO") ["." | "!"]

    A reply without either form is unparsed ("no verdict") — never a NO.
    """
    verdict = _last_token(_YES_NO, text, lambda m: m.group(1).lower())
    if verdict.reason != "no verdict":
        return verdict
    tail = _tail(text) or ""
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    match = _YES_NO_LINE.fullmatch(lines[-1]) if lines else None
    if match is None:
        return unparsed("no verdict")
    return Verdict(match.group(1).lower(), lines[-1])


_QUESTION_LINE = re.compile(r"\s*(?:\d{1,3}[.)]|[-*•]|Q\d{1,3}[:.)])\s+(.{3,500}\?)\s*",
                            re.IGNORECASE)


def parse_checklist_questions(text: Any) -> Verdict:
    """A generated checklist: the tuple of its YES/NO questions.

    Grammar: every line of the form ``marker question`` where ``marker`` is ``1.``, ``1)``,
    ``-``, ``*``, ``•`` or ``Q1:`` and ``question`` (3–500 characters) ends with ``?``.  Other
    lines are ignored; exact duplicates are kept once.  No such line → unparsed ("no questions").
    """
    tail = _tail(text)
    if tail is None:
        return unparsed("no text")
    questions: list[str] = []
    for line in tail.splitlines():
        match = _QUESTION_LINE.fullmatch(line)
        if match and match.group(1).strip() not in questions:
            questions.append(match.group(1).strip())
    if not questions:
        return unparsed("no questions")
    return Verdict(tuple(questions), f"{len(questions)} questions")


# ------------------------------------------------------------------ positions
_SHOWN = {"A": "A", "B": "B", "tie": "tie", "A>>B": "A", "A>B": "A", "A=B": "tie",
          "B>A": "B", "B>>A": "B"}


def shown_winner(value: Any) -> str | None:
    """The position a pairwise verdict favours: ``"A"``, ``"B"`` or ``"tie"`` (an Arena-Hard
    verdict ``"A>>B"`` → ``"A"``, ``"A=B"`` → ``"tie"``); ``None`` for anything else."""
    return _SHOWN.get(value) if isinstance(value, str) else None


#: Parser per protocol name (as readers record it in the ``protocol`` column, or as chosen).
PARSERS: dict[str, Callable[[Any], Verdict]] = {
    "pairwise-abc": parse_pairwise_abc,
    "arena-hard": parse_arena_hard,
    "rating": parse_rating,
    "prometheus": parse_prometheus,
    "pandalm": parse_pandalm,
    "yes-no": parse_yes_no,
    "checklist-questions": parse_checklist_questions,
}


def parser_for(protocol: str | None) -> Callable[[Any], Verdict]:
    """The parser of a protocol name; FastChat's ``pair-*`` and ``single-*`` prompt names map to
    ``pairwise-abc`` and ``rating``."""
    name = (protocol or "").lower()
    if name in PARSERS:
        return PARSERS[name]
    if name.startswith("pair"):
        return parse_pairwise_abc
    if name.startswith("single"):
        return parse_rating
    raise KeyError(protocol)
