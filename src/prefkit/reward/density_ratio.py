"""CDR: the strong-over-weak density-ratio reward, a preference-free reward from two causal LMs.

Xu et al. 2024, "Customizable Density Ratios of Strong-over-weak LLMs for Preference Annotation"
(CDR).  A better-aligned ("strong") model and a less-aligned ("weak") one — an instruct model and
its base, or a DPO policy and its reference — define

    r_CDR(x, y) = β · [log π_strong(y|x) − log π_weak(y|x)].

With π_strong a DPO policy and π_weak its reference this is DPO's implicit reward
(Rafailov et al. 2023), which is what :func:`prefkit.align.sampling.implicit_reward_scorer`
computes for best-of-N; this class is the same number under the paper's name, on the reward
side of the contract (``reward``, ``predict_proba``, ``reward_texts``, scorer ``__call__``).
The paper's customisation — criteria and exemplars written into the strong model's prompt — is a
prompt: pass ``system`` text to prepend to every prompt seen by the strong model.

Log-probabilities follow the alignment trainer's convention (chat-template prompt, response plus
EOS; :func:`~prefkit.reward.lm_likelihood.response_logps`), so with β = 1 the reward equals
``implicit_reward_scorer(strong, weak, tokenizer, beta=1)`` on the same models.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from prefkit.reward.lm_likelihood import response_logps
from prefkit.reward.scorer import TextScorer


class DensityRatioReward(TextScorer):
    """r(x, y) = β·(log π_strong(y|x) − log π_weak(y|x)) (module docstring).

    Args:
        strong, weak: causal LMs sharing ``tokenizer``.
        beta: the scale β.
        system: text prepended (with a blank line) to the prompt the *strong* model sees — the
            paper's criteria/exemplars customisation; None: the plain prompt.
    """

    def __init__(self, strong: Any, weak: Any, tokenizer: Any, *, beta: float = 1.0,
                 system: str | None = None, temperature: float = 1.0,
                 batch_size: int = 16) -> None:
        self.strong, self.weak, self.tokenizer = strong, weak, tokenizer
        self.beta, self.system = beta, system
        self.temperature, self.batch_size = temperature, batch_size

    def reward_texts(self, prompts: Sequence[str | None], responses: Sequence[str]) -> np.ndarray:
        prompts = ["" if p is None else str(p) for p in prompts]
        custom = prompts if self.system is None else [f"{self.system}\n\n{p}" for p in prompts]
        strong, _ = response_logps(self.strong, self.tokenizer, custom, responses,
                                   batch_size=self.batch_size)
        weak, _ = response_logps(self.weak, self.tokenizer, prompts, responses,
                                 batch_size=self.batch_size)
        return self.beta * (strong - weak)
