r"""SPA / Selfie: spread a small seed of human preferences by self-annotation (Kim, Lee, Shin
and Kim 2025, "Spread Preference Annotation: Direct Preference Judgment for Efficient LLM
Alignment", ICLR; arXiv 2406.04412, first titled "Aligning Large Language Models with
Self-generated Preference Data" — Selfie).

The run has two stages.

1. **Seed.**  ``seed_steps`` DPO steps on a small set of human-labelled pairs (``--algo-param
   seed=FILE``, any pairwise preference file prefkit reads; without it, two reference samples of
   each of ``seed_prompts`` prompts labelled once by the run's labeller — the stand-in for the
   paper's 3.3 % of UltraFeedback labels).
2. **Rounds** of ``steps_per_round`` steps.  At the start of round t the current policy draws
   K = ``group_size`` completions for each of ``round_prompts`` prompts, and labels them itself
   with its implicit DPO reward (*direct preference judgment*, no external judge):

       r(x, y) = β · log π_θ(y|x) / π_ref(y|x),     y_w = argmax_k r(x, y_k),  y_l = argmin_k r,

   (prompts whose K rewards are all equal give no pair).  Each step then trains on a batch of
   these pairs with the *self-refined* DPO loss below.

**De-coupled noise detection.**  The labels come from the policy itself, so the paper judges
them with a different model: the linear extrapolation of the logits from the reference through
the current policy (the DeRa/ExPO-style approximation of a more strongly aligned model),
per token and renormalised,

    log π̃(y_t | ·) = log_softmax_v((1 + λ)·log π_θ(v | x, y_<t) − λ·log π_ref(v | x, y_<t))[y_t],

λ = ``extrapolation`` (0: the policy itself).  Its implicit reward r̃ = β·log π̃/π_ref gives
each pair the probability that its label is wrong,

    z = P̃(y_l ≻ y_w | x) = σ(r̃(x, y_l) − r̃(x, y_w)).

**Self-refinement.**  The ⌊ρ·n + ½⌋ pairs of the batch (n pairs) with the largest z are taken
as noisy (ρ = ``noise_fraction``); their label is smoothed by that confidence, the others are
kept:

    α_i = z_i if pair i is noisy else 0,
    L = mean_i −(1 − α_i)·log σ(β Δ_i) − α_i·log σ(−β Δ_i),
    Δ_i = log π_θ(y_w|x)/π_ref(y_w|x) − log π_θ(y_l|x)/π_ref(y_l|x)

(``refine=smooth``; ``refine=flip`` sets α_i = 1 for a noisy pair, ``refine=none`` is plain DPO
on the self-labels).  z is computed without gradients from the policy of the current step.

Choices of this implementation (the paper's full text was not at hand, only its abstract and
secondary summaries, so these are ours, not the paper's): the reference of the judgment and of
the loss is the run's π_ref (the initial policy unless ``--refresh-every``; a reference
refreshed at a round's start would make every reward 0), K may exceed 2 (best vs worst), and the
defaults λ = 1, ρ = 0.1.  The round's pairs are saved beside the checkpoints (``spa_round.pt``)
so a run resumed mid-round trains on the same pairs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from prefkit.align.online.apo import extrapolate_logprobs
from prefkit.align.online.game_utils import file_pairs
from prefkit.align.online.iterative_dpo import best_worst
from prefkit.align.online.online_dpo import online_pairs
from prefkit.align.online.params import param
from prefkit.align.online.sampling import (
    Rollout,
    completion_logits,
    rollout_token_logps,
    sample_rollout,
)
from prefkit.align.pairs import TokenPairs
from prefkit.core.atomic import atomic_path
from prefkit.errors import DataError, ModelFileError

ROUND_FILE = "spa_round.pt"
REFINEMENTS = ("smooth", "flip", "none")


# ------------------------------------------------------------------ the formulas
def implicit_rewards(policy_token_logps: torch.Tensor, ref_token_logps: torch.Tensor,
                     mask: torch.Tensor, beta: float) -> torch.Tensor:
    """r = β·Σ_t (log π_θ(y_t|·) − log π_ref(y_t|·)) per completion (rows of (B, T) tensors)."""
    m = mask.to(policy_token_logps.dtype)
    diff = policy_token_logps - ref_token_logps.to(policy_token_logps)
    return beta * (diff * m).sum(-1)


def self_label(rewards: torch.Tensor | np.ndarray, group_size: int) -> list[tuple[int, int]]:
    """Direct preference judgment: (argmax, argmin) of r within each group of ``group_size``
    consecutive samples; groups whose rewards are all equal give no pair."""
    return best_worst(np.asarray(torch.as_tensor(rewards).detach().cpu(), float), group_size)


def wrong_label_probability(reward_chosen: torch.Tensor,
                            reward_rejected: torch.Tensor) -> torch.Tensor:
    """z = σ(r(y_l) − r(y_w)): the judge's probability that the pair's label is wrong."""
    return torch.sigmoid(reward_rejected - reward_chosen)


def noisy_count(n: int, fraction: float) -> int:
    """⌊ρ·n + ½⌋: how many of n pairs are taken as noisy."""
    return min(n, math.floor(fraction * n + 0.5))


def smoothing(z: torch.Tensor, fraction: float, refine: str = "smooth") -> torch.Tensor:
    """α per pair: the top-⌊ρn + ½⌋ pairs by z get α = z (``smooth``) or 1 (``flip``); the
    rest α = 0 (and every pair with ``none``).  Ties in z are broken by position."""
    if refine not in REFINEMENTS:
        raise ValueError(f"refine must be one of {', '.join(REFINEMENTS)}, got {refine!r}")
    alpha = torch.zeros_like(z)
    k = noisy_count(z.numel(), fraction)
    if refine == "none" or k == 0:
        return alpha
    top = torch.argsort(z.detach(), descending=True, stable=True)[:k]
    alpha[top] = z.detach()[top] if refine == "smooth" else 1.0
    return alpha


def refined_dpo_losses(policy_chosen: torch.Tensor, policy_rejected: torch.Tensor,
                       ref_chosen: torch.Tensor, ref_rejected: torch.Tensor,
                       alpha: torch.Tensor, beta: float) -> torch.Tensor:
    """Per pair −(1 − α)·log σ(βΔ) − α·log σ(−βΔ), Δ the difference of the log-ratios."""
    delta = (policy_chosen - ref_chosen.to(policy_chosen)) - (
        policy_rejected - ref_rejected.to(policy_rejected))
    a = alpha.to(delta)
    logits = beta * delta
    return -(1.0 - a) * F.logsigmoid(logits) - a * F.logsigmoid(-logits)


def extrapolated_logps(policy_logprobs: torch.Tensor, ref_logprobs: torch.Tensor,
                       targets: torch.Tensor, mask: torch.Tensor, lam: float) -> torch.Tensor:
    """Σ_t log π̃(y_t|·) of the logit extrapolation (1 + λ)·log π_θ − λ·log π_ref, renormalised
    per position ((B, T, V) log-prob inputs, (B, T) targets and mask)."""
    tilde = extrapolate_logprobs(policy_logprobs, ref_logprobs.to(policy_logprobs), lam)
    tok = tilde.gather(-1, targets[..., None].to(tilde.device)).squeeze(-1)
    return (tok * mask.to(tok)).sum(-1)


def completion_logprobs(model: Any, prompt_ids: torch.Tensor, prompt_mask: torch.Tensor,
                        completion_ids: torch.Tensor, completion_mask: torch.Tensor
                        ) -> torch.Tensor:
    """log π(· | x, y_<t) over the vocabulary at every completion position, (B, T, V) (with
    gradients when enabled); positions follow the attention mask as in
    :func:`~prefkit.align.online.sampling.completion_logps`."""
    return completion_logits(model, prompt_ids, prompt_mask, completion_ids,
                             completion_mask).log_softmax(-1)


# ------------------------------------------------------------------ seed pairs
def seed_pairs(trainer: Any) -> TokenPairs:
    """The human-labelled seed (cached on the trainer): ``seed=FILE`` or two reference samples
    of ``seed_prompts`` prompts labelled once by the run's labeller."""
    cached = getattr(trainer, "_spa_seed", None)
    if cached is not None:
        return cached
    cfg, icfg = trainer.config, trainer.inner.config
    path = param(trainer, "seed")
    if path:
        pairs = file_pairs(trainer, path)
    else:
        rng = np.random.default_rng([cfg.seed, 41])
        size = min(param(trainer, "seed_prompts"), len(trainer.prompts))
        prompts = [trainer.prompts[i] for i in
                   np.sort(rng.choice(len(trainer.prompts), size, replace=False))]
        roll = sample_rollout(trainer.reference, trainer.tokenizer, prompts, n=2,
                              max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature,
                              top_k=cfg.top_k, seed=cfg.seed * 1_000_003 + 611_953,
                              logps=False)
        first, second = roll.texts[0::2], roll.texts[1::2]
        p = trainer.labeller.preferences(prompts, first, second)
        pairs, _ = online_pairs(trainer.tokenizer, prompts, first, second, p,
                                max_length=icfg.max_length,
                                max_prompt_length=icfg.max_prompt_length)
    if len(pairs) == 0:
        raise DataError("SPA found no seed preference pairs (all ties?)")
    trainer._spa_seed = pairs
    return pairs


