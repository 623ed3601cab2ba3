"""Conditional training with control tags, and the reward a tag-conditioned LM defines.

Korbak et al. 2023, "Pretraining Language Models with Human Preferences".  Of five ways of using a
reward during (pre)training, *conditional training* worked best: prefix each training text with a
control token chosen by a scorer — ``<|good|>`` when its reward passes a threshold, ``<|bad|>``
otherwise — train by plain maximum likelihood, and generate conditioned on ``<|good|>``.  The
model learns p(y | tag, x) for both tags instead of forgetting the bad examples.

This module has the three pieces that are not ordinary language-model training:

* :func:`control_tag` and :func:`tagged_prompt` — the tag of a reward and the tagged prompt;
* :func:`conditional_records` — the tagged training set from rating records (``scores``) or
  pairwise records (``a_reward``/``b_reward``, or the label: winner good, loser bad);
* :class:`ControlTagReward` — what the tag-conditioned model says about a response:
  r(x, y) = log p(y | ``<|good|>`` x) − log p(y | ``<|bad|>`` x), a reward *conditioned on the
  tag prefix* (the log-odds of the good tag given the response under a uniform tag prior, by
  Bayes' rule).

Training itself is next-token likelihood on the records' texts (e.g.
:func:`prefkit.align.tiny.pretrain` for the tiny model, or any SFT trainer).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from prefkit.data.schema import PreferenceDataset
from prefkit.errors import DataError
from prefkit.reward.lm_likelihood import response_logps
from prefkit.reward.scorer import TextScorer

GOOD, BAD = "<|good|>", "<|bad|>"


def control_tag(reward: float, threshold: float, *, good: str = GOOD, bad: str = BAD) -> str:
    """``good`` when ``reward`` ≥ ``threshold``, else ``bad``."""
    return good if float(reward) >= threshold else bad


def tagged_prompt(prompt: str | None, tag: str) -> str:
    """The prompt with the control tag in front."""
    return tag if not prompt else f"{tag} {prompt}"


def conditional_records(ds: PreferenceDataset, *, threshold: float | None = None,
                        attribute: str | None = None, good: str = GOOD,
                        bad: str = BAD) -> list[dict[str, Any]]:
    """Tagged (prompt, text, tag) records for maximum-likelihood training (module docstring).

    Rating data: tag by ``scores[attribute]`` ≥ ``threshold`` (default: the median score).
    Pairwise data: by ``a_reward``/``b_reward`` against ``threshold`` when present, else by the
    label (the preferred response good, the other bad; ties dropped).
    """
    out: list[dict[str, Any]] = []
    if ds.kind == "rating":
        from prefkit.reward.linear_text import rating_column

        prompts, texts, y = rating_column(ds, attribute)
        cut = float(np.median(y)) if threshold is None else threshold
        for p, t, v in zip(prompts, texts, y, strict=True):
            tag = control_tag(v, cut, good=good, bad=bad)
            out.append({"prompt": tagged_prompt(p, tag), "text": t, "tag": tag})
        return out
    if ds.kind != "pairwise":
        raise DataError(f"conditional training needs rating or pairwise records, not {ds.kind}",
                        source=ds.name)
    prompts = list(ds.column("prompt")) if ds.has("prompt") else [None] * len(ds)
    a, b = ds.column("a_text"), ds.column("b_text")
    scored = ds.has("a_reward") and ds.has("b_reward")
    if scored:
        ra, rb = (np.asarray(ds.column(c), dtype=float) for c in ("a_reward", "b_reward"))
        cut = float(np.median(np.concatenate([ra, rb]))) if threshold is None else threshold
    p_a = ds.outcomes()
    for i, p in enumerate(prompts):
        if scored:
            tags = (control_tag(ra[i], cut, good=good, bad=bad),
                    control_tag(rb[i], cut, good=good, bad=bad))
        elif np.isnan(p_a[i]) or p_a[i] == 0.5:
            continue
        else:
            tags = (good, bad) if p_a[i] > 0.5 else (bad, good)
        for text, tag in zip((a[i], b[i]), tags, strict=True):
            out.append({"prompt": tagged_prompt(p, tag), "text": str(text), "tag": tag})
    return out


class ControlTagReward(TextScorer):
    """r(x, y) = log p(y | good ⊕ x) − log p(y | bad ⊕ x) under a conditionally trained LM."""

    def __init__(self, model: Any, tokenizer: Any, *, good: str = GOOD, bad: str = BAD,
                 temperature: float = 1.0, batch_size: int = 16) -> None:
        self.model, self.tokenizer, self.good, self.bad = model, tokenizer, good, bad
        self.temperature, self.batch_size = temperature, batch_size

    def reward_texts(self, prompts: Sequence[str | None], responses: Sequence[str]) -> np.ndarray:
        out = []
        for tag in (self.good, self.bad):
            lp, _ = response_logps(self.model, self.tokenizer,
                                   [tagged_prompt(p, tag) for p in prompts], list(responses),
                                   batch_size=self.batch_size)
            out.append(lp)
        return out[0] - out[1]
