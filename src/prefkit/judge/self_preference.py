"""Self-preference of a judge: the DBG score.

Chen et al. 2025, "Beyond the surface: measuring self-preference in LLM judgments".  The usual
measure — a judge's score of its own responses minus its score of others' — mixes bias with
quality (a strong model's answers *are* better).  DBG subtracts a gold judgment of the same
responses instead::

    DBG(J) = (1/N) Σ_i [ S_J(x_i, y_i^J) − S_gold(x_i, y_i^J) ]

over the N responses y^J written by the judge's own model (family).  Positive: the judge rates
its own answers above what the gold judges (here: people) say they deserve.

* **ratings** (:func:`dbg_ratings`): S = a score on the same scale for judge and gold;
* **pairwise** (:func:`dbg_pairwise`, the win version): for each pair with exactly one own
  answer, S_J = the judge's P(own ≻ other) (its aggregated verdict: 1, ½, 0 — or a probability)
  and S_gold = the human votes' mean (own win 1, tie ½, loss 0); DBG is in [−1, 1].

"Own" answers are those of models in the judge's family: given explicitly, or by
:func:`family` — the name up to its first version number (``gpt-4-0314`` and ``gpt-4`` are one
family; ``gpt-4o`` and ``gpt-3.5-turbo`` are others).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

_FAMILY = re.compile(r"[a-z]+[-_ ]?\d+(?:\.\d+)?[a-z]?")


def family(name: Any) -> str | None:
    """A model's family: lower-case name up to and including its first version number
    (``"GPT-4-0314"`` → ``"gpt-4"``, ``"claude-3-opus"`` → ``"claude-3"``); the whole
    lower-case name when it has no version; ``None`` for no name."""
    if name is None:
        return None
    text = str(name).strip().lower()
    match = _FAMILY.match(text)
    return match.group(0) if match else text


def own_side(a: Sequence[Any], b: Sequence[Any], judges: Sequence[Any],
             self_models: Iterable[str] | None = None) -> np.ndarray:
    """+1 where ``a`` is the judge's own model, −1 where ``b`` is, 0 where neither or both.

    ``self_models``: the own model names (exact); default: same :func:`family` as the judge.
    """
    explicit = set(self_models) if self_models is not None else None
    side = np.zeros(len(a), dtype=np.int64)
    for k, (x, y, j) in enumerate(zip(a, b, judges, strict=True)):
        if explicit is not None:
            mine_a, mine_b = x in explicit, y in explicit
        else:
            fam = family(j)
            mine_a = fam is not None and family(x) == fam
            mine_b = fam is not None and family(y) == fam
        side[k] = 1 if mine_a and not mine_b else -1 if mine_b and not mine_a else 0
    return side


def dbg_pairwise(p_judge_a: Any, p_gold_a: Any, side: Any) -> tuple[np.ndarray, np.ndarray]:
    """Per-pair DBG terms and weights: ``side · (p_judge − p_gold)`` and 1 where a pair has one
    own answer and both probabilities are known (else 0, 0).  DBG = Σ terms / Σ weights."""
    pj = np.asarray(p_judge_a, dtype=float)
    pg = np.asarray(p_gold_a, dtype=float)
    s = np.asarray(side, dtype=float)
    valid = (s != 0) & np.isfinite(pj) & np.isfinite(pg)
    terms = np.where(valid, s * (np.nan_to_num(pj) - np.nan_to_num(pg)), 0.0)
    return terms, valid.astype(float)


def dbg_ratings(judge_scores: Any, gold_scores: Any, own: Any) -> float | None:
    """DBG on ratings: mean of (judge − gold) over the own responses with both scores."""
    sj = np.asarray(judge_scores, dtype=float)
    sg = np.asarray(gold_scores, dtype=float)
    mask = np.asarray(own, dtype=bool) & np.isfinite(sj) & np.isfinite(sg)
    return float((sj[mask] - sg[mask]).mean()) if mask.any() else None
