"""Reward-augmented relabelling of preference data for direct alignment.

Zhang et al. 2024, "Reward-Augmented Data Enhances Direct Preference Alignment of LLMs".  DPO on
a pair (y_w ≻ y_l) with scores (s_w, s_l) pushes y_l down even when it is a good response; the
paper conditions the prompt on a *target score* instead, so the policy learns the whole quality
range.  Each pair becomes two:

    (x ⊕ "goal: s_w",  y_w ≻ y_l)      (x ⊕ "goal: s_l",  y_l ≻ y_w)

— given the goal s_w the response that has it is preferred, and likewise for s_l — and any DPO-type
loss trains on the union.  At inference the prompt asks for the highest score
(:func:`goal_prompt` with the maximum).  Pairs with equal scores give one record only (the
second would contradict the first).

The scores are the ``a_reward`` / ``b_reward`` columns (e.g. a reward model's or a judge's
ratings); the goal text is a template with ``{prompt}`` and ``{score}``.
"""

from __future__ import annotations

import numpy as np

from prefkit.data.schema import PreferenceDataset
from prefkit.errors import DataError

#: the goal-conditioned prompt
TEMPLATE = "{prompt}\n\n(Write a response that scores {score:g}.)"


def goal_prompt(prompt: str | None, score: float, template: str = TEMPLATE) -> str:
    """The prompt conditioned on a target score."""
    return template.format(prompt="" if prompt is None else prompt, score=float(score))


def reward_augmented_pairs(ds: PreferenceDataset, *, template: str = TEMPLATE,
                           keep_original: bool = False) -> PreferenceDataset:
    """The relabelled data set of the module docstring (``keep_original`` adds the unconditioned
    pairs too).  Needs ``a_reward``/``b_reward`` and a decided ``winner``/``p_a`` per record."""
    if ds.kind != "pairwise":
        raise DataError(f"relabelling needs pairwise records, this is {ds.kind}", source=ds.name)
    for col in ("a_reward", "b_reward"):
        if not ds.has(col):
            raise DataError("reward-augmented relabelling needs each response's score",
                            source=ds.name, field=col)
    p_a = ds.outcomes()
    out = []
    for i, rec in enumerate(ds.to_records()):
        sa, sb = rec.get("a_reward"), rec.get("b_reward")
        if sa is None or sb is None or not np.isfinite([float(sa), float(sb)]).all():
            raise DataError("missing score", source=ds.name, row=i,
                            field="a_reward" if sa is None else "b_reward")
        if np.isnan(p_a[i]) or p_a[i] == 0.5:
            continue  # a tie or an unlabelled pair has no direction to relabel
        a_wins = p_a[i] > 0.5
        base = {k: v for k, v in rec.items() if k not in ("winner", "p_a", "prompt")}
        s_w, s_l = (float(sa), float(sb)) if a_wins else (float(sb), float(sa))
        if keep_original:
            out.append({**base, "prompt": rec.get("prompt"), "winner": "a" if a_wins else "b"})
        out.append({**base, "prompt": goal_prompt(rec.get("prompt"), s_w, template),
                    "winner": "a" if a_wins else "b"})
        if s_l != s_w:
            out.append({**base, "prompt": goal_prompt(rec.get("prompt"), s_l, template),
                        "winner": "b" if a_wins else "a"})
    if not out:
        raise DataError("no decided pair to relabel", source=ds.name)
    return PreferenceDataset.from_records(out, kind="pairwise",
                                          name=f"{ds.name or 'pairs'}-reward-augmented")
