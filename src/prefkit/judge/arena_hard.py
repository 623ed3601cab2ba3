"""Arena-Hard: recorded verdicts → battles (published v0.1 rules) → Bradley–Terry leaderboard.

Rules of arena-hard-auto v0.1 (``show_result.py``; Li et al. 2024, "From crowdsourced data to
high-quality benchmarks: Arena-Hard and BenchBuilder pipeline").  Each question is judged in two
games between the baseline and a model: game 1 shows the baseline as assistant A, game 2 shows
the model as A.  Each game's verdict becomes battles between ``a`` (the baseline) and ``b``:

    A>B  → 1 battle won by the answer shown as A        A>>B → ``weight`` (3) such battles
    A=B  → 1 tie                                        B>A, B>>A → the same for B
    unparsed → no battle (counted, never a tie or a loss)

Verdicts of other protocols (``[[A]]/[[B]]/[[C]]``) give one battle each.  The leaderboard is a
Bradley–Terry fit with each tie counted as half a win for each side (:mod:`prefkit.choice`,
``ties="half"``), which is what v0.1's logistic regression on duplicated tie rows computes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from prefkit.choice import leaderboard
from prefkit.data.schema import PreferenceDataset
from prefkit.errors import DataError
from prefkit.judge.parsing import canonical_arena_text

STRONG = ("A>>B", "B>>A")
DEFAULT_WEIGHT = 3


def battle_weights(verdicts: Any, *, weight: int = DEFAULT_WEIGHT) -> np.ndarray:
    """Battles per judgment: ``weight`` for a strong verdict (``A>>B``, ``B>>A``), else 1."""
    return np.array(
        [weight if canonical_arena_text(v) in STRONG else 1 for v in verdicts], dtype=np.int64
    )


def battles(
    judgments: PreferenceDataset, *, weight: int = DEFAULT_WEIGHT, first_game_only: bool = False
) -> PreferenceDataset:
    """The battles of recorded judgments (one pairwise record per battle, see the module notes).

    ``judgments``: the judgments layout (:mod:`prefkit.judge.judgments`), e.g. read with
    ``--format arena-hard``; its ``winner`` is already in the original frame, so the rules only
    decide how many battles a verdict is worth.  ``first_game_only``: keep order ``ab`` only.
    Metadata ``battles``: counts of games, battles, strong verdicts and unparsed judgments.
    """
    if judgments.kind != "pairwise":
        raise DataError(f"expected pairwise judgments, got {judgments.kind}", source=judgments.name)
    if not isinstance(weight, int) or weight < 1:
        raise DataError(f"weight must be a positive integer, got {weight!r}", field="weight")
    n = len(judgments)
    orders = judgments.column("order") if judgments.has("order") else np.full(n, "ab", object)
    keep = np.ones(n, dtype=bool)
    if first_game_only:
        keep = np.array([o in (None, "ab") for o in orders], dtype=bool)
    verdicts = judgments.column("verdict") if judgments.has("verdict") else [None] * n
    repeat = battle_weights(verdicts, weight=weight) * keep
    rows = np.repeat(np.arange(n), repeat)
    columns = [c for c in ("pair_id", "a", "b", "winner", "order", "verdict", "question_id",
                           "annotator_id") if judgments.has(c)]
    table = judgments.table.select(columns).take(pa.array(rows, pa.int64()))
    unparsed = [
        u for u in judgments.metadata.get("unparsed") or []
        if not first_game_only or (u.get("order") or "ab") == "ab"
    ]
    counts = {
        "games": int(keep.sum()) + len(unparsed),
        "battles": int(repeat.sum()),
        "strong": int(((repeat > 1) & keep).sum()),
        "unparsed": len(unparsed),
        "weight": weight,
    }
    return PreferenceDataset(
        table, "pairwise", name=judgments.name, metadata={"battles": counts}
    )


def arena_leaderboard(battle_data: PreferenceDataset, *, bootstrap: int = 0, seed: int = 0) -> Any:
    """Bradley–Terry leaderboard of battles, ties counted half (``prefkit.choice.leaderboard``)."""
    return leaderboard(battle_data, "bt", ties="half", bootstrap=bootstrap, seed=seed)
