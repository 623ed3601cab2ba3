r"""GRPO: group-relative policy optimisation (Shao et al. 2024, "DeepSeekMath: Pushing the Limits
of Mathematical Reasoning in Open Language Models", §4.1).

For G completions of one prompt with rewards r_i, the advantage is the group z-score

    A_i = (r_i − mean_group r) / (std_group r + 1e-4)

(``scale="group"``; ``"batch"`` divides by the batch std, ``"none"`` only centres — Dr. GRPO,
Liu et al. 2025).  Each token t of y_i shares A_i.  With c_{i,t} = exp(log π_θ − log π_old)
per token and the k3 estimate of KL(π_θ ‖ π_ref) per token, the loss (TRL ``loss_type="grpo"``) is

    L = mean_i (1/|y_i|) Σ_t [ −min(c_{i,t} A_i, clip(c_{i,t}, 1 − ε_low, 1 + ε_high) A_i)
                               + β · k3_{i,t} ]

The KL term may instead use k1, or move into the reward (r_i ← r_i − β Σ_t k_{i,t}).
"""

from __future__ import annotations

import torch

from prefkit.align.online.kl import kl_per_token

SCALES = ("group", "batch", "none")


def grpo_advantages(rewards: torch.Tensor, group_size: int, *, scale: str = "group"
                    ) -> torch.Tensor:
    """Group-centred (and scaled) advantages of consecutive groups of ``group_size``."""
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r} (expected {', '.join(SCALES)})")
    grouped = rewards.view(-1, group_size)
    centred = (grouped - grouped.mean(1, keepdim=True)).reshape(-1)
    if scale == "none":
        return centred
    if scale == "group":
        std = grouped.std(1, keepdim=True).expand_as(grouped).reshape(-1)
    else:
        std = rewards.std().expand_as(rewards)
    return centred / (std + 1e-4)


def grpo_loss(token_logps: torch.Tensor, old_token_logps: torch.Tensor,
              advantages: torch.Tensor, mask: torch.Tensor, *,
              ref_token_logps: torch.Tensor | None = None, beta: float = 0.0,
              kl_estimator: str = "k3", epsilon_low: float = 0.2, epsilon_high: float = 0.2
              ) -> torch.Tensor:
    """The GRPO loss above; ``token_logps`` etc. are (B, T), ``advantages`` (B,)."""
    mask = mask.to(token_logps.dtype)
    coef = torch.exp(token_logps - old_token_logps)
    clipped = torch.clamp(coef, 1 - epsilon_low, 1 + epsilon_high)
    adv = advantages[:, None]
    per_token = -torch.min(coef * adv, clipped * adv)
    if beta != 0.0:
        if ref_token_logps is None:
            raise ValueError("a KL penalty needs the reference log-probs")
        per_token = per_token + beta * kl_per_token(token_logps, ref_token_logps, kl_estimator)
    return ((per_token * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)).mean()
