"""Kendall τ / Spearman ρ on small permutations; listwise exact-match and pairwise accuracy."""

from __future__ import annotations

import numpy as np
import pytest

from prefkit.data.schema import PreferenceDataset
from prefkit.data.simulate import simulate_rankings
from prefkit.errors import DataError
from prefkit.evaluate import (
    kendall_tau,
    order_to_scores,
    ranking_exact_match,
    ranking_pairwise_accuracy,
    spearman_rho,
)


def test_identity_and_reversal():
    x = [1, 2, 3, 4, 5]
    assert kendall_tau(x, x) == pytest.approx(1.0) and spearman_rho(x, x) == pytest.approx(1.0)
    assert kendall_tau(x, x[::-1]) == pytest.approx(-1.0)
    assert spearman_rho(x, x[::-1]) == pytest.approx(-1.0)


def test_one_adjacent_swap_of_four():
    # 5 concordant, 1 discordant pair: τ = 4/6; ρ = 1 − 6·Σd²/(n(n²−1)) = 1 − 12/60
    assert kendall_tau([1, 2, 3, 4], [1, 2, 4, 3]) == pytest.approx(2 / 3)
    assert spearman_rho([1, 2, 3, 4], [1, 2, 4, 3]) == pytest.approx(0.8)


def test_three_cycle_and_ties():
    assert kendall_tau([1, 2, 3], [2, 3, 1]) == pytest.approx(-1 / 3)  # C = 1, D = 2
    # τ_b with one pair tied in x: 5 / sqrt(6 · 5)
    assert kendall_tau([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(5 / np.sqrt(30))


def test_orders_and_mappings_align_on_common_items():
    a = order_to_scores(["x", "y", "z", "w"])
    b = order_to_scores(["y", "x", "z"])
    assert a == {"x": 4.0, "y": 3.0, "z": 2.0, "w": 1.0}
    assert kendall_tau(a, b) == pytest.approx(1 / 3)  # over x, y, z: one swap of three pairs
    with pytest.raises(DataError):
        kendall_tau({"x": 1.0}, {"x": 2.0, "y": 1.0})
    with pytest.raises(DataError):
        order_to_scores(["x", "x"])


def _ds(records):
    return PreferenceDataset.from_records(records, kind="ranking")


def test_full_order_reproduced_or_reversed():
    ds = _ds([{"ranking": ["a", "b", "c"]}, {"ranking": ["c", "b"]}])
    right = {"a": 3.0, "b": 2.0, "c": 1.0}
    assert ranking_exact_match(ds, right) == pytest.approx(0.5)  # second record is reversed
    assert ranking_pairwise_accuracy(ds, right) == pytest.approx((1 + 0) / 2)
    assert ranking_pairwise_accuracy(ds, right, average="micro") == pytest.approx(3 / 4)
    assert ranking_exact_match([["a", "b", "c"]], right) == pytest.approx(1.0)


def test_one_swap_tied_ranks_and_unranked_rest():
    scores = {"a": 3.0, "b": 1.0, "c": 2.0}
    assert ranking_exact_match([["a", "b", "c"]], scores) == 0.0
    assert ranking_pairwise_accuracy([["a", "b", "c"]], scores) == pytest.approx(2 / 3)
    # a and b tied in truth: only (a, c) and (b, c) count
    tied = _ds([{"ranking": ["a", "b", "c"], "ranks": [1, 1, 2]}])
    assert ranking_exact_match(tied, {"a": 1.0, "b": 2.0, "c": 0.0}) == 1.0
    # unranked rest: below the ranked candidate, unordered among themselves
    top1 = _ds([{"ranking": ["a"], "unranked": ["b", "c"]}])
    assert ranking_exact_match(top1, {"a": 3.0, "b": 1.0, "c": 2.0}) == 1.0
    assert ranking_pairwise_accuracy(top1, {"a": 1.5, "b": 1.0, "c": 2.0}) == pytest.approx(0.5)
    assert ranking_exact_match(top1, {"a": 1.5, "b": 1.0, "c": 2.0}) == 0.0


def test_score_ties_earn_half_and_break_exact_match():
    assert ranking_pairwise_accuracy([["a", "b"]], {"a": 1.0, "b": 1.0}) == pytest.approx(0.5)
    assert ranking_exact_match([["a", "b"]], {"a": 1.0, "b": 1.0}) == 0.0


def test_per_record_scores_macro_and_micro():
    ds = _ds([{"ranking": ["a", "b"]}, {"ranking": ["a", "b", "c", "d"], "unranked": ["e"]}])
    scores = [[2.0, 1.0], [1.0, 2.0, 3.0, 4.0, 5.0]]  # record 1 right, record 2 all wrong
    assert ranking_pairwise_accuracy(ds, scores) == pytest.approx(0.5)
    assert ranking_pairwise_accuracy(ds, scores, average="micro") == pytest.approx(1 / 11)
    with pytest.raises(DataError, match="candidates"):
        ranking_pairwise_accuracy(ds, [[2.0, 1.0], [1.0, 2.0]])
    with pytest.raises(DataError, match="no score"):
        ranking_exact_match(ds, {"a": 1.0})


def test_true_strengths_rank_simulated_lists_better_than_reversed():
    sim = simulate_rankings(n_items=8, n_rankings=3000, set_size=4, spread=1.5, seed=0)
    theta = sim.truth["log_strength"]
    truth = dict(zip(sim.truth["items"], theta, strict=True))
    reverse = dict(zip(sim.truth["items"], -theta, strict=True))
    good = ranking_pairwise_accuracy(sim.dataset, truth)
    assert good > 0.7
    # every determined pair is scored the other way round: accuracies add up to one
    assert ranking_pairwise_accuracy(sim.dataset, reverse) == pytest.approx(1 - good)
    assert ranking_exact_match(sim.dataset, truth) > 3 * ranking_exact_match(sim.dataset, reverse)


def test_listwise_metrics_without_weight_warn_and_return_nan():
    """#12 item 9: an undefined metric says why (UndefinedMetricWarning), not only NaN."""
    import math

    from prefkit.evaluate import UndefinedMetricWarning

    for metric in (ranking_exact_match, ranking_pairwise_accuracy):
        with pytest.warns(UndefinedMetricWarning, match="positive weight"):
            assert math.isnan(metric([["a", "b"]], {"a": 1.0, "b": 0.0}, sample_weight=[0]))
