"""Feature-level plural models (torch): MaxMin-RLHF, PAL-A, PAL-B, VPL, MiCRo."""

from __future__ import annotations

import numpy as np
import pytest
from plural_helpers import bayes_accuracy, text_groups, true_groups

from prefkit import load
from prefkit.errors import DataError, ModelFileError
from prefkit.evaluate import evaluate
from prefkit.plural import (
    PALA,
    PALB,
    VPL,
    MaxMinRLHF,
    MiCRo,
    annotator_distribution,
    disagreement_calibration,
    few_shot_curve,
    group_recovery,
    soft_label_log_loss,
    worst_group_accuracy,
)

MODELS = {
    "maxmin": lambda: MaxMinRLHF(3),
    "pal-a": lambda: PALA(3),
    "pal-b": lambda: PALB(3),
    "vpl": lambda: VPL(epochs=300),
    "micro": lambda: MiCRo(3),
}
_FITTED: dict[str, object] = {}


def fitted(name: str):
    if name not in _FITTED:
        _, train, _, _ = text_groups()
        _FITTED[name] = MODELS[name]().fit(train)
    return _FITTED[name]


def test_simulation_is_learnable_but_population_model_fails():
    sim, _, test, _ = text_groups()
    assert bayes_accuracy(sim) >= 0.93
    population = MaxMinRLHF(1).fit(text_groups()[1])
    assert evaluate(population, test)["accuracy"] <= 0.60


@pytest.mark.parametrize("name", list(MODELS))
def test_personalized_accuracy(name):
    sim, _, test, _ = text_groups()
    model = fitted(name)
    assert evaluate(model, test)["accuracy"] >= 0.90
    assert worst_group_accuracy(model, test, true_groups(sim, test)) >= 0.85


@pytest.mark.parametrize("name", ["maxmin", "pal-a", "vpl"])
def test_new_user_from_eight_pairs(name):
    _, _, _, new = text_groups()
    curve = few_shot_curve(fitted(name), new, ks=(1, 4, 8, 16))
    assert curve[8]["accuracy"] >= 0.85
    assert curve[8]["population_accuracy"] <= 0.65


def test_maxmin_groups_and_aggregation():
    sim, _, test, _ = text_groups()
    model = fitted("maxmin")
    assert group_recovery(model, sim.truth["users"], sim.truth["user_group"]) >= 0.9
    ra, rb = model.rewards(test)
    assert ra.shape == (len(test), 3)
    egal = model.aggregate_proba(test, "egalitarian")
    util = model.aggregate_proba(test, "utilitarian")
    mix = model.aggregate_proba(test, "mixture")
    np.testing.assert_allclose(egal, 1 / (1 + np.exp(-(ra.min(1) - rb.min(1)))))
    assert np.all((util > 0) & (util < 1)) and np.all((mix > 0) & (mix < 1))
    # max-min choice: the candidate whose worst group is best off
    fa = np.column_stack([test.column(f"a_{a}") for a in sim.truth["attributes"]])[:6]
    best = model.select(fa, "egalitarian")
    r = (model.module_(__import__("torch").as_tensor(
        ((fa - model.feature_mean_) / model.feature_std_).astype(np.float32))).detach().numpy()
        - model.reward_mean_) / model.reward_std_
    assert best == int(np.argmax(r.min(1)))


@pytest.mark.parametrize("name", list(MODELS))
def test_save_load_roundtrip(tmp_path, name):
    _, _, test, new = text_groups()
    model = fitted(name)
    model.save(tmp_path / name)
    back = load(tmp_path / name)
    np.testing.assert_allclose(back.predict_proba(test), model.predict_proba(test), atol=1e-5)
    anon = test.replace(test.table.drop_columns(["user_id"]))
    assert np.all(np.isfinite(back.predict_proba(anon)))
    adapted = back.adapt(new)
    assert len(adapted.users_) == len(model.users_) + 20
    assert (tmp_path / name / "arrays.safetensors").is_file()  # the one weight format
    assert not (tmp_path / name / "arrays.npz").exists()


def test_explicit_features_and_errors(tmp_path):
    _, train, test, _ = text_groups()
    rng = np.random.default_rng(0)
    proj = rng.normal(size=(5, 16))
    attrs = ["length", "politeness", "markdown", "correctness", "safety"]

    def feats(ds):
        fa = np.column_stack([ds.column(f"a_{a}") for a in attrs]) @ proj
        fb = np.column_stack([ds.column(f"b_{a}") for a in attrs]) @ proj
        return fa, fb

    model = PALA(3, epochs=200).fit(train, features=feats(train))
    p = model.predict_proba(test, features=feats(test))
    acc = np.mean((p > 0.5) == (test.outcomes() > 0.5))
    assert acc >= 0.85
    with pytest.raises(DataError):
        model.predict_proba(test, features=(np.zeros((3, 16)), np.zeros((3, 16))))
    with pytest.raises(DataError):
        PALA(2).fit(train.replace(train.table.select(["a", "b", "winner", "user_id"])))


