r"""Shared pieces of the game-theoretic online methods (SPO, GPO, Nash-MD, EGPO, APO, HyPO).

* :func:`preference_matrix` — P(y_i ≻ y_j | x) for every ordered pair within each group of K
  completions (one labeller call for the pairs i < j; P(j ≻ i) = 1 − P(i ≻ j), P(i ≻ i) = ½);
* :func:`policy_sequence_logps` — Σ_t log π_θ(y_t | x, y_<t) per completion, with gradients;
* :func:`reinforce_term` — a surrogate whose *value* is mean_i f_i and whose *gradient* is the
  score-function (REINFORCE) gradient mean_i (f_i − b_i) ∇log π_θ(y_i), for y_i ~ π_θ and a
  baseline b_i (leave-one-out within the group, ``"rloo"``, or none);
* :func:`file_pairs` — a preference file given as a method setting (``pairs=``, ``seed=``),
  tokenized for the run's policy.

Method settings are read with :func:`prefkit.align.online.params.param` (declared in
:data:`prefkit.align.online.algorithms.PARAMS`, checked before the run starts).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from prefkit.align.online.sampling import Rollout, completion_logps


def preference_matrix(labeller: Any, prompts: Sequence[str], texts: Sequence[str],
                      group_size: int) -> np.ndarray:
    """(G, K, K) array of P(y_i ≻ y_j | x) within each of the G groups of K consecutive
    completions (``prompts`` has one entry per completion)."""
    k = group_size
    texts = list(texts)
    if k < 2 or len(texts) % k:
        raise ValueError("a preference matrix needs groups of ≥ 2 completions")
    groups = len(texts) // k
    pa, pb, pp, index = [], [], [], []
    for g in range(groups):
        for i in range(k):
            for j in range(i + 1, k):
                pa.append(texts[g * k + i])
                pb.append(texts[g * k + j])
                pp.append(prompts[g * k + i])
                index.append((g, i, j))
    p = labeller.preferences(pp, pa, pb)
    matrix = np.full((groups, k, k), 0.5)
    for (g, i, j), pij in zip(index, p, strict=True):
        matrix[g, i, j] = pij
        matrix[g, j, i] = 1.0 - pij
    return matrix


def leave_one_out_mean(matrix: np.ndarray) -> np.ndarray:
    """mean_{j ≠ i} M[g, i, j] for a (G, K, K) array, flattened to (G·K,)."""
    k = matrix.shape[-1]
    off = matrix.sum(-1) - np.diagonal(matrix, axis1=-2, axis2=-1)
    return (off / (k - 1)).reshape(-1)


def policy_sequence_logps(trainer: Any, rollout: Rollout) -> tuple[torch.Tensor, torch.Tensor]:
    """(per-sequence Σ_t log π_θ with gradients, the completion mask as float) on the device."""
    tok, _ = completion_logps(trainer.model, rollout.prompt_ids, rollout.prompt_mask,
                              rollout.completion_ids, rollout.completion_mask)
    mask = rollout.completion_mask.to(trainer.device, torch.float32)
    return (tok * mask).sum(-1), mask


def reinforce_term(values: torch.Tensor, logps: torch.Tensor, group_size: int, *,
                   baseline: str = "rloo") -> torch.Tensor:
    """mean_i f_i in value; mean_i (f_i − b_i)·∇log π(y_i) in gradient (``values`` = f,
    detached; ``logps`` with gradients; groups of ``group_size`` consecutive samples)."""
    f = values.detach().to(logps.dtype)
    if baseline == "rloo" and group_size >= 2:
        grouped = f.view(-1, group_size)
        b = ((grouped.sum(1, keepdim=True) - grouped) / (group_size - 1)).reshape(-1)
    elif baseline in ("rloo", "none"):
        b = torch.zeros_like(f)
    else:
        raise ValueError(f"unknown baseline {baseline!r} (expected rloo or none)")
    return f.mean() + ((f - b) * (logps - logps.detach())).mean()


def sequence_dpo_losses(logps: torch.Tensor, ref_logps: torch.Tensor, chosen: Sequence[int],
                        rejected: Sequence[int], beta: float) -> torch.Tensor:
    """Per-pair DPO losses −log σ(β[(log π − log π_ref)(y_w) − (log π − log π_ref)(y_l)]) for
    pairs of rows of one rollout (``logps``/``ref_logps`` summed per sequence)."""
    from prefkit.align.losses.dpo import dpo_loss

    w = torch.as_tensor(list(chosen), dtype=torch.long, device=logps.device)
    lo = torch.as_tensor(list(rejected), dtype=torch.long, device=logps.device)
    ref = ref_logps.to(logps.device)
    return dpo_loss(logps[w], logps[lo], ref[w], ref[lo], beta=beta).losses


def file_pairs(trainer: Any, path: Any) -> Any:
    """The labelled pairs of the preference file ``path`` tokenized with the run's tokenizer and
    length limits (HyPO's offline ``pairs``, SPA's human ``seed``)."""
    from prefkit.align.pairs import text_pairs, tokenize_pairs
    from prefkit.data import read

    icfg = trainer.inner.config
    return tokenize_pairs(trainer.tokenizer, text_pairs(read(str(path))),
                          max_length=icfg.max_length, max_prompt_length=icfg.max_prompt_length)
