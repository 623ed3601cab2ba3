"""The Objective protocol: each loss gets its objective, and the trainer's loop only goes
through the protocol (a new objective needs no trainer change)."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest
import torch

from prefkit.align.config import AlignConfig
from prefkit.align.diagnostics import evaluate_lists, idealized_log_ratio
from prefkit.align.losses import get_loss
from prefkit.align.objectives import (
    ListwiseObjective,
    PairwiseObjective,
    UnpairedKTO,
    make_objective,
)
from prefkit.align.tiny import synthetic_preferences, synthetic_unpaired
from prefkit.align.trainer import AlignTrainer


def test_each_loss_and_data_shape_gets_its_objective() -> None:
    def make(loss: str, data: Any = None, **kw: Any) -> Any:
        return make_objective(get_loss(loss), AlignConfig(loss=loss, **kw), data)

    assert type(make("dpo")) is PairwiseObjective and make("dpo").kl is None
    assert type(make("lipo")) is ListwiseObjective
    assert type(make("kto", synthetic_unpaired(4))) is UnpairedKTO
    assert type(make("dpo", synthetic_unpaired(4))) is PairwiseObjective  # refused by prepare
    paired_kto = make("kto", synthetic_preferences(4))
    assert type(paired_kto) is PairwiseObjective and paired_kto.kl is not None
    assert make("kto", loss_params={"z0": 0.0}).kl is None  # a fixed reference point
    assert make("kto", kto_z0="batch").kl is None
    with pytest.raises(ValueError, match="batch_size ≥ 2"):
        make("kto", batch_size=1)
    entry = {c.entry_point for c in (PairwiseObjective, ListwiseObjective, UnpairedKTO)}
    assert entry == {"batch_loss", "list_batch_loss", "single_batch_loss"}
    assert all(hasattr(AlignTrainer, name) for name in entry)
    with pytest.raises(ValueError, match="not a listwise loss"):
        evaluate_lists(None, None, None, reference_model=None, loss="dpo")


class _Halved(PairwiseObjective):
    """The pairwise objective at half weight (a stand-in for a new objective)."""

    def loss(self, runtime: Any, data: Any, index: np.ndarray, *refs: Any,
             **kw: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        loss, stats = super().loss(runtime, data, index, *refs, **kw)
        return 0.5 * loss, stats


def test_the_loop_runs_whatever_objective_it_is_given(tiny) -> None:
    model, tok = tiny
    cfg = AlignConfig(loss="dpo", beta=0.1, learning_rate=1e-3, max_steps=1, batch_size=4,
                      max_grad_norm=None)
    data = synthetic_preferences(8, seed=1)
    grads = []
    for halved in (False, True):
        trainer = AlignTrainer(copy.deepcopy(model), tok, cfg)
        if halved:
            trainer.objective = _Halved(trainer.spec, cfg)
        trainer.train(data, callback=lambda t, r: grads.append(
            torch.cat([p.grad.flatten() for p in t.model.parameters()])))
        assert isinstance(trainer.objective, _Halved) == halved  # prepare() kept it
    assert float(grads[0].abs().max()) > 1e-4
    torch.testing.assert_close(grads[1], 0.5 * grads[0], atol=1e-8, rtol=1e-5)


def test_idealized_log_ratio_is_the_logit_closed_form() -> None:
    """log π*(y_w)/π*(y_l) = Δ log π_ref + logit(p)/β, ±inf at p = 1 / 0, without warnings."""
    p = np.array([0.0, 0.2, 0.5, 0.9, 1.0])
    with np.errstate(all="raise"):
        z = idealized_log_ratio([0.0] * 5, [1.0] * 5, p, beta=0.5)
    np.testing.assert_allclose(z[1:4], -1.0 + 2.0 * np.log(p[1:4] / (1 - p[1:4])))
    assert z[0] == -np.inf and z[-1] == np.inf
