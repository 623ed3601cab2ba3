"""Contrast-instruction consistency (seed row 28) and DPO datapoint difficulty (row 22)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from prefkit.align import difficulty as diff
from prefkit.errors import DataError
from prefkit.evaluate.contrast_consistency import (
    contrast_consistency,
    contrast_consistent,
    model_contrast_consistency,
)


def test_contrast_consistency_by_hand():
    # r_ab = r(I_a, R_b): pair 0 consistent; 1 fails side 2; 2 fails side 1; 3 ties on side 1
    r11 = [2.0, 2.0, 0.0, 1.0]
    r12 = [1.0, 1.0, 1.0, 1.0]
    r21 = [0.0, 3.0, 0.0, 0.0]
    r22 = [1.0, 1.0, 1.0, 1.0]
    assert contrast_consistent(r11, r12, r21, r22).tolist() == [True, False, False, False]
    out = contrast_consistency(r11, r12, r21, r22)
    assert out == {"consistency": 0.25, "first": 0.5, "second": 0.75, "n": 4}
    with pytest.raises(DataError):
        contrast_consistency([1.0], [1.0, 2.0], [1.0], [1.0])


class _KeywordReward:
    """r(I, R) = number of words R shares with I, minus a length penalty."""

    def reward_texts(self, prompts, responses):
        return np.array([len(set(p.split()) & set(r.split())) - 0.01 * len(r.split())
                         for p, r in zip(prompts, responses, strict=True)])


class _InstructionBlind:
    """Ignores the instruction: can pass at most one side of each contrast pair."""

    def reward_texts(self, prompts, responses):
        return np.array([float(len(r)) for r in responses])


def test_model_contrast_consistency():
    i1 = ["list red fruits", "name a cold country"]
    i2 = ["list green fruits", "name a hot country"]
    r1 = ["red fruits: cherry strawberry", "cold country: norway"]
    r2 = ["green fruits: lime kiwi", "hot country: chad"]
    assert model_contrast_consistency(_KeywordReward(), i1, i2, r1, r2)["consistency"] == 1.0
    blind = model_contrast_consistency(_InstructionBlind(), i1, i2, r1, r2)
    assert blind["consistency"] == 0.0
    assert blind["first"] + blind["second"] == pytest.approx(1.0)


def test_difficulty_and_hardness():
    ref_chosen = np.array([-10.0, -12.0, -8.0])
    ref_rejected = np.array([-11.0, -9.0, -8.0])
    assert diff.reference_margin(ref_chosen, ref_rejected).tolist() == [1.0, -3.0, 0.0]
    assert diff.difficulty(ref_chosen, ref_rejected).tolist() == [-1.0, 3.0, 0.0]
    assert diff.is_hard(ref_chosen, ref_rejected).tolist() == [False, True, False]
    with pytest.raises(DataError):
        diff.difficulty([-1.0, np.nan], [-1.0, -2.0])


def test_loss_threshold_is_where_the_ranking_flips():
    beta = 0.1
    ref_w, ref_l = -12.0, -9.0  # c = 3: the reference prefers the loser
    c = float(diff.difficulty(ref_w, ref_l))
    threshold = float(diff.dpo_loss_threshold(c, beta))
    assert threshold == pytest.approx(-np.log(expit(beta * 3.0)))
    for delta in np.linspace(-2.0, 8.0, 41):  # policy moves the chosen log-prob by delta
        pol_w, pol_l = ref_w + delta, ref_l
        h = beta * ((pol_w - ref_w) - (pol_l - ref_l))
        loss = -np.log(expit(h))
        ranks_right = pol_w > pol_l
        if not np.isclose(loss, threshold):
            assert ranks_right == (loss < threshold)


def test_idealized_ranking_accuracy_by_hand_and_against_diagnostics():
    ref_w = np.array([-10.0, -12.0, -12.0, -8.0])
    ref_l = np.array([-11.0, -9.0, -9.0, -8.0])
    p = np.array([0.5, 0.9, 0.6, 0.5])
    beta = 1.0
    # z = m + logit(p)/β = 1, −3 + 2.197, −3 + 0.405, 0
    assert diff.idealized_correct(ref_w, ref_l, p, beta).tolist() == [1.0, 0.0, 0.0, 0.5]
    assert diff.idealized_ranking_accuracy(ref_w, ref_l, p, 0.5) == pytest.approx(
        (1 + 1 + 0 + 0.5) / 4)  # β = 0.5 doubles logit(p): −3 + 4.39 > 0
    pytest.importorskip("torch")
    from prefkit.align.diagnostics import idealized_ranking_accuracy

    for beta in (0.1, 0.5, 2.0):
        assert diff.idealized_ranking_accuracy(ref_w, ref_l, p, beta) == pytest.approx(
            idealized_ranking_accuracy(ref_w, ref_l, p, beta))
