r"""GPO: general preference optimisation with GPM scores (Zhang et al. 2025, "Beyond Bradley–Terry
Models: A General Preference Model for Language Model Alignment", ICML; first circulated as
"General Preference Modeling with Preference Representations for Aligning Language Models").

A general preference model (GPM, :mod:`prefkit.reward.gpm`) gives a skew-symmetric *score*
s(y ≻ y′ | x) = −s(y′ ≻ y | x), with P(y ≻ y′ | x) = σ(s/τ); it represents cyclic preferences
that no reward can.  GPO is SPPO's self-play square loss (:mod:`.sppo`) with the policy's
expected score in place of its win probability: for K samples y_1..y_K ~ π_t(·|x),

    ŝ(y_i ≻ π_t | x) = (1/(K−1)) Σ_{j≠i} s(y_i ≻ y_j | x),
    L = mean_i ( log π_θ(y_i|x) − log π_t(y_i|x) − η·(ŝ(y_i ≻ π_t | x) − c) )²,

whose minimiser is the multiplicative-weights step π_{t+1} ∝ π_t·exp(η·s(y ≻ π_t | x)).  Since
s is skew-symmetric, E_{y~π_t} s(y ≻ π_t) = 0, so the centring c is 0 (``--algo-param
baseline=C``; SPPO's ½ plays this role for probabilities).  The scores are recovered from any
pairwise labeller as s = τ·logit P(y_i ≻ y_j) (``--algo-param tau=…``, the GPM's temperature,
default 1; probabilities are clipped to [10⁻⁶, 1 − 10⁻⁶]) — with τ = 1 exactly the score of
prefkit's GPM (:class:`~prefkit.reward.gpm.GeneralPreferenceHead`, whose 1/τ is inside s), and
r(y_i) − r(y_j) for a Bradley–Terry reward model.
π_t is the reference, refreshed every ``--refresh-every`` steps (one GPO iteration), η = ``--eta``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from prefkit.align.online.game_utils import (
    leave_one_out_mean,
    policy_sequence_logps,
    preference_matrix,
)
from prefkit.align.online.params import param
from prefkit.align.online.sampling import Rollout

CLIP = 1e-6


def preference_scores(preferences: np.ndarray, *, tau: float = 1.0) -> np.ndarray:
    """s = τ·logit P elementwise (P clipped to [10⁻⁶, 1 − 10⁻⁶]); skew-symmetric for a
    matrix with P(j ≻ i) = 1 − P(i ≻ j)."""
    p = np.clip(preferences, CLIP, 1.0 - CLIP)
    return tau * (np.log(p) - np.log1p(-p))


def expected_scores(preferences: np.ndarray, *, tau: float = 1.0) -> np.ndarray:
    """ŝ(y_i ≻ π | x) = mean_{j≠i} s(y_i ≻ y_j | x) from a (G, K, K) matrix, flattened."""
    return leave_one_out_mean(preference_scores(preferences, tau=tau))


def gpo_loss(logps: torch.Tensor, ref_logps: torch.Tensor, scores: torch.Tensor, *,
             eta: float = 1.0, baseline: float = 0.0) -> torch.Tensor:
    """Per-sample GPO square loss (sequence log-probs, expected scores ŝ)."""
    return (logps - ref_logps - eta * (scores - baseline)) ** 2


def step_loss(trainer: Any, rollout: Rollout, ref_token_logps: torch.Tensor,
              record: dict[str, float]) -> torch.Tensor:
    """The ``gpo`` step of :class:`~prefkit.align.online.trainer.OnlineTrainer`."""
    cfg = trainer.config
    tau = param(trainer, "tau")
    baseline = param(trainer, "baseline")
    matrix = preference_matrix(trainer.labeller, rollout.sample_prompts, rollout.texts,
                               rollout.group_size)
    scores = expected_scores(matrix, tau=tau)
    record["gpm_score"] = float(np.mean(np.abs(scores)))
    logps, mask = policy_sequence_logps(trainer, rollout)
    ref = (ref_token_logps.to(trainer.device) * mask).sum(-1)
    s = torch.as_tensor(scores, dtype=torch.float32, device=trainer.device)
    return gpo_loss(logps, ref, s, eta=cfg.eta, baseline=baseline).mean()
