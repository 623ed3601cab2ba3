"""The local engine of the batch-job layer: same scores as the model in-process, in input
order, and a killed job resumes with only the missing shards."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from job_helpers import battles

from prefkit.choice import BradleyTerry
from prefkit.core.persist import save
from prefkit.errors import ModelFileError
from prefkit.jobs import score as score_module
from prefkit.jobs.score import run_score_job


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "bt"
    save(BradleyTerry().fit(battles()), directory)
    return directory


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_local_job_equals_the_model_in_process(tmp_path: Path, model_dir: Path) -> None:
    data = battles(1000, seed=1)
    out = tmp_path / "scores.jsonl"
    summary = run_score_job(model_dir, data, out, shard_rows=128)
    assert summary == {"records": 1000, "shards": 8, "resumed": 0}
    got = read_lines(out)
    assert [r["record"] for r in got] == list(range(1000))
    model = BradleyTerry().fit(battles())
    np.testing.assert_allclose([r["p_a"] for r in got], model.predict_proba(data), rtol=1e-12)
    assert set(got[0]) == {"record", "p_a"}  # no ties, no scalar text rewards for items
    assert not (tmp_path / "scores.jsonl.parts").exists()  # parts dropped once OUT is whole


def test_killed_job_resumes_with_the_missing_shards_only(
    tmp_path: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = battles(1000, seed=2)
    clean = tmp_path / "clean.jsonl"
    run_score_job(model_dir, data, clean, shard_rows=100)
    out = tmp_path / "scores.jsonl"
    calls: list[int] = []
    real = score_module.score_lines

    def dies_at_shard_4(model, dataset, first_record=0):
        calls.append(first_record)
        if len(calls) == 5:
            raise KeyboardInterrupt  # a kill in the middle of the fifth shard
        return real(model, dataset, first_record)

    monkeypatch.setattr(score_module, "score_lines", dies_at_shard_4)
    with pytest.raises(KeyboardInterrupt):
        run_score_job(model_dir, data, out, shard_rows=100)
    assert not out.exists()  # no half-written output
    parts = sorted(p.name for p in (tmp_path / "scores.jsonl.parts").glob("*.jsonl"))
    assert len(parts) == 4
    calls.clear()
    monkeypatch.setattr(score_module, "score_lines", lambda m, d, f=0: (calls.append(f),
                                                                        real(m, d, f))[1])
    progress: list[tuple[int, int]] = []
    summary = run_score_job(model_dir, data, out, shard_rows=100,
                            on_shard=lambda rows, left: progress.append((rows, left)))
    assert summary["resumed"] == 4 and calls == [400, 500, 600, 700, 800, 900]
    assert out.read_bytes() == clean.read_bytes()
    # progress starts at the resumed records (one report), then one report per shard run
    assert progress[0] == (400, 6) and sum(rows for rows, _ in progress) == 1000
    assert [left for _, left in progress[1:]] == [5, 4, 3, 2, 1, 0]


def test_a_changed_model_does_not_reuse_parts(tmp_path: Path, model_dir: Path) -> None:
    data = battles(300, seed=3)
    out = tmp_path / "s.jsonl"
    parts = tmp_path / "s.jsonl.parts"
    run_score_job(model_dir, data, out, shard_rows=100)
    other = tmp_path / "other"
    save(BradleyTerry(prior_var=0.01).fit(battles()), other)
    summary = run_score_job(other, data, out, shard_rows=100)
    assert summary["resumed"] == 0 and not parts.exists()


def test_refuses_a_parts_directory_prefkit_did_not_write(tmp_path: Path, model_dir: Path) -> None:
    (tmp_path / "s.jsonl.parts").mkdir()
    (tmp_path / "s.jsonl.parts" / "notes.txt").write_text("mine")
    with pytest.raises(ModelFileError, match="not written by prefkit"):
        run_score_job(model_dir, battles(10), tmp_path / "s.jsonl")
    assert (tmp_path / "s.jsonl.parts" / "notes.txt").read_text() == "mine"


def test_jobs_score_and_encode_are_the_rm_commands(tmp_path: Path, model_dir: Path) -> None:
    """`prefkit jobs score` writes what `prefkit rm score` writes (one batch-job group)."""
    from typer.testing import CliRunner

    from prefkit.cli.app import app

    data = tmp_path / "battles.jsonl"
    battles(300, seed=2).write(str(data))
    outs = {}
    for group in ("rm", "jobs"):
        outs[group] = tmp_path / f"{group}.jsonl"
        done = CliRunner().invoke(app, [group, "score", str(model_dir), str(data), "--out",
                                        str(outs[group]), "--shard-rows", "64"])
        assert done.exit_code == 0, done.output
    assert outs["jobs"].read_bytes() == outs["rm"].read_bytes()
    assert len(read_lines(outs["jobs"])) == 300
    from prefkit.cli import jobs, rm

    callbacks = {command.name: command.callback for command in jobs.jobs_app.registered_commands}
    assert callbacks["encode"] is rm.encode_command and callbacks["score"] is rm.score_command
