"""SmPO: smoothed preference optimisation, and the reward → preference-strength helper.

SmPO-Diffusion ("Smoothed Preference Optimization via ReNoise Inversion for Aligning Diffusion
Models with Varied Human Preferences", 2025); the smoothed loss is used here on a language
model's log-ratios instead of the denoising ELBO.  A hard label y_w ≻ y_l
is replaced by a preference strength p = P(y_w ≻ y_l) from a reward model,

    p = σ( (R(x, y_w) − R(x, y_l)) / T ),                       (:func:`preference_strength`)

and the DPO logit is scaled by (2p − 1):

    L_SmPO = −log σ( β·(2p − 1)·h ).

When the two responses are equally good (p = ½) the signal vanishes, and a pair the reward model
disagrees with (p < ½) pushes the margin the other way; p = 1 is DPO.  This "vanishing-signal"
form differs from the soft-label cross-entropy of :func:`~prefkit.align.losses.dpo.soft_dpo_loss`
(−p·log σ(βh) − (1−p)·log σ(−βh)), which instead drives σ(βh) to p.  In the trainer p comes from
the dataset's ``p_a`` column (the soft outcome), so a dataset labelled with
:func:`preference_strength` of reward-model scores trains the paper's form.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from prefkit.align.losses._common import LossOutput, logratio


def preference_strength(
    reward_a: np.ndarray | torch.Tensor | float,
    reward_b: np.ndarray | torch.Tensor | float,
    *,
    temperature: float = 1.0,
) -> np.ndarray:
    """p = σ((R_a − R_b)/T): the probability that a is preferred, from reward-model scores."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    from prefkit.core.mathfn import sigmoid

    diff = np.asarray(reward_a, dtype=float) - np.asarray(reward_b, dtype=float)
    return np.asarray(sigmoid(diff / temperature))


def smpo_loss(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    ref_chosen_logps: torch.Tensor,
    ref_rejected_logps: torch.Tensor,
    *,
    p: torch.Tensor | float = 1.0,
    beta: float = 0.1,
) -> LossOutput:
    """Per-pair SmPO loss −log σ(β(2p − 1)h); ``p`` = P(chosen ≻ rejected), scalar or per pair."""
    p_t = torch.as_tensor(p, dtype=policy_chosen_logps.dtype, device=policy_chosen_logps.device)
    if bool(((p_t < 0) | (p_t > 1)).any()):
        raise ValueError("preference strengths p must lie in [0, 1]")
    chosen = beta * logratio(policy_chosen_logps, ref_chosen_logps)
    rejected = beta * logratio(policy_rejected_logps, ref_rejected_logps)
    losses = -F.logsigmoid((2.0 * p_t - 1.0) * (chosen - rejected))
    return LossOutput(losses, chosen.detach(), rejected.detach())
