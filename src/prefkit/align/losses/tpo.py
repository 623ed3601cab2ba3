"""TPO: triple preference optimisation (preference + SFT on a gold response, in one step).

Saeidi et al. 2024, "Triple Preference Optimization: Achieving Better Alignment using a Single
Step Optimization".  Each prompt has three responses: a gold one y_gold (the best, used for
behaviour cloning), a preferred y_w and a dispreferred y_l.  There is no reference model; the
pair term uses summed log-probabilities and the gold term the per-token negative log-likelihood:

    L_TPO = −log σ( β·[log π(y_w|x) − log π(y_l|x)] )  +  α·NLL(y_gold|x),
    NLL(y_gold|x) = −log π(y_gold|x) / |y_gold|.

The paper's defaults are β = 0.1 and α = 0.5 (the same arithmetic as TRL's experimental
``TPOTrainer`` with ``loss_type="sigmoid"``).

**Gold response.** A pairwise record may carry a third response in a ``gold_text`` column; the
trainer then scores it (:mod:`prefkit.align.objectives.extras`) and passes ``gold_logps`` /
``gold_lengths``.  When no gold log-probabilities are given (a dataset without that column), the
chosen response is used as the gold response; TPO then coincides with CPO
(:mod:`~prefkit.align.losses.cpo`) with α applied to the per-token NLL.
"""

from __future__ import annotations

import torch

from prefkit.align.losses._common import LossOutput, per_token, soft_sigmoid_loss


def tpo_loss(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    *,
    beta: float = 0.1,
    alpha: float = 0.5,
    label_smoothing: float = 0.0,
    chosen_lengths: torch.Tensor | None = None,
    gold_logps: torch.Tensor | None = None,
    gold_lengths: torch.Tensor | None = None,
) -> LossOutput:
    """Per-triple TPO loss; the gold response defaults to the chosen one (see the docstring)."""
    chosen = beta * policy_chosen_logps
    rejected = beta * policy_rejected_logps
    losses = soft_sigmoid_loss(chosen - rejected, 1.0 - label_smoothing)
    if alpha:
        if gold_logps is None:
            gold_logps, gold_lengths = policy_chosen_logps, chosen_lengths
        losses = losses - alpha * per_token(gold_logps, gold_lengths)
    return LossOutput(losses, chosen.detach(), rejected.detach())
