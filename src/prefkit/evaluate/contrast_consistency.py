r"""Reward-model consistency on contrast instructions.

Shen et al. (2024), "The Trickle-down Impact of Reward (In-)consistency on RLHF", ICLR
(the *Contrast Instructions* benchmark).  A contrast pair is two lexically similar instructions
I₁, I₂ whose reference responses R₁, R₂ differ; a reward model r is consistent on it when it
prefers each instruction's own response over the other's::

    consistent = 1[ r(I₁, R₁) > r(I₁, R₂) ]  ·  1[ r(I₂, R₂) > r(I₂, R₁) ]
    consistency rate = mean of ``consistent`` over the contrast pairs

Equal rewards count as not preferred (the strict inequality of the paper).  The two one-sided
rates (``first``: r(I₁,R₁) > r(I₁,R₂); ``second``: r(I₂,R₂) > r(I₂,R₁)) are reported too, since
a reward model that ignores the instruction can pass one side but never both.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from prefkit.errors import DataError


def contrast_consistent(r11: Any, r12: Any, r21: Any, r22: Any) -> np.ndarray:
    """Per contrast pair: r(I₁,R₁) > r(I₁,R₂) and r(I₂,R₂) > r(I₂,R₁) (r_ab = r(I_a, R_b))."""
    arrays = [np.asarray(x, dtype=float).ravel() for x in (r11, r12, r21, r22)]
    if len({a.shape for a in arrays}) != 1:
        raise DataError("contrast consistency: the four reward arrays differ in length")
    if not all(np.all(np.isfinite(a)) for a in arrays):
        raise DataError("contrast consistency: rewards must be finite")
    a11, a12, a21, a22 = arrays
    return (a11 > a12) & (a22 > a21)


def contrast_consistency(r11: Any, r12: Any, r21: Any, r22: Any) -> dict[str, float]:
    """Consistency rate and the two one-sided rates over the contrast pairs."""
    both = contrast_consistent(r11, r12, r21, r22)
    if both.size == 0:
        raise DataError("contrast consistency: no contrast pairs")
    a11, a12, a21, a22 = (np.asarray(x, dtype=float).ravel() for x in (r11, r12, r21, r22))
    return {
        "consistency": float(both.mean()),
        "first": float((a11 > a12).mean()),
        "second": float((a22 > a21).mean()),
        "n": int(both.size),
    }


def model_contrast_consistency(model: Any, instructions_1: list[str], instructions_2: list[str],
                               responses_1: list[str], responses_2: list[str]) -> dict[str, float]:
    """:func:`contrast_consistency` of a model with ``reward_texts(prompts, responses)``."""
    n = len(instructions_1)
    if not (len(instructions_2) == len(responses_1) == len(responses_2) == n):
        raise DataError("contrast consistency: the four text lists differ in length")
    prompts = list(instructions_1) * 2 + list(instructions_2) * 2
    responses = (list(responses_1) + list(responses_2)) * 2
    r = np.asarray(model.reward_texts(prompts, responses), dtype=float)
    return contrast_consistency(r[:n], r[n : 2 * n], r[2 * n : 3 * n], r[3 * n :])