class _FakeEncoder:
    """encode(texts) → hashed bag of words (stands in for the sentence encoder)."""

    def encode(self, texts):
        out = np.zeros((len(texts), 32), np.float32)
        for i, t in enumerate(texts):
            for w in str(t).split():
                out[i, hash(w) % 32] += 1.0
        return out


def test_encoder_features(tmp_path):
    _, train, test, _ = text_groups()
    enc = _FakeEncoder()
    model = MiCRo(2, encoder=enc, epochs=50).fit(train.take(np.arange(300)))
    assert model.n_prompt_features_ == 32
    assert model.predict_proba(test.take(np.arange(20))).shape == (20,)
    model.save(tmp_path / "m")
    with pytest.raises(ModelFileError):
        MiCRo.load(tmp_path / "m")
    back = MiCRo.load(tmp_path / "m", encoder=enc)
    assert back.predict_proba(test.take(np.arange(5))).shape == (5,)


def test_annotator_soft_labels():
    from prefkit.data.schema import PreferenceDataset

    recs = [
        {"pair_id": "p1", "a": "x", "b": "y", "winner": w, "annotator_id": f"r{i}"}
        for i, w in enumerate(["a", "a", "b"])
    ] + [{"pair_id": "p2", "a": "y", "b": "x", "winner": "tie", "annotator_id": "r0"},
         {"pair_id": "p2", "a": "x", "b": "y", "winner": "a", "annotator_id": "r1"}]
    ds = PreferenceDataset.from_records(recs)
    _, p, n = annotator_distribution(ds)
    np.testing.assert_allclose(p, [2 / 3, 0.25])
    np.testing.assert_allclose(n, [3, 2])
    assert soft_label_log_loss([0.5], [0.5]) == pytest.approx(np.log(2))
    assert soft_label_log_loss([0.5], [0.5], entropy=True) == pytest.approx(0.0, abs=1e-12)

    class Const:
        def predict_proba(self, d):
            return np.full(len(d), 0.5)

    res = disagreement_calibration(Const(), ds)
    assert res["n"] == 2 and res["kl"] >= 0


def test_one_framework_with_reward():
    """Issue 11 item 5: the plural models train on the reward layer's features and Adam loop."""
    import prefkit.plural._torch as torch_models
    from prefkit.reward import _train, features

    assert torch_models.pair_features is features.pair_features
    assert torch_models.adam_fit is _train.adam_fit
    with pytest.raises(ImportError):
        __import__("prefkit.plural._features")


def test_hyper_parameters_from_the_signature():
    from sklearn.base import clone

    model = PALB(2, dim=4, epochs=7, lr=0.1)
    params = model.get_params()
    assert params["dim"] == 4 and params["epochs"] == 7 and params["lr"] == 0.1
    twin = clone(model)
    assert type(twin) is PALB and twin.get_params() == params
    assert VPL().get_params()["lr"] == 0.005  # the subclass's own default


def test_legacy_directory_and_tampered_weights(tmp_path):
    """0.1 directories (``prefkit.plural`` + arrays.npz) load; wrong shapes are one line."""
    import json

    from safetensors.numpy import load_file, save_file

    _, _, test, _ = text_groups()
    model = fitted("pal-b")
    new = tmp_path / "new"
    model.save(new)
    doc = json.loads((new / "config.json").read_text())
    arrays = load_file(str(new / "arrays.safetensors"))
    old = tmp_path / "old"
    old.mkdir()
    legacy = {"format": "prefkit.plural", "version": 1, "class": "PALB", **doc["config"]}
    (old / "config.json").write_text(json.dumps(legacy))
    np.savez(old / "arrays.npz", **arrays)
    back = load(old)
    np.testing.assert_allclose(back.predict_proba(test), model.predict_proba(test), atol=1e-6)
    arrays["state.omega"] = np.zeros((3, 99), np.float32)
    bad = tmp_path / "bad"
    model.save(bad)
    save_file(arrays, str(bad / "arrays.safetensors"))
    with pytest.raises(ModelFileError, match="omega"):
        load(bad)