def _seed_step(trainer: Any, record: dict[str, float]) -> torch.Tensor:
    from prefkit.align.online.hypo import offline_dpo_losses, step_pairs

    pairs = seed_pairs(trainer)
    losses = offline_dpo_losses(trainer, pairs, step_pairs(trainer, pairs))
    record["spa_stage"] = 0.0
    record["seed_dpo"] = float(losses.detach().mean())
    return losses.mean()


# ------------------------------------------------------------------ self-labelled rounds
def _rows(rollout: Rollout, index: Sequence[int]) -> tuple[torch.Tensor, ...]:
    i = torch.as_tensor(list(index), dtype=torch.long)
    return (rollout.prompt_ids[i], rollout.prompt_mask[i], rollout.completion_ids[i],
            rollout.completion_mask[i])


def new_round(trainer: Any, round_index: int) -> dict[str, Any]:
    """Sample K completions per prompt from the current policy and self-label them."""
    cfg = trainer.config
    rng = np.random.default_rng([cfg.seed, 43, round_index])
    size = min(cfg.round_prompts, len(trainer.prompts))
    prompts = [trainer.prompts[i] for i in rng.choice(len(trainer.prompts), size, replace=False)]
    rollout = sample_rollout(trainer.model, trainer.tokenizer, prompts, n=cfg.group_size,
                             max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature,
                             top_k=cfg.top_k, seed=trainer.step_seed(trainer.step) + 104_723)
    ref_tok = rollout_token_logps(trainer.reference, rollout)
    rewards = implicit_rewards(rollout.token_logps, ref_tok, rollout.completion_mask, cfg.beta)
    chosen = self_label(rewards, cfg.group_size)
    rows = [w for w, _ in chosen] + [lo for _, lo in chosen]
    data = {"round": round_index, "n": len(chosen), "texts": [rollout.texts[i] for i in rows],
            "prompts": [rollout.sample_prompts[i] for i in rows]}
    if chosen:
        for key, value in zip(("prompt_ids", "prompt_mask", "completion_ids",
                               "completion_mask"), _rows(rollout, rows), strict=True):
            data[key] = value.clone()
        n = len(chosen)
        p = trainer.labeller.preferences(data["prompts"][:n], data["texts"][:n],
                                         data["texts"][n:])
        p = np.asarray(p, float)
        data["agreement"] = float(np.mean((p > 0.5) + 0.5 * (p == 0.5)))
    if trainer._out is not None:
        with atomic_path(Path(trainer._out) / ROUND_FILE) as tmp:
            torch.save(data, tmp)
    return data


