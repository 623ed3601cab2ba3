"""The unpaired-KTO objective: single responses labelled desirable or undesirable.

Ethayarajh et al. 2024, "KTO: Model Alignment as Prospect Theoretic Optimization" (Eq. 7).
Rating records with a 0/1 label (TRL's prompt / completion / label layout,
:mod:`prefkit.align.unpaired`) become one-response lists, so the list plumbing (one forward pass
per micro-batch, the flat reference cache, process shards, packing) carries them.  Per example

    ℓ = λ_y·(1 − σ(±β·(r_θ(x, y) − z0))),   r_θ = log π(y|x)/π_ref(y|x)

(+ for desirable, − for undesirable; :func:`~prefkit.align.losses.kto_loss`), with the reference
point z0 the mismatched-pair estimate of the micro-batch (``kto_z0="mismatched"``, see
:mod:`~prefkit.align.objectives.kto_reference`), the batch's own mean log-ratio (``"batch"``), or
a fixed ``z0`` loss parameter.

Statistics: ``chosen_rewards`` is the signed margin ±β·(r − z0) (+ for desirable), so the
history's reward accuracy is the share of examples on their label's side of z0;
``chosen_logps`` / ``rejected_logps`` are the desirable / undesirable responses'.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from prefkit.align.diagnostics import _pad_id
from prefkit.align.lists import TokenLists, collate_lists, list_logps, tokenize_lists
from prefkit.align.losses import kto_loss, kto_reference_point
from prefkit.align.objectives.base import (
    BaseObjective,
    MicroBatch,
    Runtime,
    Stats,
    to_device,
    weighted_mean,
)
from prefkit.align.objectives.kto_reference import whole_set_z0
from prefkit.align.unpaired import check_balance, unpaired_examples


class UnpairedKTO(BaseObjective):
    """KTO on one-response lists (label 1 = desirable, 0 = undesirable)."""

    entry_point = "single_batch_loss"

    def _tokenize(self, tokenizer: Any, dataset: Any) -> TokenLists:
        return tokenize_lists(tokenizer, unpaired_examples(dataset),
                              max_length=self.config.max_length,
                              max_prompt_length=self.config.max_prompt_length)

    def prepare(self, tokenizer: Any, dataset: Any) -> TokenLists:
        """The examples, after the class-balance check (a warning outside [1, 4/3])."""
        if self.config.nll_coef:
            raise ValueError("nll_coef needs pairs (the chosen response); unpaired KTO has none")
        lists = self._tokenize(tokenizer, dataset)
        params = self.config.loss_params
        check_balance(np.array([lab[0] > 0.5 for lab in lists.labels]), lists.weights,
                      params.get("desirable_weight", 1.0), params.get("undesirable_weight", 1.0))
        return lists

    def reference(self, runtime: Runtime, data: TokenLists,
                  cache: str | Path | None) -> tuple[torch.Tensor | None, ...]:
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
        logps, _ = runtime.forward(batch)
        policy = logps.float()
        ref_logps = refs[0] if refs else None
        if ref_logps is None:
            raise ValueError("KTO needs reference log-probabilities")
        ref = ref_logps[batch["flat"].cpu()].to(runtime.device)
        desirable = batch["labels"][:, 0] > 0.5
        params = dict(cfg.loss_params)
        z0 = params.pop("z0", None)
        if self.kl is not None:
            z0 = self.z0(runtime, data, index, micro)
        elif z0 is None:
            z0 = kto_reference_point(policy, ref)
        out = kto_loss(policy, ref, desirable, z0=z0, beta=cfg.beta, **params)
        loss = weighted_mean(out.losses, batch["weights"], denominator)
        z0_t = torch.as_tensor(z0, dtype=policy.dtype, device=policy.device)
        margin = (2 * desirable.float() - 1) * (out.chosen_rewards - cfg.beta * z0_t)
        stats = {
            "loss": out.losses.detach(),
            "chosen_rewards": margin.detach(),
            "rejected_rewards": torch.zeros_like(margin),
            "chosen_logps": policy[desirable].detach(),
            "rejected_logps": policy[~desirable].detach(),
        }
        return loss, stats

    def evaluate(self, model: Any, tokenizer: Any, dataset: Any, *,
                 reference_model: Any | None) -> dict[str, Any]:
        """``loss``: the weighted mean KTO loss with z0 estimated over the whole set from
        mismatched examples (x_j, y_{j−1}); ``implicit_reward_accuracy``: the share of examples
        on their label's side of z0; ``ranking_accuracy``: over the (desirable, undesirable)
        pairs of responses to the same prompt, the share where log π ranks the desirable one
        higher (None when no prompt has both); ``n``: examples."""
        if reference_model is None:
            raise ValueError("KTO needs a reference model to evaluate")
        cfg = self.config
        lists = self._tokenize(tokenizer, dataset)
        pad, bs = _pad_id(tokenizer), cfg.ref_batch_size
        pol = list_logps(model, lists, pad_id=pad, batch_size=bs).double()
        ref = list_logps(reference_model, lists, pad_id=pad, batch_size=bs).double()
        desirable = torch.as_tensor([lab[0] > 0.5 for lab in lists.labels])
        params = dict(cfg.loss_params)
        z0 = params.pop("z0", None)
        if z0 is None:
            z0 = whole_set_z0(model, reference_model, lists, pad_id=pad, batch_size=bs)
        z0_t = torch.as_tensor(z0, dtype=torch.float64)
        with torch.no_grad():
            out = kto_loss(pol, ref, desirable, z0=z0_t, beta=cfg.beta, **params)
        w = torch.as_tensor(lists.weights, dtype=torch.float64)
        r = pol - ref
        right_side = torch.where(desirable, r > z0_t, r < z0_t)
        by_prompt: dict[tuple[int, ...], list[int]] = {}
        for i, ids in enumerate(lists.prompt_ids):
            by_prompt.setdefault(tuple(ids), []).append(i)
        wins = total = 0
        for members in by_prompt.values():
            good = [i for i in members if desirable[i]]
            bad = [i for i in members if not desirable[i]]
            for g in good:
                for b in bad:
                    wins += int(pol[g] > pol[b])
                    total += 1
        return {
            "implicit_reward_accuracy": float(right_side.double().mean()),
            "ranking_accuracy": wins / total if total else None,
            "loss": float((out.losses * w).sum() / w.sum()),
            "n": len(lists),
        }
