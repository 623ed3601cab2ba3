"""DPOPolicy: a trained policy answers the model contract (issue 11, item 3)."""

from __future__ import annotations

import json
import math
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import prefkit
from prefkit.align.diagnostics import evaluate_policy
from prefkit.align.pairs import TextPairs, collate, sequence_logps, tokenize_pairs
from prefkit.align.policy import DPOPolicy, ReferenceFreeWarning
from prefkit.align.tiny import perturbed_copy, synthetic_preferences, synthetic_records
from prefkit.align.trainer import AlignConfig, AlignTrainer
from prefkit.data import PreferenceDataset
from prefkit.errors import DataError, ModelFileError
from prefkit.evaluate import evaluate


def _by_hand(model: Any, tok: Any, ds: PreferenceDataset) -> tuple[np.ndarray, np.ndarray,
                                                                      np.ndarray]:
    """(log π(a|x), log π(b|x), |b| tokens) one record at a time, through the trainer's batch
    layout (``collate``) and log-prob function (``sequence_logps``)."""
    recs = ds.to_records()
    n = len(recs)
    pairs = tokenize_pairs(tok, TextPairs([r.get("prompt") or "" for r in recs],
                                          [r["a_text"] for r in recs],
                                          [r["b_text"] for r in recs], np.ones(n), np.ones(n)))
    la, lb, nb = [], [], []
    with torch.no_grad():
        for i in range(n):
            logps, lengths = sequence_logps(model.eval(), collate(pairs, [i], tok.pad_token_id))
            la.append(float(logps[0]))
            lb.append(float(logps[1]))
            nb.append(int(lengths[1]))
    return np.array(la), np.array(lb), np.array(nb)


@pytest.fixture
def pair(tiny: tuple[Any, Any]) -> tuple[Any, Any, Any]:
    """(policy, reference, tokenizer): the tiny model and a perturbed copy of it."""
    model, tok = tiny
    return perturbed_copy(model, scale=0.05, seed=3), model, tok


def test_predict_proba_is_sigmoid_of_beta_delta_by_hand(pair) -> None:
    policy, reference, tok = pair
    records = synthetic_records(6, seed=5)
    records[1]["winner"] = "tie"  # outcomes play no part in a prediction
    ds = PreferenceDataset.from_records(records, kind="pairwise")
    beta = 0.3
    model = DPOPolicy.from_models(policy, tok, reference=reference, beta=beta)
    pa, pb, _ = _by_hand(policy, tok, ds)
    ra, rb = _by_hand(reference, tok, ds)[:2]
    expected = 1.0 / (1.0 + np.exp(-beta * ((pa - ra) - (pb - rb))))
    np.testing.assert_allclose(model.predict_proba(ds), expected, atol=1e-6, rtol=0)
    assert np.ptp(expected) > 0.05  # the policy differs from its reference
    rewards = model.reward(ds)
    assert rewards.shape == (6, 2)
    np.testing.assert_allclose(rewards, beta * np.c_[pa - ra, pb - rb], atol=1e-5)
    prompts = [r["prompt"] for r in records]
    np.testing.assert_allclose(model.reward_texts(prompts, [r["b_text"] for r in records]),
                               rewards[:, 1], atol=1e-9)


def test_reference_free_is_the_average_log_prob(pair) -> None:
    policy, _, tok = pair
    ds = synthetic_preferences(4, seed=8)
    model = DPOPolicy.from_models(policy, tok, beta=2.0)
    assert model.reference_free
    _, pb, nb = _by_hand(policy, tok, ds)
    np.testing.assert_allclose(model.reward(ds)[:, 1], 2.0 * pb / nb, atol=1e-5)
    assert np.all((model.predict_proba(ds) > 0) & (model.predict_proba(ds) < 1))
    with pytest.raises(ValueError, match="needs a reference"):
        DPOPolicy.from_models(policy, tok, reward_type="implicit")


def test_contract_details(pair, tmp_path: Path) -> None:
    policy, reference, tok = pair
    model = DPOPolicy.from_models(policy, tok, reference=reference, beta=0.2)
    assert model.get_params()["beta"] == 0.2
    from sklearn.base import clone

    assert clone(model).get_params() == model.get_params()
    with pytest.raises(NotImplementedError, match="prefkit align train"):
        model.fit(synthetic_preferences(2))
    with pytest.raises(prefkit.errors.NotFittedError):
        DPOPolicy().predict_proba(synthetic_preferences(2))
    with pytest.raises(DataError, match="record 1: field 'b_text'"):
        model.predict_proba(PreferenceDataset.from_records(
            [{"a": "m1", "b": "m2", "a_text": "x", "b_text": "y", "winner": "a"},
             {"a": "m1", "b": "m2", "a_text": "x", "winner": "a"}], kind="pairwise"))
    ds = synthetic_preferences(5, seed=2)
    prefkit.save(model, tmp_path / "saved")
    loaded = prefkit.load(tmp_path / "saved")
    assert isinstance(loaded, DPOPolicy) and loaded.reference_ is not None
    np.testing.assert_array_equal(loaded.predict_proba(ds), model.predict_proba(ds))


