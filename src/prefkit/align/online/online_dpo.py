r"""Online DPO (Guo et al. 2024, "Direct Language Model Alignment from Online AI Feedback", OAIF;
Xu et al. 2023, "Some things are more CRINGE than others"): any pairwise loss of
:mod:`prefkit.align.losses` on pairs sampled from the *current* policy.

Each step draws two completions y_1, y_2 ~ π_θ(·|x) per prompt, asks the labeller for
p = P(y_1 ≻ y_2 | x) (a reward model through Bradley–Terry, a preference model, a judge), makes
the more preferred one the chosen response (p stays attached for soft-label losses) and takes
one optimiser step on, e.g. for DPO,

    L = −log σ(β [log π_θ(y_w|x)/π_ref(y_w|x) − log π_θ(y_l|x)/π_ref(y_l|x)]).

The pairs are the decoded completions, tokenised exactly as the offline trainer tokenises its
data (prompt through the chat template, responses ending with EOS; special tokens a sampler may
emit mid-text are dropped by decoding), so one online step on a fixed batch is the offline step
on the same pairs (tested).  Ties (p = ½) are kept only for soft-label losses.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from prefkit.align.pairs import TextPairs, TokenPairs, tokenize_pairs


def online_pairs(tokenizer: Any, prompts: Sequence[str], first: Sequence[str],
                 second: Sequence[str], p_first: np.ndarray, *, keep_ties: bool = False,
                 max_length: int = 512, max_prompt_length: int = 256
                 ) -> tuple[TokenPairs, np.ndarray]:
    """(chosen, rejected) token pairs from completion pairs and P(first ≻ second); returns the
    pairs and the indices of the pairs kept."""
    text = TextPairs([], [], [], np.zeros(0), np.zeros(0))
    ps, kept = [], []
    for k, p in enumerate(np.asarray(p_first, float)):
        if p == 0.5 and not keep_ties:
            continue
        a, b = first[k], second[k]
        chosen, rejected = (a, b) if p >= 0.5 else (b, a)
        text.prompts.append(str(prompts[k]))
        text.chosen.append(chosen)
        text.rejected.append(rejected)
        ps.append(max(p, 1.0 - p))
        kept.append(k)
    text.p, text.weights = np.asarray(ps, float), np.ones(len(ps))
    if not ps:
        return TokenPairs([], [], [], np.zeros(0), np.zeros(0)), np.zeros(0, int)
    pairs = tokenize_pairs(tokenizer, text, max_length=max_length,
                           max_prompt_length=max_prompt_length)
    return pairs, np.asarray(kept, int)
