"""Preference data → tokenised (prompt, chosen, rejected) triples → padded model batches.

Pairwise records are read with ``winner`` (``a``/``b``; ``b`` swaps the two texts) or a soft label
``p_a``; the chosen response is the one with P ≥ ½ and ``p`` keeps P(chosen ≻ rejected) for losses
that use it.  Ties carry no direction: they are dropped unless ``keep_ties`` (then p = ½).

Prompts go through the tokenizer's chat template when it has one (one user turn plus the
generation prompt); responses are tokenised on their own and end with the EOS token.  Only
response tokens count in the loss.

A batch is either padded rows (one per sequence) or, with ``packing=True``, one padding-free row
of concatenated sequences whose ``position_ids`` restart at 0 for each (see
:func:`collate_sequences`); :func:`sequence_logps` sums log-probs per sequence either way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from prefkit.errors import DataError


@dataclass
class TextPairs:
    """Prompt, chosen and rejected texts, P(chosen ≻ rejected) and a weight per pair."""

    prompts: list[str]
    chosen: list[str]
    rejected: list[str]
    p: np.ndarray
    weights: np.ndarray

    def __len__(self) -> int:
        return len(self.prompts)


def pair_rows(dataset: Any) -> Iterator[tuple[str, str, str, float, float]]:
    """(prompt, a_text, b_text, P(a ≻ b), weight) of each record of a pairwise dataset, checked.

    A missing text or outcome is a :class:`~prefkit.errors.DataError` naming the row.
    """
    for col in ("a_text", "b_text"):
        if not dataset.has(col):
            raise DataError("alignment needs response texts", source=dataset.name, field=col)
    a = dataset.column("a_text")
    b = dataset.column("b_text")
    prompts = dataset.column("prompt") if dataset.has("prompt") else np.full(len(dataset), "")
    p_a = dataset.outcomes()
    weights = np.asarray(dataset.weights(), dtype=float)
    for i in range(len(dataset)):
        if a[i] is None or b[i] is None:
            raise DataError("missing response text", source=dataset.name, row=i,
                            field="a_text" if a[i] is None else "b_text")
        p = float(p_a[i])
        if np.isnan(p):
            raise DataError("no outcome (winner or p_a)", source=dataset.name, row=i)
        prompt = "" if prompts[i] is None else str(prompts[i])
        yield prompt, str(a[i]), str(b[i]), p, float(weights[i])


def text_pairs(dataset: Any, *, keep_ties: bool = False) -> TextPairs:
    """Chosen/rejected texts of a pairwise dataset (rankings are broken into pairs first)."""
    if dataset.kind == "ranking":
        dataset = dataset.to_pairs()
    if dataset.kind != "pairwise":
        hint = (" (unpaired desirable/undesirable labels train with --loss kto)"
                if dataset.kind == "rating" else "")
        raise DataError(f"alignment needs pairwise data, this dataset is {dataset.kind}{hint}",
                        source=dataset.name)
    out = TextPairs([], [], [], np.zeros(0), np.zeros(0))
    ps, ws = [], []
    for prompt, a, b, p, weight in pair_rows(dataset):
        if p == 0.5 and not keep_ties:
            continue
        first = p >= 0.5
        out.prompts.append(prompt)
        out.chosen.append(a if first else b)
        out.rejected.append(b if first else a)
        ps.append(p if first else 1.0 - p)
        ws.append(weight)
    if not out.prompts:
        raise DataError("no usable preference pairs (all ties?)", source=dataset.name)
    out.p, out.weights = np.asarray(ps), np.asarray(ws)
    return out


@dataclass
class TokenPairs:
    """Token ids per pair: prompt, chosen response, rejected response (responses end with EOS)."""

    prompt_ids: list[list[int]]
    chosen_ids: list[list[int]]
    rejected_ids: list[list[int]]
    p: np.ndarray
    weights: np.ndarray

    def __len__(self) -> int:
        return len(self.prompt_ids)

    def fingerprint(self) -> str:
        """A hash of every token id (to check that cached reference log-probs still match)."""
        h = hashlib.sha256()
        for group in (self.prompt_ids, self.chosen_ids, self.rejected_ids):
            for ids in group:
                h.update(np.asarray(ids, dtype=np.int64).tobytes())
                h.update(b"|")
        return h.hexdigest()


def encode_prompt(tokenizer: Any, prompt: str) -> list[int]:
    """Prompt ids, through the chat template when the tokenizer has one."""
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
        )
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])
    ids = list(tokenizer(prompt, add_special_tokens=True)["input_ids"])
    if tokenizer.eos_token_id is not None and ids and ids[-1] == tokenizer.eos_token_id:
        ids = ids[:-1]
    return ids


def encode_response(tokenizer: Any, response: str) -> list[int]:
    ids = list(tokenizer(response, add_special_tokens=False)["input_ids"])
    if tokenizer.eos_token_id is not None:
        ids.append(tokenizer.eos_token_id)
    return ids


def tokenize_pairs(
    tokenizer: Any, pairs: TextPairs, *, max_length: int = 512, max_prompt_length: int = 256
) -> TokenPairs:
    """Tokenise; prompts keep their last ``max_prompt_length`` tokens, responses are cut so that
    prompt + response ≤ ``max_length``."""
    out = TokenPairs([], [], [], pairs.p, pairs.weights)
    cache: dict[str, list[int]] = {}
    for prompt, chosen, rejected in zip(pairs.prompts, pairs.chosen, pairs.rejected, strict=True):
        if prompt not in cache:
            cache[prompt] = encode_prompt(tokenizer, prompt)[-max_prompt_length:]
        p_ids = cache[prompt]
        room = max(max_length - len(p_ids), 1)
        out.prompt_ids.append(p_ids)
        out.chosen_ids.append(encode_response(tokenizer, chosen)[:room])
        out.rejected_ids.append(encode_response(tokenizer, rejected)[:room])
    return out


def native_packing() -> bool:
    """Whether the installed transformers builds the block-diagonal causal mask by itself from
    packed ``position_ids`` when ``attention_mask`` is None (it has
    ``masking_utils.find_packed_sequence_indices``; transformers 5.25 does)."""
    try:
        from transformers.masking_utils import find_packed_sequence_indices  # noqa: F401
    except ImportError:
        return False
    return True


def collate_sequences(
    prompts: list[list[int]],
    responses: list[list[int]],
    pad_id: int,
    *,
    packing: bool = False,
) -> dict[str, Any]:
    """Model inputs for the sequences ``prompts[s] + responses[s]`` (s = 0 … S−1).

    Padded (default): one row per sequence, right-padded, with ``attention_mask``.

    Packed (``packing=True``): the S sequences are concatenated into **one row without padding**;
    ``position_ids`` restart at 0 for every sequence and ``seq_ids`` names each token's sequence.
    Attention must stay inside each sequence: recent transformers derive the block-diagonal causal
    mask from the restarting ``position_ids`` (then ``attention_mask`` is None); otherwise a 4-D
    additive mask ``M[q, k] = 0 if seq(q) = seq(k) and k ≤ q else −inf`` is built here.  The first
    token of every sequence is never a target (as in a padded row, where position 0 predicts
    nothing), so the last token of sequence s never predicts the first one of s + 1.

    ``loss_mask`` marks response tokens (the positions whose log-probabilities count).
    """
    rows = [prompt + resp for prompt, resp in zip(prompts, responses, strict=True)]
    masks = [[0] * len(prompt) + [1] * len(resp)
             for prompt, resp in zip(prompts, responses, strict=True)]
    if packing:
        lengths = torch.tensor([len(r) for r in rows])
        flat = [t for r in rows for t in r]
        seq_ids = torch.repeat_interleave(torch.arange(len(rows)), lengths)
        starts = torch.cumsum(lengths, 0) - lengths
        position_ids = torch.arange(len(flat)) - starts[seq_ids]
        loss_mask = torch.tensor([m for ms in masks for m in ms], dtype=torch.bool)
        loss_mask &= position_ids > 0
        out: dict[str, Any] = {
            "input_ids": torch.tensor(flat, dtype=torch.long)[None],
            "position_ids": position_ids[None],
            "seq_ids": seq_ids[None],
            "loss_mask": loss_mask[None],
            "attention_mask": None,
        }
        if not native_packing():
            same = seq_ids[:, None] == seq_ids[None, :]
            causal = torch.ones(len(flat), len(flat), dtype=torch.bool).tril()
            blocked = torch.zeros(len(flat), len(flat))
            blocked.masked_fill_(~(same & causal), torch.finfo(torch.float32).min)
            out["attention_mask"] = blocked[None, None]
        return out
    width = max(len(r) for r in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(rows), width), dtype=torch.long)
    loss_mask = torch.zeros((len(rows), width), dtype=torch.bool)
    for k, (r, m) in enumerate(zip(rows, masks, strict=True)):
        input_ids[k, : len(r)] = torch.tensor(r)
        attention[k, : len(r)] = 1
        loss_mask[k, : len(m)] = torch.tensor(m, dtype=torch.bool)
    return {"input_ids": input_ids, "attention_mask": attention, "loss_mask": loss_mask}


def collate(
    pairs: TokenPairs, index: np.ndarray | list[int], pad_id: int, *, packing: bool = False
) -> dict[str, Any]:
    """One batch: sequences [chosen_0 … chosen_{B−1}, rejected_0 … rejected_{B−1}], padded rows
    or (``packing=True``) one packed row (see :func:`collate_sequences`).

    ``loss_mask`` marks response tokens (the positions whose log-probabilities count).
    """
    # a per-side prompt for the rejected response where the pairs carry one (DOVE/JPO)
    rejected_prompts = getattr(pairs, "rejected_prompt_ids", None) or pairs.prompt_ids
    prompts = [pairs.prompt_ids[i] for i in index] + [rejected_prompts[i] for i in index]
    responses = [pairs.chosen_ids[i] for i in index] + [pairs.rejected_ids[i] for i in index]
    out = collate_sequences(prompts, responses, pad_id, packing=packing)
    idx = np.asarray(index)
    out["p"] = torch.as_tensor(pairs.p[idx], dtype=torch.float32)
    out["weights"] = torch.as_tensor(pairs.weights[idx], dtype=torch.float32)
    return out


def _decoder_and_head(model: Any) -> tuple[Any, Any] | None:
    """(decoder without LM head, LM head) when the model exposes them, else None."""
    try:
        decoder = model.get_decoder()
        head = model.get_output_embeddings()
    except (AttributeError, NotImplementedError):
        return None
    if decoder is None or head is None or decoder is model:
        return None
    return decoder, head


def sequence_logps(
    model: Any, batch: dict[str, torch.Tensor], *, hidden: bool = False
) -> tuple[torch.Tensor, torch.Tensor] | tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Summed response log-probabilities and response lengths per row of a collated batch.

    The LM head runs only on the positions that predict response tokens (when the model exposes
    its decoder and head), and log-probabilities come from ``gather − logsumexp`` — no full
    vocabulary-sized log-softmax is kept.  With ``hidden=True`` also returns the per-row sum of
    the last hidden states at those positions (for CHES scores).
    """
    input_ids, attention = batch["input_ids"], batch["attention_mask"]
    target_mask = batch["loss_mask"][:, 1:]
    targets = input_ids[:, 1:]
    packed = "seq_ids" in batch
    extra: dict[str, Any] = {}
    if packed:  # one row of several sequences: sum per sequence, not per row
        extra["position_ids"] = batch["position_ids"]
        row_of = batch["seq_ids"][:, 1:][target_mask]
        n = int(batch["seq_ids"].max()) + 1
    else:
        rows = torch.arange(input_ids.shape[0], device=input_ids.device)
        row_of = rows[:, None].expand_as(target_mask)[target_mask]
        n = input_ids.shape[0]
    parts = _decoder_and_head(model)
    if parts is not None:
        decoder, head = parts
        h = decoder(input_ids=input_ids, attention_mask=attention, use_cache=False, **extra)
        h = h.last_hidden_state if hasattr(h, "last_hidden_state") else h[0]
        h_sel = h[:, :-1][target_mask]
        logits = head(h_sel).float()
    else:
        out = model(input_ids=input_ids, attention_mask=attention, use_cache=False,
                    output_hidden_states=hidden, **extra)
        logits = out.logits[:, :-1][target_mask].float()
        h_sel = out.hidden_states[-1][:, :-1][target_mask] if hidden else None
    tok = logits.gather(-1, targets[target_mask][:, None]).squeeze(-1) - logits.logsumexp(-1)
    logps = torch.zeros(n, dtype=tok.dtype, device=tok.device).index_add(0, row_of, tok)
    lengths = torch.bincount(row_of, minlength=n) if packed else target_mask.sum(-1)
    if hidden:
        assert h_sel is not None
        sums = torch.zeros(n, h_sel.shape[-1], dtype=h_sel.dtype, device=h_sel.device)
        return logps, lengths, sums.index_add(0, row_of, h_sel)
    return logps, lengths


