"""R³: a preference-free reward from prompt–response relevance with regularisers.

Kim & Seo 2024, "Preference-free Alignment Learning with Regularized Relevance Reward" (R³).  The
paper finds that reward models trained on human preferences score long off-topic answers above
short on-topic ones, and that a retriever's relevance score alone is hackable too; its reward is
relevance plus inductive-bias regularisers.  prefkit's version (the catalogues give the parts, not
the exact mixture, so the weights are hyper-parameters):

    r(x, y) = cos(E(x), E(y))  +  λ_len·min(|y| / L, 1)  −  λ_rep·rep_n(y)

* cos(E(x), E(y)) — relevance of the response to the prompt under a frozen sentence encoder
  (:func:`prefkit.encode.relevance.prompt_cosine`; 0 without a prompt);
* min(|y|/L, 1) — a length incentive that saturates at L words, so length cannot be pumped;
* rep_n(y) = 1 − (distinct n-grams)/(n-grams) — the share of repeated word n-grams, a penalty
  on degenerate repetition.

With λ_len = λ_rep = 0 the reward is the encoder's prompt–response cosine.  Not implemented: the
paper's reference-answer consistency term (it needs reference answers).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from prefkit.encode.relevance import prompt_cosine
from prefkit.reward.scorer import TextScorer


def repetition_rate(text: str, n: int = 2) -> float:
    """1 − distinct word n-grams / all word n-grams (0 for texts shorter than n words)."""
    words = str(text).lower().split()
    grams = [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
    return 0.0 if not grams else 1.0 - len(set(grams)) / len(grams)


class RelevanceReward(TextScorer):
    """R³ reward (module docstring).

    Args:
        encoder: a sentence encoder (``encode(texts)``); default the bundled MiniLM.
        length_weight, target_length: λ_len and L (words).
        repetition_weight, ngram: λ_rep and n.
    """

    def __init__(self, encoder: Any = None, *, length_weight: float = 0.1,
                 target_length: int = 50, repetition_weight: float = 0.5, ngram: int = 2,
                 temperature: float = 0.1) -> None:
        self.encoder = encoder
        self.length_weight, self.target_length = length_weight, target_length
        self.repetition_weight, self.ngram = repetition_weight, ngram
        self.temperature = temperature

    def _encoder(self) -> Any:
        if self.encoder is None:
            from prefkit.encode import default_encoder

            self.encoder = default_encoder()
        return self.encoder

    def relevance(self, prompts: Sequence[str | None], responses: Sequence[str]) -> np.ndarray:
        """cos(E(x), E(y)) per row (0 where there is no prompt)."""
        enc = self._encoder()
        x = np.asarray(enc.encode([str(r) for r in responses]), dtype=np.float32)
        e_p = np.zeros_like(x)
        have = [k for k, p in enumerate(prompts) if p]
        if have:
            e_p[have] = np.asarray(enc.encode([str(prompts[k]) for k in have]), dtype=np.float32)
        return prompt_cosine(e_p, x)[:, 0].astype(float)

    def reward_texts(self, prompts: Sequence[str | None], responses: Sequence[str]) -> np.ndarray:
        prompts, responses = list(prompts), [str(r) for r in responses]
        r = self.relevance(prompts, responses)
        if self.length_weight:
            lengths = np.array([len(t.split()) for t in responses], dtype=float)
            r = r + self.length_weight * np.minimum(lengths / max(self.target_length, 1), 1.0)
        if self.repetition_weight:
            r = r - self.repetition_weight * np.array(
                [repetition_rate(t, self.ngram) for t in responses])
        return r