def _load_round(trainer: Any, round_index: int) -> dict[str, Any] | None:
    if trainer._out is None:
        return None
    path = Path(trainer._out) / ROUND_FILE
    if not path.is_file():
        return None
    try:
        data = torch.load(path, weights_only=True)
    except (OSError, RuntimeError, ValueError) as err:
        raise ModelFileError(f"{path}: cannot resume SPA mid-round ({err})") from None
    return data if data.get("round") == round_index else None


def round_data(trainer: Any, round_index: int, record: dict[str, float]) -> dict[str, Any]:
    """The round's self-labelled pairs (cached; reloaded from ``spa_round.pt`` on resume)."""
    current = getattr(trainer, "_spa_round", None)
    if current is not None and current["round"] == round_index:
        return current
    start = round_index * trainer.config.steps_per_round + param(trainer, "seed_steps")
    data = _load_round(trainer, round_index) if trainer.step > start else None
    if data is None:
        data = new_round(trainer, round_index)
        if "agreement" in data:
            record["self_label_agreement"] = data["agreement"]
        record["self_pairs"] = float(data["n"])
    trainer._spa_round = data
    return data


def _self_step(trainer: Any, record: dict[str, float]) -> torch.Tensor | None:
    cfg = trainer.config
    r = (trainer.step - param(trainer, "seed_steps")) // cfg.steps_per_round
    data = round_data(trainer, r, record)
    record["spa_stage"] = 1.0
    n_all = data["n"]
    if n_all == 0:
        return None
    rng = np.random.default_rng([cfg.seed, 47, trainer.step])
    pick = np.sort(rng.choice(n_all, min(cfg.prompts_per_step, n_all), replace=False))
    rows = np.concatenate([pick, pick + n_all])
    i = torch.as_tensor(rows, dtype=torch.long)
    prompt_ids, prompt_mask = data["prompt_ids"][i], data["prompt_mask"][i]
    completion_ids, completion_mask = data["completion_ids"][i], data["completion_mask"][i]
    dev = trainer.device
    logprobs = completion_logprobs(trainer.model, prompt_ids, prompt_mask, completion_ids,
                                   completion_mask)
    targets = completion_ids.to(dev)
    mask = completion_mask.to(dev, torch.float32)
    logps = (logprobs.gather(-1, targets[..., None]).squeeze(-1) * mask).sum(-1)
    was_training = trainer.reference.training
    trainer.reference.eval()
    with torch.no_grad():
        ref_logprobs = completion_logprobs(trainer.reference, prompt_ids, prompt_mask,
                                           completion_ids, completion_mask)
        ref = (ref_logprobs.gather(-1, targets[..., None]).squeeze(-1) * mask).sum(-1)
        tilde = extrapolated_logps(logprobs.detach(), ref_logprobs, targets, mask,
                                   param(trainer, "extrapolation"))
    trainer.reference.train(was_training)
    n = len(pick)
    r_tilde = cfg.beta * (tilde - ref)
    z = wrong_label_probability(r_tilde[:n], r_tilde[n:])
    alpha = smoothing(z, param(trainer, "noise_fraction"), param(trainer, "refine"))
    losses = refined_dpo_losses(logps[:n], logps[n:], ref[:n], ref[n:], alpha, cfg.beta)
    record["noisy_share"] = float((alpha > 0).float().mean())
    record["wrong_label_z"] = float(z.mean())
    return losses.mean()


def step_loss(trainer: Any, rollout: Rollout, ref_token_logps: torch.Tensor,
              record: dict[str, float]) -> torch.Tensor | None:
    """The ``spa`` step of :class:`~prefkit.align.online.trainer.OnlineTrainer` (the step's own
    rollout is only used for the loop's diagnostics)."""
    if trainer.step < param(trainer, "seed_steps"):
        return _seed_step(trainer, record)
    return _self_step(trainer, record)
