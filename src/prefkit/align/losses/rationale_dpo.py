"""Rationale-DPO: DPO plus the likelihood of a rationale that explains the preference.

Just et al. 2024, "Data-Centric Human Preference Optimization with Rationales" (RDPO).  Each pair
comes with a rationale r, a text explaining why y_w is preferred to y_l.  Besides the preference
term, the policy learns to generate the rationale given the prompt and the two responses:

    L_RDPO = −log σ(β·h)  −  γ·log π(r | x, y_w, y_l) / |r|,

with h the DPO log-ratio margin and the rationale term averaged per token (summed when no
rationale lengths are given).  γ = 0 gives DPO.

**In prefkit.** The rationale is the dataset's ``rationale`` field; the trainer scores it as a
response to the context "prompt, chosen response, rejected response" (see
:mod:`~prefkit.align.objectives.extras`).  A dataset without rationales is refused with a
one-line :class:`~prefkit.errors.DataError`.
"""

from __future__ import annotations

import torch

from prefkit.align.losses._common import LossOutput, per_token
from prefkit.align.losses.dpo import dpo_loss


def rationale_dpo_loss(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    ref_chosen_logps: torch.Tensor,
    ref_rejected_logps: torch.Tensor,
    *,
    rationale_logps: torch.Tensor,
    rationale_lengths: torch.Tensor | None = None,
    beta: float = 0.1,
    gamma: float = 1.0,
) -> LossOutput:
    """Per-pair Rationale-DPO loss: DPO − ``gamma`` × the rationale's (per-token) log-likelihood."""
    out = dpo_loss(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps,
                   ref_rejected_logps, beta=beta)
    losses = out.losses - gamma * per_token(rationale_logps, rationale_lengths)
    return LossOutput(losses, out.chosen_rewards, out.rejected_rewards)