def mismatched_pairs(pairs: TokenPairs) -> TokenPairs:
    """KTO's mismatched (x_j, y_{j−1}) examples of ``pairs`` as a :class:`TokenPairs`.

    The 2N examples are ordered [chosen_0 … chosen_{N−1}, rejected_0 … rejected_{N−1}] and each
    prompt meets the previous example's response, cyclically (Ethayarajh et al. 2024, §4.2; the
    rotation of :meth:`AlignTrainer.kto_reference_point`): "chosen" slot i holds (x_i, y_{i−1}),
    "rejected" slot i holds (x_i, y_{N+i−1}).
    """
    responses = list(pairs.chosen_ids) + list(pairs.rejected_ids)
    rotated = responses[-1:] + responses[:-1]
    n = len(pairs)
    return TokenPairs(list(pairs.prompt_ids), rotated[:n], rotated[n:], pairs.p, pairs.weights)


@torch.no_grad()
def pair_logps(
    model: Any,
    pairs: TokenPairs,
    *,
    pad_id: int,
    batch_size: int = 32,
    hidden: bool = False,
    autocast_dtype: torch.dtype | None = None,
    advance: Callable[[int], None] | None = None,
) -> dict[str, torch.Tensor]:
    """Summed log-probs (and lengths; hidden sums with ``hidden``) of every chosen and rejected
    response, in pair order, without gradients (``advance(k)`` after each batch of k pairs)."""
    was_training = getattr(model, "training", False)
    model.eval()
    device = next(model.parameters()).device
    keys = ["chosen", "rejected", "chosen_lengths", "rejected_lengths"]
    if hidden:
        keys += ["chosen_hidden", "rejected_hidden"]
    parts: dict[str, list[torch.Tensor]] = {k: [] for k in keys}
    try:
        for start in range(0, len(pairs), batch_size):
            idx = np.arange(start, min(start + batch_size, len(pairs)))
            batch = {k: v.to(device) for k, v in collate(pairs, idx, pad_id).items()}
            with torch.autocast(device.type, dtype=autocast_dtype or torch.bfloat16,
                                enabled=autocast_dtype is not None):
                res = sequence_logps(model, batch, hidden=hidden)
            n = len(idx)
            parts["chosen"].append(res[0][:n].float().cpu())
            parts["rejected"].append(res[0][n:].float().cpu())
            parts["chosen_lengths"].append(res[1][:n].cpu())
            parts["rejected_lengths"].append(res[1][n:].cpu())
            if hidden:
                parts["chosen_hidden"].append(res[2][:n].float().cpu())
                parts["rejected_hidden"].append(res[2][n:].float().cpu())
            if advance is not None:
                advance(n)
    finally:
        model.train(was_training)
    return {k: torch.cat(v) for k, v in parts.items()}
