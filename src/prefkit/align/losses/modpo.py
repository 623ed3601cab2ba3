"""MODPO: multi-objective DPO.

Zhou et al. 2024, "Beyond One-Preference-Fits-All Alignment: Multi-Objective Direct Preference
Optimization".  Objective 0 is learnt from the preference pairs; the other objectives come as
fixed "margin" rewards r_1 … r_K of each response (reward-model scores).  With a weight vector
w = (w_0, w_1, …, w_K), the language model is trained as the collective reward model

    r̃(x, y) = (1/w_0)·[ β·log π(y|x)/π_ref(y|x) − Σ_k w_k·r_k(x, y) ],
    L_MODPO = −log σ( r̃(x, y_w) − r̃(x, y_l) ),

whose optimum satisfies β·log π/π_ref = w_0·r_0 + Σ_k w_k·r_k + const.  Sweeping w traces the
Pareto front.  With no other objectives (K = 0) and w_0 = 1 it is DPO.

**Inputs in prefkit.** ``margin_chosen``/``margin_rejected`` are (B,) or (B, K) rewards of the
other objectives; ``other_weights`` is the vector (w_1 … w_K) (a number applies to every k).
Through ``prefkit align train --loss modpo --loss-param w0=…`` the trainer reads the rewards from
the dataset's ``a_reward``/``b_reward`` columns (one other objective) and uses w_1 = 1 − w_0 (the
two-objective weighting of the paper's experiments); see :mod:`~prefkit.align.objectives.extras`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from prefkit.align.losses._common import LossOutput, logratio


def _weighted(margin: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    if margin.dim() == 1:
        return margin * weights.reshape(-1)[0] if weights.numel() == 1 else margin * weights.sum()
    return (margin * weights.reshape(1, -1)).sum(-1)


def modpo_loss(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    ref_chosen_logps: torch.Tensor,
    ref_rejected_logps: torch.Tensor,
    *,
    beta: float = 0.1,
    w0: float = 1.0,
    other_weights: float | Sequence[float] | torch.Tensor | None = None,
    margin_chosen: torch.Tensor | None = None,
    margin_rejected: torch.Tensor | None = None,
) -> LossOutput:
    """Per-pair MODPO loss; the rewards returned are the collective rewards r̃."""
    if not w0 > 0:
        raise ValueError(f"w0 must be > 0, got {w0}")
    chosen = beta * logratio(policy_chosen_logps, ref_chosen_logps)
    rejected = beta * logratio(policy_rejected_logps, ref_rejected_logps)
    if margin_chosen is not None and margin_rejected is not None:
        weights = torch.as_tensor(1.0 - w0 if other_weights is None else other_weights,
                                  dtype=chosen.dtype, device=chosen.device)
        chosen = chosen - _weighted(margin_chosen.to(chosen.dtype), weights)
        rejected = rejected - _weighted(margin_rejected.to(chosen.dtype), weights)
    chosen, rejected = chosen / w0, rejected / w0
    losses = -F.logsigmoid(chosen - rejected)
    return LossOutput(losses, chosen.detach(), rejected.detach())
