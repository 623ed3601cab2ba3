"""One save/load: a registered toy estimator round-trips; foreign and tampered dirs are refused."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.base import clone

from prefkit.core import persist, registry
from prefkit.core.estimator import PreferenceEstimator
from prefkit.errors import ModelFileError, NotFittedError


@pytest.fixture()
def toy_class(monkeypatch):
    monkeypatch.setitem(registry.KNOWN_CLASSES, "test.Toy", "tests.core.test_persist:Toy")

    @persist.register("test.Toy")
    class Toy(PreferenceEstimator):
        def __init__(self, scale: float = 1.0, names: tuple[str, ...] = ()) -> None:
            self.scale = scale
            self.names = names

        def fit(self, dataset, **fit_params):
            self.theta_ = np.arange(3, dtype=float) * self.scale
            return self

        def _get_state(self):
            return {"params": self.get_params(), "items": ["x", "y", "z"]}, {"theta": self.theta_}

        @classmethod
        def _from_state(cls, config, arrays, directory, **kw):
            model = cls(**config["params"])
            model.theta_ = persist.expect_array(arrays, "theta", (3,), where=directory)
            return model

    yield Toy
    persist._REGISTRY.pop("test.Toy", None)


def test_params_from_signature_and_clone(toy_class):
    model = toy_class(scale=2.0)
    assert model.get_params() == {"scale": 2.0, "names": ()}
    copy = clone(model)
    assert copy.scale == 2.0 and copy is not model
    with pytest.raises(NotFittedError):
        model.check_fitted()


def test_round_trip(toy_class, tmp_path):
    model = toy_class(scale=2.0).fit(None)
    model.save(tmp_path / "m")
    doc = json.loads((tmp_path / "m" / "config.json").read_text())
    assert doc["format"] == "prefkit" and doc["class"] == "test.Toy" and doc["version"] == 2
    back = persist.load(tmp_path / "m")
    assert type(back) is toy_class
    np.testing.assert_array_equal(back.theta_, model.theta_)
    assert back.scale == 2.0


def test_unknown_class_is_refused_without_import(toy_class, tmp_path, monkeypatch):
    model = toy_class().fit(None)
    model.save(tmp_path / "m")
    cfg = tmp_path / "m" / "config.json"
    doc = json.loads(cfg.read_text())
    imported = []
    monkeypatch.setattr(persist.importlib, "import_module", lambda name: imported.append(name))
    for bad in ("os.system", "subprocess:Popen", "choice.Nope", ["x"]):
        doc["class"] = bad
        cfg.write_text(json.dumps(doc))
        with pytest.raises(ModelFileError, match="unknown model class"):
            persist.load(tmp_path / "m")
    assert imported == []


def test_tampered_arrays_and_config(toy_class, tmp_path):
    model = toy_class().fit(None)
    model.save(tmp_path / "m")
    arrays = tmp_path / "m" / persist.ARRAYS_FILE
    arrays.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json" + b"\x00" * 16)
    with pytest.raises(ModelFileError, match="safetensors"):
        persist.load(tmp_path / "m")
    persist.write_arrays(arrays, {"theta": np.zeros(5)})
    with pytest.raises(ModelFileError, match="shape"):
        persist.load(tmp_path / "m")
    cfg = tmp_path / "m" / "config.json"
    doc = json.loads(cfg.read_text())
    doc["version"] = "2"
    cfg.write_text(json.dumps(doc))
    with pytest.raises(ModelFileError, match="'version'"):
        persist.load(tmp_path / "m")
    doc["version"] = 2
    doc["config"] = [1, 2]
    cfg.write_text(json.dumps(doc))
    with pytest.raises(ModelFileError, match="'config'"):
        persist.load(tmp_path / "m")
    doc["version"] = 99
    cfg.write_text(json.dumps(doc))
    with pytest.raises(ModelFileError, match="newer"):
        persist.load(tmp_path / "m")


def test_foreign_and_missing_directories(tmp_path):
    with pytest.raises(ModelFileError, match="no such model directory"):
        persist.load(tmp_path / "nope")
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "config.json").write_text('{"model_type": "bert"}')
    with pytest.raises(ModelFileError, match="not a saved prefkit model"):
        persist.load(tmp_path / "f")


def test_npz_bomb_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "arrays.npz"
    np.savez_compressed(path, big=np.zeros(1_000_000))
    monkeypatch.setenv("PREFKIT_MAX_ARRAY_BYTES", "1000")
    with pytest.raises(ModelFileError, match="PREFKIT_MAX_ARRAY_BYTES"):
        persist.read_npz(path)


def test_register_requires_fixed_table_entry():
    with pytest.raises(ValueError, match="KNOWN_CLASSES"):
        persist.register("test.NotListed")
