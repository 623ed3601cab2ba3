"""Training objectives of the alignment trainer (see :mod:`~prefkit.align.objectives.base`).

=====================  ==========================================  ===========================
objective              data                                        losses
=====================  ==========================================  ===========================
:class:`PairwiseObjective`  (prompt, chosen, rejected) pairs       every pairwise loss
:class:`ExtrasObjective`    pairs + rewards / rationales / samples copg, modpo, rationale_dpo, selm
:class:`ListwiseObjective`  ranked lists of K responses            plackett_luce, lipo, ranklist,
                                                                   pro
:class:`UnpairedKTO`        single responses, desirable or not     kto on rating records
=====================  ==========================================  ===========================

:func:`make_objective` picks the objective of a loss (and, for KTO, of the data: rating records
train unpaired).  A new data shape is a new objective file implementing the protocol; the
trainer does not change.
"""

from __future__ import annotations

from typing import Any

from prefkit.align.config import AlignConfig
from prefkit.align.losses import LossSpec
from prefkit.align.objectives.base import MicroBatch, Objective, Runtime
from prefkit.align.objectives.extras import ExtrasObjective, needs_extras
from prefkit.align.objectives.joint import JointObjective
from prefkit.align.objectives.kto_reference import MismatchedKL
from prefkit.align.objectives.listwise import ListwiseObjective
from prefkit.align.objectives.pairwise import PairwiseObjective
from prefkit.align.objectives.unpaired_kto import UnpairedKTO


def objective_class(spec: LossSpec, dataset: Any | None = None) -> type:
    """The objective that trains ``spec`` on ``dataset`` (None: the loss's usual data)."""
    if spec.kind == "listwise":
        return ListwiseObjective
    if spec.kind != "pairwise":
        raise ValueError(f"the trainer takes pairwise or listwise losses; "
                         f"{spec.name!r} is {spec.kind}")
    if spec.name == "kto" and getattr(dataset, "kind", None) == "rating":
        return UnpairedKTO
    if spec.name == "dove":  # a prompt per side (DOVE/JPO)
        return JointObjective
    if needs_extras(spec.parameters):
        return ExtrasObjective
    return PairwiseObjective


def make_objective(spec: LossSpec, config: AlignConfig, dataset: Any | None = None) -> Objective:
    objective: Objective = objective_class(spec, dataset)(spec, config)
    return objective


__all__ = [
    "ExtrasObjective",
    "JointObjective",
    "ListwiseObjective",
    "MicroBatch",
    "MismatchedKL",
    "Objective",
    "PairwiseObjective",
    "Runtime",
    "UnpairedKTO",
    "make_objective",
    "objective_class",
]
