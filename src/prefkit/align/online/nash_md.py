r"""Nash-MD: Nash learning from human feedback by mirror descent (Munos et al. 2024, "Nash
Learning from Human Feedback", ICML; §6 Nash-MD, §7 Nash-MD-PG).

The target is the Nash equilibrium of the KL-regularised preference game

    P_τ(π ≻ π′) = P(π ≻ π′) − τ·KL(π ‖ μ) + τ·KL(π′ ‖ μ),

which needs no scalar reward, so an intransitive preference (a GPM, a judge) is fine.
**Tabular Nash-MD** (:func:`nash_md_tabular_step`) plays against the geometric mixture of the
current policy and the reference μ:

    π_t^μ(y) ∝ π_t(y)^{1−ητ} μ(y)^{ητ},
    π_{t+1}(y) ∝ π_t^μ(y) · exp(η·P(y ≻ π_t^μ)),

and its last iterate converges to the regularised equilibrium π*_τ ∝ μ·exp(P(y ≻ π*_τ)/τ).
**Nash-MD-PG** (the LLM version, the ``nash-md`` algorithm) takes a policy-gradient step on the
same game: for y ~ π_θ(·|x) and an opponent y′ from the (per-token) geometric mixture
π_θ^{1−β}·π_ref^{β} (:mod:`.mixture`, β = ``--algo-param mixture``, default 0.125),

    L = mean_i [ −(P(y_i ≻ y′_i | x) − ½)·log π_θ(y_i|x)
                 + τ·sg(log π_θ(y_i|x) − log π_ref(y_i|x))·log π_θ(y_i|x) ]

(τ = ``--beta``; ½ is the control variate; sg = stop-gradient), whose expected gradient is
∇_θ[ −P(π_θ ≻ π^μ) + τ·KL(π_θ ‖ π_ref) ] with the mixture held fixed (tested on a categorical
policy).  Every sample y_i of a prompt's group gets its own mixture opponent y′_i.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from prefkit.align.online.game_utils import policy_sequence_logps
from prefkit.align.online.mixture import sample_mixture
from prefkit.align.online.params import param
from prefkit.align.online.sampling import Rollout


def nash_md_loss(logps: torch.Tensor, ref_logps: torch.Tensor, preferences: torch.Tensor,
                 *, beta: float) -> torch.Tensor:
    """Per-sample Nash-MD-PG loss (``logps`` with gradients, summed per sequence;
    ``preferences`` = P(y_i ≻ y′_i))."""
    log_ratio = (logps - ref_logps.to(logps.device)).detach()
    score = (preferences.to(logps) - 0.5) * logps
    return beta * log_ratio * logps - score


def geometric_mixture(pi: np.ndarray, mu: np.ndarray, weight: float) -> np.ndarray:
    """π^{1−w} μ^{w}, normalised (``weight`` = w = ητ)."""
    log = (1.0 - weight) * np.log(pi) + weight * np.log(mu)
    log -= log.max()
    out = np.exp(log)
    return out / out.sum()


def nash_md_tabular_step(pi: np.ndarray, mu: np.ndarray, preference: np.ndarray, *,
                         eta: float, tau: float) -> np.ndarray:
    """One exact Nash-MD update of a distribution over items, with ``preference[i, j]`` =
    P(i ≻ j)."""
    mixed = geometric_mixture(pi, mu, eta * tau)
    log = np.log(mixed) + eta * (preference @ mixed)
    log -= log.max()
    out = np.exp(log)
    return out / out.sum()


def mixture_opponents(trainer: Any, rollout: Rollout, mixture: float) -> Rollout:
    """One completion of the policy/reference geometric mixture per sample of ``rollout``."""
    cfg = trainer.config
    return sample_mixture(trainer.model, trainer.reference, trainer.tokenizer, rollout.prompts,
                          mixture=mixture, n=rollout.group_size,
                          max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature,
                          top_k=cfg.top_k, seed=trainer.step_seed(trainer.step) + 500_009)


def step_loss(trainer: Any, rollout: Rollout, ref_token_logps: torch.Tensor,
              record: dict[str, float]) -> torch.Tensor:
    """The ``nash-md`` step of :class:`~prefkit.align.online.trainer.OnlineTrainer`."""
    mixture = param(trainer, "mixture")
    opponents = mixture_opponents(trainer, rollout, mixture)
    p = trainer.labeller.preferences(rollout.sample_prompts, rollout.texts, opponents.texts)
    logps, mask = policy_sequence_logps(trainer, rollout)
    ref = (ref_token_logps.to(trainer.device) * mask).sum(-1)
    prefs = torch.as_tensor(p, dtype=torch.float32, device=trainer.device)
    record["p_vs_mixture"] = float(np.mean(p))
    return nash_md_loss(logps, ref, prefs, beta=trainer.config.beta).mean()
