"""The item-level plural models on the one contract: PreferenceEstimator, prefkit.save/load,
0.1 directories, and small-data defects of #12 (few users, rating records)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.base import clone

import prefkit
from prefkit.core.estimator import PreferenceEstimator
from prefkit.data.schema import PreferenceDataset
from prefkit.errors import ModelFileError, NotFittedError
from prefkit.plural import (
    BradleyTerryMixture,
    CovariateBradleyTerry,
    FewUsersWarning,
    PlackettLuceMixture,
)


def _two_tastes(users=12, per_user=30, seed=0):
    """Users of two opposite tastes over 5 items, with a per-user covariate 'side'."""
    rng = np.random.default_rng(seed)
    theta = np.linspace(-1.5, 1.5, 5)
    rows = []
    for u in range(users):
        sign = 1.0 if u % 2 else -1.0
        for _ in range(per_user):
            i, j = rng.choice(5, 2, replace=False)
            p = 1 / (1 + np.exp(-sign * (theta[i] - theta[j])))
            rows.append({"a": f"i{i}", "b": f"i{j}", "winner": "a" if rng.random() < p else "b",
                         "user_id": f"u{u}", "side": "plus" if sign > 0 else "minus"})
    return PreferenceDataset.from_records(rows)


MODELS = [
    lambda: PlackettLuceMixture(2, n_init=1),
    lambda: BradleyTerryMixture("auto", max_components=3, n_init=1),
    lambda: CovariateBradleyTerry(["side"], l2=1.0),
]


@pytest.mark.parametrize("make", MODELS)
def test_save_load_through_prefkit_gives_identical_predictions(tmp_path, make):
    ds = _two_tastes()
    model = make()
    assert isinstance(model, PreferenceEstimator)
    with pytest.raises(NotFittedError):
        model.predict_proba(ds)
    model.fit(ds)
    prefkit.save(model, tmp_path / "m")
    doc = json.loads((tmp_path / "m" / "config.json").read_text())
    assert doc["format"] == "prefkit" and doc["class"] == f"plural.{type(model).__name__}"
    back = prefkit.load(tmp_path / "m")
    assert type(back) is type(model) and back.get_params() == model.get_params()
    np.testing.assert_array_equal(back.predict_proba(ds), model.predict_proba(ds))
    # hyper-parameters from the signature: sklearn's clone works, hand-written get_params gone
    twin = clone(model)
    assert twin.get_params() == model.get_params() and not hasattr(twin, "users_")


@pytest.mark.parametrize("make", MODELS)
def test_legacy_01_directory_loads(tmp_path, make):
    """A 0.1 directory (format prefkit.plural, config at the top level, arrays.npz) loads."""
    from safetensors.numpy import load_file

    ds = _two_tastes()
    model = make().fit(ds)
    model.save(tmp_path / "new")
    doc = json.loads((tmp_path / "new" / "config.json").read_text())
    arrays = load_file(str(tmp_path / "new" / "arrays.safetensors"))
    old = tmp_path / "old"
    old.mkdir()
    legacy = {"format": "prefkit.plural", "version": 1, "class": type(model).__name__,
              **doc["config"]}
    params = legacy["params"]
    if "n_components" in params:  # the 0.1 name of the mixtures' hyper-parameter
        params["components"] = params.pop("n_components")
    (old / "config.json").write_text(json.dumps(legacy))
    np.savez(old / "arrays.npz", **arrays)
    back = prefkit.load(old)
    np.testing.assert_allclose(back.predict_proba(ds), model.predict_proba(ds))
    # the 0.1 plural.load still works, with a deprecation warning
    from prefkit.plural import load as old_load

    with pytest.warns(DeprecationWarning):
        assert type(old_load(old)) is type(model)


def test_tampered_arrays_are_one_line_errors(tmp_path):
    from safetensors.numpy import load_file, save_file

    model = PlackettLuceMixture(2, n_init=1).fit(_two_tastes())
    model.save(tmp_path / "m")
    arrays = load_file(str(tmp_path / "m" / "arrays.safetensors"))
    arrays["responsibilities"] = arrays["responsibilities"][:3]
    save_file(arrays, str(tmp_path / "m" / "arrays.safetensors"))
    with pytest.raises(ModelFileError, match="responsibilities"):
        prefkit.load(tmp_path / "m")


@pytest.mark.parametrize("users", [1, 2])
def test_mixture_on_fewer_users_than_components_reduces_k(users):
    """#12 item 12: 'n_samples=1 should be >= n_clusters=2' from k-means; now K ≤ users."""
    ds = _two_tastes(users=users, per_user=15)
    with pytest.warns(FewUsersWarning, match=f"{users} user"):
        model = BradleyTerryMixture(3, n_init=2).fit(ds)
    assert model.n_components_ == users
    auto = PlackettLuceMixture("auto").fit(ds)  # BIC over K = 1..min(users, max_components)
    assert auto.n_components_ <= users and set(auto.selection_scores_) <= set(range(1, users + 1))
    held = BradleyTerryMixture("auto", selection="heldout").fit(ds)
    assert held.n_components_ <= users
    assert np.isfinite(model.predict_proba(ds)).all()


def test_mixture_on_one_record_per_user():
    rows = [{"a": "x", "b": "y", "winner": "a", "user_id": "u1"},
            {"a": "x", "b": "y", "winner": "a", "user_id": "u2"}]
    ds = PreferenceDataset.from_records(rows)
    model = BradleyTerryMixture(2, n_init=2).fit(ds)  # identical profiles: no k-means start
    assert model.n_components_ == 2 and np.isfinite(model.predict_proba(ds)).all()


def test_pl_mixture_takes_rating_records_as_pairs_within_users():
    """#12 item 12: Polis votes (rating records) gave IndexError; they become pairs per user."""
    rows = []
    for u in range(6):
        for item, vote in zip("abcd", (1, 0, -1, 1 if u % 2 else -1), strict=True):
            rows.append({"item": item, "user_id": f"u{u}", "scores": {"vote": float(vote)}})
    ratings = PreferenceDataset.from_records(rows, kind="rating")
    model = PlackettLuceMixture(2, n_init=1).fit(ratings)
    pairs = ratings.to_pairs()
    assert model.n_obs_ == len(pairs)
    p = model.predict_proba(pairs)
    assert p.shape == (len(pairs),) and np.isfinite(p).all()
