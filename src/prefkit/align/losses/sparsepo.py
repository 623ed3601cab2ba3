"""SparsePO: DPO with sparse token-level weights on the log-ratio reward and the KL term.

Christopoulou et al. 2024, "SparsePO: Controlling Preference Alignment of LLMs via Sparse Token
Masks".  Token t of response y has the per-token log-ratio ρ_t = log π(y_t|x, y_<t) −
log π_ref(y_t|x, y_<t).  Two masks m^u_t, m^d_t ∈ [0, 1] (derived from the reference model or
learnt, e.g. ReLU(wᵀh_t), and sparse) weight each token's share of the reward and of the KL
term:

    u = β·Σ_t m^u_t(y_w)·ρ_t(y_w) − β·Σ_t m^u_t(y_l)·ρ_t(y_l),
    δ = β·Σ_t m^d_t(y_w)·KL_t(y_w) − β·Σ_t m^d_t(y_l)·KL_t(y_l),
    L_SparsePO = −log σ(u − δ),

with KL_t the per-position KL divergence between π_ref and π (the TDPO-style sequential KL).
All-ones masks without the KL term give DPO exactly.  The catalogues mark the exact form as
uncertain (the seed is an abstract); this is the form of the method catalogue.

**Two entry points.**

* :func:`sparsepo_token_loss` is the token-level loss above, on (B, T) per-token tensors.
* :func:`sparsepo_loss` is what ``prefkit align train --loss sparsepo`` runs.  prefkit's trainer
  computes *summed* sequence log-probabilities, not per-token ones, so it trains the
  sequence-level reduction: constant masks m^u_t = ``reward_mask`` and no KL term (m^d = 0),
  which is u = β·m^u·h, i.e. DPO with β·m^u.  Learnt or reference-derived token masks need
  per-token log-probs from the trainer (not plumbed yet; see docs/seeds.md).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from prefkit.align.losses._common import LossOutput, logratio


def sparsepo_token_loss(
    policy_chosen_token_logps: torch.Tensor,
    policy_rejected_token_logps: torch.Tensor,
    ref_chosen_token_logps: torch.Tensor,
    ref_rejected_token_logps: torch.Tensor,
    *,
    chosen_reward_mask: torch.Tensor,
    rejected_reward_mask: torch.Tensor,
    chosen_kl: torch.Tensor | None = None,
    rejected_kl: torch.Tensor | None = None,
    chosen_kl_mask: torch.Tensor | None = None,
    rejected_kl_mask: torch.Tensor | None = None,
    beta: float = 0.1,
) -> LossOutput:
    """Token-level SparsePO on (B, T) tensors; padding positions must have mask 0.

    Rewards returned are β·Σ_t m^u_t·ρ_t of each response.
    """
    for name, m in (("chosen_reward_mask", chosen_reward_mask),
                    ("rejected_reward_mask", rejected_reward_mask)):
        if bool(((m < 0) | (m > 1)).any()):
            raise ValueError(f"{name} must lie in [0, 1]")
    rho_w = policy_chosen_token_logps - ref_chosen_token_logps
    rho_l = policy_rejected_token_logps - ref_rejected_token_logps
    chosen = beta * (chosen_reward_mask * rho_w).sum(-1)
    rejected = beta * (rejected_reward_mask * rho_l).sum(-1)
    logits = chosen - rejected
    if chosen_kl is not None and rejected_kl is not None:
        mw = torch.ones_like(chosen_kl) if chosen_kl_mask is None else chosen_kl_mask
        ml = torch.ones_like(rejected_kl) if rejected_kl_mask is None else rejected_kl_mask
        logits = logits - beta * ((mw * chosen_kl).sum(-1) - (ml * rejected_kl).sum(-1))
    losses = -F.logsigmoid(logits)
    return LossOutput(losses, chosen.detach(), rejected.detach())


def sparsepo_loss(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    ref_chosen_logps: torch.Tensor,
    ref_rejected_logps: torch.Tensor,
    *,
    beta: float = 0.1,
    reward_mask: float = 1.0,
) -> LossOutput:
    """Sequence-level SparsePO (constant mask ``reward_mask``, no KL term): DPO with β·m."""
    if not 0.0 <= reward_mask <= 1.0:
        raise ValueError(f"reward_mask must lie in [0, 1], got {reward_mask}")
    chosen = beta * reward_mask * logratio(policy_chosen_logps, ref_chosen_logps)
    rejected = beta * reward_mask * logratio(policy_rejected_logps, ref_rejected_logps)
    losses = -F.logsigmoid(chosen - rejected)
    return LossOutput(losses, chosen.detach(), rejected.detach())