# ------------------------------------------------------------------ align run directories
@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory, tiny_dir: Path) -> Path:
    """A run trained by the trainer on synthetic preferences, its base inside the run."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    run = tmp_path_factory.mktemp("policy") / "run"
    shutil.copytree(tiny_dir, run / "base")
    model = AutoModelForCausalLM.from_pretrained(run / "base")
    tok = AutoTokenizer.from_pretrained(run / "base")
    cfg = AlignConfig(loss="dpo", beta=0.1, learning_rate=3e-3, max_steps=10, batch_size=8)
    AlignTrainer(model, tok, cfg, base=str((run / "base").resolve())).train(
        synthetic_preferences(64, seed=0), out_dir=run)
    return run


def test_trained_run_beats_chance_and_matches_the_trainers_evaluation(run_dir: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", ReferenceFreeWarning)
        policy = prefkit.load(run_dir)
    assert isinstance(policy, DPOPolicy) and policy.reference_ is not None
    assert policy.beta == 0.1 and policy.run_["loss"] == "dpo"
    test = synthetic_preferences(48, seed=1)
    report = evaluate(policy, test)
    assert report["n"] == 48 and report["accuracy"] > 0.75
    assert report["log_loss"] < math.log(2)
    diag = evaluate_policy(policy.policy_, policy.tokenizer_, test,
                           reference_model=policy.reference_, beta=0.1)
    assert report["accuracy"] == pytest.approx(diag["implicit_reward_accuracy"], abs=1e-12)


def test_load_run_then_predict_on_a_read_file(run_dir: Path, tmp_path: Path) -> None:
    records = synthetic_records(7, seed=4)
    records[2]["winner"] = "tie"
    records[3].pop("winner")
    records[3]["p_a"] = 0.3
    path = tmp_path / "test.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    probs = prefkit.load(run_dir).predict_proba(prefkit.read(str(path)))
    assert probs.shape == (7,) and np.all((probs > 0) & (probs < 1))


def _copy_run(run_dir: Path, dest: Path, base: Any) -> Path:
    shutil.copytree(run_dir, dest, ignore=shutil.ignore_patterns("base", "checkpoints"))
    info = json.loads((dest / "align_config.json").read_text())
    info["base"] = base
    (dest / "align_config.json").write_text(json.dumps(info))
    return dest


def test_a_base_outside_the_run_is_not_followed(run_dir: Path, tmp_path: Path) -> None:
    ds = synthetic_preferences(5, seed=6)
    inside = prefkit.load(run_dir).predict_proba(ds)
    for i, base in enumerate([str((run_dir / "base").resolve()), "../run/base", "/etc", None]):
        moved = _copy_run(run_dir, tmp_path / f"moved{i}", base)
        with pytest.warns(ReferenceFreeWarning, match="reference-free"):
            policy = prefkit.load(moved)
        assert policy.reference_ is None and policy.reference_free
    # the user names the reference explicitly: it is used, and gives the original predictions
    policy = prefkit.load(moved, reference=run_dir / "base")
    np.testing.assert_allclose(policy.predict_proba(ds), inside, atol=1e-6)


def test_tampered_runs_are_one_line_model_file_errors(run_dir: Path, tmp_path: Path) -> None:
    bad = _copy_run(run_dir, tmp_path / "badloss", None)
    info = json.loads((bad / "align_config.json").read_text())
    info["config"]["loss"] = "os.system"
    (bad / "align_config.json").write_text(json.dumps(info))
    with pytest.raises(ModelFileError, match="unknown loss"):
        prefkit.load(bad)
    (bad / "align_config.json").write_text("[1, 2]")
    with pytest.raises(ModelFileError, match="JSON object"):
        prefkit.load(bad)
    escaped = tmp_path / "escaped"
    escaped.mkdir()
    shutil.copy(run_dir / "align_config.json", escaped)
    (escaped / "policy").symlink_to(run_dir / "policy")  # leads out of the directory
    with pytest.raises(ModelFileError, match="outside the model directory"):
        prefkit.load(escaped)


def test_reference_free_run_scored_by_average_log_prob(run_dir: Path, tmp_path: Path) -> None:
    simpo = _copy_run(run_dir, tmp_path / "simpo", None)
    info = json.loads((simpo / "align_config.json").read_text())
    info["config"].update(loss="simpo", beta=2.0)
    (simpo / "align_config.json").write_text(json.dumps(info))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ReferenceFreeWarning)  # expected: no warning
        policy = prefkit.load(simpo)
    assert policy.reward_type == "average" and policy.reference_ is None and policy.beta == 2.0
