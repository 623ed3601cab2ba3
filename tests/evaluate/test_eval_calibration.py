"""ECE and reliability-diagram data: perfect calibration, hand computation, scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.calibration import calibration_curve

from prefkit.evaluate import (
    UndefinedMetricWarning,
    expected_calibration_error,
    reliability_diagram,
)


def test_perfectly_calibrated_predictions_have_zero_ece():
    centres = np.arange(0.05, 1.0, 0.1)  # one prediction value per bin
    p = np.repeat(centres, 20)
    y = np.concatenate(
        [np.r_[np.ones(round(c * 20)), np.zeros(20 - round(c * 20))] for c in centres]
    )
    diagram = reliability_diagram(y, p, n_bins=10, symmetric=False)
    assert diagram.ece == pytest.approx(0.0, abs=1e-12)
    assert np.allclose(diagram.observed, centres)
    assert np.array_equal(diagram.counts, np.full(10, 20.0))


def test_hand_computed_ece_and_mce():
    # bins [0, .5], (.5, 1]: conf .15 vs obs .5 (gap .35) and conf .85 vs obs 1 (gap .15)
    d = reliability_diagram([0, 1, 1, 1], [0.1, 0.2, 0.8, 0.9], n_bins=2, symmetric=False)
    assert d.ece == pytest.approx(0.5 * 0.35 + 0.5 * 0.15)
    assert d.mce == pytest.approx(0.35)
    assert np.allclose(d.mean_predicted, [0.15, 0.85]) and np.allclose(d.observed, [0.5, 1.0])


def test_empty_bins_are_nan_and_counts_sum_to_n():
    d = reliability_diagram([1, 0, 1], [0.91, 0.95, 0.99], n_bins=5, symmetric=False)
    assert d.counts.sum() == 3 and d.counts[-1] == 3
    assert np.isnan(d.mean_predicted[:4]).all() and np.isnan(d.observed[:4]).all()
    assert d.ece == pytest.approx(abs(2 / 3 - (0.91 + 0.95 + 0.99) / 3))
    assert set(d.to_dict()) == {"edges", "mean_predicted", "observed", "counts", "ece", "mce",
                                "symmetric"}


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_bins_match_sklearn_calibration_curve(strategy):
    rng = np.random.default_rng(3)
    p = rng.random(500)
    y = (rng.random(500) < p**1.5).astype(float)
    d = reliability_diagram(y, p, n_bins=8, strategy=strategy, symmetric=False)
    prob_true, prob_pred = calibration_curve(y, p, n_bins=8, strategy=strategy)
    filled = d.counts > 0
    assert np.allclose(d.observed[filled], prob_true)
    assert np.allclose(d.mean_predicted[filled], prob_pred)


def test_calibrated_sample_beats_a_miscalibrated_one():
    rng = np.random.default_rng(4)
    p = rng.random(50_000)
    y = (rng.random(50_000) < p).astype(float)
    for symmetric in (True, False):
        assert expected_calibration_error(y, p, symmetric=symmetric) < 0.01
        assert expected_calibration_error(y, p**3, symmetric=symmetric) > 0.1


def test_symmetric_ece_is_order_invariant_and_equals_top_label_ece():
    rng = np.random.default_rng(5)
    p = rng.uniform(0.02, 0.98, 400)
    y = (rng.random(400) < 0.8 * p + 0.1).astype(float)
    sym = expected_calibration_error(y, p, n_bins=10, symmetric=True)
    assert sym == pytest.approx(expected_calibration_error(1 - y, 1 - p, n_bins=10, symmetric=True))
    # top-label ECE (Guo et al.) over 5 bins of [½, 1]
    conf = np.maximum(p, 1 - p)
    correct = np.where(p > 0.5, y, 1 - y)
    bins = np.minimum(((conf - 0.5) / 0.1).astype(int), 4)
    top = sum(
        (bins == b).mean() * abs(correct[bins == b].mean() - conf[bins == b].mean())
        for b in range(5)
        if (bins == b).any()
    )
    assert sym == pytest.approx(top)


def test_ties_and_soft_labels_count_as_observed_frequency():
    assert expected_calibration_error([0.5, 0.5], [0.5, 0.5]) == pytest.approx(0.0)
    assert expected_calibration_error([0.7], [0.7]) == pytest.approx(0.0)
    weighted = expected_calibration_error([1, 0], [0.55, 0.55], sample_weight=[3, 1],
                                          symmetric=False)
    assert weighted == pytest.approx(abs(0.75 - 0.55))
    # symmetric: bins (.5, .6] (conf .55, obs .75) and (.4, .5] (conf .45, obs .25), half each
    weighted = expected_calibration_error([1, 0], [0.55, 0.55], sample_weight=[3, 1])
    assert weighted == pytest.approx(0.2)
    with pytest.warns(UndefinedMetricWarning, match="ece is undefined"):
        assert math.isnan(expected_calibration_error([1], [0.5], sample_weight=[0]))


def _sided(rng, n):
    """A calibrated model's P(a ≻ b), and outcomes drawn from it."""
    p = rng.uniform(0.03, 0.97, n)
    y = (rng.random(n) < p).astype(float)
    return y, p


def test_default_ece_and_diagram_do_not_depend_on_which_response_is_a():
    """#12 item 7: swapping a and b of every record (y → 1 − y, p → 1 − p) changes nothing."""
    rng = np.random.default_rng(11)
    y, p = _sided(rng, 2000)
    w = rng.uniform(0.5, 2.0, 2000)
    d = reliability_diagram(y, p, sample_weight=w)
    s = reliability_diagram(1 - y, 1 - p, sample_weight=w)
    assert d.symmetric and d.to_dict()["symmetric"] is True
    assert s.ece == pytest.approx(d.ece) and s.mce == pytest.approx(d.mce)
    assert np.allclose(s.counts, d.counts)
    assert np.allclose(s.observed, d.observed, equal_nan=True)
    assert np.allclose(s.mean_predicted, d.mean_predicted, equal_nan=True)
    # the diagram is symmetric about ½: bin k mirrors bin M − 1 − k
    assert np.allclose(d.observed, 1 - d.observed[::-1], equal_nan=True)
    assert expected_calibration_error(1 - y, 1 - p) == pytest.approx(
        expected_calibration_error(y, p)
    )


def test_winner_always_in_a_gives_the_same_ece_as_shuffled_orientation():
    """TRL-style chosen/rejected files put the winner in "a": same ECE as a random orientation.

    The one-sided ECE of the same predictions is far off (every outcome is 1), which is the
    order dependence the default removes.
    """
    rng = np.random.default_rng(12)
    y, p = _sided(rng, 4000)
    flip = y == 0  # put the winner in "a"
    y_a, p_a = np.where(flip, 1 - y, y), np.where(flip, 1 - p, p)
    assert (y_a == 1).all()
    shuffle = rng.random(4000) < 0.5
    y_s, p_s = np.where(shuffle, 1 - y_a, y_a), np.where(shuffle, 1 - p_a, p_a)
    ece_a, ece_s = expected_calibration_error(y_a, p_a), expected_calibration_error(y_s, p_s)
    assert ece_a == pytest.approx(ece_s)
    assert ece_a < 0.05  # the model is calibrated
    assert expected_calibration_error(y_a, p_a, symmetric=False) > 0.2
    diagram = reliability_diagram(y_a, p_a)
    filled = diagram.counts > 0
    assert not np.allclose(diagram.observed[filled], 1.0)  # not every point at observed = 1
