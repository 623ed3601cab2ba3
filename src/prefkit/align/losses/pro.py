"""PRO: preference ranking optimisation (Plackett–Luce over length-normalised log-likelihoods).

Song et al. 2024, "Preference Ranking Optimization for Human Alignment" (AAAI).  For a ranking
y¹ ≻ y² ≻ … ≻ yⁿ of responses to x, with the length-normalised policy score

    s(y) = log π(y|x) / |y|                (no reference model),

PRO repeatedly contrasts the best remaining response with all the ones below it:

    L_PRO = −Σ_{k=1}^{n−1} log [ exp(s(y^k)/T_k^k) / Σ_{i=k}^{n} exp(s(y^i)/T_k^i) ]
            + λ·NLL(y¹),        NLL(y¹) = −log π(y¹|x)/|y¹|.

**Temperatures** come from reward scores r: 1/T_k^i = r(y^k) − r(y^i) for i > k (a response far
below y^k is pushed down harder) and 1/T_k^k = max_{i>k} 1/T_k^i.  With every 1/T = 1 the first
term is the Plackett–Luce negative log-likelihood of the scores.

**In prefkit.** r is the list's label (:mod:`prefkit.align.lists`): the reward-model scores of
a ranking record's ``rewards`` column when it has one, else the graded label ψ (from ranks or
rating levels, larger = better);
``dynamic_temperature=0`` uses constant T = 1.  ``nll_weight`` is λ (the catalogue gives no
default, so it is 0 unless set).  ``lengths=None`` falls back to summed log-probabilities.  PRO
has no β: ``beta`` only scales the rewards reported to the trainer (β·s), not the loss.
"""

from __future__ import annotations

import torch

from prefkit.align.losses._common import LossOutput, per_token


def pro_loss(
    policy_logps: torch.Tensor,
    labels: torch.Tensor,
    *,
    beta: float = 0.1,
    mask: torch.Tensor | None = None,
    lengths: torch.Tensor | None = None,
    dynamic_temperature: float = 1.0,
    nll_weight: float = 0.0,
) -> LossOutput:
    """Per-list PRO loss; columns ordered best first (labels non-increasing), masked last.

    Returns ``LossOutput(losses, β·s[:, 0], β·s[:, 1:])``.
    """
    s = per_token(policy_logps, lengths)
    if mask is None:
        mask = torch.ones_like(s, dtype=torch.bool)
    mask = mask.to(torch.bool)
    k = s.shape[-1]
    pos = torch.arange(k, device=s.device)
    later = pos[None, :] > pos[:, None]  # (k, i): i ranked below k
    valid = later[None] & mask[:, :, None] & mask[:, None, :]  # (B, K, K)
    if dynamic_temperature:
        r = labels.to(s.dtype)
        inv_t = (r[:, :, None] - r[:, None, :]).clamp(min=0.0) * valid  # 1/T_k^i, i > k
        inv_self = inv_t.amax(dim=-1)  # 1/T_k^k
    else:
        inv_t = valid.to(s.dtype)
        inv_self = torch.ones_like(s)
    eye = torch.eye(k, dtype=torch.bool, device=s.device)[None]
    scale = torch.where(eye, inv_self[:, :, None], inv_t)  # (B, k, i)
    logits = scale * s[:, None, :]
    allowed = (valid | eye) & mask[:, :, None]
    neg = torch.finfo(s.dtype).min
    log_norm = torch.logsumexp(logits.masked_fill(~allowed, neg), dim=-1)
    own = torch.diagonal(logits, dim1=-2, dim2=-1)
    has_lower = valid.any(-1)
    terms = torch.where(has_lower, own - log_norm, torch.zeros_like(s))
    losses = -terms.sum(-1)
    if nll_weight:  # −log π(y¹|x)/|y¹| (summed when there are no lengths)
        losses = losses - nll_weight * s[:, 0]
    return LossOutput(losses, (beta * s[:, 0]).detach(), (beta * s[:, 1:]).detach())
