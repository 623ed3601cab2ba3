"""KTO on unpaired data (TRL's prompt / completion / label layout, read as rating records)."""

from __future__ import annotations

import copy
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from prefkit.align.diagnostics import evaluate_policy
from prefkit.align.tiny import perturbed_copy, synthetic_records, synthetic_unpaired
from prefkit.align.trainer import AlignConfig, AlignTrainer
from prefkit.align.unpaired import balance, unpaired_examples
from prefkit.cli.align import align_app
from prefkit.data import PreferenceDataset, read
from prefkit.errors import DataError


def _unpaired_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """TRL KTO rows: every pair's chosen responses first, then the rejected ones."""
    chosen, rejected = [], []
    for r in records:
        good, bad = ((r["a_text"], r["b_text"]) if r["winner"] == "a"
                     else (r["b_text"], r["a_text"]))
        chosen.append({"prompt": r["prompt"], "completion": good, "label": True})
        rejected.append({"prompt": r["prompt"], "completion": bad, "label": False})
    return chosen + rejected


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_trl_layout_reads_as_desirable_flags(tmp_path: Path) -> None:
    rows = _unpaired_rows(synthetic_records(3, seed=1))
    ds = read(_write(tmp_path / "kto.jsonl", rows))
    assert ds.kind == "rating"
    ex = unpaired_examples(ds)
    assert [lab.tolist() for lab in ex.labels] == [[1.0]] * 3 + [[0.0]] * 3
    assert ex.responses[0] == [rows[0]["completion"]] and ex.prompts[4] == rows[4]["prompt"]
    assert balance(np.array([True, True, False]), np.ones(3)) == 2.0
    assert balance(np.array([True, False]), np.ones(2), 1.0, 0.75) == pytest.approx(4 / 3)
    graded = PreferenceDataset.from_records(
        [{"prompt": "p", "text": "y", "scores": {"overall": 7.0}}], kind="rating")
    with pytest.raises(DataError, match="binarise"):
        unpaired_examples(graded)
    several = PreferenceDataset.from_records(
        [{"prompt": "p", "text": "y", "scores": {"helpful": 1.0, "safe": 0.0}}], kind="rating")
    with pytest.raises(DataError, match="label"):
        unpaired_examples(several)
    with pytest.raises(DataError, match="rating records"):
        unpaired_examples(PreferenceDataset.from_records(synthetic_records(2)))


def test_unpaired_loss_equals_paired_kto_on_the_same_examples(tiny) -> None:
    """Pairs split into their chosen (desirable) and rejected (undesirable) responses, in the
    order [c_0 … c_{B−1}, r_0 … r_{B−1}]: the same mismatched z0, and per example the same KTO
    terms, so the unpaired mean is half the paired one (two examples per pair)."""
    model, tok = tiny
    policy = perturbed_copy(model, 0.05, seed=1)
    records = synthetic_records(4, seed=6)
    cfg = AlignConfig(loss="kto", beta=0.1, batch_size=4)
    paired = AlignTrainer(policy, tok, cfg, reference_model=model)
    pairs = paired.prepare(PreferenceDataset.from_records(records))
    single = AlignTrainer(policy, tok, AlignConfig(loss="kto", beta=0.1, batch_size=8),
                          reference_model=model)
    lists = single.prepare(synthetic_unpaired(8, seed=6))
    assert single.unpaired and len(lists) == 8
    four, eight = np.arange(4), np.arange(8)
    z_pair = paired.kto_reference_point(pairs, four)[0]
    z_single = single.kto_reference_point(lists, eight)[0]
    assert float(z_pair) == pytest.approx(float(z_single), abs=1e-6)
    assert abs(float(z_pair)) > 1e-3  # the perturbed policy moved
    loss_p, st_p = paired.batch_loss(pairs, four, *paired.reference_logps(pairs))
    loss_s, st_s = single.single_batch_loss(lists, eight, single.reference_list_logps(lists))
    torch.testing.assert_close(loss_p, 2 * loss_s, atol=1e-6, rtol=0)
    torch.testing.assert_close(st_s["loss"][:4] + st_s["loss"][4:], st_p["loss"], atol=1e-6,
                               rtol=0)
    assert len(st_s["chosen_logps"]) == len(st_s["rejected_logps"]) == 4


