"""Log-likelihoods of continuations under any causal language model (for the LM-based scorers).

Two conventions, the second the same as the alignment trainer's (:mod:`prefkit.align.pairs`), so
that a reward computed here equals the one computed there on the same model:

* :func:`response_logps` — log π(y|x) of a *response*: the prompt goes through the tokenizer's
  chat template (one user turn plus the generation prompt) and the response ends with EOS;
* :func:`continuation_logps` — log p(c | context) of any token continuation after any context.

Everything runs without gradients in padded batches; ``torch`` and ``transformers`` are imported
only here (``pip install 'prefkit[align]'``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def prompt_ids(tokenizer: Any, prompt: str) -> list[int]:
    """Prompt ids, through the chat template when the tokenizer has one (as the trainer does)."""
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template([{"role": "user", "content": prompt}],
                                             tokenize=False, add_generation_prompt=True)
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])
    ids = list(tokenizer(prompt, add_special_tokens=True)["input_ids"])
    if tokenizer.eos_token_id is not None and ids and ids[-1] == tokenizer.eos_token_id:
        ids = ids[:-1]
    return ids


def response_ids(tokenizer: Any, response: str) -> list[int]:
    """Response ids followed by EOS."""
    ids = list(tokenizer(response, add_special_tokens=False)["input_ids"])
    if tokenizer.eos_token_id is not None:
        ids.append(tokenizer.eos_token_id)
    return ids


def _pad_id(tokenizer: Any) -> int:
    pad = tokenizer.pad_token_id
    return int(pad if pad is not None else (tokenizer.eos_token_id or 0))


def continuation_logps(
    model: Any,
    contexts: Sequence[Sequence[int]],
    continuations: Sequence[Sequence[int]],
    *,
    pad_id: int = 0,
    batch_size: int = 16,
) -> tuple[np.ndarray, np.ndarray]:
    """(Σ_t log p(c_t | context, c_<t), |c|) per row, as float64 arrays."""
    import torch

    device = next(model.parameters()).device
    was_training = getattr(model, "training", False)
    model.eval()
    sums, lengths = [], []
    try:
        for start in range(0, len(contexts), batch_size):
            ctx = contexts[start:start + batch_size]
            cont = continuations[start:start + batch_size]
            rows = [list(a) + list(c) for a, c in zip(ctx, cont, strict=True)]
            width = max(len(r) for r in rows)
            ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
            attention = torch.zeros((len(rows), width), dtype=torch.long)
            target = torch.zeros((len(rows), width), dtype=torch.bool)
            for k, (a, c) in enumerate(zip(ctx, cont, strict=True)):
                ids[k, :len(a) + len(c)] = torch.tensor(list(a) + list(c), dtype=torch.long)
                attention[k, :len(a) + len(c)] = 1
                target[k, max(len(a), 1):len(a) + len(c)] = True
            with torch.no_grad():
                logits = model(input_ids=ids.to(device),
                               attention_mask=attention.to(device)).logits.double()
            logp = torch.log_softmax(logits[:, :-1], dim=-1).gather(
                -1, ids[:, 1:, None].to(device)).squeeze(-1)
            mask = target[:, 1:].to(device)
            sums.append((logp * mask).sum(-1).cpu().numpy())
            lengths.append(mask.sum(-1).cpu().numpy())
    finally:
        model.train(was_training)
    return np.concatenate(sums), np.concatenate(lengths).astype(float)


def response_logps(
    model: Any, tokenizer: Any, prompts: Sequence[str | None], responses: Sequence[str], *,
    batch_size: int = 16,
) -> tuple[np.ndarray, np.ndarray]:
    """(log π(y|x), |y|) per (prompt, response), in the trainer's convention (module docstring)."""
    cache: dict[str, list[int]] = {}
    ctx = []
    for p in prompts:
        key = "" if p is None else str(p)
        if key not in cache:
            cache[key] = prompt_ids(tokenizer, key)
        ctx.append(cache[key])
    cont = [response_ids(tokenizer, str(r)) for r in responses]
    return continuation_logps(model, ctx, cont, pad_id=_pad_id(tokenizer), batch_size=batch_size)
