"""Curry-DPO: curriculum ordering of preference pairs, easy to hard.

Pattnaik et al. 2024, "Curry-DPO: Enhancing Alignment using Curriculum Learning & Ranked
Preferences".  From several rated responses per prompt, pair the best response with each of the
others; the rating gap g = s_best − s_j measures how easy a pair is (a large gap is easy).  Train
DPO on the pairs in order of decreasing gap, optionally in stages (``n_stages`` groups of equal
size), where each stage may use the previous stage's policy as reference.

:func:`curriculum_order` gives the order for any gaps; :func:`curriculum_pairs` builds the pairs
from a rating dataset.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from prefkit.errors import DataError


def curriculum_order(gaps: Any) -> np.ndarray:
    """Indices that sort pairs from easy (largest rating gap) to hard (smallest); stable."""
    gaps = np.asarray(gaps, dtype=float)
    if gaps.ndim != 1:
        raise DataError("rating gaps must be one number per pair")
    if np.isnan(gaps).any():
        raise DataError("rating gaps must not be NaN")
    return np.argsort(-gaps, kind="stable")


def curriculum_stages(gaps: Any, n_stages: int) -> np.ndarray:
    """Stage number (0 = easiest) of each pair when the ordered pairs are cut into equal stages."""
    if n_stages < 1:
        raise DataError("n_stages must be ≥ 1")
    order = curriculum_order(gaps)
    stages = np.empty(len(order), dtype=np.int64)
    stages[order] = np.arange(len(order)) * n_stages // max(len(order), 1)
    return stages


def curriculum_pairs(dataset: Any, *, attribute: str = "overall", n_stages: int = 1) -> Any:
    """Curry-DPO pairs from a rating dataset with ``prompt``, ``text`` and ``scores``.

    For each prompt, the best-rated response is paired with each lower-rated one (ties skipped).
    Returns a pairwise :class:`~prefkit.data.PreferenceDataset` (``a_text`` = best, winner ``a``)
    sorted easy → hard, with the rating gap in ``margin`` and the curriculum ``stage``.
    """
    from prefkit.data import PreferenceDataset

    if dataset.kind != "rating":
        raise DataError(f"curriculum_pairs needs a rating dataset, this one is {dataset.kind}")
    by_prompt: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for row, rec in enumerate(dataset.to_records()):
        if "text" not in rec or "prompt" not in rec:
            raise DataError("needs 'prompt' and 'text'", row=row, source=dataset.name)
        score = rec.get("scores", {}).get(attribute)
        if score is None:
            raise DataError(f"no score {attribute!r}", row=row, field="scores", source=dataset.name)
        by_prompt[rec["prompt"]].append((float(score), rec["text"]))
    records = []
    for prompt, rated in by_prompt.items():
        rated.sort(key=lambda t: -t[0])
        best_score, best = rated[0]
        for score, text in rated[1:]:
            if score < best_score:
                records.append(
                    {"prompt": prompt, "a_text": best, "b_text": text, "winner": "a",
                     "margin": best_score - score}
                )
    if not records:
        raise DataError("no prompt has two responses with different ratings", source=dataset.name)
    gaps = np.array([r["margin"] for r in records])
    stages = curriculum_stages(gaps, n_stages)
    ordered = []
    for i in curriculum_order(gaps):
        ordered.append({**records[i], "stage": int(stages[i])})
    return PreferenceDataset.from_records(ordered, kind="pairwise", name=dataset.name)
