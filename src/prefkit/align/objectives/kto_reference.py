"""KTO's reference point from mismatched pairs (Ethayarajh et al. 2024, §4.2 and Eq. 7).

    z0 = max(0, mean_j [log π(y_{j−1}|x_j) − log π_ref(y_{j−1}|x_j)])      (no gradient)

over the examples j of a micro-batch — for pairs the 2B examples [chosen_0 … chosen_{B−1},
rejected_0 … rejected_{B−1}], for unpaired KTO the B responses — each prompt x_j meeting the
previous example's response (cyclically), the rotation TRL 1.16's ``KTOTrainer`` applies to each
batch.  With B ≥ 2 no example meets its own pair's response.  Under several processes each
evaluates its shard and the sums are all-reduced, so the estimate is the whole micro-batch's.

The reference side comes from the reference model, the LoRA base, or — KTO without either — the
policy *before training*: micro-batches are a pure function of (seed, step), so
:meth:`MismatchedKL.precompute` computes log π_0 of every micro-batch's mismatched pairs once,
up front (cached beside the reference log-probs), instead of holding a frozen model copy.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

import numpy as np
import torch

from prefkit.align.config import AlignConfig
from prefkit.align.lists import TokenLists, list_logps
from prefkit.align.losses import LossSpec
from prefkit.align.objectives.base import MicroBatch, Runtime, no_adapter, to_device
from prefkit.align.pairs import TokenPairs, collate_sequences, sequence_logps


def mismatched_kl(spec: LossSpec, config: AlignConfig) -> MismatchedKL | None:
    """The estimator when ``spec`` is KTO with the paper's reference point (``kto_z0 =
    "mismatched"`` and no fixed ``z0`` loss parameter), else None."""
    if spec.name != "kto" or config.kto_z0 != "mismatched" or "z0" in config.loss_params:
        return None
    if config.batch_size < 2:
        raise ValueError("KTO's mismatched-pair KL estimate needs batch_size ≥ 2")
    return MismatchedKL()


class MismatchedKL:
    """z0 per micro-batch; ``initial`` holds the precomputed initial-policy side, shaped
    (steps, grad_accum, examples per micro-batch), when there is no reference model."""

    def __init__(self) -> None:
        self.initial: torch.Tensor | None = None

    @staticmethod
    def sequences(data: TokenPairs | TokenLists,
                  full: np.ndarray) -> tuple[list[list[int]], list[list[int]]]:
        """(prompts, responses) of the mismatched pairs of the micro-batch ``full``."""
        if isinstance(data, TokenLists):
            prompts = [data.prompt_ids[i] for i in full]
            responses = [data.response_ids[i][0] for i in full]
        else:
            prompts = [data.prompt_ids[i] for i in full] * 2
            responses = [data.chosen_ids[i] for i in full] + [data.rejected_ids[i] for i in full]
        m = len(responses)
        return prompts, [responses[(j - 1) % m] for j in range(m)]

    @torch.no_grad()
    def reference_point(
        self, rt: Runtime, data: TokenPairs | TokenLists, full: np.ndarray,
        positions: np.ndarray | None = None, ref_kl: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(the unclamped mean, z0) of the micro-batch ``full``; ``positions`` (default all) are
        the entries this process evaluates; ``ref_kl`` the precomputed reference side of all
        the micro-batch's examples (else the reference model or the LoRA base computes it)."""
        full = np.asarray(full)
        b = len(full)
        positions = np.arange(b) if positions is None else np.asarray(positions)
        mine = (positions if isinstance(data, TokenLists)
                else np.concatenate([positions, positions + b]))
        prompts, responses = self.sequences(data, full)
        batch = to_device(collate_sequences([prompts[j] for j in mine],
                                            [responses[j] for j in mine], rt.pad_id,
                                            packing=rt.config.packing), rt.device)
        with rt.autocast():
            policy = sequence_logps(rt.model, batch)[0].float()
        if ref_kl is not None:
            ref = ref_kl[torch.as_tensor(mine)].to(device=policy.device, dtype=policy.dtype)
        elif rt.reference_model is None and not rt.is_peft:
            raise ValueError("KTO's KL estimate needs a reference model or the initial policy's "
                             "log-probs (initial_kl_logps, computed by train())")
        else:
            ref_model = (rt.reference_model.to(rt.device) if rt.reference_model is not None
                         else rt.model)
            was_training = ref_model.training
            ref_model.eval()
            try:
                with no_adapter(rt, ref_model), rt.autocast():
                    ref = sequence_logps(ref_model, batch)[0].float()
            finally:
                ref_model.train(was_training)
        total = torch.stack([(policy - ref).sum(), torch.tensor(float(len(mine)),
                                                                 device=policy.device)])
        if rt.accelerator.num_processes > 1:
            total = rt.accelerator.reduce(total.to(rt.accelerator.device), reduction="sum")
        mean = total[0] / total[1]
        return mean, mean.clamp(min=0)

    def for_micro_batch(self, rt: Runtime, data: TokenPairs | TokenLists,
                        micro: MicroBatch) -> torch.Tensor:
        """z0 of one micro-batch of the loop (with the precomputed side when there is one)."""
        ref_kl = None
        if self.initial is not None and micro.step is not None and micro.micro is not None:
            ref_kl = self.initial[micro.step, micro.micro]
        return self.reference_point(rt, data, micro.full, micro.positions, ref_kl)[1]

    def precompute(self, rt: Runtime, data: TokenPairs | TokenLists, steps: int,
                   cache: str | os.PathLike[str] | None = None) -> torch.Tensor:
        """log π_0(y_{j−1}|x_j) of the mismatched pairs of every micro-batch of steps
        [0, ``steps``), computed by the policy before training; ``(steps, grad_accum, m)`` with
        m = 2·batch_size for pairs, batch_size for unpaired examples."""
        cfg = rt.config
        n = len(data)
        width = cfg.batch_size * (1 if isinstance(data, TokenLists) else 2)
        if self.initial is not None and self.initial.shape[0] >= steps:
            return self.initial
        if rt.step > 0:
            raise ValueError("KTO's initial-policy KL log-probs must be computed before "
                             "training; pass reference_model= to train this policy further")
        key = hashlib.sha256(f"{data.fingerprint()}|{cfg.seed}|{cfg.batch_size}|"
                             f"{cfg.grad_accum}|{steps}".encode()).hexdigest()

        def compute() -> dict[str, torch.Tensor]:
            prompts: list[list[int]] = []
            responses: list[list[int]] = []
            for step in range(steps):
                for micro in range(cfg.grad_accum):
                    p, r = self.sequences(data, rt.batch_indices(step, micro, n))
                    prompts += p
                    responses += r
            flat = TokenLists(prompts, [[r] for r in responses], [], np.ones(len(prompts)))
            with rt.bar(len(prompts), "KTO KL reference", "pairs") as advance:
                return {"kl": list_logps(rt.model, flat, pad_id=rt.pad_id,
                                         batch_size=cfg.ref_batch_size,
                                         autocast_dtype=rt.autocast_dtype(), advance=advance)}

        size = steps * cfg.grad_accum * width
        kl = rt.shared_reference(key, cache, compute, {"kl": size})["kl"]
        self.initial = kl.view(steps, cfg.grad_accum, width)
        return self.initial


def whole_set_z0(model: Any, reference_model: Any, data: TokenPairs | TokenLists, *,
                 pad_id: int, batch_size: int) -> torch.Tensor:
    """z0 over a whole evaluation set (all its examples, rotated by one), float64."""
    from prefkit.align.pairs import mismatched_pairs, pair_logps

    if isinstance(data, TokenLists):
        n = len(data)
        rotated = TokenLists(list(data.prompt_ids),
                             [data.response_ids[(j - 1) % n] for j in range(n)],
                             data.labels, data.weights)
        kl = (list_logps(model, rotated, pad_id=pad_id, batch_size=batch_size)
              - list_logps(reference_model, rotated, pad_id=pad_id, batch_size=batch_size))
        return kl.double().mean().clamp(min=0)
    mis = mismatched_pairs(data)
    kl_pol = pair_logps(model, mis, pad_id=pad_id, batch_size=batch_size)
    kl_ref = pair_logps(reference_model, mis, pad_id=pad_id, batch_size=batch_size)
    diff = torch.cat([kl_pol["chosen"] - kl_ref["chosen"],
                      kl_pol["rejected"] - kl_ref["rejected"]]).double()
    return diff.mean().clamp(min=0)
