"""The backend protocol: requests in, raw replies out, in the same order.

A request names what is judged (``pair_id`` and ``order`` for pairwise protocols, ``item`` for
ratings) and carries the rendered ``messages`` (chat format), the ``template_hash`` of the
protocol that made them and the template's ``inputs`` (``question``, ``answer_a``, ``answer_b``
as shown), which backends that do not read prompts (a reward model) use instead.  A reply keeps
the raw text, or an ``error`` (the request could not be answered) — a backend never invents a
verdict.  Backends that *score* instead of writing (a local causal LM read from its next-token
log-probabilities, a reward model) also give ``probs``: the probability of each verdict value
(``{"A": …, "B": …, "tie": …}``, summing to 1); their ``text`` is a readable record of those
numbers.  Every backend (HTTP, local LM, reward model, recorded) implements the same two
members, so protocols, caches and analyses do not know where answers came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class JudgeRequest:
    """One question to a judge."""

    pair_id: str
    order: str = "ab"
    messages: tuple[dict[str, str], ...] = ()
    template_hash: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class JudgeReply:
    """A judge's raw answer (``text``), or why there is none (``error``); ``probs``: the
    probability of each verdict value, for backends that score rather than write."""

    text: str | None
    error: str | None = None
    usage: dict[str, int] = field(default_factory=dict)
    probs: dict[str, float] | None = None


@runtime_checkable
class Backend(Protocol):
    """Anything that answers judge requests."""

    #: the judge's name, recorded as ``annotator_id``
    name: str

    def complete(self, requests: Sequence[JudgeRequest]) -> list[JudgeReply]:
        """Answers to ``requests``, one per request, in order."""
        ...
