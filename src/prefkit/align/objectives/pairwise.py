"""The pairwise objective: every registered pairwise loss on (prompt, chosen, rejected) pairs.

One forward pass per micro-batch covers the concatenation [chosen; rejected]; the loss is the
weighted mean of the per-pair losses ℓ_i (``weight`` column), ℓ_i = the loss of
:mod:`prefkit.align.losses` on the summed response log-probs (policy, reference where the loss
has one), lengths and soft labels p_i = P(chosen ≻ rejected).  ``nll_coef`` adds the RPO term.
Paired KTO takes its reference point z0 from mismatched pairs of the micro-batch
(:mod:`~prefkit.align.objectives.kto_reference`).

Statistics: the implicit rewards of the chosen and rejected responses and their log-probs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from prefkit.align.diagnostics import (
    _pad_id,
    idealized_ranking_accuracy,
    implicit_reward_accuracy,
    ranking_accuracy,
)
from prefkit.align.objectives.base import (
    BaseObjective,
    MicroBatch,
    Runtime,
    Stats,
    to_device,
    weighted_mean,
)
from prefkit.align.objectives.kto_reference import whole_set_z0
from prefkit.align.pairs import TokenPairs, collate, pair_logps, text_pairs, tokenize_pairs


class PairwiseObjective(BaseObjective):
    """Pairs; reference log-probs (chosen, rejected) computed once."""

    entry_point = "batch_loss"

    def prepare(self, tokenizer: Any, dataset: Any) -> TokenPairs:
        """Tokenised pairs (ties kept as p = ½ for soft-label losses unless ``keep_ties``)."""
        keep_ties = self.config.keep_ties
        if keep_ties is None:
            keep_ties = "p" in self.spec.parameters
        pairs = tokenize_pairs(tokenizer, text_pairs(dataset, keep_ties=keep_ties),
                               max_length=self.config.max_length,
                               max_prompt_length=self.config.max_prompt_length)
        return self.attach_extras(tokenizer, dataset, pairs, keep_ties=keep_ties)

    def attach_extras(self, tokenizer: Any, dataset: Any, pairs: TokenPairs, *,
                      keep_ties: bool) -> TokenPairs:
        """Per-pair data beyond the texts (none here; see :mod:`.extras`)."""
        return pairs

    def extra_inputs(self, data: TokenPairs, index: np.ndarray, forward: Any,
                     device: torch.device, *, pad_id: int,
                     batch_size: int | None = None) -> dict[str, Any]:
        """Loss inputs beyond the log-probs for the pairs ``index`` (none here)."""
        return {}

    def reference(self, runtime: Runtime, data: TokenPairs,
                  cache: str | Path | None) -> tuple[torch.Tensor | None, ...]:
        if not self.spec.needs_reference:
            return None, None
        return runtime.reference_logps(data, cache)

    def loss(
        self,
        runtime: Runtime,
        data: TokenPairs,
        index: np.ndarray,
        *refs: torch.Tensor | None,
        denominator: torch.Tensor | None = None,
        micro: MicroBatch | None = None,
    ) -> tuple[torch.Tensor, Stats]:
        cfg = self.config
        batch = to_device(collate(data, index, runtime.pad_id, packing=cfg.packing),
                          runtime.device)
        logps, lengths = runtime.forward(batch)
        logps = logps.float()
        n = len(index)
        inputs: dict[str, Any] = {
            "policy_chosen_logps": logps[:n],
            "policy_rejected_logps": logps[n:],
            "chosen_lengths": lengths[:n],
            "rejected_lengths": lengths[n:],
            "p": batch["p"],
        }
        if self.spec.needs_reference:
            ref_chosen, ref_rejected = (*refs, None, None)[:2]
            if ref_chosen is None or ref_rejected is None:
                raise ValueError(f"loss {self.spec.name!r} needs reference log-probabilities")
            idx = torch.as_tensor(index)
            inputs["ref_chosen_logps"] = ref_chosen[idx].to(runtime.device)
            inputs["ref_rejected_logps"] = ref_rejected[idx].to(runtime.device)
        inputs.update(self.extra_inputs(data, index, runtime.forward, runtime.device,
                                        pad_id=runtime.pad_id))
        if self.kl is not None:
            inputs["z0"] = self.z0(runtime, data, index, micro)
        out = self.spec(beta=cfg.beta, nll_coef=cfg.nll_coef, **cfg.loss_params, **inputs)
        loss = weighted_mean(out.losses, batch["weights"], denominator)
        stats = {
            "loss": out.losses.detach(),
            "chosen_rewards": out.chosen_rewards.detach(),
            "rejected_rewards": out.rejected_rewards.detach(),
            "chosen_logps": logps[:n].detach(),
            "rejected_logps": logps[n:].detach(),
        }
        return loss, stats

    def evaluate(self, model: Any, tokenizer: Any, dataset: Any, *,
                 reference_model: Any | None) -> dict[str, Any]:
        """``{"implicit_reward_accuracy", "ranking_accuracy", "loss", "n"}`` (+ idealized RA
        with a reference model); reference-free losses judge by their own rewards."""
        cfg, spec = self.config, self.spec
        keep_ties = "p" in spec.parameters
        pairs = tokenize_pairs(tokenizer, text_pairs(dataset, keep_ties=keep_ties),
                               max_length=cfg.max_length,
                               max_prompt_length=cfg.max_prompt_length)
        pairs = self.attach_extras(tokenizer, dataset, pairs, keep_ties=keep_ties)
        pad, bs = _pad_id(tokenizer), cfg.ref_batch_size
        pol = pair_logps(model, pairs, pad_id=pad, batch_size=bs)
        inputs: dict[str, Any] = {
            "policy_chosen_logps": pol["chosen"].double(),
            "policy_rejected_logps": pol["rejected"].double(),
            "chosen_lengths": pol["chosen_lengths"],
            "rejected_lengths": pol["rejected_lengths"],
            "p": torch.as_tensor(pairs.p, dtype=torch.float64),
        }
        from prefkit.align.objectives.extras import no_grad_forward

        inputs.update(self.extra_inputs(pairs, np.arange(len(pairs)), no_grad_forward(model),
                                        next(model.parameters()).device, pad_id=pad,
                                        batch_size=bs))
        result: dict[str, Any] = {}
        if reference_model is not None:
            ref = pair_logps(reference_model, pairs, pad_id=pad, batch_size=bs)
            inputs["ref_chosen_logps"] = ref["chosen"].double()
            inputs["ref_rejected_logps"] = ref["rejected"].double()
            result["idealized_ranking_accuracy"] = idealized_ranking_accuracy(
                ref["chosen"].numpy(), ref["rejected"].numpy(), pairs.p, cfg.beta)
        elif spec.needs_reference:
            raise ValueError(f"loss {spec.name!r} needs a reference model to evaluate")
        params = dict(cfg.loss_params)
        if self.kl is not None and reference_model is not None:
            # KTO's reference point over the whole evaluation set, from mismatched pairs
            params["z0"] = whole_set_z0(model, reference_model, pairs, pad_id=pad, batch_size=bs)
        with torch.no_grad():
            out = spec(beta=cfg.beta, **params, **inputs)
        if reference_model is not None:
            acc = implicit_reward_accuracy(inputs["policy_chosen_logps"],
                                           inputs["policy_rejected_logps"],
                                           inputs["ref_chosen_logps"],
                                           inputs["ref_rejected_logps"])
        else:
            acc = float((out.chosen_rewards > out.rejected_rewards).double().mean())
        w = torch.as_tensor(pairs.weights, dtype=torch.float64)
        result.update({
            "implicit_reward_accuracy": acc,
            "ranking_accuracy": ranking_accuracy(pol["chosen"], pol["rejected"]),
            "loss": float((out.losses * w).sum() / w.sum()),
            "n": len(pairs),
        })
        return result
