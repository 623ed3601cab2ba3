"""SELM / VPO: DPO plus a signed likelihood term on a response sampled from the reference.

SELM (Zhang et al. 2024, "Self-Exploring Language Models: Active Preference Elicitation for
Online Alignment") and VPO (Cen et al. 2024, "Value-Incentivized Preference Optimization: A
Unified Approach to Online and Offline RLHF") both reparametrise a value-regularised reward
objective into DPO plus a likelihood-ratio term on a response y′ drawn from a calibration
policy (the reference, for SELM's ``optimistic_dpo_loss``):

    L = −log σ(β·h)  +  α·β·[ log π(y′|x) − log π_ref(y′|x) ].

α > 0 is the optimistic sign (SELM, online VPO): it lowers the policy's likelihood of what the
reference already says, which pushes mass toward unexplored responses.  α < 0 is the
pessimistic sign (offline VPO): it keeps the policy close to the calibration responses, an
SFT-like regulariser (with y′ = the chosen response it is the RPO term of
:mod:`~prefkit.align.losses.nll`, up to the constant reference term).  α = 0 is DPO.

**In prefkit.** y′ is the record's ``sample_text`` column: one response per record sampled
beforehand from the reference policy (e.g. with :func:`prefkit.align.sampling.generate_candidates`;
the online loop that samples afresh each round is the online issue's).  The trainer computes the
policy and reference log-probs of y′ (:mod:`~prefkit.align.objectives.extras`); evaluation
reports the DPO part only.  The catalogues give no default α; prefkit uses 0.01.
"""

from __future__ import annotations

import torch

from prefkit.align.losses._common import LossOutput
from prefkit.align.losses.dpo import dpo_loss


def selm_loss(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    ref_chosen_logps: torch.Tensor,
    ref_rejected_logps: torch.Tensor,
    *,
    sample_logps: torch.Tensor | None = None,
    ref_sample_logps: torch.Tensor | None = None,
    beta: float = 0.1,
    alpha: float = 0.01,
) -> LossOutput:
    """Per-pair SELM/VPO loss; without sample log-probs it is DPO."""
    out = dpo_loss(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps,
                   ref_rejected_logps, beta=beta)
    if sample_logps is None or ref_sample_logps is None or not alpha:
        return out
    term = alpha * beta * (sample_logps - ref_sample_logps.to(sample_logps.dtype))
    return LossOutput(out.losses + term, out.chosen_rewards, out.rejected_rewards)
