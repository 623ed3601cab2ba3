"""Curry-DPO stage-wise training: each stage anchored to the previous policy starts at ln 2."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from prefkit.align.curriculum_train import stage_steps, train_curriculum
from prefkit.align.losses.curriculum import curriculum_pairs
from prefkit.align.tiny import synthetic_records
from prefkit.align.trainer import AlignConfig
from prefkit.data import PreferenceDataset
from prefkit.errors import DataError


def _staged(n: int = 24) -> PreferenceDataset:
    records = synthetic_records(n, seed=3)
    for i, rec in enumerate(records):
        rec["stage"] = 0 if i < n // 2 else 1
    return PreferenceDataset.from_records(records, kind="pairwise")


def _cfg(**kw: Any) -> AlignConfig:
    base = {"loss": "dpo", "beta": 0.1, "learning_rate": 2e-3, "max_steps": 4, "batch_size": 4}
    return AlignConfig(**{**base, **kw})


def test_each_stage_starts_at_ln2_when_the_reference_follows_the_policy(tiny: Any) -> None:
    model, tok = tiny
    _, results = train_curriculum(model, tok, _staged(), _cfg(), update_reference=True)
    assert [r.stage for r in results] == [0, 1]
    assert [r.n_pairs for r in results] == [12, 12]
    for r in results:
        assert len(r.history) == 4
        assert r.history[0]["loss"] == pytest.approx(math.log(2), abs=1e-5)
        assert r.history[-1]["loss"] < math.log(2)


def test_a_fixed_reference_carries_the_first_stage_margin_into_the_second(tiny: Any) -> None:
    model, tok = tiny
    _, results = train_curriculum(model, tok, _staged(), _cfg(), update_reference=False)
    assert results[0].history[0]["loss"] == pytest.approx(math.log(2), abs=1e-5)
    # stage 1 is measured against π_0, which stage 0 already moved away from
    assert results[1].history[0]["loss"] < math.log(2) - 1e-3
    assert results[1].history[0]["reward_margin"] > 0


def test_rated_responses_to_stages_to_saved_policies(tiny: Any, tmp_path: Path) -> None:
    model, tok = tiny
    rng = np.random.default_rng(0)
    rows = []
    for rec in synthetic_records(8, seed=5):
        good, bad = (rec["a_text"], rec["b_text"]) if rec["winner"] == "a" else (
            rec["b_text"], rec["a_text"])
        for text, score in ((good, 9.0), (bad, float(rng.integers(1, 8))), (bad + " no .", 0.0)):
            rows.append({"prompt": rec["prompt"], "text": text, "scores": {"overall": score}})
    rated = PreferenceDataset.from_records(rows, kind="rating")
    pairs = curriculum_pairs(rated, n_stages=2)
    cfg = _cfg(max_steps=1)
    policy, results = train_curriculum(model, tok, pairs, cfg, epochs_per_stage=1.0,
                                       out_dir=tmp_path)
    assert [r.n_pairs for r in results] == [8, 8]
    assert [len(r.history) for r in results] == [stage_steps(8, cfg, 1.0)] * 2 == [2, 2]
    for r in results:
        assert r.out_dir is not None and (r.out_dir / "policy" / "config.json").exists()
    assert policy is not None


def test_missing_or_bad_stage_column_is_a_data_error(tiny: Any) -> None:
    model, tok = tiny
    plain = PreferenceDataset.from_records(synthetic_records(4), kind="pairwise")
    with pytest.raises(DataError, match="stage"):
        train_curriculum(model, tok, plain, _cfg())
    bad = plain.with_column("stage", ["x", "y", "z", "w"])
    with pytest.raises(DataError, match="integers"):
        train_curriculum(model, tok, bad, _cfg())


def _rated(n_prompts: int = 8) -> PreferenceDataset:
    rng = np.random.default_rng(0)
    rows = []
    for rec in synthetic_records(n_prompts, seed=5):
        good, bad = (rec["a_text"], rec["b_text"]) if rec["winner"] == "a" else (
            rec["b_text"], rec["a_text"])
        for text, score in ((good, 9.0), (bad, float(rng.integers(1, 8))), (bad + " no .", 0.0)):
            rows.append({"prompt": rec["prompt"], "text": text, "scores": {"overall": score}})
    return PreferenceDataset.from_records(rows, kind="rating")


def test_cli_curriculum_trains_stages_and_leaves_an_evaluable_run(tiny_dir: Path,
                                                                  tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from prefkit.cli.align import align_app

    rated = tmp_path / "rated.jsonl"
    _rated().write(str(rated))
    out = tmp_path / "curry"
    runner = CliRunner()
    res = runner.invoke(align_app, ["train", str(rated), "--base", str(tiny_dir), "--out",
                                    str(out), "--curriculum", "2", "--max-steps", "2",
                                    "--batch-size", "4", "--lr", "2e-3", "--json"])
    assert res.exit_code == 0, res.output
    stages = json.loads(res.stdout)["stages"]
    assert [s["stage"] for s in stages] == [0, 1] and [s["pairs"] for s in stages] == [8, 8]
    assert all(abs(s["first_loss"] - math.log(2)) < 1e-5 for s in stages)
    assert (out / "stages" / "stage-1" / "policy").is_dir()
    pairs = tmp_path / "pairs.jsonl"
    curriculum_pairs(_rated()).write(str(pairs))
    res = runner.invoke(align_app, ["eval", str(out), str(pairs), "--json",
                                    "--reference", str(tiny_dir)])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["n"] == 16
    plain = tmp_path / "plain.jsonl"
    PreferenceDataset.from_records(synthetic_records(4), kind="pairwise").write(str(plain))
    res = runner.invoke(align_app, ["train", str(plain), "--base", str(tiny_dir), "--out",
                                    str(tmp_path / "x"), "--curriculum", "2"])
    assert res.exit_code == 2 and "stage" in res.output
