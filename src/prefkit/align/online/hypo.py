r"""HyPO: hybrid preference optimisation (Song et al. 2024, "The Importance of Online Data:
Understanding Preference Fine-tuning via Coverage", NeurIPS).

Offline contrastive methods (DPO) need the offline data to cover every response the policy may
put mass on; online RLHF needs only partial coverage because its KL(π_θ ‖ π_ref) is measured on
the policy's *own* samples.  HyPO keeps DPO on the offline pairs and adds that online KL:

    L = mean_{(x, y_w, y_l) ∈ D} −log σ(β [log π_θ/π_ref (y_w|x) − log π_θ/π_ref (y_l|x)])
        + λ · mean_{x, y ~ π_θ(·|x)} [ log π_θ(y|x) − log π_ref(y|x) ],

the KL term estimated on fresh samples with the score-function (REINFORCE) gradient
(f_i − b_i)·∇log π_θ(y_i|x), f_i = log π_θ(y_i|x)/π_ref(y_i|x), b_i the leave-one-out mean of its
group (``--algo-param baseline=rloo``, default; ``none``) — its value is the KL estimate, its
gradient the unbiased gradient of KL(π_θ ‖ π_ref).  β = ``--beta``, λ = ``--algo-param lam``
(default 1).  The offline pairs come from ``--algo-param pairs=FILE`` (any pairwise preference file
prefkit reads; each step draws ``prompts_per_step`` of them, a pure function of (seed, step));
without a file they are built once from the reference policy (two samples per prompt, labelled by
the labeller, ties dropped) — the usual offline setting, where the data was collected before
training.  The fresh samples are the step's ``group_size`` completions per prompt.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from prefkit.align.losses.dpo import dpo_loss
from prefkit.align.online.game_utils import file_pairs, policy_sequence_logps, reinforce_term
from prefkit.align.online.online_dpo import online_pairs
from prefkit.align.online.params import param
from prefkit.align.online.sampling import Rollout, sample_rollout
from prefkit.align.pairs import (
    TokenPairs,
    collate,
    pair_logps,
    sequence_logps,
)
from prefkit.errors import DataError

#: prompts sampled per reference batch when the offline pairs are built from the reference
CHUNK = 64


def hypo_loss(dpo_losses: torch.Tensor, logps: torch.Tensor, ref_logps: torch.Tensor,
              group_size: int, *, lam: float = 1.0, baseline: str = "rloo") -> torch.Tensor:
    """mean DPO loss + λ·(online KL estimate with its REINFORCE gradient)."""
    log_ratio = logps.detach() - ref_logps.to(logps.device)
    return dpo_losses.mean() + lam * reinforce_term(log_ratio, logps, group_size,
                                                    baseline=baseline)


def offline_pairs(trainer: Any) -> TokenPairs:
    """The offline pairs (cached on the trainer): ``pairs=FILE`` or built from π_ref."""
    cached = getattr(trainer, "_hypo_offline", None)
    if cached is not None:
        return cached
    cfg, icfg = trainer.config, trainer.inner.config
    path = param(trainer, "pairs")
    if path:
        pairs = file_pairs(trainer, path)
    else:
        prompts, first, second = [], [], []
        for start in range(0, len(trainer.prompts), CHUNK):
            part = trainer.prompts[start:start + CHUNK]
            roll = sample_rollout(trainer.reference, trainer.tokenizer, part, n=2,
                                  max_new_tokens=cfg.max_new_tokens,
                                  temperature=cfg.temperature, top_k=cfg.top_k,
                                  seed=cfg.seed * 1_000_003 + 271_829 + start, logps=False)
            prompts += part
            first += roll.texts[0::2]
            second += roll.texts[1::2]
        p = trainer.labeller.preferences(prompts, first, second)
        pairs, _ = online_pairs(trainer.tokenizer, prompts, first, second, p,
                                max_length=icfg.max_length,
                                max_prompt_length=icfg.max_prompt_length)
    if len(pairs) == 0:
        raise DataError("HyPO found no offline preference pairs (all ties?)")
    trainer._hypo_offline = pairs
    return pairs


def step_pairs(trainer: Any, pairs: TokenPairs) -> np.ndarray:
    """Indices of the offline pairs of the current step (pure function of seed and step)."""
    cfg = trainer.config
    rng = np.random.default_rng([cfg.seed, 31, trainer.step])
    size = min(cfg.prompts_per_step, len(pairs))
    return np.sort(rng.choice(len(pairs), size, replace=False))


def offline_dpo_losses(trainer: Any, pairs: TokenPairs, index: np.ndarray) -> torch.Tensor:
    """Per-pair DPO losses of the offline pairs ``index`` (policy with gradients)."""
    pad = trainer.inner.pad_id
    sub = TokenPairs([pairs.prompt_ids[i] for i in index], [pairs.chosen_ids[i] for i in index],
                     [pairs.rejected_ids[i] for i in index], pairs.p[index],
                     pairs.weights[index])
    refs = pair_logps(trainer.reference, sub, pad_id=pad)
    batch = {k: v.to(trainer.device) if torch.is_tensor(v) else v
             for k, v in collate(sub, np.arange(len(sub)), pad).items()}
    logps, _ = sequence_logps(trainer.model, batch)
    n = len(sub)
    dev = trainer.device
    return dpo_loss(logps[:n], logps[n:], refs["chosen"].to(dev), refs["rejected"].to(dev),
                    beta=trainer.config.beta).losses


def step_loss(trainer: Any, rollout: Rollout, ref_token_logps: torch.Tensor,
              record: dict[str, float]) -> torch.Tensor:
    """The ``hypo`` step of :class:`~prefkit.align.online.trainer.OnlineTrainer`."""
    lam = param(trainer, "lam")
    baseline = param(trainer, "baseline")
    pairs = offline_pairs(trainer)
    dpo = offline_dpo_losses(trainer, pairs, step_pairs(trainer, pairs))
    logps, mask = policy_sequence_logps(trainer, rollout)
    ref = (ref_token_logps.to(trainer.device) * mask).sum(-1)
    record["offline_dpo"] = float(dpo.detach().mean())
    record["online_kl"] = float((logps.detach() - ref).mean())
    return hypo_loss(dpo, logps, ref, rollout.group_size, lam=lam, baseline=baseline)
