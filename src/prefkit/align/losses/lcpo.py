"""LCPO / RE-PO: EM re-weighting of any pairwise preference loss against label noise.

"Latent Collective Preference Optimization" (LCPO, 2025; later versions titled RE-PO).  Each
observed label y_w ≻ y_l is right with probability 1 − ε.  A pairwise loss ℓ defines a
probability that the label is right, p = e^{−ℓ(w≻l)} / (e^{−ℓ(w≻l)} + e^{−ℓ(l≻w)}) — for DPO
exactly σ(β·h).  EM alternates

    E-step   w_i = (1 − ε)·p_i / ((1 − ε)·p_i + ε·(1 − p_i))      (posterior that label i is right)
    M-step   minimise Σ_i [ w_i·ℓ(θ; w≻l) + (1 − w_i)·ℓ(θ; l≻w) ]
    noise    ε ← (1/n)·Σ_i (1 − w_i)                               (:func:`update_noise_rate`)

The catalogue's form is a reconstruction ("K-recon, not verified"); prefkit follows it with DPO
as ℓ.  :func:`lcpo_loss` is the M-step objective for a fixed ε with the E-step weights computed
from the current model (no gradient through w); ε = 0 gives DPO.  ``--loss lcpo`` trains with a
fixed ``epsilon`` (``--loss-param epsilon=0.2``); the ε update runs between rounds.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from prefkit.align.losses._common import LossOutput, logratio


def posterior_correct(p: torch.Tensor, epsilon: float) -> torch.Tensor:
    """E-step: P(label right | model) = (1 − ε)p / ((1 − ε)p + ε(1 − p))."""
    if not 0.0 <= epsilon < 0.5:
        raise ValueError(f"epsilon must lie in [0, 0.5), got {epsilon}")
    num = (1 - epsilon) * p
    return num / (num + epsilon * (1 - p)).clamp_min(1e-30)


def update_noise_rate(p: torch.Tensor, epsilon: float) -> float:
    """The EM update ε ← mean(1 − w) with w the E-step posteriors at the current ε."""
    return float((1 - posterior_correct(p.detach(), epsilon)).mean())


def lcpo_loss(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    ref_chosen_logps: torch.Tensor,
    ref_rejected_logps: torch.Tensor,
    *,
    beta: float = 0.1,
    epsilon: float = 0.1,
) -> LossOutput:
    """Per-pair LCPO M-step loss with DPO as ℓ: w·(−log σ(βh)) + (1 − w)·(−log σ(−βh))."""
    chosen = beta * logratio(policy_chosen_logps, ref_chosen_logps)
    rejected = beta * logratio(policy_rejected_logps, ref_rejected_logps)
    z = chosen - rejected
    w = posterior_correct(torch.sigmoid(z).detach(), epsilon)
    losses = -w * F.logsigmoid(z) - (1 - w) * F.logsigmoid(-z)
    return LossOutput(losses, chosen.detach(), rejected.detach())
