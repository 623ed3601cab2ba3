r"""P3O: pairwise proximal policy optimisation (Wu, Zhu, Liu, Jiao, Jordan, Jiao 2023,
"Pairwise Proximal Policy Optimization: Harnessing Relative Feedback for LLM Alignment").

Reinforcement learning with *relative* feedback: two completions y_1, y_2 ~ π_old(·|x) of each
prompt, with KL-shaped rewards r_i = r(x, y_i) − β Σ_t k(y_i,t) (or the KL in the loss), and a
trajectory-wise policy gradient driven by their difference only,

    ∇J = E[ ½ (r_1 − r_2) ∇(log π_θ(y_1|x) − log π_θ(y_2|x)) ],

so a prompt-dependent shift r(x, y) + c(x) — an *equivalent* reward with the same preferences —
changes nothing (no reward-scale calibration, no value network).  With sequence ratios
ρ_i = π_θ(y_i|x)/π_old(y_i|x) and the pair advantage A_1 = (r_1 − r_2)/2 = −A_2, the clipped
surrogates (to maximise; the loss is their negative mean over pairs) are

    separate:  min(ρ_1 A_1, clip(ρ_1, 1 ± ε) A_1) + min(ρ_2 A_2, clip(ρ_2, 1 ± ε) A_2)
    joint:     min(ρ_1/ρ_2 · A_1, clip(ρ_1/ρ_2, 1 ± ε) · A_1)

Both have the vanilla gradient above at ρ = 1.  ``--algo p3o`` draws two completions per prompt;
``--algo-param clip=separate|joint`` (default separate), ε = ``OnlineConfig.epsilon`` (0.2).
"""

from __future__ import annotations

from typing import Any

import torch

from prefkit.align.online.algorithms import PARAMS
from prefkit.align.online.params import param
from prefkit.align.online.policy_terms import kl_loss_term, kl_shaped, policy_token_logps

CLIPS = PARAMS["p3o"]["clip"].choices


def p3o_advantages(rewards: torch.Tensor) -> torch.Tensor:
    """A_1 = (r_1 − r_2)/2, A_2 = −A_1 for consecutive pairs (y_1, y_2) of each prompt."""
    pairs = rewards.reshape(-1, 2)
    half = (pairs[:, 0] - pairs[:, 1]) / 2
    return torch.stack([half, -half], 1).reshape(-1)


def p3o_loss(logps: torch.Tensor, old_logps: torch.Tensor, advantages: torch.Tensor, *,
             clip: str = "separate", epsilon: float = 0.2) -> torch.Tensor:
    """Negative clipped pairwise surrogate, mean over pairs (sequence log-probs, pairs
    consecutive; ``advantages`` from :func:`p3o_advantages`)."""
    log_ratio = (logps - old_logps).reshape(-1, 2)
    adv = advantages.reshape(-1, 2)
    if clip == "separate":
        ratio = log_ratio.exp()
        clipped = ratio.clamp(1 - epsilon, 1 + epsilon)
        return -torch.min(ratio * adv, clipped * adv).sum(1).mean()
    if clip == "joint":
        ratio = (log_ratio[:, 0] - log_ratio[:, 1]).exp()
        clipped = ratio.clamp(1 - epsilon, 1 + epsilon)
        return -torch.min(ratio * adv[:, 0], clipped * adv[:, 0]).mean()
    raise ValueError(f"unknown P3O clipping {clip!r} (expected {', '.join(CLIPS)})")


def step_loss(trainer: Any, rollout: Any, ref_token_logps: torch.Tensor,
              record: dict[str, float]) -> torch.Tensor:
    """One P3O step on the rollout's pairs (registered as ``p3o``)."""
    clip = param(trainer, "clip")
    rewards = kl_shaped(trainer, rollout, ref_token_logps, trainer._scalar_rewards(rollout))
    adv = p3o_advantages(rewards)
    record["reward_gap"] = float(adv[0::2].abs().mean() * 2)
    tok, mask = policy_token_logps(trainer, rollout)
    logps = (tok * mask).sum(-1)
    loss = p3o_loss(logps, logps.detach(), adv.to(logps.device), clip=clip,
                    epsilon=trainer.config.epsilon)
    return loss + kl_loss_term(trainer, tok, ref_token_logps, mask)
