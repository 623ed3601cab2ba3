"""Batched, seeded sampling from a Hugging Face causal LM, with per-token log-probabilities.

:func:`sample_rollout` draws ``n`` completions for each prompt in one batched ``generate`` call
(prompts left-padded, each prompt's completions next to each other: sample ``i`` belongs to
prompt ``i // n``).  The randomness is a pure function of ``seed`` (the global torch RNG is forked
and restored), so step ``s`` of a run always draws the same samples — the basis of exact resume.

Each completion is cut after its first EOS token (kept, it is part of the response); a
completion that reached ``max_new_tokens`` without EOS is ``truncated``.  Its log-probabilities
are then recomputed by one forward pass of the policy at temperature 1 (as TRL does): per token
``log π(y_t | x, y_<t)`` (``token_logps``, zero on padding) and their sum per sequence
(``logps``), which the policy-gradient methods use as the "old" log-probabilities.

:func:`completion_logps` is the same computation with gradients, for the losses: the decoder runs
once over ``[prompt; completion]`` and the LM head only on the completion positions; log-probs are
``gather − logsumexp`` and, on request, the per-token entropy ``H_t = −Σ_v p_v log p_v``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from prefkit.align.pairs import _decoder_and_head, encode_prompt


@dataclass
class Rollout:
    """``n`` sampled completions per prompt, grouped (sample ``i`` answers ``prompts[i // n]``).

    Tensors have one row per sample; prompts are left-padded, completions right-padded.
    """

    prompts: list[str]
    group_size: int
    prompt_ids: torch.Tensor
    prompt_mask: torch.Tensor
    completion_ids: torch.Tensor
    completion_mask: torch.Tensor
    texts: list[str]
    token_logps: torch.Tensor = field(default_factory=lambda: torch.zeros(0))
    entropies: torch.Tensor = field(default_factory=lambda: torch.zeros(0))
    truncated: torch.Tensor = field(default_factory=lambda: torch.zeros(0, dtype=torch.bool))

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def sample_prompts(self) -> list[str]:
        """The prompt of every sample (each prompt repeated ``group_size`` times)."""
        return [p for p in self.prompts for _ in range(self.group_size)]

    @property
    def logps(self) -> torch.Tensor:
        """Summed completion log-probability per sample under the sampling policy."""
        return (self.token_logps * self.completion_mask).sum(-1)

    @property
    def lengths(self) -> torch.Tensor:
        """Completion tokens per sample (the EOS included)."""
        return self.completion_mask.sum(-1)

    def completion_token_lists(self) -> list[list[int]]:
        """The completion token ids of every sample, without padding."""
        return [row[mask.bool()].tolist()
                for row, mask in zip(self.completion_ids, self.completion_mask, strict=True)]

    def prompt_token_lists(self) -> list[list[int]]:
        return [row[mask.bool()].tolist()
                for row, mask in zip(self.prompt_ids, self.prompt_mask, strict=True)]

    def select(self, index: Sequence[int]) -> Rollout:
        """The samples ``index`` (a group size of 1 unless whole groups are kept in order)."""
        idx = torch.as_tensor(list(index), dtype=torch.long)
        prompts = self.sample_prompts
        return Rollout([prompts[i] for i in idx.tolist()], 1, self.prompt_ids[idx],
                       self.prompt_mask[idx], self.completion_ids[idx],
                       self.completion_mask[idx], [self.texts[i] for i in idx.tolist()],
                       self.token_logps[idx] if self.token_logps.numel() else self.token_logps,
                       self.truncated[idx] if self.truncated.numel() else self.truncated)


def left_pad(rows: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-padded ids and attention mask of token lists."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for k, r in enumerate(rows):
        if r:
            ids[k, width - len(r):] = torch.tensor(r)
            mask[k, width - len(r):] = 1
    return ids, mask


def right_pad(rows: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ids and mask of token lists (at least one column)."""
    width = max(1, max(len(r) for r in rows))
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for k, r in enumerate(rows):
        if r:
            ids[k, : len(r)] = torch.tensor(r)
            mask[k, : len(r)] = 1
    return ids, mask


def _cut_at_eos(gen: torch.Tensor, eos_id: int | None) -> tuple[list[list[int]], list[bool]]:
    rows, truncated = [], []
    for row in gen.tolist():
        if eos_id is not None and eos_id in row:
            rows.append(row[: row.index(eos_id) + 1])
            truncated.append(False)
        else:
            rows.append(row)
            truncated.append(True)
    return rows, truncated


def _hf_generate(model: Any, prompt_ids: torch.Tensor, prompt_mask: torch.Tensor, *, pad: int,
                 eos_id: int | None, seed: int, temperature: float, top_k: int, top_p: float,
                 max_new_tokens: int) -> tuple[list[list[int]], list[bool]]:
    """``transformers.generate`` on left-padded prompts, seeded (the global RNG is forked)."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    devices = [device] if device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=devices), torch.no_grad():
            torch.manual_seed(seed)
            gen = model.generate(
                input_ids=prompt_ids.to(device), attention_mask=prompt_mask.to(device),
                do_sample=True, temperature=temperature, top_k=top_k or None, top_p=top_p,
                max_new_tokens=max_new_tokens, pad_token_id=pad, eos_token_id=eos_id,
            )
    finally:
        model.train(was_training)
    return _cut_at_eos(gen[:, prompt_ids.shape[1]:].cpu(), eos_id)


def sample_rollout(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    *,
    n: int = 2,
    max_new_tokens: int = 32,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    seed: int = 0,
    logps: bool = True,
) -> Rollout:
    """``n`` completions per prompt from ``model`` in one batched ``generate`` call (seeded).

    With ``logps`` the per-token log-probabilities of the completions under ``model`` (at
    temperature 1) are recomputed without gradients (``Rollout.token_logps``).  A policy given
    a sampler by :func:`prefkit.align.online.vllm_sampler.attach_sampler` (vLLM) generates with
    it instead of ``transformers.generate``; everything after generation is the same.
    """
    if n < 1 or max_new_tokens < 1:
        raise ValueError("n and max_new_tokens must be ≥ 1")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    prompt_rows = [encode_prompt(tokenizer, str(p)) for p in prompts]
    expanded = [r for r in prompt_rows for _ in range(n)]
    prompt_ids, prompt_mask = left_pad(expanded, int(pad))
    sampler = getattr(model, "prefkit_sampler", None)  # see .vllm_sampler.attach_sampler
    if sampler is not None:
        sampler.sync(model)
        rows, truncated = sampler.generate(
            prompt_rows, n=n, max_new_tokens=max_new_tokens, temperature=temperature,
            top_k=top_k, top_p=top_p, seed=seed, eos_id=tokenizer.eos_token_id)
    else:
        rows, truncated = _hf_generate(model, prompt_ids, prompt_mask, pad=int(pad),
                                       eos_id=tokenizer.eos_token_id, seed=seed,
                                       temperature=temperature, top_k=top_k, top_p=top_p,
                                       max_new_tokens=max_new_tokens)
    completion_ids, completion_mask = right_pad(rows, int(pad))
    texts = [t.strip() for t in tokenizer.batch_decode(rows, skip_special_tokens=True)]
    rollout = Rollout(list(map(str, prompts)), n, prompt_ids, prompt_mask, completion_ids,
                      completion_mask, texts, truncated=torch.tensor(truncated))
    if logps:
        rollout.token_logps, rollout.entropies = rollout_token_logps(model, rollout,
                                                                     entropy=True)
    return rollout


def completion_logits(
    model: Any,
    prompt_ids: torch.Tensor,
    prompt_mask: torch.Tensor,
    completion_ids: torch.Tensor,
    completion_mask: torch.Tensor,
) -> torch.Tensor:
    """float32 logits predicting each completion token, (B, T, V) (with gradients when
    enabled).  Positions follow the attention mask, so left padding of the prompts does not
    shift them; only the completion positions go through the LM head."""
    device = next(model.parameters()).device
    ids = torch.cat([prompt_ids, completion_ids], 1).to(device)
    attention = torch.cat([prompt_mask, completion_mask], 1).to(device)
    positions = (attention.cumsum(-1) - 1).clamp(min=0)
    width = completion_ids.shape[1]
    parts = _decoder_and_head(model)
    if parts is not None:
        decoder, head = parts
        h = decoder(input_ids=ids, attention_mask=attention, position_ids=positions,
                    use_cache=False)
        h = h.last_hidden_state if hasattr(h, "last_hidden_state") else h[0]
        return head(h[:, -width - 1:-1]).float()
    out = model(input_ids=ids, attention_mask=attention, position_ids=positions,
                use_cache=False)
    return out.logits[:, -width - 1:-1].float()


def completion_logps(
    model: Any,
    prompt_ids: torch.Tensor,
    prompt_mask: torch.Tensor,
    completion_ids: torch.Tensor,
    completion_mask: torch.Tensor,
    *,
    entropy: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Per-token log π(y_t | x, y_<t) of the completions, shape (B, T), zero on padding (with
    gradients); and the per-token entropies when ``entropy``.  Positions follow the attention
    mask, so left padding of the prompts does not shift them."""
    logits = completion_logits(model, prompt_ids, prompt_mask, completion_ids, completion_mask)
    targets = completion_ids.to(logits.device)
    lse = logits.logsumexp(-1)
    tok = logits.gather(-1, targets[..., None]).squeeze(-1) - lse
    mask = completion_mask.to(logits.device).to(tok.dtype)
    ent = None
    if entropy:
        logp = logits - lse[..., None]
        ent = -(logp.exp() * logp).sum(-1) * mask
    return tok * mask, ent


def rollout_token_logps(model: Any, rollout: Rollout, *, batch_size: int = 64,
                        entropy: bool = False) -> Any:
    """Per-token log-probs of a rollout's completions under ``model``, without gradients
    (and the per-token entropies, as a second tensor, with ``entropy``)."""
    was_training = model.training
    model.eval()
    parts, ents = [], []
    try:
        with torch.no_grad():
            for s in range(0, len(rollout), batch_size):
                sl = slice(s, s + batch_size)
                tok, ent = completion_logps(model, rollout.prompt_ids[sl],
                                            rollout.prompt_mask[sl], rollout.completion_ids[sl],
                                            rollout.completion_mask[sl], entropy=entropy)
                parts.append(tok.cpu())
                if ent is not None:
                    ents.append(ent.cpu())
    finally:
        model.train(was_training)
    if entropy:
        return torch.cat(parts), torch.cat(ents)
    return torch.cat(parts)
