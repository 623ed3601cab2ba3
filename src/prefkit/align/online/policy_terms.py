r"""Shared pieces of the registered policy-gradient methods (:mod:`.p3o`, :mod:`.pf_ppo`,
:mod:`.constrained`, :mod:`.brain`, :mod:`.fine_grained`).

They reuse the built-in machinery rather than repeat it: the KL estimators of :mod:`.kl`, the
group advantages of :mod:`.rloo` / :mod:`.grpo` and GRPO's clipped token loss, with the
run's KL placement (``kl_in``): in the reward, r_i ← r_i − β Σ_t k(y_i,t), or in the loss,
+ β · mean_i (1/|y_i|) Σ_t k(y_i,t) (GRPO's form).  Method settings are read from
``config.algo_params`` by :func:`param` (a typed value, one-line DataError otherwise).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from prefkit.align.online.grpo import grpo_advantages, grpo_loss
from prefkit.align.online.kl import kl_per_token
from prefkit.align.online.rloo import rloo_advantages
from prefkit.align.online.sampling import Rollout, completion_logps
from prefkit.errors import DataError

ESTIMATORS = ("grpo", "rloo")


def param(trainer: Any, key: str, default: Any, choices: Sequence[Any] | None = None) -> Any:
    """``config.algo_params[key]`` converted to the type of ``default`` (DataError naming the
    method and key when it does not convert or is not one of ``choices``)."""
    cfg = trainer.config
    value = cfg.algo_params.get(key, default)
    try:
        if isinstance(default, bool):
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0"):
                    raise ValueError(value)
                value = value.lower() in ("true", "1")
            value = bool(value)
        elif isinstance(default, int):
            value = int(value)
        elif isinstance(default, float):
            value = float(value)
            if not np.isfinite(value):
                raise ValueError(value)
        elif isinstance(default, str):
            value = str(value)
    except (TypeError, ValueError):
        raise DataError(f"{cfg.algo}: {key}={value!r} is not a "
                         f"{type(default).__name__}", source="--algo-param") from None
    if choices is not None and value not in choices:
        raise DataError(f"{cfg.algo}: {key}={value!r}, expected one of "
                         f"{', '.join(map(str, choices))}", source="--algo-param")
    return value


def split_list(value: Any) -> list[str]:
    """A JSON list, or a comma-separated string, as stripped strings (empty items dropped)."""
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value]
    return [v.strip() for v in str(value).split(",") if v.strip()]


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
    if param(trainer, "estimator", "grpo", ESTIMATORS) == "rloo":
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
