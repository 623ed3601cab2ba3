"""The listwise objective: Plackett–Luce DPO and LiPO-λ on ranked lists of K responses.

One forward pass covers all responses of every list of the micro-batch; their summed log-probs
are scattered into (B, K_max) grids with a mask for shorter lists, and the loss is the weighted
mean of the per-list losses of :mod:`prefkit.align.losses.listwise`.

Statistics are per ordered pair (ψ_i > ψ_j) of each list: ``chosen_rewards`` = s_i,
``rejected_rewards`` = s_j with s = β·log π/π_ref; ``chosen_logps`` are the best responses',
``rejected_logps`` the others'.  Evaluation judges a run by the same listwise loss and counts
the accuracies over those ordered pairs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from prefkit.align.diagnostics import _pad_id
from prefkit.align.lists import (
    TokenLists,
    collate_lists,
    list_logps,
    text_lists,
    to_grid,
    tokenize_lists,
)
from prefkit.align.objectives.base import (
    BaseObjective,
    MicroBatch,
    Runtime,
    Stats,
    to_device,
    weighted_mean,
)


class ListwiseObjective(BaseObjective):
    """Ranked lists (rankings with texts, or pairs grouped by prompt); flat reference log-probs."""

    entry_point = "list_batch_loss"

    def _tokenize(self, tokenizer: Any, dataset: Any) -> TokenLists:
        return tokenize_lists(tokenizer, text_lists(dataset), max_length=self.config.max_length,
                              max_prompt_length=self.config.max_prompt_length)

    def prepare(self, tokenizer: Any, dataset: Any) -> TokenLists:
        return self._tokenize(tokenizer, dataset)

    def reference(self, runtime: Runtime, data: TokenLists,
                  cache: str | Path | None) -> tuple[torch.Tensor | None, ...]:
        if not self.spec.needs_reference:
            return (None,)
        return (runtime.reference_list_logps(data, cache),)

    def loss(
        self,
        runtime: Runtime,
        data: TokenLists,
        index: np.ndarray,
        *refs: torch.Tensor | None,
        denominator: torch.Tensor | None = None,
        micro: MicroBatch | None = None,
    ) -> tuple[torch.Tensor, Stats]:
        cfg = self.config
        batch = to_device(collate_lists(data, index, runtime.pad_id, packing=cfg.packing),
                          runtime.device)
        logps, lengths = runtime.forward(batch)
        mask = batch["mask"]
        policy = to_grid(logps.float(), mask)
        ref_logps = refs[0] if refs else None
        if ref_logps is None and self.spec.needs_reference:
            raise ValueError(f"loss {self.spec.name!r} needs reference log-probabilities")
        ref = (torch.zeros_like(policy) if ref_logps is None  # reference-free (pro)
               else to_grid(ref_logps[batch["flat"].cpu()].to(runtime.device), mask))
        labels = batch["labels"]
        out = self.spec(beta=cfg.beta, **cfg.loss_params,
                        policy_logps=policy, ref_logps=ref, labels=labels, mask=mask,
                        lengths=to_grid(lengths.float(), mask))
        loss = weighted_mean(out.losses, batch["weights"], denominator)
        s = (cfg.beta * (policy - ref)).detach()
        better = (labels[:, :, None] > labels[:, None, :]) & mask[:, :, None] & mask[:, None, :]
        b, i, j = better.nonzero(as_tuple=True)
        stats = {
            "loss": out.losses.detach(),
            "chosen_rewards": s[b, i],
            "rejected_rewards": s[b, j],
            "chosen_logps": policy[:, 0].detach(),
            "rejected_logps": policy[:, 1:][mask[:, 1:]].detach(),
        }
        return loss, stats

    def evaluate(self, model: Any, tokenizer: Any, dataset: Any, *,
                 reference_model: Any | None) -> dict[str, Any]:
        """``loss``: the weighted mean listwise loss over the lists; the accuracies count the
        ordered pairs (ψ_i > ψ_j) of every list — implicit reward β·log π/π_ref and log π
        alone ranking y_i above y_j; ``n``: those pairs, ``lists``: the lists."""
        if reference_model is None and self.spec.needs_reference:
            raise ValueError(f"loss {self.spec.name!r} needs a reference model to evaluate")
        cfg = self.config
        lists = self._tokenize(tokenizer, dataset)
        pad, bs = _pad_id(tokenizer), cfg.ref_batch_size
        pol_flat = list_logps(model, lists, pad_id=pad, batch_size=bs).double()
        ref_flat = (torch.zeros_like(pol_flat) if reference_model is None
                    else list_logps(reference_model, lists, pad_id=pad, batch_size=bs).double())
        len_flat = torch.as_tensor([len(r) for r in lists.flat()[1]], dtype=torch.float64)
        sizes = torch.as_tensor(lists.sizes)
        mask = torch.arange(int(sizes.max()))[None, :] < sizes[:, None]
        labels = torch.zeros(mask.shape, dtype=torch.float64)
        for row, values in enumerate(lists.labels):
            labels[row, : len(values)] = torch.as_tensor(values, dtype=torch.float64)
        policy, ref = to_grid(pol_flat, mask), to_grid(ref_flat, mask)
        with torch.no_grad():
            out = self.spec(beta=cfg.beta, **cfg.loss_params, policy_logps=policy,
                            ref_logps=ref, labels=labels, mask=mask,
                            lengths=to_grid(len_flat, mask))
        better = (labels[:, :, None] > labels[:, None, :]) & mask[:, :, None] & mask[:, None, :]
        reward = policy - ref

        def concordance(score: torch.Tensor) -> float:
            return float((score[:, :, None] > score[:, None, :])[better].double().mean())

        w = torch.as_tensor(lists.weights, dtype=torch.float64)
        return {
            "implicit_reward_accuracy": concordance(reward),
            "ranking_accuracy": concordance(policy),
            "loss": float((out.losses.double() * w).sum() / w.sum()),
            "n": int(better.sum()),
            "lists": len(lists),
        }
