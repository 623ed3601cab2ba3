"""Accuracy tie policies, log-loss and Brier score: closed forms and hand-computed answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import brier_score_loss

from prefkit.data.schema import PreferenceDataset
from prefkit.errors import DataError
from prefkit.evaluate import (
    UndefinedMetricWarning,
    accuracy,
    as_p_a,
    brier_score,
    log_loss,
    log_loss_3way,
)

# true: a, b, tie, a, tie — predicted (t = 0): a, b, a, tie, tie
Y = np.array([1.0, 0.0, 0.5, 1.0, 0.5])
P = np.array([0.9, 0.2, 0.7, 0.5, 0.5])


@pytest.mark.parametrize(
    ("ties", "expected"),
    [
        ("exclude", 2.5 / 3),  # records 0, 1, 3: right, right, predicted tie (½)
        ("half", 4.0 / 5),  # 1 + 1 + ½ + ½ + 1
        ("exact", 3.0 / 5),  # three-class: 1 + 1 + 0 + 0 + 1
        ("count_wrong", 2.5 / 5),  # 1 + 1 + 0 + ½ + 0
    ],
)
def test_accuracy_tie_policies(ties, expected):
    assert accuracy(Y, P, ties=ties) == pytest.approx(expected)


def test_predicted_tie_threshold():
    # with t = 0.25, 0.7 becomes a predicted tie: three-class 1 + 1 + 1 + 0 + 1
    assert accuracy(Y, P, ties="exact", tie_threshold=0.25) == pytest.approx(4 / 5)
    assert accuracy([1, 0], [0.6, 0.45], tie_threshold=0.1) == pytest.approx(0.5)


def test_accuracy_weights_soft_labels_and_empty():
    assert accuracy([1, 0, 1], [0.9, 0.9, 0.1], sample_weight=[3, 1, 0]) == pytest.approx(0.75)
    assert accuracy([0.8, 0.3], [0.6, 0.6]) == pytest.approx(0.5)  # soft labels thresholded at ½
    with pytest.warns(UndefinedMetricWarning, match="all 2 records are ties"):
        assert math.isnan(accuracy([0.5, 0.5], [0.9, 0.1]))  # only ties, all excluded


def test_accuracy_from_a_dataset_uses_its_weights():
    ds = PreferenceDataset.from_records(
        [
            {"a": "x", "b": "y", "winner": "a", "weight": 2.0},
            {"a": "x", "b": "z", "winner": "b", "weight": 1.0},
            {"a": "y", "b": "z", "winner": "tie", "weight": 5.0},
        ]
    )
    assert accuracy(ds, [0.8, 0.8, 0.1]) == pytest.approx(2 / 3)
    assert accuracy(ds, [0.8, 0.8, 0.1], ties="half") == pytest.approx((2 + 0 + 2.5) / 8)


def test_log_loss_of_one_half_is_ln2_whatever_the_targets():
    for y in ([1, 0, 1], [0.5, 0.5], [0.2, 0.9, 1.0, 0.0]):
        assert log_loss(y, np.full(len(y), 0.5)) == pytest.approx(math.log(2))


def test_log_loss_hand_computed_and_soft_targets():
    assert log_loss([1, 0], [0.8, 0.4]) == pytest.approx(-(math.log(0.8) + math.log(0.6)) / 2)
    entropy = -(0.7 * math.log(0.7) + 0.3 * math.log(0.3))
    assert log_loss([0.7], [0.7]) == pytest.approx(entropy)  # cross-entropy minimal at p = y
    assert log_loss([0.7], [0.6]) > entropy and log_loss([0.7], [0.8]) > entropy
    # a tie is the soft target ½
    assert log_loss([0.5], [0.8]) == pytest.approx(-0.5 * (math.log(0.8) + math.log(0.2)))


def test_log_loss_clips_and_weights():
    assert log_loss([0], [1.0]) == pytest.approx(-math.log(1e-12))
    assert np.isfinite(log_loss([1, 0], [0.0, 1.0], eps=1e-7))
    weighted = log_loss([1, 0, 1], [0.9, 0.3, 0.6], sample_weight=[2, 1, 1])
    assert weighted == pytest.approx(log_loss([1, 1, 0, 1], [0.9, 0.9, 0.3, 0.6]))


def test_brier_hand_computed_and_equal_to_sklearn_for_hard_labels():
    assert brier_score([1, 0, 0.5], [0.8, 0.4, 0.5]) == pytest.approx((0.04 + 0.16 + 0) / 3)
    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 2, 200), rng.random(200)
    assert brier_score(y, p) == pytest.approx(brier_score_loss(y, p))
    assert brier_score([1, 0], [0.5, 0.5]) == pytest.approx(0.25)


def test_three_column_predictions_are_reduced_to_the_expected_outcome():
    proba = np.array([[0.5, 0.2, 0.3], [0.1, 0.1, 0.8]])
    assert np.allclose(as_p_a(proba), [0.65, 0.5])
    assert accuracy([1, 0], proba) == pytest.approx(0.75)  # right, predicted tie
    with pytest.raises(DataError, match="sum to 1"):
        as_p_a([[0.5, 0.5, 0.5]])


def test_log_loss_3way():
    proba = np.array([[0.6, 0.3, 0.1], [0.2, 0.2, 0.6]])
    assert log_loss_3way(["a", "tie"], proba) == pytest.approx(-math.log(0.6))
    ds = PreferenceDataset.from_records(
        [{"a": "x", "b": "y", "winner": "b"}, {"a": "y", "b": "x", "winner": "tie"}]
    )
    assert log_loss_3way(ds, proba) == pytest.approx(-(math.log(0.3) + math.log(0.6)) / 2)
    with pytest.raises(DataError):
        log_loss_3way(["a", "c"], proba)


@pytest.mark.parametrize(
    ("y", "p", "kwargs", "match"),
    [
        ([1, 0], [0.5], {}, "records"),
        ([1, 0], [0.5, 1.2], {}, r"\[0, 1\]"),
        ([1, np.nan], [0.5, 0.5], {}, "no outcome"),
        ([1, 0], [0.5, 0.5], {"ties": "ignore"}, "tie policy"),
        ([1, 0], [0.5, 0.5], {"tie_threshold": 0.5}, "tie_threshold"),
        ([1, 0], [0.5, 0.5], {"sample_weight": [1, -1]}, "weights"),
    ],
)
def test_bad_inputs_raise_data_error(y, p, kwargs, match):
    with pytest.raises(DataError, match=match):
        accuracy(y, p, **kwargs)


def test_losses_with_zero_total_weight_warn_and_return_nan():
    """#12 item 9: undefined metrics say so (a warning), not only a silent NaN."""
    for metric in (log_loss, brier_score):
        with pytest.warns(UndefinedMetricWarning, match="positive weight"):
            assert math.isnan(metric([1, 0], [0.6, 0.4], sample_weight=[0, 0]))
