r"""Sampling from the geometric mixture of the policy and the reference (Nash-MD, EGPO).

Munos et al. 2024 ("Nash Learning from Human Feedback", §6) regularise the preference game
towards a reference μ through the geometric mixture

    π^μ(y | x) ∝ π(y | x)^{1−β} · μ(y | x)^{β},

which Nash-MD plays against (and which EGPO, Zhou et al. 2025, "Extragradient Preference
Optimization", and online IPO-MD, Calandriello et al. 2024, sample their pairs from).  The
sequence-level mixture has no tractable sampler; like TRL's Nash-MD trainer
(``GeometricMixtureWrapper``), prefkit mixes **per token**:

    log π^μ(y_t | x, y_<t) = (1−β)·log π(y_t | ·) + β·log μ(y_t | ·) − log Z_t,

i.e. the softmax of (1−β)·logits_π + β·logits_μ (:func:`mixture_logprobs`).
:func:`sample_mixture` runs both models step by step with their key/value caches, seeded
(forked RNG, as :func:`~prefkit.align.online.sampling.sample_rollout`), with the same prompt
encoding, temperature, top-k, EOS cut and padding as the policy's own sampler, and returns a
:class:`~prefkit.align.online.sampling.Rollout` (β = 0 is the policy, β = 1 the reference).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import torch

from prefkit.align.online.sampling import (
    Rollout,
    _cut_at_eos,
    left_pad,
    right_pad,
    rollout_token_logps,
)
from prefkit.align.pairs import encode_prompt


def mixture_logprobs(policy_logits: torch.Tensor, reference_logits: torch.Tensor,
                     mixture: float) -> torch.Tensor:
    """log of the normalised geometric mean p^{1−β} q^{β} of the two softmaxes (last dim)."""
    if not 0.0 <= mixture <= 1.0:
        raise ValueError(f"the mixture coefficient must lie in [0, 1], got {mixture}")
    mixed = ((1.0 - mixture) * torch.log_softmax(policy_logits.float(), -1)
             + mixture * torch.log_softmax(reference_logits.float(), -1))
    return torch.log_softmax(mixed, -1)


def _cache_keyword(model: Any) -> str:
    """``cache`` (transformers ≥ 5.2x) or ``past_key_values`` (older releases)."""
    params = inspect.signature(model.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def _next_logits(model: Any, ids: torch.Tensor, attention: torch.Tensor,
                 positions: torch.Tensor, past: Any) -> tuple[torch.Tensor, Any]:
    key = _cache_keyword(model)
    out = model(input_ids=ids, attention_mask=attention, position_ids=positions,
                use_cache=True, **{key: past})
    cache = out.get("cache") if out.get("cache") is not None else out.get("past_key_values")
    return out.logits[:, -1].float(), cache


def sample_mixture(
    model: Any,
    reference: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    *,
    mixture: float,
    n: int = 1,
    max_new_tokens: int = 32,
    temperature: float = 1.0,
    top_k: int = 0,
    seed: int = 0,
    logps: bool = False,
) -> Rollout:
    """``n`` completions per prompt from the per-token geometric mixture of ``model`` (weight
    1 − ``mixture``) and ``reference`` (weight ``mixture``); with ``logps`` the completions'
    per-token log-probs under ``model`` are attached (``Rollout.token_logps``)."""
    if n < 1 or max_new_tokens < 1:
        raise ValueError("n and max_new_tokens must be ≥ 1")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    eos = tokenizer.eos_token_id
    device = next(model.parameters()).device
    rows = [encode_prompt(tokenizer, str(p)) for p in prompts for _ in range(n)]
    prompt_ids, prompt_mask = left_pad(rows, int(pad))
    modes = (model.training, reference.training)
    model.eval()
    reference.eval()
    devices = [device] if device.type == "cuda" else []
    steps: list[torch.Tensor] = []
    try:
        with torch.random.fork_rng(devices=devices), torch.no_grad():
            torch.manual_seed(seed)
            attention = prompt_mask.to(device)
            positions = (attention.cumsum(-1) - 1).clamp(min=0)
            ids = prompt_ids.to(device)
            past: list[Any] = [None, None]
            done = torch.zeros(len(rows), dtype=torch.bool, device=device)
            for _ in range(max_new_tokens):
                pol, past[0] = _next_logits(model, ids, attention, positions, past[0])
                ref, past[1] = _next_logits(reference, ids, attention, positions, past[1])
                scores = mixture_logprobs(pol, ref, mixture) / temperature
                if top_k:
                    kth = scores.topk(min(top_k, scores.shape[-1]), -1).values[:, -1:]
                    scores = scores.masked_fill(scores < kth, float("-inf"))
                token = torch.multinomial(torch.softmax(scores, -1), 1).squeeze(-1)
                token = torch.where(done, torch.full_like(token, int(pad)), token)
                steps.append(token.cpu())
                if eos is not None:
                    done |= token == eos
                if bool(done.all()):
                    break
                ids = token[:, None]
                attention = torch.cat([attention, torch.ones_like(ids)], 1)
                positions = positions[:, -1:] + 1
    finally:
        model.train(modes[0])
        reference.train(modes[1])
    generated = torch.stack(steps, 1)
    cut, truncated = _cut_at_eos(generated, eos)
    completion_ids, completion_mask = right_pad(cut, int(pad))
    texts = [t.strip() for t in tokenizer.batch_decode(cut, skip_special_tokens=True)]
    rollout = Rollout(list(map(str, prompts)), n, prompt_ids, prompt_mask, completion_ids,
                      completion_mask, texts, truncated=torch.tensor(truncated))
    if logps:
        rollout.token_logps = rollout_token_logps(model, rollout)
    return rollout