def test_unpaired_kto_training_separates_desirable_from_undesirable(tiny, tmp_path) -> None:
    model, tok = tiny
    ds = synthetic_unpaired(48, seed=2)
    cfg = AlignConfig(loss="kto", beta=0.1, learning_rate=2e-3, max_steps=25, batch_size=8)
    initial = copy.deepcopy(model)
    trainer = AlignTrainer(model, tok, cfg)  # no reference given: the initial policy
    history = trainer.train(ds, out_dir=tmp_path / "run")
    assert history[-1]["loss"] < history[0]["loss"]
    late = np.mean([h["reward_accuracy"] for h in history[-5:]])
    assert late >= 0.8
    assert (tmp_path / "run" / "reference_logps.safetensors").exists()
    test = synthetic_unpaired(24, seed=9)
    result = evaluate_policy(trainer.model, tok, test, reference_model=initial,
                             loss="kto")
    assert result["n"] == 24
    assert result["implicit_reward_accuracy"] >= 0.75
    assert result["ranking_accuracy"] is not None and result["ranking_accuracy"] >= 0.75


def test_unpaired_kto_warns_on_class_imbalance(tiny) -> None:
    model, tok = tiny
    ds = synthetic_unpaired(12, seed=3).take(list(range(8)))  # 6 desirable, 2 undesirable
    trainer = AlignTrainer(model, tok, AlignConfig(loss="kto", batch_size=4),
                           reference_model=model)
    with pytest.warns(UserWarning, match="class balance"):
        trainer.prepare(ds)
    balanced = AlignTrainer(model, tok, AlignConfig(
        loss="kto", batch_size=4, loss_params={"undesirable_weight": 2.5}), reference_model=model)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        balanced.prepare(ds)  # 6 / (2.5 · 2) = 1.2: inside [1, 4/3]


def test_cli_trains_and_evaluates_unpaired_kto(tiny_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    data = _write(tmp_path / "kto.jsonl", _unpaired_rows(synthetic_records(8, seed=4)))
    out = tmp_path / "run"
    res = runner.invoke(align_app, ["train", str(data), "--base", str(tiny_dir), "--loss", "kto",
                                    "--out", str(out), "--max-steps", "2", "--batch-size", "4",
                                    "--lr", "1e-3", "--loss-param", "desirable_weight=1.2",
                                    "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["steps"] == 2
    config = json.loads((out / "align_config.json").read_text())["config"]
    assert config["loss_params"] == {"desirable_weight": 1.2}
    res = runner.invoke(align_app, ["eval", str(out), str(data), "--json",
                                    "--reference", str(tiny_dir)])
    assert res.exit_code == 0, res.output
    result = json.loads(res.output)
    assert result["n"] == 16 and 0.0 <= result["implicit_reward_accuracy"] <= 1.0
    # a pairwise loss on unpaired data: one error line; bad loss parameters: a usage error
    # naming the option (exit status 2 both)
    res = runner.invoke(align_app, ["train", str(data), "--base", str(tiny_dir), "--loss", "dpo",
                                    "--out", str(tmp_path / "bad"), "--max-steps", "1"])
    assert res.exit_code == 2, res.output
    assert len(res.output.strip().splitlines()) == 1 and "pairwise" in res.output
    for param in ("gamma=1", "desirable_weight=high", "desirable_weight"):
        res = runner.invoke(align_app, ["train", str(data), "--base", str(tiny_dir), "--loss",
                                        "kto", "--loss-param", param, "--out",
                                        str(tmp_path / "bad"), "--max-steps", "1"])
        assert res.exit_code == 2, res.output
        assert "--loss-param" in res.output and "Traceback" not in res.output
