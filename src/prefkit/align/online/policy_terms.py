r"""Shared pieces of the registered policy-gradient methods (:mod:`.p3o`, :mod:`.pf_ppo`,
:mod:`.constrained`, :mod:`.brain`, :mod:`.fine_grained`).

They reuse the built-in machinery rather than repeat it: the KL estimators of :mod:`.kl`, the
group advantages of :mod:`.rloo` / :mod:`.grpo` and GRPO's clipped token loss, with the
run's KL placement (``kl_in``): in the reward, r_i ← r_i − β Σ_t k(y_i,t), or in the loss,
+ β · mean_i (1/|y_i|) Σ_t k(y_i,t) (GRPO's form).  Method settings are read with
:func:`prefkit.align.online.params.param` (declared in
:data:`prefkit.align.online.algorithms.PARAMS`, checked before the run starts).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from prefkit.align.online.grpo import grpo_advantages, grpo_loss
from prefkit.align.online.kl import kl_per_token
from prefkit.align.online.params import param
from prefkit.align.online.rloo import rloo_advantages
from prefkit.align.online.sampling import Rollout, completion_logps
from prefkit.errors import DataError


def load_function(spec: str, what: str) -> Callable[..., Any]:
    """The Python function named ``module:function`` (DataError naming ``what`` otherwise)."""
    module, sep, attr = str(spec).partition(":")
    try:
        if not sep or not module or not attr:
            raise ValueError("expected module:function")
        fn = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError, ValueError) as err:
        raise DataError(f"{what} {spec!r}: cannot load it ({err})", source="--algo-param") from None
    if not callable(fn):
        raise DataError(f"{what} {spec!r} is not callable", source="--algo-param")
    return fn


def policy_token_logps(trainer: Any, rollout: Rollout) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token log π_θ of the rollout's completions (with gradients) and the float mask,
    both on the trainer's device."""
    tok, _ = completion_logps(trainer.model, rollout.prompt_ids, rollout.prompt_mask,
                              rollout.completion_ids, rollout.completion_mask)
    return tok, rollout.completion_mask.to(trainer.device, torch.float32)


def sequence_kl(trainer: Any, rollout: Rollout, ref_tok: torch.Tensor) -> torch.Tensor:
    """Σ_t k(y_i,t) per sample under the run's estimator (no gradients; on the CPU)."""
    mask = rollout.completion_mask.to(torch.float32)
    return (kl_per_token(rollout.token_logps, ref_tok, trainer.config.kl_est) * mask).sum(-1)


def kl_shaped(trainer: Any, rollout: Rollout, ref_tok: torch.Tensor,
              rewards: np.ndarray | torch.Tensor) -> torch.Tensor:
    """r_i − β Σ_t k(y_i,t) when the KL goes in the reward, else r_i (float32, CPU)."""
    cfg = trainer.config
    r = torch.as_tensor(np.asarray(rewards, dtype=float), dtype=torch.float32)
    if cfg.beta and cfg.kl_place == "reward":
        r = r - cfg.beta * sequence_kl(trainer, rollout, ref_tok)
    return r


def group_advantages(trainer: Any, rewards: torch.Tensor, group_size: int) -> torch.Tensor:
    """Group baselines of :mod:`.grpo` (``scale_rewards``) or :mod:`.rloo`
    (``normalize_advantages``), chosen by ``--algo-param estimator=grpo|rloo``."""
    cfg = trainer.config
    if param(trainer, "estimator") == "rloo":
        return rloo_advantages(rewards, group_size, normalize=cfg.normalize_advantages)
    return grpo_advantages(rewards, group_size, scale=cfg.scale_rewards)


def clipped_loss(trainer: Any, rollout: Rollout, ref_tok: torch.Tensor,
                 advantages: torch.Tensor) -> torch.Tensor:
    """GRPO's clipped token loss of the rollout's samples under sequence advantages (B,), with
    the β·k term when the KL goes in the loss.  One update per batch: π_old = π_θ detached
    (the trainer's choice; ratios start at 1)."""
    cfg = trainer.config
    tok, mask = policy_token_logps(trainer, rollout)
    in_loss = cfg.beta if cfg.kl_place == "loss" else 0.0
    return grpo_loss(tok, tok.detach(), advantages.to(tok.device), mask,
                     ref_token_logps=ref_tok.to(tok.device), beta=in_loss,
                     kl_estimator=cfg.kl_est, epsilon_low=cfg.epsilon,
                     epsilon_high=cfg.epsilon)


def kl_loss_term(trainer: Any, tok: torch.Tensor, ref_tok: torch.Tensor, mask: torch.Tensor
                 ) -> torch.Tensor | float:
    """β · mean_i (1/|y_i|) Σ_t k(y_i,t) when the KL goes in the loss, else 0."""
    cfg = trainer.config
    if not cfg.beta or cfg.kl_place != "loss":
        return 0.0
    k = kl_per_token(tok, ref_tok.to(tok.device), cfg.kl_est) * mask
    return cfg.beta * (k.sum(-1) / mask.sum(-1).clamp(min=1.0)).mean()
