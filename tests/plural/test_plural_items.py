"""Item-level plural models: BT/PL mixtures by EM and Bradley–Terry with user covariates."""

from __future__ import annotations

import numpy as np
import pytest
from plural_helpers import item_groups, true_groups

from prefkit import load
from prefkit.choice import BradleyTerry, PlackettLuce
from prefkit.data.simulate import simulate_rankings
from prefkit.errors import DataError, ModelFileError
from prefkit.evaluate import evaluate
from prefkit.plural import (
    BradleyTerryMixture,
    CovariateBradleyTerry,
    PlackettLuceMixture,
    few_shot_curve,
    group_recovery,
    per_user_accuracy,
    worst_group_accuracy,
)


@pytest.fixture(scope="module")
def mixture():
    _, train, _, _ = item_groups()
    return BradleyTerryMixture(n_components="auto", max_components=5, n_init=1).fit(train)


def test_population_bt_fails_on_conflicting_groups():
    _, train, test, _ = item_groups()
    assert evaluate(BradleyTerry().fit(train), test)["accuracy"] <= 0.60


def test_mixture_recovers_groups_and_predicts(mixture):
    sim, _, test, _ = item_groups()
    assert mixture.n_components_ == 3
    assert mixture.selection_scores_[3] == min(mixture.selection_scores_.values())
    assert evaluate(mixture, test)["accuracy"] >= 0.90
    assert worst_group_accuracy(mixture, test, true_groups(sim, test)) >= 0.85
    ari = group_recovery(mixture, sim.truth["users"], sim.truth["user_group"])
    assert ari >= 0.9
    acc = per_user_accuracy(mixture, test)
    assert len(acc) == 60 and np.mean(list(acc.values())) >= 0.85


def test_new_users_from_few_pairs(mixture):
    _, _, _, new = item_groups()
    curve = few_shot_curve(mixture, new, ks=(1, 2, 4, 8, 16))
    assert set(curve) == {1, 2, 4, 8, 16}
    assert curve[8]["accuracy"] >= 0.85
    assert curve[8]["population_accuracy"] <= 0.65
    assert curve[16]["accuracy"] >= curve[1]["accuracy"]


def test_unknown_user_gets_mixture_marginal(mixture):
    _, _, test, _ = item_groups()
    anon = test.replace(test.table.drop_columns(["user_id"]))
    p = mixture.predict_proba(anon)
    comp = mixture.predict_component_proba(anon)
    np.testing.assert_allclose(p, comp @ mixture.weights_)


def test_heldout_selection_and_save_load(tmp_path, mixture):
    _, train, test, _ = item_groups()
    m = BradleyTerryMixture("auto", selection="heldout", max_components=4, n_init=1).fit(train)
    assert m.n_components_ == 3
    mixture.save(tmp_path / "m")
    back = load(tmp_path / "m")
    np.testing.assert_allclose(back.predict_proba(test), mixture.predict_proba(test))
    with pytest.raises(ModelFileError):
        CovariateBradleyTerry.load(tmp_path / "m")
    with pytest.raises(ModelFileError):
        load(tmp_path / "nothing")


def test_pl_mixture_on_rankings_beats_single_pl():
    a = simulate_rankings(n_items=8, n_rankings=300, seed=1, spread=2.0)
    b = simulate_rankings(n_items=8, n_rankings=300, seed=2, spread=2.0)
    from prefkit.data.schema import PreferenceDataset

    ds = PreferenceDataset.concat([a.dataset, b.dataset])
    ds = ds.with_column("user_id", [f"u{i}" for i in range(len(ds))])
    train, test = ds.split(by="user", test_size=0.3, seed=0)
    mix = PlackettLuceMixture(2, n_init=1).fit(train)
    single = PlackettLuce().fit(train)
    assert mix.log_likelihood(test) > single.log_likelihood(test) + 10
    one = PlackettLuceMixture(1).fit(train)
    assert one.log_likelihood(test) == pytest.approx(single.log_likelihood(test), rel=1e-3)


def test_covariates_model():
    sim, train, test, _ = item_groups()
    group = dict(zip(sim.truth["users"], sim.truth["user_group"], strict=True))

    def with_cov(ds):
        g = np.array([group[u] for u in ds.column("user_id")])
        return ds.with_column("segment", [f"s{x}" for x in g])

    tr, te = with_cov(train), with_cov(test)
    cov = CovariateBradleyTerry().fit(tr)
    plain = CovariateBradleyTerry([]).fit(tr)
    assert cov.covariate_names_ == ["segment=s1", "segment=s2"]
    assert cov.aic_ < plain.aic_
    assert cov.log_likelihood(te) > plain.log_likelihood(te)
    assert evaluate(cov, te)["accuracy"] >= 0.9
    scores = cov.user_scores({"segment": "s0"})
    assert len(scores) == 12
    with pytest.raises(DataError):
        CovariateBradleyTerry(["nope"]).fit(tr)


def test_bad_input():
    _, train, _, _ = item_groups()
    with pytest.raises(DataError):
        BradleyTerryMixture(n_components="many").fit(train)
