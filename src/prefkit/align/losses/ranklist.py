"""RankList: a listwise generalisation of RankNet with a log-sum-exp over lower-ranked items.

"RankList: Listwise Preference Learning for Subjective Preferences" (2025).  For a list
ordered best first, y_1 ≻ y_2 ≻ … ≻ y_K, with scores s_k, RankNet's pairwise loss
−Σ_{i<j} log σ(s_i − s_j) asks every item to beat every lower one; RankList replaces the product
of those pairwise probabilities by a smooth bound over all lower-ranked items at once:

    L_RankList = Σ_{i=1}^{K−1} log( 1 + Σ_{j>i} exp(s_j − s_i) )
               = Σ_i softplus( LSE_{j>i}(s_j − s_i) ).

The paper's abstract gives only the idea (list-level RankNet, a log-sum-exp approximation, a
skip-wise curriculum); the formula above is the reconstruction of the method catalogue.  Note
that, written out, log(1 + Σ_{j>i} exp(s_j − s_i)) = −[s_i − log Σ_{j≥i} exp(s_j)], so over a
full list it coincides with the Plackett–Luce negative log-likelihood
(:func:`~prefkit.align.losses.listwise.plackett_luce_loss`); for K = 2 it is RankNet
(−log σ(s_1 − s_2)), i.e. DPO.  What RankList adds is the skip-wise restriction: ``skip`` = k > 0
keeps only competitors j with 0 < j − i ≤ k (k = 1: adjacent pairs only, a RankNet over
neighbours), and the curriculum widens k during training.

In prefkit the scores are the implicit rewards s_k = β·log π(y_k|x)/π_ref(y_k|x) (the policy
log-probability when there is no reference), so the loss trains a policy on ranked lists.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from prefkit.align.losses._common import LossOutput, logratio


def ranklist_loss(
    policy_logps: torch.Tensor,
    ref_logps: torch.Tensor | None,
    *,
    beta: float = 0.1,
    mask: torch.Tensor | None = None,
    skip: float = 0,
) -> LossOutput:
    """Per-list RankList loss; columns ordered best first, masked columns last.

    Returns ``LossOutput(losses, rewards[:, 0], rewards[:, 1:])`` (best response, the others).
    """
    s = beta * logratio(policy_logps, ref_logps)
    if mask is None:
        mask = torch.ones_like(s, dtype=torch.bool)
    mask = mask.to(torch.bool)
    k = s.shape[-1]
    pos = torch.arange(k, device=s.device)
    lower = pos[None, :] > pos[:, None]  # (i, j): j ranked below i
    if skip and skip > 0:
        lower &= (pos[None, :] - pos[:, None]) <= int(skip)
    valid = lower[None] & mask[:, :, None] & mask[:, None, :]  # (B, K, K)
    diff = s[:, None, :] - s[:, :, None]  # diff[b, i, j] = s_j − s_i
    neg = torch.finfo(s.dtype).min
    lse = torch.logsumexp(diff.masked_fill(~valid, neg), dim=-1)
    has_lower = valid.any(-1)
    terms = torch.where(has_lower, F.softplus(lse), torch.zeros_like(lse))
    return LossOutput(terms.sum(-1), s[:, 0].detach(), s[:, 1:].detach())
