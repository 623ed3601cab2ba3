r"""RLOO: REINFORCE with a leave-one-out baseline (Ahmadian et al. 2024, "Back to Basics:
Revisiting REINFORCE Style Optimization for Learning from Human Feedback in LLMs"; Kool et al.
2019, "Buy 4 REINFORCE Samples, Get a Baseline for Free!").

For K completions y_1 … y_K of one prompt with rewards r_i (the KL penalty optionally already
subtracted, r_i ← r_i − β·Σ_t k(y_i,t)), the advantage of y_i uses the mean of the *other* K − 1
rewards as its baseline:

    A_i = r_i − (1/(K−1)) Σ_{j≠i} r_j

(optionally normalised over the batch, A ← (A − mean)/(std + 1e-4), as TRL's
``normalize_advantages``).  The loss is the sequence-level clipped surrogate TRL's
``RLOOTrainer`` uses, with c = exp(log π_θ(y) − log π_old(y)):

    L = −mean_i min(c_i·A_i, clip(c_i, 1 − ε_low, 1 + ε_high)·A_i)

With one update per batch π_old = π_θ (c = 1) and its gradient is REINFORCE's,
−mean_i A_i ∇ log π_θ(y_i).
"""

from __future__ import annotations

import torch


def rloo_advantages(rewards: torch.Tensor, group_size: int, *, normalize: bool = False
                    ) -> torch.Tensor:
    """Leave-one-out advantages of consecutive groups of ``group_size`` rewards."""
    if group_size < 2:
        raise ValueError("RLOO needs at least 2 completions per prompt")
    grouped = rewards.view(-1, group_size)
    baseline = (grouped.sum(1, keepdim=True) - grouped) / (group_size - 1)
    adv = (grouped - baseline).reshape(-1)
    if normalize:
        adv = (adv - adv.mean()) / (adv.std() + 1e-4)
    return adv


def rloo_loss(logps: torch.Tensor, old_logps: torch.Tensor, advantages: torch.Tensor, *,
              epsilon_low: float = 0.2, epsilon_high: float = 0.2) -> torch.Tensor:
    """Clipped sequence-level surrogate, mean over samples (``logps``: summed per sequence)."""
    coef = torch.exp(logps - old_logps)
    clipped = torch.clamp(coef, 1 - epsilon_low, 1 + epsilon_high)
    return -torch.min(coef * advantages, clipped * advantages).mean()
