"""Per-group breakdowns, worst group, and evaluate() with dummy models."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import expit

from prefkit.data.schema import PreferenceDataset
from prefkit.data.simulate import outcome_probabilities, simulate_items, simulate_users
from prefkit.errors import DataError
from prefkit.evaluate import evaluate, pairwise_metrics, per_group, worst_group
from prefkit.evaluate.classification import accuracy


def test_per_group_and_worst_group_pick_the_right_group():
    y = np.array([1, 1, 0, 0, 1, 0, 1])
    p = np.array([0.9, 0.8, 0.2, 0.9, 0.1, 0.3, 0.6])
    groups = ["x", "x", "x", "y", "y", "z", "z"]
    table = per_group(groups, y, p)
    assert list(table) == ["x", "y", "z"]
    assert table["x"]["accuracy"] == 1.0 and table["y"]["accuracy"] == 0.0
    assert table["x"]["n"] == 3 and table["y"]["n"] == 2
    key, row = worst_group(table, "accuracy")
    assert key == "y" and row["accuracy"] == 0.0
    key, _ = worst_group(table, "log_loss")  # a loss: the largest is the worst
    assert key == "y"
    key, _ = worst_group(table, "accuracy", min_size=3)
    assert key == "x"  # y and z are too small
    assert worst_group({}, "accuracy") == (None, None)


def test_per_group_with_a_custom_metric_and_missing_labels():
    table = per_group(
        np.array(["u", None, "u", None], dtype=object),
        [1, 0, 0, 1],
        [0.9, 0.9, 0.1, 0.9],
        metric=accuracy,
        ties="half",
    )
    assert table == {"<missing>": {"n": 2, "accuracy": 0.5}, "u": {"n": 2, "accuracy": 1.0}}
    with pytest.raises(DataError):
        worst_group(table, "mystery")
    assert worst_group(table, "mystery", higher_is_better=False)[0] is None


class Constant:
    def __init__(self, value):
        self.value = value

    def predict_proba(self, dataset):
        return np.full(len(dataset), self.value)


class TrueModel:
    """Predicts from known log-strengths (and, with ``three=True``, Davidson tie probabilities)."""

    def __init__(self, items, theta, model="bt", tie=0.0, three=False):
        self.theta = dict(zip(items, theta, strict=True))
        self.model, self.tie, self.three = model, tie, three

    def predict_proba(self, dataset):
        items, ia, ib = dataset.item_codes()
        t = np.array([self.theta[i] for i in items])
        pa, pb, pt = outcome_probabilities(t[ia] - t[ib], self.model, self.tie)
        return np.column_stack([pa, pb, pt]) if self.three else pa


def test_evaluate_constant_half_model():
    ds = PreferenceDataset.from_records(
        [{"a": "x", "b": "y", "winner": w} for w in ["a", "a", "a", "b", "tie"]]
    )
    r = evaluate(Constant(0.5), ds)
    assert r["n"] == 5 and r["n_ties"] == 1
    assert r["log_loss"] == pytest.approx(math.log(2))
    assert r["brier"] == pytest.approx(4 * 0.25 / 5)
    assert r["accuracy"] == pytest.approx(0.5)  # every prediction is a tie: half credit
    assert r["ece"] == pytest.approx(0.0) and r["ece_symmetric"] is True  # ½ is symmetric
    one_sided = evaluate(Constant(0.5), ds, symmetric_ece=False)
    assert one_sided["ece"] == pytest.approx(abs((3 + 0.5) / 5 - 0.5))
    assert one_sided["ece_symmetric"] is False
    assert "per_group" not in r


def test_evaluate_true_model_on_simulated_data_with_ties():
    sim = simulate_items(n_items=8, n_comparisons=20_000, model="davidson", tie_param=0.6, seed=1)
    model = TrueModel(sim.truth["items"], sim.truth["log_strength"], "davidson", 0.6, three=True)
    r = evaluate(model, sim.dataset)
    assert r["ece"] < 0.02
    assert "log_loss_3way" in r and r["log_loss_3way"] > r["log_loss"] - 1.0
    worse = evaluate(Constant(0.5), sim.dataset)
    assert r["log_loss"] < worse["log_loss"] and r["brier"] < worse["brier"]
    assert r["accuracy"] > 0.6


def test_evaluate_worst_group_is_the_group_the_model_ignores():
    sim = simulate_users(n_items=10, n_users=20, n_groups=2, comparisons_per_user=100, seed=3)
    t = sim.truth

    class GroupZeroModel:  # a single Bradley–Terry model fitted to group 0's taste
        def predict_proba(self, dataset):
            _items, ia, ib = dataset.item_codes()
            u = t["group_utilities"][0]
            return expit(u[ia] - u[ib])

    user_group = dict(zip(t["users"], t["user_group"], strict=True))
    groups = {"group": [str(user_group[u]) for u in sim.dataset.column("user_id")]}
    r = evaluate(GroupZeroModel(), sim.dataset, groups=groups)
    table = r["per_group"]["group"]
    assert table["0"]["accuracy"] > 0.65 > 0.35 > table["1"]["accuracy"]
    assert r["worst_group"]["group"]["group"] == "1"
    # grouping by a column of the dataset works the same way
    by_user = evaluate(GroupZeroModel(), sim.dataset, groups="user_id", min_group_size=50)
    assert len(by_user["per_group"]["user_id"]) == 20
    worst_user = by_user["worst_group"]["user_id"]["group"]
    assert user_group[worst_user] == 1


def test_evaluate_soft_labels_and_weights():
    ds = PreferenceDataset.from_records(
        [
            {"a": "x", "b": "y", "p_a": 0.8, "weight": 1.0},
            {"a": "y", "b": "x", "p_a": 0.3, "weight": 3.0},
        ]
    )
    r = evaluate(Constant(0.7), ds)
    expected_ll = (
        -(0.8 * math.log(0.7) + 0.2 * math.log(0.3))
        - 3 * (0.3 * math.log(0.7) + 0.7 * math.log(0.3))
    ) / 4
    assert r["log_loss"] == pytest.approx(expected_ll)
    assert r["accuracy"] == pytest.approx(0.25)


def test_evaluate_ranking_data_through_rank_breaking():
    ds = PreferenceDataset.from_records(
        [{"ranking": ["x", "y", "z"]}, {"ranking": ["y", "x"]}], kind="ranking"
    )
    model = TrueModel(["x", "y", "z"], [2.0, 1.0, 0.0])
    r = evaluate(model, ds)
    assert r["n"] == 4  # 3 pairs + 1 pair
    assert r["accuracy"] == pytest.approx(3 / 4)


def test_evaluate_rejects_bad_predictions():
    ds = PreferenceDataset.from_records([{"a": "x", "b": "y", "winner": "a"}] * 3)

    class Short:
        def predict_proba(self, dataset):
            return [0.5]

    with pytest.raises(DataError, match="returned shape"):
        evaluate(Short(), ds)
    with pytest.raises(DataError):
        evaluate(Constant(1.5), ds)
    with pytest.raises(TypeError):
        evaluate(object(), ds)
    with pytest.raises(DataError, match="no such column"):
        evaluate(Constant(0.5), ds, groups="user_id")


@pytest.mark.parametrize("ties", ["exclude", "half", "exact", "count_wrong"])
def test_vectorised_group_bundle_equals_per_group_metric_calls(ties):
    rng = np.random.default_rng(7)
    n = 3000
    y = rng.choice([0.0, 1.0, 0.5, 0.3], size=n, p=[0.4, 0.4, 0.15, 0.05])
    p = np.round(rng.random(n), 2)  # includes exact ½ and bin edges
    w = rng.choice([0.0, 1.0, 2.5], size=n)
    groups = rng.choice(["a", "b", "c", "d"], size=n)
    fast = per_group(groups, y, p, sample_weight=w, ties=ties, tie_threshold=0.05, n_bins=7)

    def bundle(yy, pp, sample_weight):
        return pairwise_metrics(
            yy, pp, sample_weight=sample_weight, ties=ties, tie_threshold=0.05, n_bins=7
        )

    slow = per_group(groups, y, p, sample_weight=w, metric=bundle)
    assert fast.keys() == slow.keys()
    for key in fast:
        for name, value in slow[key].items():
            assert fast[key][name] == pytest.approx(value, rel=1e-9), (key, name)


def test_evaluate_prefers_the_full_outcome_prediction_of_tie_models():
    ds = PreferenceDataset.from_records(
        [{"a": "x", "b": "y", "winner": w} for w in ["a", "tie", "b", "tie"]]
    )

    class TieModel:
        def predict_proba(self, dataset):  # strict win probability only
            return np.full(len(dataset), 0.3)

        def predict_outcome_proba(self, dataset):
            return np.tile([0.3, 0.3, 0.4], (len(dataset), 1))

    r = evaluate(TieModel(), ds)
    assert r["log_loss"] == pytest.approx(math.log(2))  # scored on 0.3 + ½·0.4 = ½
    expected_3way = -(math.log(0.3) + 2 * math.log(0.4) + math.log(0.3)) / 4
    assert r["log_loss_3way"] == pytest.approx(expected_3way)


def test_evaluate_a_fitted_choice_model_on_simulated_ties():
    choice = pytest.importorskip("prefkit.choice")
    sim = simulate_items(n_items=6, n_comparisons=30_000, model="davidson", tie_param=0.7, seed=4)
    model = choice.Davidson().fit(sim.dataset)
    r = evaluate(model, sim.dataset)
    assert r["ece"] < 0.02 and "log_loss_3way" in r
    truth = TrueModel(sim.truth["items"], sim.truth["log_strength"], "davidson", 0.7, three=True)
    assert r["log_loss_3way"] == pytest.approx(
        evaluate(truth, sim.dataset)["log_loss_3way"], abs=0.01
    )


def test_evaluate_group_labels_must_align():
    ds = PreferenceDataset.from_records([{"a": "x", "b": "y", "winner": "a"}] * 3)
    with pytest.raises(DataError, match="2 group labels for 3 records"):
        evaluate(Constant(0.6), ds, groups=np.array(["g", "h"]))
    r = evaluate(Constant(0.6), ds, groups=np.array(["g", "h", "g"]))
    assert r["per_group"]["groups"]["g"]["n"] == 2
