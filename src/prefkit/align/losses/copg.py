"""CoPG: contrastive policy gradient, used offline as a square loss that generalises IPO.

Flet-Berliac et al. 2024, "Contrastive Policy Gradient: Aligning LLMs on sequence-level scores
in a supervised-friendly fashion".  For two responses y, y′ of the same prompt, drawn from any
behaviour policy, with sequence rewards R(x, y), R(x, y′):

    L_CoPG = ( R(x,y) − R(x,y′) − β·[ log π(y|x)/π_ref(y|x) − log π(y′|x)/π_ref(y′|x) ] )².

Its gradient is (R_β(y) − R_β(y′))·(∇log π(y) − ∇log π(y′)) with R_β = R − β·log π/π_ref: a
policy gradient in which the other response is the baseline, without importance weights.  The
minimiser sets the implicit reward gap β·h equal to the reward gap.

**Relation to IPO.** With a 0/1 preference reward (R(y_w) − R(y_l) = 1),
L_CoPG = (1 − β·h)² = β²·(h − 1/β)², i.e. β² × the IPO loss with τ = β/2
(:func:`~prefkit.align.losses.ipo.ipo_loss`).

**Rewards in prefkit.** ``reward_margin`` = R(x, y_w) − R(x, y_l) per pair.  The trainer takes it
from the dataset's ``a_reward``/``b_reward`` columns when both are present (see
:mod:`~prefkit.align.objectives.extras`), else from the preference itself, R(y_w) − R(y_l) =
2p − 1 with p = P(y_w ≻ y_l) (1 for a hard label, which is the IPO case above).
"""

from __future__ import annotations

import torch

from prefkit.align.losses._common import LossOutput, logratio


def copg_loss(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    ref_chosen_logps: torch.Tensor,
    ref_rejected_logps: torch.Tensor,
    *,
    beta: float = 0.1,
    reward_margin: torch.Tensor | None = None,
    p: torch.Tensor | float = 1.0,
) -> LossOutput:
    """Per-pair offline CoPG loss; ``reward_margin`` defaults to 2p − 1."""
    chosen = beta * logratio(policy_chosen_logps, ref_chosen_logps)
    rejected = beta * logratio(policy_rejected_logps, ref_rejected_logps)
    if reward_margin is None:
        reward_margin = 2.0 * torch.as_tensor(p, dtype=chosen.dtype, device=chosen.device) - 1.0
    target = torch.as_tensor(reward_margin, dtype=chosen.dtype, device=chosen.device)
    losses = (target - (chosen - rejected)) ** 2
    return LossOutput(losses, chosen.detach(), rejected.detach())
