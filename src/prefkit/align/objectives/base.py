"""The :class:`Objective` protocol: what a training objective does, apart from the loop.

An objective owns everything that depends on the *shape* of the data and the loss:

* ``prepare(tokenizer, dataset)`` — the tokenised training data (pairs, or lists);
* ``reference(runtime, data, cache)`` — the reference log-probs the loss needs, computed once
  (a tuple of tensors, passed back to ``loss`` unpacked; ``None`` entries for reference-free
  losses);
* ``setup(runtime, data, steps, out_dir)`` — anything else computed before the first step
  (KTO without a reference model: the initial policy's KL log-probs);
* ``loss(runtime, data, index, *refs, denominator=, micro=)`` — the weighted mean loss of one
  micro-batch and its per-example statistics (``loss``, ``chosen_rewards``,
  ``rejected_rewards``, ``chosen_logps``, ``rejected_logps``; the trainer's step record is
  computed from them the same way for every objective);
* ``evaluate(model, tokenizer, dataset, reference_model=)`` — the same objective over a whole
  evaluation set, with the accuracies of :mod:`prefkit.align.diagnostics`.

The trainer (:class:`~prefkit.align.trainer.AlignTrainer`) keeps the loop, accumulation,
distribution, checkpoints and resume; it reaches objectives only through this protocol, and
objectives reach the trainer only through :class:`Runtime`.  ``entry_point`` names the
trainer method that runs one micro-batch of this objective (``batch_loss``,
``list_batch_loss``, ``single_batch_loss``), so wrappers of that method see every micro-batch.

Weighted mean of a micro-batch: Σ w_i ℓ_i / Σ w_i, or, on one of several processes,
Σ_shard w_i ℓ_i / ``denominator`` with ``denominator`` = W/world (W the whole micro-batch's
weight total), so that DDP's average of the gradients is the single-process gradient.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from prefkit.align.config import AlignConfig
from prefkit.align.lists import TokenLists
from prefkit.align.losses import LossSpec
from prefkit.align.pairs import TokenPairs

#: per-example statistics of one micro-batch
Stats = dict[str, torch.Tensor]
TokenData = TokenPairs | TokenLists


@dataclass
class MicroBatch:
    """Where a shard sits in its micro-batch: ``full`` (all indices of the micro-batch, every
    process), ``positions`` (those this process evaluates) and the (step, micro-batch) numbers
    (None outside the training loop)."""

    full: np.ndarray
    positions: np.ndarray
    step: int | None = None
    micro: int | None = None

    @classmethod
    def whole(cls, index: np.ndarray | list[int]) -> MicroBatch:
        index = np.asarray(index)
        return cls(index, np.arange(len(index)))


class Runtime(Protocol):
    """What an objective may use of the trainer running it."""

    config: AlignConfig
    spec: LossSpec
    device: torch.device
    pad_id: int
    model: Any
    reference_model: Any | None
    accelerator: Any
    step: int

    @property
    def is_peft(self) -> bool: ...

    def forward(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]: ...

    def autocast(self) -> Any: ...

    def autocast_dtype(self) -> torch.dtype | None: ...

    def batch_indices(self, step: int, micro: int, n: int) -> np.ndarray: ...

    def shared_reference(self, fingerprint: str, cache: str | Path | None,
                         compute: Callable[[], dict[str, torch.Tensor]],
                         sizes: dict[str, int]) -> dict[str, torch.Tensor]: ...

    def bar(self, total: int, what: str, unit: str) -> Any: ...

    def reference_logps(self, pairs: TokenPairs, cache: str | Path | None = None
                        ) -> tuple[torch.Tensor, torch.Tensor]: ...

    def reference_list_logps(self, lists: TokenLists,
                             cache: str | Path | None = None) -> torch.Tensor: ...


class Objective(Protocol):
    """A training objective (see the module docstring)."""

    entry_point: str
    spec: LossSpec
    config: AlignConfig

    def prepare(self, tokenizer: Any, dataset: Any) -> TokenData: ...

    def reference(self, runtime: Runtime, data: Any,
                  cache: str | Path | None) -> tuple[torch.Tensor | None, ...]: ...

    def setup(self, runtime: Runtime, data: Any, steps: int, out_dir: Path | None) -> None: ...

    def loss(self, runtime: Runtime, data: Any, index: np.ndarray, *refs: torch.Tensor | None,
             denominator: torch.Tensor | None = None,
             micro: MicroBatch | None = None) -> tuple[torch.Tensor, Stats]: ...

    def evaluate(self, model: Any, tokenizer: Any, dataset: Any, *,
                 reference_model: Any | None) -> dict[str, Any]: ...


def to_device(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def weighted_mean(losses: torch.Tensor, weights: torch.Tensor,
                  denominator: torch.Tensor | None) -> torch.Tensor:
    """Σ w_i ℓ_i / Σ w_i, or / ``denominator`` on one of several processes."""
    if denominator is None:
        return (losses * weights).sum() / weights.sum().clamp(min=1e-12)
    return (losses * weights).sum() / denominator.to(losses.device)


def no_adapter(runtime: Runtime, model: Any) -> Any:
    """A context that disables the LoRA adapters when ``model`` is the (PEFT) policy itself."""
    if model is runtime.model and runtime.is_peft:
        return runtime.model.disable_adapter()
    return contextlib.nullcontext()


class BaseObjective:
    """Shared state of the objectives: the loss, the configuration and (KTO) the mismatched-pair
    KL estimate (:class:`~prefkit.align.objectives.kto_reference.MismatchedKL`)."""

    entry_point = "batch_loss"

    def __init__(self, spec: LossSpec, config: AlignConfig) -> None:
        from prefkit.align.objectives.kto_reference import mismatched_kl

        self.spec = spec
        self.config = config
        self.kl = mismatched_kl(spec, config)

    def setup(self, runtime: Runtime, data: Any, steps: int, out_dir: Path | None) -> None:
        """KTO without a reference model: the initial policy's KL log-probs, before step 1."""
        from prefkit.align.rundir import KL_REFERENCE_FILE

        if self.kl is not None and runtime.reference_model is None and not runtime.is_peft:
            cache = out_dir / KL_REFERENCE_FILE if out_dir is not None else None
            self.kl.precompute(runtime, data, steps, cache)

    def z0(self, runtime: Runtime, data: Any, index: np.ndarray,
           micro: MicroBatch | None) -> torch.Tensor:
        assert self.kl is not None
        return self.kl.for_micro_batch(runtime, data, micro or MicroBatch.whole(index))
