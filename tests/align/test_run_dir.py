"""Run directories: resume refuses other settings, tampered checkpoints are one-line errors,
stale temporaries of a killed run are removed, and nothing prefkit did not write is deleted."""

from __future__ import annotations

import json
import os
import shutil
import time
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
from typer.testing import CliRunner

from prefkit.align.config import AlignConfig, resume_differences
from prefkit.align.rundir import clean_run_temps, latest_checkpoint
from prefkit.align.tiny import synthetic_preferences
from prefkit.align.trainer import AlignTrainer, load_policy
from prefkit.cli.align import align_app
from prefkit.errors import ModelFileError


def _cfg(**kw: Any) -> AlignConfig:
    base = {"loss": "dpo", "beta": 0.1, "learning_rate": 2e-3, "max_steps": 2, "batch_size": 2,
            "save_every": 1}
    return AlignConfig(**{**base, **kw})


def _fresh(tiny_dir: Path, **kw: Any) -> AlignTrainer:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AlignTrainer(AutoModelForCausalLM.from_pretrained(tiny_dir),
                        AutoTokenizer.from_pretrained(tiny_dir), _cfg(**kw))


DATA = synthetic_preferences(8, seed=3)


@pytest.fixture(scope="module")
def trained(tiny_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One finished 2-step run (checkpoints at steps 1 and 2), copied by the tests."""
    out = tmp_path_factory.mktemp("trained") / "run"
    _fresh(tiny_dir).train(DATA, out_dir=out)
    return out


def _copy(trained: Path, out: Path) -> Any:
    shutil.copytree(trained, out)
    return DATA


def _run(tiny_dir: Path, out: Path) -> Any:
    _fresh(tiny_dir).train(DATA, out_dir=out)
    return DATA


def test_resume_differences_sort_fields() -> None:
    saved = _cfg().to_dict()
    assert resume_differences(saved, _cfg(max_steps=9, save_every=3, device="cpu")) == ([], [])
    refused, warned = resume_differences(saved, _cfg(learning_rate=1e-3, loss="ipo",
                                                     packing=True))
    assert refused == ["loss 'dpo' → 'ipo'", "learning_rate 0.002 → 0.001"]
    assert warned == ["packing False → True"]
    assert resume_differences({**saved, "beta": 0.1}, _cfg(beta=0.1)) == ([], [])  # 0.1 == 0.1
    old = {k: v for k, v in saved.items() if k != "kto_z0"}  # a field added later: its default
    assert resume_differences(old, _cfg()) == ([], [])


def test_resume_with_another_loss_or_learning_rate_is_refused(tiny_dir: Path, trained: Path,
                                                              tmp_path: Path) -> None:
    data = _copy(trained, tmp_path / "run")
    for change, name in (({"learning_rate": 1e-2}, "learning_rate"), ({"loss": "ipo"}, "loss"),
                         ({"seed": 1}, "seed")):
        trainer = _fresh(tiny_dir, max_steps=3, **change)
        with pytest.raises(ModelFileError, match=f"cannot resume.*{name}") as err:
            trainer.train(data, out_dir=tmp_path / "run", resume=True)
        assert "\n" not in str(err.value) and trainer.step == 0
    assert latest_checkpoint(tmp_path / "run").name == "step-00000002"  # nothing written
    with pytest.warns(UserWarning, match="packing False → True"):
        _fresh(tiny_dir, max_steps=3, packing=True).train(data, out_dir=tmp_path / "run",
                                                          resume=True)
    more = _fresh(tiny_dir, max_steps=4, packing=True)  # a longer run: what resume is for
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        more.train(data, out_dir=tmp_path / "run", resume=True)
    assert more.step == 4


def _cli_train(tiny_dir: Path, data: Path, out: Path, *extra: str) -> Any:
    return CliRunner().invoke(align_app, ["train", str(data), "--base", str(tiny_dir), "--out",
                                          str(out), "--max-steps", "2", "--batch-size", "2",
                                          "--save-every", "1", "--lr", "1e-3", *extra])


def test_cli_resume_refusals_are_one_line(tiny_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "pairs.jsonl"
    synthetic_preferences(6, seed=2).write(str(data))
    out = tmp_path / "run"
    assert _cli_train(tiny_dir, data, out).exit_code == 0
    res = _cli_train(tiny_dir, data, out, "--resume", "--lr", "5e-3")
    assert res.exit_code == 2, res.output
    assert "learning_rate 0.001 → 0.005" in res.output
    assert len(res.output.strip().splitlines()) == 1
    # a tampered checkpoint: no KeyError, one line, exit status 2
    state_path = latest_checkpoint(out) / "state.json"
    state = json.loads(state_path.read_text())
    del state["parameter_names"]
    state_path.write_text(json.dumps(state))
    res = _cli_train(tiny_dir, data, out, "--resume", "--max-steps", "3")
    assert res.exit_code == 2, res.output
    assert "parameter_names" in res.output and len(res.output.strip().splitlines()) == 1
    assert "Traceback" not in res.output and "KeyError" not in res.output


@pytest.mark.parametrize("damage", ["not json", "list", "no rng", "bad weights", "bad shape"])
def test_damaged_checkpoints_are_model_file_errors(tiny_dir: Path, trained: Path,
                                                   tmp_path: Path, damage: str) -> None:
    from safetensors.torch import load_file, save_file

    data = _copy(trained, tmp_path / "run")
    ckpt = latest_checkpoint(tmp_path / "run")
    if damage == "not json":
        (ckpt / "state.json").write_text("{")
    elif damage == "list":
        (ckpt / "state.json").write_text("[]")
    elif damage == "no rng":
        tensors = load_file(ckpt / "optimizer.safetensors")
        del tensors["__rng_cpu__"]
        save_file(tensors, ckpt / "optimizer.safetensors")
    elif damage == "bad weights":
        (ckpt / "trainable.safetensors").write_bytes(b"\x00" * 20)
    else:
        weights = load_file(ckpt / "trainable.safetensors")
        name = next(iter(weights))
        weights[name] = torch.zeros(3)
        save_file(weights, ckpt / "trainable.safetensors")
    with pytest.raises(ModelFileError) as err:
        _fresh(tiny_dir, max_steps=3).train(data, out_dir=tmp_path / "run", resume=True)
    assert str(ckpt) in str(err.value) and "\n" not in str(err.value)


def _age(path: Path, seconds: float = 3600) -> None:
    old = time.time() - seconds
    os.utime(path, (old, old))


def test_stale_temporaries_of_a_killed_run_are_removed(tiny_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    (out / "checkpoints").mkdir(parents=True)
    stale = [out / ".policy.k3j_x9a2", out / ".prefkit-tmp-abc", out / "checkpoints" /
             ".step-00000002.q8w7e6r5", out / "checkpoints" / ".prefkit-tmp-old-step"]
    for d in stale:
        d.mkdir()
        (d / "model.safetensors").write_bytes(b"x" * 10)
        _age(d)
    legacy_file = out / ".reference_logps.safetensors.tmp"
    legacy_file.write_bytes(b"half")
    _age(legacy_file)
    live = out / ".prefkit-tmp-live"  # a writer that is still at work: left alone
    live.mkdir()
    mine = [out / "notes.txt", out / ".policy_notes", out / "checkpoints" / "step-notes"]
    for f in mine:
        f.write_text("keep")
    _run(tiny_dir, out)
    assert not any(p.exists() for p in [*stale, legacy_file])
    assert live.exists() and all(f.read_text() == "keep" for f in mine)
    assert clean_run_temps(out) == []


def test_policy_dir_prefkit_did_not_write_is_never_deleted(tiny_dir: Path, trained: Path,
                                                           tmp_path: Path) -> None:
    out = tmp_path / "run"
    (out / "policy").mkdir(parents=True)
    (out / "policy" / "thesis.tex").write_text("years of work")
    data = DATA
    trainer = _fresh(tiny_dir)
    with pytest.raises(ModelFileError, match="not written by prefkit"):
        trainer.train(data, out_dir=out)
    assert trainer.step == 0  # refused before training
    assert (out / "policy" / "thesis.tex").read_text() == "years of work"
    # a policy prefkit wrote is replaced by the next run; so is a 0.1 run's (no manifest)
    other = tmp_path / "other"
    _copy(trained, other)
    first = load_policy(other)[0].state_dict()
    _fresh(tiny_dir, learning_rate=5e-3).train(data, out_dir=other)
    assert any(not torch.equal(v, load_policy(other)[0].state_dict()[k])
               for k, v in first.items())
    (other / "policy" / ".prefkit-manifest.json").unlink()
    _fresh(tiny_dir).train(data, out_dir=other)
    assert (other / "policy" / ".prefkit-manifest.json").is_file()
    assert not [p for p in other.iterdir() if p.name.startswith(".prefkit-tmp")]


def test_adopting_a_stage_never_deletes_a_foreign_policy_dir(trained: Path,
                                                             tmp_path: Path) -> None:
    """A curriculum's last stage becomes OUT's run (``adopt_run``): a ``policy/`` prefkit did
    not write is refused (it was ``shutil.rmtree``d), one prefkit wrote is replaced."""
    from prefkit.align.rundir import adopt_run

    stage = trained
    out = tmp_path / "out"
    (out / "policy").mkdir(parents=True)
    (out / "policy" / "mine.txt").write_text("keep")
    with pytest.raises(ModelFileError, match="not written by prefkit"):
        adopt_run(stage, out)
    assert (out / "policy" / "mine.txt").read_text() == "keep"
    (out / "policy" / "mine.txt").unlink()
    for _ in range(2):  # an empty policy dir, then the one adopted before: replaced
        adopt_run(stage, out)
        info = load_policy(out)[2]
        assert info["step"] == 2 and (out / "policy" / ".prefkit-manifest.json").is_file()
    assert not [p for p in out.iterdir() if p.name.startswith(".prefkit-tmp")]


def test_a_damaged_reference_cache_is_recomputed(tiny_dir: Path, trained: Path,
                                                 tmp_path: Path) -> None:
    from safetensors.torch import load_file

    from prefkit.align.rundir import REFERENCE_FILE

    data = _copy(trained, tmp_path / "run")
    expected = {k: v.clone() for k, v in load_file(tmp_path / "run" / REFERENCE_FILE).items()}
    (tmp_path / "run" / REFERENCE_FILE).write_bytes(b"\x00" * 20)  # truncated by a kill
    resumed = _fresh(tiny_dir, max_steps=3)
    resumed.train(data, out_dir=tmp_path / "run", resume=True)
    assert resumed.step == 3
    again = load_file(tmp_path / "run" / REFERENCE_FILE)
    assert again.keys() == expected.keys()
    for k in expected:
        assert torch.equal(again[k], expected[k]), k
