r"""SPO: self-play preference optimisation toward the minimax winner (Swamy et al. 2024, "A
Minimaximalist Approach to Reinforcement Learning from Human Feedback", ICML).

The minimax winner (von Neumann winner) of a preference P is the symmetric Nash equilibrium of
the zero-sum game with payoff P(y ≻ y′ | x) − ½; it exists for intransitive, stochastic
preferences where no reward does.  SPO needs neither a reward model nor a second, adversarial
policy: the policy plays itself.  For K completions y_1..y_K ~ π_θ(·|x) of a prompt, each gets
the share of its comparisons it wins as its reward,

    r(y_i) = (1/(K−1)) Σ_{j≠i} P(y_i ≻ y_j | x)          (``hard=false``, the default)
    r(y_i) = (1/(K−1)) Σ_{j≠i} 1[y_i ≻ y_j]               (``hard=true``; a tie counts ½)

and any RL algorithm maximises it (the paper uses PPO/SAC).  prefkit's ``spo`` takes a
group-baseline policy-gradient step on r (``--algo-param estimator=rloo`` (default):
leave-one-out advantages and the clipped RLOO surrogate; ``estimator=grpo``: group z-scores and
the GRPO loss), with the KL control to π_ref of RLOO/GRPO (``--beta``, ``--kl-estimator``,
``--kl-in``; by default k3 in the reward).  A scalar labeller compares through Bradley–Terry,
σ(r(y_i) − r(y_j)).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from prefkit.align.online.algorithms import PARAMS
from prefkit.align.online.game_utils import leave_one_out_mean, preference_matrix
from prefkit.align.online.grpo import grpo_advantages, grpo_loss
from prefkit.align.online.kl import kl_per_token
from prefkit.align.online.params import param
from prefkit.align.online.rloo import rloo_advantages, rloo_loss
from prefkit.align.online.sampling import Rollout, completion_logps

ESTIMATORS = PARAMS["spo"]["estimator"].choices


def spo_rewards(preferences: np.ndarray, *, hard: bool = False) -> np.ndarray:
    """Self-play rewards from a (G, K, K) matrix of P(y_i ≻ y_j): each completion's (soft or
    hard) win share against the other K − 1 of its group, flattened to (G·K,)."""
    if hard:
        wins = np.where(preferences > 0.5, 1.0, np.where(preferences < 0.5, 0.0, 0.5))
        return leave_one_out_mean(wins)
    return leave_one_out_mean(preferences)


def step_loss(trainer: Any, rollout: Rollout, ref_token_logps: torch.Tensor,
              record: dict[str, float]) -> torch.Tensor:
    """The ``spo`` step of :class:`~prefkit.align.online.trainer.OnlineTrainer`."""
    cfg = trainer.config
    hard = param(trainer, "hard")
    estimator = param(trainer, "estimator")
    k = rollout.group_size
    matrix = preference_matrix(trainer.labeller, rollout.sample_prompts, rollout.texts, k)
    rewards = torch.as_tensor(spo_rewards(matrix, hard=hard), dtype=torch.float32)
    record["self_play_reward"] = float(rewards.mean())
    mask = rollout.completion_mask.to(torch.float32)
    if cfg.beta and cfg.kl_place == "reward":
        rewards = rewards - cfg.beta * (kl_per_token(rollout.token_logps, ref_token_logps,
                                                     cfg.kl_est) * mask).sum(-1)
    dev = trainer.device
    ref = ref_token_logps.to(dev)
    dmask = mask.to(dev)
    in_loss = cfg.beta if cfg.kl_place == "loss" else 0.0
    tok, _ = completion_logps(trainer.model, rollout.prompt_ids, rollout.prompt_mask,
                              rollout.completion_ids, rollout.completion_mask)
    if estimator == "grpo":
        adv = grpo_advantages(rewards, k, scale=cfg.scale_rewards).to(dev)
        return grpo_loss(tok, tok.detach(), adv, dmask, ref_token_logps=ref, beta=in_loss,
                         kl_estimator=cfg.kl_est, epsilon_low=cfg.epsilon,
                         epsilon_high=cfg.epsilon)
    adv = rloo_advantages(rewards, k, normalize=cfg.normalize_advantages).to(dev)
    logps = (tok * dmask).sum(-1)
    loss = rloo_loss(logps, logps.detach(), adv, epsilon_low=cfg.epsilon,
                     epsilon_high=cfg.epsilon)
    if in_loss:
        loss = loss + in_loss * (kl_per_token(tok, ref, cfg.kl_est) * dmask).sum(-1).mean()
    return loss
