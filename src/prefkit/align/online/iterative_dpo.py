r"""Iterative DPO (Xu et al. 2023, "Some things are more CRINGE than others: Iterative
Preference Optimization with the Pairwise Cringe Loss"; Xiong et al. 2024, "Iterative
Preference Learning from Human Feedback", Algorithm 1; Dong et al. 2024, "RLHF Workflow").

Training runs in rounds t = 0, 1, …: at the start of round t the current policy π_t draws K
completions for each of the round's prompts, the labeller scores them, and the pair
(best, worst) of each prompt — by reward, or by win rate within the group for a pairwise
labeller — becomes a preference pair; then ``steps_per_round`` offline steps of any pairwise
loss run on these pairs against the reference, which is π_0 throughout or, with
``refresh_reference``, π_t (the policy at the start of the round):

    L_t = E_{(x, y_w, y_l) ~ D_t} −log σ(β [log π_θ(y_w|x)/π_ref,t(y_w|x)
                                             − log π_θ(y_l|x)/π_ref,t(y_l|x)])

Prompts whose K scores are all equal give no pair.
"""

from __future__ import annotations

import numpy as np


def best_worst(scores: np.ndarray, group_size: int) -> list[tuple[int, int]]:
    """(best, worst) sample indices per group of ``group_size``; groups without a strict
    difference are skipped."""
    out = []
    grouped = np.asarray(scores, float).reshape(-1, group_size)
    for g, row in enumerate(grouped):
        best, worst = int(np.argmax(row)), int(np.argmin(row))
        if row[best] > row[worst]:
            out.append((g * group_size + best, g * group_size + worst))
    return out
