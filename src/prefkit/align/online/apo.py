r"""APO: accelerated preference optimisation (He et al. 2024, "Accelerated Preference Optimization
for Large Language Model Alignment").

Iterative preference optimisation (iterative DPO, SPPO) is a proximal-point method: iteration t
solves π_{t+1} = argmin_π L(π; π_t), each step regularised towards the previous iterate, which is
the next reference.  APO adds Nesterov momentum: the next reference is the *extrapolated* iterate

    π̂_{t+1}(y|x) ∝ π_{t+1}(y|x) · ( π_{t+1}(y|x) / π_t(y|x) )^α,
    i.e. log π̂_{t+1} = log π_{t+1} + α (log π_{t+1} − log π_t) + const,

(α = ``--algo-param alpha``, default 0.3, prefkit's choice; α = 0 is the plain iterative
method).  For a softmax policy with logits θ this is exactly θ̂ = θ_{t+1} + α(θ_{t+1} − θ_t)
(:func:`extrapolate_logprobs` = :func:`extrapolate_state` on logit parameters; tested), and
that parameter-space extrapolation is what the ``apo`` algorithm applies to the language
model's weights: every ``--refresh-every`` steps (one iteration) the trainer sets
π_ref ← π_θ and APO replaces it by θ̂ = θ_{t+1} + α(θ_{t+1} − θ_t), θ_t the weights at the
previous refresh (π_0 at the first).  The loss of an iteration is ``--algo-param base=sppo``
(default; SPPO's square loss towards the win rate, η = ``--eta``) or ``base=dpo`` (DPO,
β = ``--beta``, on the best vs the worst of each prompt's group, as iterative DPO pairs them);
with ``--refresh-every 0`` there are no iterations and APO is its base loss against π_0.
Resume is exact: θ_t is re-read from the trainer's reference snapshots (and
``apo_initial.safetensors`` for π_0).
"""

from __future__ import annotations

import os
from typing import Any

import torch

from prefkit.align.online.algorithms import PARAMS
from prefkit.align.online.game_utils import policy_sequence_logps, sequence_dpo_losses
from prefkit.align.online.iterative_dpo import best_worst
from prefkit.align.online.params import param
from prefkit.align.online.sampling import Rollout
from prefkit.align.online.sppo import sppo_loss
from prefkit.errors import ModelFileError

BASES = PARAMS["apo"]["base"].choices
INITIAL_FILE = "apo_initial.safetensors"


def extrapolate_logprobs(new: torch.Tensor, old: torch.Tensor, alpha: float) -> torch.Tensor:
    """log of π_new·(π_new/π_old)^α, normalised over the last dimension (log-prob inputs)."""
    return torch.log_softmax((1.0 + alpha) * new - alpha * old, -1)


def extrapolate_state(new: dict[str, torch.Tensor], old: dict[str, torch.Tensor],
                      alpha: float) -> dict[str, torch.Tensor]:
    """θ_new + α(θ_new − θ_old) for every floating-point tensor (others kept from ``new``)."""
    return {k: (v + alpha * (v - old[k].to(v)) if v.is_floating_point() else v)
            for k, v in new.items()}


def _snapshot(model: Any) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _load(path: Any) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    try:
        return load_file(os.fspath(path))
    except (OSError, RuntimeError, ValueError) as err:
        raise ModelFileError(f"{path}: cannot restore APO's previous iterate ({err})") from None


def _previous_iterate(trainer: Any, step: int) -> dict[str, torch.Tensor]:
    """θ at the refresh of ``step`` (π_0 for step 0), read back from the run directory."""
    from prefkit.align.online.trainer import REFERENCE_SNAPSHOTS

    out = trainer._out
    if out is None:
        raise ModelFileError("APO cannot rebuild its previous iterate without a run directory")
    if step == 0:
        return _load(out / INITIAL_FILE)
    return _load(out / REFERENCE_SNAPSHOTS / f"step-{step:08d}.safetensors")


def sync_reference(trainer: Any, alpha: float) -> bool:
    """Keep π_ref = the extrapolated iterate (call once per step, after the trainer's refresh);
    True when the reference changed."""
    every = trainer.config.refresh_every
    step = trainer.step
    previous = getattr(trainer, "_apo_previous", None)
    if previous is None:  # first step of a run, or of a resumed run
        last = (step // every) * every if every else 0
        if last == 0:
            trainer._apo_previous = _snapshot(trainer.reference)
            if step == 0 and trainer._out is not None:
                from safetensors.torch import save_file

                from prefkit.core.atomic import atomic_path

                state = {k: v.contiguous().cpu() for k, v in trainer._apo_previous.items()}
                with atomic_path(trainer._out / INITIAL_FILE) as tmp:
                    save_file(state, os.fspath(tmp))
            return False
        previous = _previous_iterate(trainer, last - every)
    elif not (every and step > 0 and step % every == 0):
        return False
    current = _snapshot(trainer.reference)
    trainer.reference.load_state_dict(extrapolate_state(current, previous, alpha))
    trainer._apo_previous = current
    return True


def step_loss(trainer: Any, rollout: Rollout, ref_token_logps: torch.Tensor,
              record: dict[str, float]) -> torch.Tensor | None:
    """The ``apo`` step of :class:`~prefkit.align.online.trainer.OnlineTrainer`.

    The trainer computed ``ref_token_logps`` before this call; after an extrapolation they are
    recomputed under the extrapolated reference."""
    from prefkit.align.online.sampling import rollout_token_logps

    cfg = trainer.config
    alpha = param(trainer, "alpha")
    base = param(trainer, "base")
    if sync_reference(trainer, alpha):
        ref_token_logps = rollout_token_logps(trainer.reference, rollout)
    logps, mask = policy_sequence_logps(trainer, rollout)
    ref = (ref_token_logps.to(trainer.device) * mask).sum(-1)
    k = rollout.group_size
    if base == "sppo":
        win = trainer.labeller.win_rates(rollout.sample_prompts, rollout.texts, k)
        w = torch.as_tensor(win, dtype=torch.float32, device=trainer.device)
        return sppo_loss(logps, ref, w, eta=cfg.eta).mean()
    scores = trainer.labeller.group_rewards(rollout.sample_prompts, rollout.texts, k)
    pairs = best_worst(scores, k)
    if not pairs:
        return None
    return sequence_dpo_losses(logps, ref, [i for i, _ in pairs], [j for _, j in pairs],
                               cfg.beta).mean()
