r"""Constrained RLHF: reward maximisation under cost constraints with Lagrange multipliers
(Moskovitz, Singh, Strouse, Sandholm, Salakhutdinov, Dragan, McAleer 2023, "Confronting Reward
Model Overoptimization with Constrained RLHF"; the reward/cost form as in Dai et al. 2023,
"Safe RLHF").

The policy maximises the (KL-regularised) reward subject to expected costs staying below
limits — a cost may be a component reward model kept at or below its *proxy point* θ_j (where
it stops tracking the gold reward, Moskovitz et al.), or any separate cost labeller:

    max_θ  E_π[r(x, y)] − β KL(π_θ ‖ π_ref)   s.t.   E_π[c_j(x, y)] ≤ d_j  (j = 1 … J)

through its Lagrangian  max_θ min_{λ ≥ 0}  E_π[r − Σ_j λ_j c_j] + Σ_j λ_j d_j − β KL.  Each
step is one primal step — the group policy gradient (GRPO/RLOO advantages, GRPO's clipped loss,
the run's KL placement) on the combined reward r − Σ_j λ_j c_j — and one projected dual-ascent
step on the multipliers with the batch's mean costs ĉ_j:

    λ_j ← max(0, λ_j + η_λ (ĉ_j − d_j))

so a multiplier grows while its constraint is violated and decays to 0 once it holds: the
multipliers are the dynamic weights of the composite reward.  ``lambda`` (the value used this
step), ``lambda_next`` and ``cost`` go into each step's record (``_j`` suffixed for J > 1); the
multipliers are restored from the history on resume, so a resumed run is exact.

Settings (``--algo-param``): ``cost`` — ``length`` (completion tokens; the default), ``words``,
``rm:DIR`` (a saved prefkit reward model) or ``module:function`` (a Python function
(prompts, completions) → costs), several comma-separated; ``cost_limit`` d (one per cost;
default for ``length``/``words``: max_new_tokens / 2); ``lambda_lr`` η_λ (0.05);
``lambda_init`` (0); ``estimator`` grpo|rloo.  Not here: the paper's gradient-free
(Nelder–Mead) search for the proxy points — give the limits.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import torch

from prefkit.align.online.labellers import FunctionLabeller, Labeller, RewardModelLabeller
from prefkit.align.online.params import param
from prefkit.align.online.policy_terms import (
    clipped_loss,
    group_advantages,
    kl_shaped,
    load_function,
)


def lagrangian_rewards(rewards: np.ndarray, costs: np.ndarray, lambdas: np.ndarray
                       ) -> np.ndarray:
    """r − Σ_j λ_j c_j per sample (``costs`` (n, J), ``lambdas`` (J,))."""
    return np.asarray(rewards, float) - np.asarray(costs, float) @ np.asarray(lambdas, float)


def dual_ascent(lambdas: np.ndarray, mean_costs: np.ndarray, limits: np.ndarray, lr: float
                ) -> np.ndarray:
    """One projected dual-ascent step: max(0, λ + lr·(ĉ − d))."""
    step = np.asarray(mean_costs, float) - np.asarray(limits, float)
    return np.maximum(0.0, np.asarray(lambdas, float) + lr * step)


@functools.lru_cache(maxsize=8)
def cost_labeller(spec: str) -> Labeller:
    """The labeller of a non-built-in cost spec (``rm:DIR`` or ``module:function``; cached)."""
    if spec.startswith("rm:"):
        from prefkit.core.persist import load

        return RewardModelLabeller(load(spec[3:]), name=f"cost {spec}")
    return FunctionLabeller(load_function(spec, "constrained cost"), name=f"cost {spec}")


def sample_costs(spec: str, rollout: Any) -> np.ndarray:
    """One cost per sample of the rollout (LabellerError for failures / NaN)."""
    if spec == "length":
        return rollout.lengths.numpy().astype(float)
    if spec == "words":
        return np.array([len(t.split()) for t in rollout.texts], dtype=float)
    return cost_labeller(spec).rewards(rollout.sample_prompts, rollout.texts)


def settings(trainer: Any) -> tuple[list[str], np.ndarray, float, np.ndarray]:
    """(cost specs, limits d, η_λ, initial λ) from ``algo_params`` (checked as declared in
    :data:`~prefkit.align.online.algorithms.PARAMS`, one-line AlgoParamError otherwise)."""
    specs = list(param(trainer, "cost")) or ["length"]
    raw = param(trainer, "cost_limit")
    limits = [trainer.config.max_new_tokens / 2] * len(specs) if raw is None else list(raw)
    if len(limits) == 1:
        limits = limits * len(specs)
    return (specs, np.array(limits, float), param(trainer, "lambda_lr"),
            np.full(len(specs), param(trainer, "lambda_init")))


def current_lambdas(history: list[dict[str, float]], count: int, init: np.ndarray
                    ) -> np.ndarray:
    """λ for the next step: the last record's ``lambda_next`` (``init`` before any step)."""
    if not history:
        return init
    last = history[-1]
    keys = ["lambda_next"] if count == 1 else [f"lambda_next_{j}" for j in range(count)]
    if not all(k in last for k in keys):
        return init
    return np.array([last[k] for k in keys], float)


def step_loss(trainer: Any, rollout: Any, ref_token_logps: torch.Tensor,
              record: dict[str, float]) -> torch.Tensor:
    """One primal–dual step (registered as ``constrained``)."""
    specs, limits, lr, init = settings(trainer)
    lambdas = current_lambdas(trainer.history, len(specs), init)
    rewards = trainer._scalar_rewards(rollout)
    costs = np.column_stack([sample_costs(s, rollout) for s in specs])
    combined = kl_shaped(trainer, rollout, ref_token_logps,
                         lagrangian_rewards(rewards, costs, lambdas))
    adv = group_advantages(trainer, combined, rollout.group_size)
    following = dual_ascent(lambdas, costs.mean(0), limits, lr)
    for j in range(len(specs)):
        suffix = "" if len(specs) == 1 else f"_{j}"
        record[f"cost{suffix}"] = float(costs[:, j].mean())
        record[f"lambda{suffix}"] = float(lambdas[j])
        record[f"lambda_next{suffix}"] = float(following[j])
    return clipped_loss(trainer, rollout, ref_token_logps, adv)
