r"""BRAIn: Bayesian reward-conditioned amortized inference (Pandey, Nandwani, Naseem, Mishra, Xu,
Raghu, Joshi, Munawar, Astudillo 2024, "BRAIn: Bayesian Reward-conditioned Amortized Inference
for natural language generation from feedback", ICML).

The target is the posterior of the reference policy (the prior) given that the output is good,
by Bayes' rule with the reward model as the likelihood of goodness:

    p(y | x, G=1) ∝ π_ref(y|x) · p(G=1 | x, y)

``good=exp`` takes p(G=1|x,y) ∝ exp(r(x,y)/τ) — the posterior is then the KL-regularised
optimum π_ref·exp(r/τ)/Z that PPO targets (τ plays β); ``good=sigmoid`` takes the Bradley–Terry
probability of beating the reference policy's response, σ((r(x,y) − r(x,y_ref))/τ).  The policy
is fitted to the posterior (distribution matching, KL(p(·|x,G=1) ‖ π_θ)) by self-normalised
importance sampling over the K samples y_i ~ q of each prompt (here q = the sampling policy):

    α_i = softmax_i( log π_ref(y_i|x) + log p(G=1|x,y_i) − log q(y_i|x) )
    β_i = softmax_i( log π_θ(y_i|x) − log q(y_i|x) )          (= 1/K when q = π_θ)
    L   = − mean_x Σ_i (α_i − β_i) · log π_θ(y_i|x)          (α, β held fixed)

β is the paper's self-normalised baseline: it leaves the expected gradient unchanged
(E_q[Σ_i β_i ∇log π_θ] estimates E_{π_θ}[∇log π_θ] = 0) and removes most of its variance;
``baseline=false`` drops it (the plain weighted maximum likelihood −Σ_i α_i log π_θ(y_i)).  The
prior π_ref is the regulariser, so ``beta``/``kl_in`` are not used.  q is the policy's
temperature-1 probability: sample at ``--temperature 1``.

Settings: ``--algo-param good=exp|sigmoid`` (exp), ``temperature`` τ (1.0), ``baseline``
(true).  Each step records ``ess``, the mean effective sample size 1/Σ_i α_i² of the posterior
weights (K: uniform, 1: one sample carries all).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from prefkit.align.online.algorithms import PARAMS
from prefkit.align.online.params import param
from prefkit.align.online.policy_terms import policy_token_logps

GOODNESS = PARAMS["brain"]["good"].choices


def log_goodness(rewards: torch.Tensor, *, good: str = "exp", temperature: float = 1.0,
                 reference_rewards: torch.Tensor | None = None) -> torch.Tensor:
    """log p(G=1 | x, y) up to a per-prompt constant: r/τ, or log σ((r − r_ref)/τ)."""
    if good == "exp":
        return rewards / temperature
    if good == "sigmoid":
        if reference_rewards is None:
            raise ValueError("good=sigmoid needs the reference rewards")
        return torch.nn.functional.logsigmoid((rewards - reference_rewards) / temperature)
    raise ValueError(f"unknown goodness model {good!r} (expected {', '.join(GOODNESS)})")


def posterior_weights(ref_logps: torch.Tensor, proposal_logps: torch.Tensor,
                      log_good: torch.Tensor, group_size: int) -> torch.Tensor:
    """α_i: self-normalised importance weights of the posterior within each group."""
    log_w = (ref_logps + log_good - proposal_logps).reshape(-1, group_size)
    return log_w.softmax(1).reshape(-1)


def baseline_weights(policy_logps: torch.Tensor, proposal_logps: torch.Tensor,
                     group_size: int) -> torch.Tensor:
    """β_i: self-normalised weights of the current policy (the baseline)."""
    return (policy_logps - proposal_logps).reshape(-1, group_size).softmax(1).reshape(-1)


def brain_loss(logps: torch.Tensor, alpha: torch.Tensor, beta: torch.Tensor | None,
               group_size: int) -> torch.Tensor:
    """−mean over prompts of Σ_i (α_i − β_i) log π_θ(y_i|x), weights detached."""
    weight = alpha if beta is None else alpha - beta
    return -(weight.detach() * logps).reshape(-1, group_size).sum(1).mean()


def step_loss(trainer: Any, rollout: Any, ref_token_logps: torch.Tensor,
              record: dict[str, float]) -> torch.Tensor:
    """One BRAIn step (registered as ``brain``)."""
    good = param(trainer, "good")
    tau = param(trainer, "temperature")
    k = rollout.group_size
    rewards = torch.as_tensor(trainer._scalar_rewards(rollout), dtype=torch.float32)
    ref_rewards = None
    if good == "sigmoid":
        ref_rewards = torch.as_tensor(trainer.reference_rewards(rollout.sample_prompts),
                                      dtype=torch.float32)
    mask = rollout.completion_mask.to(torch.float32)
    proposal = rollout.logps
    ref = (ref_token_logps * mask).sum(-1)
    alpha = posterior_weights(ref, proposal, log_goodness(
        rewards, good=good, temperature=tau, reference_rewards=ref_rewards), k)
    record["ess"] = float(np.mean(1.0 / (alpha.reshape(-1, k) ** 2).sum(1).numpy()))
    tok, dev_mask = policy_token_logps(trainer, rollout)
    logps = (tok * dev_mask).sum(-1)
    beta = None
    if param(trainer, "baseline"):
        beta = baseline_weights(logps.detach().cpu(), proposal, k).to(logps.device)
    return brain_loss(logps, alpha.to(logps.device), beta, k)
