"""Pairwise losses that need per-pair inputs beyond the two responses' log-probabilities.

A loss asks for them by the names of its parameters:

================  ===========================================================  ===============
parameter         what the objective supplies                                   losses
================  ===========================================================  ===============
reward_margin     R(y_w) − R(y_l) from the ``a_reward``/``b_reward`` columns    copg
                  (omitted when the dataset has no such columns)
margin_chosen,    the other objective's reward of each response, from            modpo
margin_rejected   ``a_reward``/``b_reward`` (required)
rationale_logps,  log π(rationale | prompt, chosen, rejected) and its length,   rationale
rationale_length  a forward pass of the policy on the ``rationale`` field
sample_logps,     log π and log π_ref of the ``sample_text`` response (one      selm
ref_sample_logps  reference sample per record; required), reference once
gold_logps,       log π of the ``gold_text`` response and its length (when the  tpo
gold_lengths      dataset has that column; else the loss uses the chosen one)
================  ===========================================================  ===============

Rows follow :func:`~prefkit.align.pairs.text_pairs` (ties dropped unless kept, a/b swapped so
that the chosen response comes first); a missing value is a one-line
:class:`~prefkit.errors.DataError` naming the row and field.  The rationale is scored as the
response to the context built by :func:`rationale_context`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from prefkit.align.objectives.base import to_device
from prefkit.align.objectives.pairwise import PairwiseObjective
from prefkit.align.pairs import (
    TokenPairs,
    collate_sequences,
    encode_prompt,
    encode_response,
    sequence_logps,
)
from prefkit.errors import DataError

REWARD_COLUMNS = ("a_reward", "b_reward")
EXTRA_PARAMETERS = frozenset({"reward_margin", "margin_chosen", "rationale_logps",
                              "sample_logps", "gold_logps"})

Forward = Callable[[dict[str, Any]], tuple[torch.Tensor, torch.Tensor]]


def needs_extras(parameters: set[str]) -> bool:
    """Whether a loss with these parameters needs :class:`ExtrasObjective`."""
    return bool(parameters & EXTRA_PARAMETERS)


@dataclass
class ExtendedPairs(TokenPairs):
    """Token pairs plus per-pair extras: ``rewards`` (n, 2) chosen/rejected rewards, and the
    rationale context / rationale token ids."""

    rewards: np.ndarray | None = None
    rationale_context_ids: list[list[int]] = field(default_factory=list)
    rationale_ids: list[list[int]] = field(default_factory=list)
    sample_ids: list[list[int]] = field(default_factory=list)
    sample_ref_logps: torch.Tensor | None = None
    gold_ids: list[list[int]] = field(default_factory=list)


def rationale_context(prompt: str, chosen: str, rejected: str) -> str:
    """The text the rationale is conditioned on: prompt, preferred and other response."""
    return (f"{prompt}\n\nPreferred response:\n{chosen}\n\nOther response:\n{rejected}\n\n"
            "Why the first is preferred:")


def _source_rows(dataset: Any, keep_ties: bool) -> tuple[Any, list[int], list[bool]]:
    """(pairwise dataset, source row of each pair, whether a/b were swapped) as in text_pairs."""
    if dataset.kind == "ranking":
        dataset = dataset.to_pairs()
    p_a = dataset.outcomes()
    rows, swapped = [], []
    for i, p in enumerate(np.asarray(p_a, dtype=float)):
        if p == 0.5 and not keep_ties:
            continue
        rows.append(i)
        swapped.append(bool(p < 0.5))
    return dataset, rows, swapped


def _rewards(dataset: Any, rows: list[int], swapped: list[bool], *, required: bool,
             loss: str) -> np.ndarray | None:
    if not all(dataset.has(c) for c in REWARD_COLUMNS):
        if required:
            missing = next(c for c in REWARD_COLUMNS if not dataset.has(c))
            raise DataError(f"loss {loss!r} needs the other objective's reward of each response "
                            "in columns a_reward and b_reward", source=dataset.name,
                            field=missing)
        return None
    cols = {c: np.asarray(dataset.column(c), dtype=object) for c in REWARD_COLUMNS}
    out = np.zeros((len(rows), 2))
    for k, (i, sw) in enumerate(zip(rows, swapped, strict=True)):
        for c in REWARD_COLUMNS:
            v = cols[c][i]
            if v is None or not np.isfinite(float(v)):
                raise DataError("missing or non-finite reward", source=dataset.name, row=i,
                                field=c)
        a, b = float(cols["a_reward"][i]), float(cols["b_reward"][i])
        out[k] = (b, a) if sw else (a, b)
    return out


class ExtrasObjective(PairwiseObjective):
    """:class:`PairwiseObjective` for copg / modpo / rationale: the extras of the table above."""

    def attach_extras(self, tokenizer: Any, dataset: Any, pairs: TokenPairs, *,
                      keep_ties: bool) -> ExtendedPairs:
        params, name = self.spec.parameters, self.spec.name
        source, rows, swapped = _source_rows(dataset, keep_ties)
        if len(rows) != len(pairs):  # text_pairs and this walk disagree: never expected
            raise DataError(f"loss {name!r}: {len(rows)} rows for {len(pairs)} pairs",
                            source=dataset.name)
        out = ExtendedPairs(**vars(pairs))
        if "reward_margin" in params or "margin_chosen" in params:
            out.rewards = _rewards(source, rows, swapped, required="margin_chosen" in params,
                                   loss=name)
        if "rationale_logps" in params:
            self._rationales(tokenizer, source, rows, swapped, out)
        if "sample_logps" in params:
            self._samples(tokenizer, source, rows, out)
        if "gold_logps" in params and source.has("gold_text"):
            self._golds(tokenizer, source, rows, out)
        return out

    def _golds(self, tokenizer: Any, dataset: Any, rows: list[int], out: ExtendedPairs) -> None:
        """TPO's gold response per pair, from the ``gold_text`` column (every row needs one)."""
        golds = dataset.column("gold_text")
        for k, i in enumerate(rows):
            if golds[i] is None or not str(golds[i]).strip():
                raise DataError("missing gold response", source=dataset.name, row=i,
                                field="gold_text")
            room = max(self.config.max_length - len(out.prompt_ids[k]), 1)
            out.gold_ids.append(encode_response(tokenizer, str(golds[i]))[:room])

    def _samples(self, tokenizer: Any, dataset: Any, rows: list[int],
                 out: ExtendedPairs) -> None:
        if not dataset.has("sample_text"):
            raise DataError(f"loss {self.spec.name!r} needs a response sampled from the "
                            "reference for every pair", source=dataset.name, field="sample_text")
        samples = dataset.column("sample_text")
        for k, i in enumerate(rows):
            if samples[i] is None:
                raise DataError("missing sample", source=dataset.name, row=i,
                                field="sample_text")
            room = max(self.config.max_length - len(out.prompt_ids[k]), 1)
            out.sample_ids.append(encode_response(tokenizer, str(samples[i]))[:room])

    def reference(self, runtime: Any, data: TokenPairs,
                  cache: Any) -> tuple[torch.Tensor | None, ...]:
        """The pairs' reference log-probs and, for selm, those of the samples (kept on data)."""
        refs = super().reference(runtime, data, cache)
        if isinstance(data, ExtendedPairs) and data.sample_ids:
            samples = TokenPairs(data.prompt_ids, data.sample_ids, data.sample_ids, data.p,
                                 data.weights)
            data.sample_ref_logps = runtime.reference_logps(samples, None)[0]
        return refs

    def _rationales(self, tokenizer: Any, dataset: Any, rows: list[int], swapped: list[bool],
                    out: ExtendedPairs) -> None:
        if not dataset.has("rationale"):
            raise DataError(f"loss {self.spec.name!r} needs a rationale for every pair",
                            source=dataset.name, field="rationale")
        rat, a, b = (dataset.column(c) for c in ("rationale", "a_text", "b_text"))
        prompts = dataset.column("prompt") if dataset.has("prompt") else [None] * len(dataset)
        cfg = self.config
        for i, sw in zip(rows, swapped, strict=True):
            if rat[i] is None or not str(rat[i]).strip():
                raise DataError("missing rationale", source=dataset.name, row=i,
                                field="rationale")
            chosen, rejected = (b[i], a[i]) if sw else (a[i], b[i])
            context = rationale_context("" if prompts[i] is None else str(prompts[i]),
                                        str(chosen), str(rejected))
            ctx = encode_prompt(tokenizer, context)[-cfg.max_prompt_length:]
            room = max(cfg.max_length - len(ctx), 1)
            out.rationale_context_ids.append(ctx)
            out.rationale_ids.append(encode_response(tokenizer, str(rat[i]))[:room])

    def extra_inputs(self, data: TokenPairs, index: np.ndarray, forward: Forward,
                     device: torch.device, *, pad_id: int,
                     batch_size: int | None = None) -> dict[str, Any]:
        if not isinstance(data, ExtendedPairs):
            return {}
        idx = np.asarray(index)
        inputs: dict[str, Any] = {}
        if data.rewards is not None:
            r = torch.as_tensor(data.rewards[idx], dtype=torch.float32, device=device)
            if "margin_chosen" in self.spec.parameters:
                inputs["margin_chosen"], inputs["margin_rejected"] = r[:, 0], r[:, 1]
            else:
                inputs["reward_margin"] = r[:, 0] - r[:, 1]
        if data.rationale_ids:
            inputs["rationale_logps"], inputs["rationale_lengths"] = self._logps(
                data.rationale_context_ids, data.rationale_ids, idx, forward, device,
                pad_id=pad_id, batch_size=batch_size)
        if data.sample_ids and data.sample_ref_logps is not None:  # training (see reference)
            inputs["sample_logps"], _ = self._logps(data.prompt_ids, data.sample_ids, idx,
                                                    forward, device, pad_id=pad_id,
                                                    batch_size=batch_size)
            inputs["ref_sample_logps"] = data.sample_ref_logps[torch.as_tensor(idx)].to(device)
        if data.gold_ids:
            inputs["gold_logps"], inputs["gold_lengths"] = self._logps(
                data.prompt_ids, data.gold_ids, idx, forward, device, pad_id=pad_id,
                batch_size=batch_size)
        return inputs

    def _logps(self, prompts: list[list[int]], responses: list[list[int]], idx: np.ndarray,
               forward: Forward, device: torch.device, *, pad_id: int,
               batch_size: int | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Summed log-probs and lengths of ``responses[i]`` after ``prompts[i]``, i in idx."""
        logps, lengths = [], []
        step = batch_size or len(idx)
        for start in range(0, len(idx), step):
            part = idx[start:start + step]
            batch = collate_sequences([prompts[i] for i in part], [responses[i] for i in part],
                                      pad_id, packing=self.config.packing and batch_size is None)
            lp, ln = forward(to_device(batch, device))
            logps.append(lp.float())
            lengths.append(ln)
        return torch.cat(logps), torch.cat(lengths)


def no_grad_forward(model: Any) -> Forward:
    """Sequence log-probs of ``model`` without gradients (for evaluation)."""
    def forward(batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            logps, lengths = sequence_logps(model, batch)[:2]
        return logps.double(), lengths
    return forward
