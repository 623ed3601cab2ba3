"""Pre-flight checks of ``prefkit align train``: unknown-token text, launch without rendezvous,
and an ``--out`` directory prefkit did not write (issue 12, items 1, 8 and 12)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from prefkit.align.checks import (
    LaunchError,
    check_distributed_env,
    check_run_directory,
    unknown_token_share,
)
from prefkit.align.tiny import synthetic_preferences
from prefkit.cli.align import align_app
from prefkit.errors import ModelFileError


def _train(args: list[str], **env: str) -> object:
    return CliRunner().invoke(align_app, ["train", *args], env=env or None)


def _write(path: Path, records: list[dict[str, object]]) -> Path:
    keep = ("prompt", "a_text", "b_text", "winner")
    path.write_text("".join(json.dumps({k: r[k] for k in keep if k in r}) + "\n"
                            for r in records))
    return path


def _short(data: Path, tiny_dir: Path, out: Path, *extra: str) -> list[str]:
    return [str(data), "--base", str(tiny_dir), "--out", str(out), "--max-steps", "1",
            "--batch-size", "2", "--json", *extra]


# ------------------------------------------------------------------ unknown tokens (item 8)
def test_unknown_token_share_counts_unk_ids(tiny) -> None:
    _, tok = tiny
    assert unknown_token_share(tok, ["the cat is kind ."]) == 0.0
    assert unknown_token_share(tok, ["qwxz vbnm", "the cat"]) == pytest.approx(2 / 4)


def test_train_refuses_text_the_tokenizer_maps_to_unk(tiny_dir: Path, tmp_path: Path) -> None:
    data = _write(tmp_path / "alien.jsonl", [
        {"prompt": f"Ŧħə ƈąŧ {i}?", "a_text": f"ŋıċə ŵǿřđ {i}", "b_text": f"ɓąđ ŵǿřđ {i}",
         "winner": "a"} for i in range(8)])
    out = tmp_path / "run"
    res = _train(_short(data, tiny_dir, out))
    assert res.exit_code == 2, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "100% of the tokens" in lines[0] and "<unk>" in lines[0] and "alien.jsonl" in lines[0]
    assert not (out / "policy").exists()


def test_train_warns_when_a_large_share_is_unk(tiny_dir: Path, tmp_path: Path) -> None:
    unknown = "qwxz vbnm plmk asdf ghjk zxcv uiop rtyu"  # words the tiny tokenizer lacks
    records = [{**r, "b_text": unknown} for r in synthetic_preferences(8, seed=3).to_records()]
    data = _write(tmp_path / "mixed.jsonl", records)
    res = _train(_short(data, tiny_dir, tmp_path / "run"))
    assert res.exit_code == 0, res.output
    assert "warning:" in res.stderr and "unknown token <unk>" in res.stderr
    clean = synthetic_preferences(8, seed=3).to_records()
    res = _train(_short(_write(tmp_path / "clean.jsonl", clean), tiny_dir, tmp_path / "run2"))
    assert res.exit_code == 0 and "warning" not in res.stderr


# ------------------------------------------------------------------ rendezvous (item 12)
def test_world_size_without_rendezvous_is_one_line_exit_2(tmp_path: Path) -> None:
    data = _write(tmp_path / "p.jsonl", synthetic_preferences(4).to_records())
    res = _train([str(data), "--base", "tiny", "--out", str(tmp_path / "o")],
                 WORLD_SIZE="2", MASTER_ADDR="", MASTER_PORT="", RANK="")
    assert res.exit_code == 2, res.output
    line = res.output.strip()
    assert "\n" not in line and line.startswith("error: WORLD_SIZE=2")
    assert "MASTER_ADDR" in line and "torchrun" in line and "accelerate launch" in line
    assert not (tmp_path / "o").exists()


def test_check_distributed_env() -> None:
    assert check_distributed_env({}) == 1
    assert check_distributed_env({"WORLD_SIZE": "1"}) == 1
    full = {"WORLD_SIZE": "4", "MASTER_ADDR": "h", "MASTER_PORT": "29500", "RANK": "3"}
    assert check_distributed_env(full) == 4
    with pytest.raises(LaunchError, match="MASTER_PORT"):
        check_distributed_env({**full, "MASTER_PORT": ""})
    with pytest.raises(LaunchError, match="whole number"):
        check_distributed_env({"WORLD_SIZE": "two"})


# ------------------------------------------------------------------ --out safety
def test_out_with_unrelated_files_is_never_wiped(tiny_dir: Path, tmp_path: Path) -> None:
    data = _write(tmp_path / "p.jsonl", synthetic_preferences(4).to_records())
    out = tmp_path / "project"
    (out / "policy").mkdir(parents=True)  # a user's own directory named like prefkit's
    (out / "policy" / "notes.txt").write_text("mine")
    (out / "thesis.tex").write_text("precious")
    for extra in ([], ["--force"], ["--resume"], ["--curriculum", "1"]):
        res = _train(_short(data, tiny_dir, out, *extra))
        assert res.exit_code == 2, (extra, res.output)
        assert "not a prefkit align run directory" in res.output
        assert (out / "thesis.tex").read_text() == "precious"
        assert (out / "policy" / "notes.txt").read_text() == "mine"


def test_out_holding_a_run_needs_resume_or_force(tiny_dir: Path, tmp_path: Path) -> None:
    data = _write(tmp_path / "p.jsonl", synthetic_preferences(4).to_records())
    out = tmp_path / "run"
    assert _train(_short(data, tiny_dir, out)).exit_code == 0
    (out / "README.txt").write_text("my notes about this run")
    (out / "checkpoints" / "step-99999999").mkdir()  # would be picked up by a later --resume
    res = _train(_short(data, tiny_dir, out))
    assert res.exit_code == 2 and "--resume" in res.output and "--force" in res.output
    res = _train(_short(data, tiny_dir, out, "--force"))
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["steps"] == 1
    assert (out / "README.txt").read_text() == "my notes about this run"  # not prefkit's
    assert not (out / "checkpoints" / "step-99999999").exists()  # the old run's, cleared
    assert (out / "policy" / "config.json").is_file()
    # a tampered 'base' (not a path) is a one-line error, not an internal error
    info = json.loads((out / "align_config.json").read_text())
    (out / "align_config.json").write_text(json.dumps({**info, "base": ["x"]}))
    res = CliRunner().invoke(align_app, ["eval", str(out), str(data), "--json"])
    assert res.exit_code == 2 and "'base'" in res.output, res.output


def test_eval_follows_a_base_outside_the_run_only_when_passed(
    tiny_dir: Path, tmp_path: Path
) -> None:
    data = _write(tmp_path / "p.jsonl", synthetic_preferences(4).to_records())
    out = tmp_path / "run"
    assert _train(_short(data, tiny_dir, out)).exit_code == 0
    res = CliRunner().invoke(align_app, ["eval", str(out), str(data), "--json"])
    assert res.exit_code == 2 and "--reference" in res.output, res.output
    assert len(res.output.strip().splitlines()) == 1
    res = CliRunner().invoke(align_app, ["eval", str(out), str(data), "--json",
                                         "--reference", str(tiny_dir)])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["n"] == 4


def test_force_refuses_to_delete_a_user_file_inside_a_run_folder(
    tiny_dir: Path, tmp_path: Path
) -> None:
    data = _write(tmp_path / "p.jsonl", synthetic_preferences(4).to_records())
    out = tmp_path / "run"
    assert _train(_short(data, tiny_dir, out)).exit_code == 0
    (out / "checkpoints" / "my-notes.txt").write_text("mine")
    res = _train(_short(data, tiny_dir, out, "--force"))
    assert res.exit_code == 2 and "my-notes.txt" in res.output, res.output
    assert (out / "checkpoints" / "my-notes.txt").read_text() == "mine"


def test_check_run_directory_keeps_the_base_model(tmp_path: Path) -> None:
    out = tmp_path / "run"
    (out / "base").mkdir(parents=True)
    (out / "policy").mkdir()
    (out / "align_config.json").write_text("{}")
    check_run_directory(out, force=True, keep=[out / "base"])
    assert sorted(p.name for p in out.iterdir()) == ["base"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(ModelFileError, match="is a file"):
        check_run_directory(tmp_path / "file", force=True)
    check_run_directory(tmp_path / "new")  # missing: fine
    assert not (tmp_path / "new").exists()
