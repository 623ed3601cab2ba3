"""Curry-DPO stage-wise training: easy pairs first, each stage anchored to the previous policy.

Pattnaik et al. 2024, "Curry-DPO: Enhancing Alignment using Curriculum Learning & Ranked
Preferences", §3: the pairs are ordered by the rating gap between the chosen and the rejected
response (large gap = easy) and cut into stages (:func:`~prefkit.align.curriculum.curriculum_pairs`
builds them from rated responses).  Stage s trains DPO on its own pairs,
starting from the policy π_{s−1} that stage s − 1 produced and — the paper's "iterative" variant —
using that same policy as the reference:

    L_s(θ) = −E_{(x, y_w, y_l) ∈ stage s} log σ(β [log π_θ(y_w|x)/π_{s−1}(y_w|x)
                                                  − log π_θ(y_l|x)/π_{s−1}(y_l|x)]),

so every stage starts at loss ln 2.  With ``update_reference=False`` all stages keep the initial
model π_0 as reference (the paper's non-iterative variant; training order alone differs from
plain DPO).  Any pairwise loss of the registry can replace DPO.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from prefkit.align.trainer import AlignConfig, AlignTrainer
from prefkit.errors import DataError


@dataclass
class StageResult:
    """What one curriculum stage did: its number, pair count, step history and output folder."""

    stage: int
    n_pairs: int
    history: list[dict[str, float]]
    out_dir: Path | None


def stage_steps(n_pairs: int, config: AlignConfig, epochs: float) -> int:
    """Optimiser steps that show a stage's pairs ``epochs`` times (at least one step)."""
    per_step = config.batch_size * config.grad_accum
    return max(1, math.ceil(epochs * n_pairs / per_step))


def train_curriculum(
    model: Any,
    tokenizer: Any,
    dataset: Any,
    config: AlignConfig | None = None,
    *,
    stage_column: str = "stage",
    update_reference: bool = True,
    epochs_per_stage: float | None = None,
    out_dir: str | Path | None = None,
    base: str | None = None,
) -> tuple[Any, list[StageResult]]:
    """Train ``model`` stage by stage on a pairwise dataset with a ``stage`` column (0 = easiest).

    Each stage runs an :class:`AlignTrainer` for ``config.max_steps`` steps, or for
    ``epochs_per_stage`` passes over the stage's pairs when given.  With ``update_reference``
    the reference of stage s is a frozen copy of the policy after stage s − 1 (LoRA adapters are
    merged between stages).  With ``out_dir`` stage s is saved in ``out_dir/stage-s``.
    Returns the final policy and one :class:`StageResult` per stage.
    """
    config = config or AlignConfig()
    if not dataset.has(stage_column):
        raise DataError("curriculum training needs a stage number per pair", field=stage_column,
                        source=dataset.name)
    stages = np.asarray(dataset.column(stage_column))
    if len(stages) == 0:
        raise DataError("no pairs to train on", source=dataset.name)
    try:
        stages = stages.astype(np.int64)
    except (TypeError, ValueError):
        raise DataError("stage numbers must be integers", field=stage_column,
                        source=dataset.name) from None
    results: list[StageResult] = []
    initial_reference = None if update_reference else copy.deepcopy(model).eval()
    policy = model
    for stage in np.unique(stages):
        subset = dataset.filter(stages == stage)
        cfg = config
        if epochs_per_stage is not None:
            cfg = replace(config, max_steps=stage_steps(len(subset), config, epochs_per_stage))
        reference = initial_reference
        if update_reference and results:
            reference = copy.deepcopy(policy).eval()
        trainer = AlignTrainer(policy, tokenizer, cfg, reference_model=reference, base=base)
        stage_dir = Path(out_dir) / f"stage-{int(stage)}" if out_dir is not None else None
        history = trainer.train(subset, out_dir=stage_dir)
        policy = trainer.model.merge_and_unload() if trainer.is_peft else trainer.model
        results.append(StageResult(int(stage), len(subset), list(history), stage_dir))
    return policy, results
