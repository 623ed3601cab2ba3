r"""CUT: Contrastive Unlikelihood Training — aligning a language model with written judgments.

Xu et al. 2023, "Reasons to Reject? Aligning Language Models with Judgments".  Each example is an
instruction x, a response y and a natural-language judgment j of it, either positive (the
response is fine) or negative (j says what is wrong).  Per response token t, with p_t =
π(y_t | x, y_<t) and the judgment-conditioned p_t^j = π(y_t | x ⊕ j, y_<t):

* **inappropriate tokens** of a negative example are those the judgment makes much more likely
  (the judgment names them)::

      I = { t : p_t^j / p_t > λ }          (λ ≥ 1, ratios from the current model, no gradient)

* **loss** (summed over tokens)::

      positive judgment  (Align-P):    L = −Σ_t log p_t
      negative judgment  (Align-N):    L = −Σ_{t∉I} log p_t − Σ_{t∈I} log(1 − p_t)
                         (Misalign-N): + γ · (−Σ_t log p_t^j)

  Appropriate tokens keep their likelihood, flagged tokens are pushed down by unlikelihood
  (Welleck et al. 2020), and the response is learnt as what its judgment describes (γ =
  ``misalign_coef``; 0 drops that term).

The catalogue marks the detection rule as uncertain [K]; λ is a hyper-parameter (the paper tunes
it).  Judgments must come from people or an LLM judge (:mod:`prefkit.judge`); ``flagged`` may
also be given directly (e.g. spans a person marked).

**Entry points.** :func:`cut_token_loss` is the loss on (B, T) per-token log-probabilities;
:func:`inappropriate_tokens` the detection rule; :func:`cut_model_loss` computes both on any
Hugging Face causal LM for a batch of (prompt, response, judgment, negative) examples
(prompt ⊕ judgment by :func:`judged_prompt`).  The registry names it ``cut`` with kind
``"token"``: ``prefkit align train`` runs sequence-level losses and refuses it; a CUT training
loop calls :func:`cut_model_loss` per batch (see the seed test).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import torch


class CUTOutput(NamedTuple):
    """Per-example CUT losses and the flagged (inappropriate) token mask used."""

    losses: torch.Tensor
    flagged: torch.Tensor


def inappropriate_tokens(token_logps: torch.Tensor, judged_token_logps: torch.Tensor,
                         mask: torch.Tensor, threshold: float = 1.1) -> torch.Tensor:
    """I = {t : p_t^j / p_t > λ} on response positions (``mask``), without gradient."""
    if threshold < 1.0:
        raise ValueError("the detection threshold λ must be ≥ 1")
    ratio = (judged_token_logps - token_logps).detach()
    return mask.bool() & (ratio > math.log(threshold))


def cut_token_loss(token_logps: torch.Tensor, mask: torch.Tensor, negative: torch.Tensor, *,
                   judged_token_logps: torch.Tensor | None = None,
                   flagged: torch.Tensor | None = None, threshold: float = 1.1,
                   misalign_coef: float = 1.0, eps: float = 1e-6) -> CUTOutput:
    """CUT on (B, T) per-token log-probabilities (module notes).

    ``mask``: response positions; ``negative``: (B,) bool, the judgment is negative;
    ``judged_token_logps``: log p_t^j (needed for detection unless ``flagged`` is given, and for
    the Misalign-N term).  Positive examples are never flagged."""
    mask = mask.bool()
    negative = negative.bool()
    if flagged is None:
        if judged_token_logps is None:
            raise ValueError("CUT needs judged_token_logps or an explicit flagged mask")
        flagged = inappropriate_tokens(token_logps, judged_token_logps, mask, threshold)
    flagged = flagged.bool() & mask & negative[:, None]
    keep = mask & ~flagged
    p = token_logps.exp().clamp(max=1.0 - eps)
    unlikely = -torch.log1p(-p)
    losses = -(token_logps * keep).sum(-1) + (unlikely * flagged).sum(-1)
    if misalign_coef and judged_token_logps is not None:
        losses = losses + misalign_coef * torch.where(
            negative, -(judged_token_logps * mask).sum(-1), torch.zeros_like(losses))
    return CUTOutput(losses, flagged)


def judged_prompt(prompt: str, judgment: str) -> str:
    """The instruction with the judgment in context (for p^j)."""
    return f"{prompt}\n\nJudgment of the answer: {judgment}"


def response_token_logps(model: Any, tokenizer: Any, prompts: Sequence[str],
                         responses: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, T) log π(y_t | prompt, y_<t) of each response token and the response mask; the
    prompt through the chat template (as the trainer does), responses end with EOS."""
    from prefkit.align.pairs import collate_sequences, encode_prompt, encode_response

    p_ids = [encode_prompt(tokenizer, p) for p in prompts]
    r_ids = [encode_response(tokenizer, r) for r in responses]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    batch = collate_sequences(p_ids, r_ids, pad)
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                   use_cache=False).logits[:, :-1].float()
    targets = batch["input_ids"][:, 1:]
    tok = logits.gather(-1, targets[..., None]).squeeze(-1) - logits.logsumexp(-1)
    width = max(len(r) for r in r_ids)
    out = torch.zeros(len(r_ids), width, dtype=tok.dtype)
    mask = torch.zeros(len(r_ids), width, dtype=torch.bool)
    for i, (p, r) in enumerate(zip(p_ids, r_ids, strict=True)):
        out[i, : len(r)] = tok[i, len(p) - 1: len(p) - 1 + len(r)]
        mask[i, : len(r)] = True
    return out, mask


def cut_model_loss(model: Any, tokenizer: Any, examples: Sequence[dict[str, Any]], *,
                   threshold: float = 1.1, misalign_coef: float = 1.0) -> CUTOutput:
    """CUT on a causal LM for ``examples`` (dicts with ``prompt``, ``response``, ``judgment``,
    ``negative``; optional ``flagged``: response token positions to unlikelihood directly)."""
    prompts = [str(e.get("prompt") or "") for e in examples]
    responses = [str(e["response"]) for e in examples]
    negative = torch.tensor([bool(e["negative"]) for e in examples])
    logps, mask = response_token_logps(model, tokenizer, prompts, responses)
    judged = None
    if any(e.get("judgment") for e in examples):
        judged, _ = response_token_logps(
            model, tokenizer, [judged_prompt(p, str(e.get("judgment") or ""))
                               for p, e in zip(prompts, examples, strict=True)], responses)
    flagged = None
    if all("flagged" in e for e in examples):
        flagged = torch.zeros_like(mask)
        for i, e in enumerate(examples):
            for t in e["flagged"]:
                if 0 <= int(t) < mask.shape[1]:
                    flagged[i, int(t)] = True
    return cut_token_loss(logps, mask, negative, judged_token_logps=judged, flagged=flagged,
                          threshold=threshold, misalign_coef=misalign_coef)


__all__ = ["CUTOutput", "cut_model_loss", "cut_token_loss", "inappropriate_tokens",
           "judged_prompt", "response_token_logps"]
