r"""EGPO: extragradient preference optimisation (Zhou et al. 2025, "Extragradient Preference
Optimization (EGPO): Beyond Last-Iterate Convergence for Nash Learning from Human Feedback").

EGPO solves the KL-regularised preference game of Nash-MD (:mod:`.nash_md`) by the extragradient
method, which converges in the last iterate (linearly to the regularised Nash equilibrium) where
plain gradient play on a game cycles.  Each step:

1. **explore**: sample pairs y, y′ from the per-token geometric mixture of the policy and the
   reference, π_θ^{1−m}·π_ref^{m} (:mod:`.mixture`; m = ``--algo-param mixture``, default
   0.125; m = 0 samples the policy itself), label p = P(y ≻ y′ | x);
2. **online IPO loss** on those pairs (Calandriello et al. 2024, "Human Alignment of Large
   Language Models through Online Preference Optimisation": IPO-MD), τ = ``--beta``:

       L(θ) = mean ( [log π_θ/π_ref (y|x) − log π_θ/π_ref (y′|x)] − (p − ½)/τ )²

   (p = 1 gives IPO's target 1/(2τ));
3. **extragradient**: a half step θ_{t+½} = θ_t − γ·D(∇L(θ_t)) on the pairs of π_{θ_t}, fresh
   pairs sampled from π_{θ_{t+½}}'s mixture, and the update from θ_t with the gradient taken at
   θ_{t+½}: θ_{t+1} = θ_t − (optimiser step on ∇L(θ_{t+½})).  D is the step the optimiser would
   take (Adam: m̂/(√v̂ + ε) with ∇L(θ_t) added to copies of its moments — sign(g) on the first
   step — as in extra-Adam; the raw gradient otherwise), γ = ``--algo-param half_lr`` (default:
   the current learning rate).
   ``--algo-param extragradient=false`` skips 3 (online IPO-MD with exploration only).

The step returns a surrogate whose value is L(θ_{t+½}) and whose gradient at θ_t is ∇L(θ_{t+½})
(:func:`extragradient_surrogate`), so the trainer's optimiser, clipping and checkpoints apply.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from prefkit.align.online.mixture import sample_mixture
from prefkit.align.online.params import param
from prefkit.align.online.sampling import Rollout, completion_logps, rollout_token_logps


def online_ipo_loss(logps: torch.Tensor, ref_logps: torch.Tensor, preferences: torch.Tensor,
                    *, tau: float) -> torch.Tensor:
    """Per-pair online IPO loss for consecutive pairs (rows 2k, 2k+1) with P(y_2k ≻ y_2k+1)."""
    ratio = logps - ref_logps.to(logps.device)
    h = ratio[0::2] - ratio[1::2]
    return (h - (preferences.to(h) - 0.5) / tau) ** 2


def extragradient_surrogate(params: Sequence[torch.Tensor], grads: Sequence[torch.Tensor | None],
                            value: torch.Tensor) -> torch.Tensor:
    """A scalar equal to ``value`` whose gradient with respect to ``params`` is ``grads``."""
    out = value.detach().clone()
    for p, g in zip(params, grads, strict=True):
        if g is not None:
            out = out + ((p - p.detach()) * g.detach()).sum()
    return out


def _half_step_direction(optimizer: Any, p: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """The (unit learning-rate) step Adam would take with gradient ``g`` — its moments updated
    on copies, bias-corrected — without committing it; the raw gradient for other optimisers."""
    group = None
    if optimizer is not None:
        group = next((gr for gr in optimizer.param_groups if any(q is p for q in gr["params"])),
                     None)
    if group is None or "betas" not in group:
        return g
    beta1, beta2 = group["betas"]
    state = optimizer.state.get(p, {})
    t = float(state.get("step", 0.0)) + 1.0
    m = state["exp_avg"] * beta1 + (1 - beta1) * g if "exp_avg" in state else (1 - beta1) * g
    v = (state["exp_avg_sq"] * beta2 + (1 - beta2) * g * g if "exp_avg_sq" in state
         else (1 - beta2) * g * g)
    return (m / (1 - beta1 ** t)) / ((v / (1 - beta2 ** t)).sqrt() + group["eps"])


def _pairs_loss(trainer: Any, pairs: Rollout, tau: float) -> tuple[torch.Tensor, Any]:
    ref_tok = rollout_token_logps(trainer.reference, pairs)
    tok, _ = completion_logps(trainer.model, pairs.prompt_ids, pairs.prompt_mask,
                              pairs.completion_ids, pairs.completion_mask)
    mask = pairs.completion_mask.to(trainer.device, torch.float32)
    p = trainer.labeller.preferences(pairs.prompts, pairs.texts[0::2], pairs.texts[1::2])
    prefs = torch.as_tensor(p, dtype=torch.float32, device=trainer.device)
    loss = online_ipo_loss((tok * mask).sum(-1), (ref_tok.to(trainer.device) * mask).sum(-1),
                           prefs, tau=tau).mean()
    return loss, p


def _explore(trainer: Any, prompts: list[str], mixture: float, salt: int) -> Rollout:
    cfg = trainer.config
    return sample_mixture(trainer.model, trainer.reference, trainer.tokenizer, prompts,
                          mixture=mixture, n=2, max_new_tokens=cfg.max_new_tokens,
                          temperature=cfg.temperature, top_k=cfg.top_k,
                          seed=trainer.step_seed(trainer.step) + salt)


def step_loss(trainer: Any, rollout: Rollout, ref_token_logps: torch.Tensor,
              record: dict[str, float]) -> torch.Tensor:
    """The ``egpo`` step of :class:`~prefkit.align.online.trainer.OnlineTrainer`."""
    cfg = trainer.config
    tau = cfg.beta if cfg.beta > 0 else 0.1
    mixture = param(trainer, "mixture")
    extragradient = param(trainer, "extragradient")
    loss, p = _pairs_loss(trainer, _explore(trainer, rollout.prompts, mixture, 700_001), tau)
    record["p_first"] = float(p.mean())
    if not extragradient:
        return loss
    params = list(trainer.inner.trainable_parameters().values())
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    gamma = param(trainer, "half_lr")
    gamma = trainer.inner._lr(trainer.step) if gamma is None else gamma
    saved = [q.detach().clone() for q in params]
    optimizer = trainer.inner.optimizer
    try:
        with torch.no_grad():
            for q, g in zip(params, grads, strict=True):
                if g is not None:
                    q.sub_(gamma * _half_step_direction(optimizer, q, g))
        half_loss, _ = _pairs_loss(trainer, _explore(trainer, rollout.prompts, mixture,
                                                     900_001), tau)
        half_grads = torch.autograd.grad(half_loss, params, allow_unused=True)
    finally:
        with torch.no_grad():
            for q, s in zip(params, saved, strict=True):
                q.copy_(s)
    record["half_step_loss"] = float(half_loss.detach())
    return extragradient_surrogate(params, half_grads, half_loss)
