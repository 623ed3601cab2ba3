"""FSPO: few-shot preference optimisation — a user's own labelled pairs serialised into the prompt.

Singh et al. 2025, "FSPO: Few-Shot Preference Optimization of Synthetic Preference Data in LLMs
Elicits Effective Personalization to Real Users".  A personalised policy is conditioned on a few
of the user's own preferences: each training record's prompt is prefixed with k *other* labelled
pairs of the same user,

    x' = "Preferences of this user:\\n[1] prompt … / preferred: y_w / not preferred: y_l\\n…
          \\n\\nNow answer:\\n" ⊕ x

and any DPO-type loss trains on (x', y_w ≻ y_l) — meta-learning across users turns into ordinary
preference optimisation over episodes.  At inference the prompt carries k pairs the new user has
labelled.  The user's pairs are drawn without the record itself (no label leak), ``k`` at most,
seeded; users with no other pair keep a bare header.  Grouping column: ``user_id``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from prefkit.data.schema import PreferenceDataset
from prefkit.errors import DataError

HEADER = "Preferences of this user:"
FOOTER = "Now answer:"


def serialise_pairs(examples: Sequence[dict[str, Any]]) -> str:
    """The few-shot block: one numbered line per (prompt, preferred, not preferred) example."""
    lines = [HEADER]
    for n, ex in enumerate(examples, 1):
        lines.append(f"[{n}] prompt: {ex['prompt'] or ''} / preferred: {ex['chosen']} / "
                     f"not preferred: {ex['rejected']}")
    return "\n".join(lines)


def few_shot_prompt(prompt: str | None, examples: Sequence[dict[str, Any]]) -> str:
    """x' = the serialised examples, then the prompt."""
    return f"{serialise_pairs(examples)}\n\n{FOOTER}\n{prompt or ''}"


def few_shot_pairs(ds: PreferenceDataset, *, k: int = 4, user: str = "user_id",
                   seed: int = 0) -> PreferenceDataset:
    """Each decided record with its prompt replaced by :func:`few_shot_prompt` of up to ``k``
    other decided pairs of the same user (module docstring); ties are dropped."""
    if ds.kind != "pairwise":
        raise DataError(f"FSPO needs pairwise records, this is {ds.kind}", source=ds.name)
    if not ds.has(user):
        raise DataError("FSPO needs a user column", source=ds.name, field=user)
    if k < 0:
        raise DataError(f"k must be ≥ 0, not {k}", field="k")
    records = ds.to_records()
    p_a = ds.outcomes()
    decided = [i for i in range(len(records)) if not np.isnan(p_a[i]) and p_a[i] != 0.5]
    by_user: dict[str, list[int]] = {}
    for i in decided:
        if records[i].get(user) is None:
            raise DataError("missing user", source=ds.name, row=i, field=user)
        by_user.setdefault(str(records[i][user]), []).append(i)
    rng = np.random.default_rng(seed)
    out = []
    for i in decided:
        others = [j for j in by_user[str(records[i][user])] if j != i]
        picked = rng.choice(others, size=min(k, len(others)), replace=False) if others else []
        examples = []
        for j in picked:
            rec, a_wins = records[int(j)], p_a[int(j)] > 0.5
            examples.append({"prompt": rec.get("prompt"),
                             "chosen": rec.get("a_text") if a_wins else rec.get("b_text"),
                             "rejected": rec.get("b_text") if a_wins else rec.get("a_text")})
        out.append({**records[i], "prompt": few_shot_prompt(records[i].get("prompt"), examples)})
    if not out:
        raise DataError("no decided pair to condition", source=ds.name)
    return PreferenceDataset.from_records(out, kind="pairwise",
                                          name=f"{ds.name or 'pairs'}-few-shot")
