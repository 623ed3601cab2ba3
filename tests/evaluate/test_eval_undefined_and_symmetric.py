"""#12 items 7 and 9: evaluate()'s ECE does not depend on the a/b order; undefined metrics are
None with a warning (never NaN, so the report is valid JSON); constant scores give τ = ρ = 0."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.special import expit

from prefkit.data.schema import PreferenceDataset
from prefkit.evaluate import (
    ConstantScoresWarning,
    UndefinedMetricWarning,
    evaluate,
    kendall_tau,
    per_group,
    spearman_rho,
)


class Strengths:
    """P(a ≻ b) = σ(θ_a − θ_b) from fixed log-strengths (so swapping a and b gives 1 − p)."""

    def __init__(self, theta):
        self.theta = theta

    def predict_proba(self, dataset):
        items, ia, ib = dataset.item_codes()
        t = np.array([self.theta[i] for i in items])
        return expit(t[ia] - t[ib])


def _matches(seed, n=3000):
    """Sports-style results of a calibrated model, each written twice: winner first, shuffled."""
    rng = np.random.default_rng(seed)
    names = [f"team{i}" for i in range(12)]
    theta = dict(zip(names, rng.normal(0, 1.2, len(names)), strict=True))
    i, j = rng.choice(len(names), size=(2, n))
    keep = i != j
    i, j = i[keep], j[keep]
    a_wins = rng.random(len(i)) < expit(np.array([theta[names[k]] - theta[names[m]]
                                                  for k, m in zip(i, j, strict=True)]))
    winner_first = [{"a": names[k] if w else names[m], "b": names[m] if w else names[k],
                     "winner": "a", "user": f"u{r % 4}"}
                    for r, (k, m, w) in enumerate(zip(i, j, a_wins, strict=True))]
    flip = rng.random(len(winner_first)) < 0.5
    shuffled = [{"a": r["b"], "b": r["a"], "winner": "b", "user": r["user"]} if f else dict(r)
                for r, f in zip(winner_first, flip, strict=True)]
    return (Strengths(theta), PreferenceDataset.from_records(winner_first),
            PreferenceDataset.from_records(shuffled))


def test_evaluate_ece_is_the_same_for_winner_first_and_shuffled_records():
    model, first, shuffled = _matches(1)
    r1, r2 = evaluate(model, first, groups="user"), evaluate(model, shuffled, groups="user")
    assert r1["ece_symmetric"] is True
    assert r1["ece"] == pytest.approx(r2["ece"])
    assert r1["ece"] < 0.05  # a calibrated model
    assert evaluate(model, first, symmetric_ece=False)["ece"] > 0.2  # the old, one-sided number
    for user, row in r1["per_group"]["user"].items():
        assert row["ece"] == pytest.approx(r2["per_group"]["user"][user]["ece"])
    assert r1["accuracy"] == pytest.approx(r2["accuracy"])
    assert r1["log_loss"] == pytest.approx(r2["log_loss"])


def test_per_group_ece_is_order_invariant_and_one_sided_on_request():
    rng = np.random.default_rng(2)
    p = rng.uniform(0.05, 0.95, 600)
    y = (rng.random(600) < p).astype(float)
    g = rng.choice(["x", "y"], 600)
    a = per_group(g, y, p)
    b = per_group(g, 1 - y, 1 - p)
    for key in a:
        assert a[key]["ece"] == pytest.approx(b[key]["ece"])
    one = per_group(g, y, p, symmetric_ece=False)
    assert any(abs(one[k]["ece"] - a[k]["ece"]) > 1e-6 for k in a)


def test_all_ties_accuracy_is_none_with_a_warning_and_the_report_is_json():
    ds = PreferenceDataset.from_records(
        [{"a": "x", "b": "y", "winner": "tie", "user": u} for u in "ppqq"]
    )
    model = Strengths({"x": 0.3, "y": 0.0})
    with pytest.warns(UndefinedMetricWarning, match="all 4 labelled records are ties"):
        r = evaluate(model, ds, groups="user")
    assert r["accuracy"] is None
    assert all(row["accuracy"] is None for row in r["per_group"]["user"].values())
    assert r["worst_group"]["user"] is None
    assert np.isfinite([r["log_loss"], r["brier"], r["ece"]]).all()
    json.dumps(r, allow_nan=False)  # raises on NaN
    # counting ties as half credit gives a number
    assert evaluate(model, ds, ties="half")["accuracy"] == pytest.approx(0.5)


def test_zero_weights_give_none_metrics_not_nan():
    ds = PreferenceDataset.from_records(
        [{"a": "x", "b": "y", "winner": "a", "weight": 0.0}] * 3
    )
    with pytest.warns(UndefinedMetricWarning, match="weights sum to 0"):
        r = evaluate(Strengths({"x": 1.0, "y": 0.0}), ds)
    assert r["log_loss"] is None and r["accuracy"] is None and r["ece"] is None
    json.dumps(r, allow_nan=False)


def test_a_group_of_ties_only_is_none_and_the_worst_group_skips_it():
    recs = [{"a": "x", "b": "y", "winner": "tie", "user": "t"}] * 3
    recs += [{"a": "x", "b": "y", "winner": w, "user": "v"} for w in "aab"]
    ds = PreferenceDataset.from_records(recs)
    with pytest.warns(UndefinedMetricWarning, match="1 group"):
        r = evaluate(Strengths({"x": 1.0, "y": 0.0}), ds, groups="user")
    assert r["per_group"]["user"]["t"]["accuracy"] is None
    assert r["worst_group"]["user"]["group"] == "v"
    assert r["accuracy"] == pytest.approx(2 / 3)
    json.dumps(r, allow_nan=False)


@pytest.mark.parametrize("coefficient", [kendall_tau, spearman_rho])
def test_rank_correlation_of_constant_scores_is_zero_with_a_warning(coefficient):
    with pytest.warns(ConstantScoresWarning, match="constant"):
        value = coefficient([0.0, 0.0, 0.0, 0.0], [1.0, 2.0, 3.0, 4.0])
    assert value == 0.0
    with pytest.warns(ConstantScoresWarning):
        assert coefficient({"a": 1, "b": 2}, {"a": 5, "b": 5}) == 0.0
    assert coefficient([1, 2, 3], [1, 2, 3]) == pytest.approx(1.0)  # no warning path unchanged
