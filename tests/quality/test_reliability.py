"""Annotator reliability: Crowd-BT and Dawid–Skene recover known η on simulated annotators."""

from __future__ import annotations

import numpy as np
import pytest

from prefkit import PreferenceDataset
from prefkit.quality import CrowdBT, DawidSkene, heldout_agreement, simulate_annotators

ETA = {"good": 0.9, "fair": 0.75, "adversary": 0.2, "spammer": 0.5, "ok": 0.8}


@pytest.fixture(scope="module")
def sim():
    return simulate_annotators(n_items=20, n_comparisons=500, eta=ETA, per_comparison=3, seed=3)


def test_crowd_bt_recovers_eta_within_intervals(sim):
    report = CrowdBT().fit(sim.dataset).annotator_report()
    for name, true_eta in ETA.items():
        row = report[name]
        assert abs(row["reliability"] - true_eta) < 0.08, (name, row)
        lo, hi = row["interval"]
        assert lo - 0.03 <= true_eta <= hi + 0.03, (name, row)
    assert "adversary" in report["adversary"]["flags"]
    assert "spammer" in report["spammer"]["flags"]
    assert not report["good"]["flags"]


def test_crowd_bt_items_correlate_with_truth(sim):
    model = CrowdBT().fit(sim.dataset)
    order = [int(n[1:]) for n in model.items_]
    assert np.corrcoef(model.ratings_, sim.theta[order])[0, 1] > 0.9


def test_dawid_skene_recovers_eta_with_ties():
    sim = simulate_annotators(n_items=15, n_comparisons=500, eta=ETA, per_comparison=3,
                              tie_rate=0.1, seed=5)
    model = DawidSkene().fit(sim.dataset)
    report = model.annotator_report()
    for name, true_eta in ETA.items():  # a tie report is never the true winner: η·(1 − 0.1)
        assert abs(report[name]["reliability"] - 0.9 * true_eta) < 0.1, (name, report[name])
    assert "adversary" in report["adversary"]["flags"]
    p = model.predict_proba(sim.dataset)
    assert np.all(np.isfinite(p)) and np.mean((p > 0.5) == sim.truth[sim.comparison]) > 0.8
    crowd = CrowdBT().fit(sim.dataset).annotator_report()  # ties count half for Crowd-BT
    assert crowd["good"]["reliability"] > crowd["fair"]["reliability"] > 0.5


def test_crowd_bt_beats_majority_vote_when_reliabilities_differ():
    wins = []
    for seed in range(2):
        sim = simulate_annotators(n_items=20, n_comparisons=200,
                                  eta=(0.95, 0.65, 0.6, 0.2), per_comparison=3, seed=seed)
        truth = sim.truth[sim.comparison]
        against_truth = heldout_agreement(sim.dataset, CrowdBT, seed, truth=truth)
        against_label = heldout_agreement(sim.dataset, CrowdBT, seed)
        wins.append(against_truth["model"] - against_truth["majority"])
        assert against_label["model"] > against_label["majority"]
    assert min(wins) > 0.1


def _records(rows):
    return PreferenceDataset.from_records(
        [{"pair_id": p, "a": a, "b": b, "winner": w, "annotator_id": k} for p, a, b, w, k in rows]
    )


def test_single_label_annotator_and_single_annotator_items_are_finite():
    sim = simulate_annotators(n_items=10, n_comparisons=150, eta=(0.9, 0.8, 0.7), seed=1)
    extra = _records([("solo", "i0", "i1", "a", "once"),       # annotator with one label
                      ("lonely", "new1", "new2", "b", "ann0")])  # items judged once, by one
    ds = PreferenceDataset.concat([sim.dataset, extra])
    for model in (CrowdBT().fit(ds), DawidSkene().fit(ds)):
        report = model.annotator_report()
        row = report["once"]
        assert row["n"] == 1 and "uncertain" in row["flags"]
        assert 0 < row["reliability"] < 1 and all(np.isfinite(row["interval"]))
        assert np.all(np.isfinite(model.predict_proba(ds)))
        assert np.all(np.isfinite(model.soft_labels(ds)))


def test_swapped_presentation_is_the_same_comparison():
    rows = [("p", "x", "y", "a", "k1"), ("p", "y", "x", "b", "k2"), ("p", "x", "y", "a", "k3")]
    model = DawidSkene().fit(_records(rows))
    p = model.predict_proba(_records(rows))
    assert p[0] > 0.5 and p[1] < 0.5 and p[0] == pytest.approx(1 - p[1])


def test_no_annotator_column_is_one_line_error():
    from prefkit.errors import DataError

    ds = PreferenceDataset.from_records([{"a": "x", "b": "y", "winner": "a"}])
    with pytest.raises(DataError, match="annotator_id"):
        CrowdBT().fit(ds)


def test_bootstrap_interval_covers_truth():
    sim = simulate_annotators(n_items=10, n_comparisons=150, eta=(0.9, 0.6), per_comparison=2,
                              seed=2)
    model = CrowdBT(n_bootstrap=8).fit(sim.dataset)
    assert np.all(model.eta_low_ <= model.eta_) and np.all(model.eta_ <= model.eta_high_)
    assert model.eta_low_[0] < 0.9 + 0.05 and model.eta_high_[1] > 0.6 - 0.05


def test_save_load_round_trip(tmp_path, sim):
    import prefkit

    for model in (CrowdBT().fit(sim.dataset), DawidSkene().fit(sim.dataset)):
        prefkit.save(model, tmp_path / type(model).__name__)
        back = prefkit.load(tmp_path / type(model).__name__)
        before = model.predict_proba(sim.dataset)
        np.testing.assert_allclose(back.predict_proba(sim.dataset), before)
        assert back.annotator_report() == model.annotator_report()


def test_majority_baseline_never_counts_an_annotator_as_their_own_other():
    from prefkit.quality.heldout import majority_agreement

    rows = [("x", "a"), ("x", "a"), ("y", "b"),  # x labels comparison 0 twice, y once
            ("x", "a"), ("y", "a"), ("z", "a")]  # comparison 1: everyone says a
    ds = PreferenceDataset.from_records(
        [{"pair_id": str(k // 3), "a": "i", "b": "j", "annotator_id": who, "winner": w}
         for k, (who, w) in enumerate(rows)])
    base = majority_agreement(ds)
    # x: comparison 0 → others = y alone (b): 2 disagreements; comparison 1 → agrees: 1 of 3
    assert base["x"] == {"agreement": pytest.approx(1 / 3), "n": 3}
    # y: comparison 0 → others = x's two labels (a): disagrees; comparison 1: agrees
    assert base["y"] == {"agreement": 0.5, "n": 2}
    alone = PreferenceDataset.from_records(
        [{"pair_id": "0", "a": "i", "b": "j", "annotator_id": "solo", "winner": w}
         for w in ("a", "b", "a")])
    assert majority_agreement(alone) == {"solo": {"agreement": None, "n": 0}}
