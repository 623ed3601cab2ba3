"""LN-DPO: length-normalised DPO.

Length-normalised DPO (the "LN-DPO" baseline of Ahrabian et al. 2024, "A Practical Analysis of
Human Alignment with *PO", and the ``sigmoid_norm`` loss type of TRL).  Each log-ratio is divided
by the length of its response before the DPO log-sigmoid:

    h_LN = log π(y_w|x)/π_ref(y_w|x) / |y_w|  −  log π(y_l|x)/π_ref(y_l|x) / |y_l|,
    L_LN-DPO = −log σ(β·h_LN).

DPO's summed log-ratio grows with the response length, so DPO can raise the margin simply by
favouring long chosen responses; the per-token form removes that lever.  With |y_w| = |y_l| = n
the loss is DPO with β/n.  Without lengths (None) it is plain DPO.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from prefkit.align.losses._common import LossOutput, logratio, per_token


def ln_dpo_loss(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    ref_chosen_logps: torch.Tensor,
    ref_rejected_logps: torch.Tensor,
    *,
    beta: float = 0.1,
    chosen_lengths: torch.Tensor | None = None,
    rejected_lengths: torch.Tensor | None = None,
) -> LossOutput:
    """Per-pair LN-DPO loss; the rewards are β × the per-token log-ratios."""
    chosen = beta * per_token(logratio(policy_chosen_logps, ref_chosen_logps), chosen_lengths)
    rejected = beta * per_token(logratio(policy_rejected_logps, ref_rejected_logps),
                                rejected_lengths)
    losses = -F.logsigmoid(chosen - rejected)
    return LossOutput(losses, chosen.detach(), rejected.detach())
