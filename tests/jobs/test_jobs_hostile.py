"""Hostile inputs to the batch jobs and the sharded leaderboard (issue 18's surfaces): a resumed
job never trusts a part edited by hand, never deletes a file it did not write, refuses an output
that would replace its input or land in its model directory, and empty or broken files are one
line with exit status 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from job_helpers import battles
from typer.testing import CliRunner

from prefkit.choice import BradleyTerry
from prefkit.choice.shards import count_files
from prefkit.cli import app
from prefkit.core.persist import load, save
from prefkit.errors import DataError, ModelFileError
from prefkit.jobs import score as score_module
from prefkit.jobs.generate import read_prompt_table
from prefkit.jobs.score import run_score_job

runner = CliRunner()


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "bt"
    save(BradleyTerry().fit(battles()), directory)
    return directory


def killed_at_shard(monkeypatch: pytest.MonkeyPatch, shard: int) -> None:
    """Make the next score job die (KeyboardInterrupt) in the middle of shard ``shard``."""
    real, calls = score_module.score_lines, []

    def dies(model, dataset, first_record=0):
        calls.append(first_record)
        if len(calls) == shard + 1:
            monkeypatch.setattr(score_module, "score_lines", real)
            raise KeyboardInterrupt
        return real(model, dataset, first_record)

    monkeypatch.setattr(score_module, "score_lines", dies)


def test_a_part_edited_by_hand_is_computed_again(
    tmp_path: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = battles(400, seed=4)
    clean = tmp_path / "clean.jsonl"
    run_score_job(model_dir, data, clean, shard_rows=100)
    out = tmp_path / "s.jsonl"
    killed_at_shard(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt):
        run_score_job(model_dir, data, out, shard_rows=100)
    first, second, third = sorted((tmp_path / "s.jsonl.parts").glob("*.jsonl"))
    first.write_text(json.dumps({"record": 0, "p_a": 0.5}) + "\n")  # edited: one line left
    third.unlink()
    third.symlink_to(second)  # replaced by a link to another shard's part
    summary = run_score_job(model_dir, data, out, shard_rows=100)
    assert summary["resumed"] == 1  # the untouched part only
    assert out.read_bytes() == clean.read_bytes()


def test_files_of_the_user_in_the_parts_directory_are_kept(
    tmp_path: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = battles(300, seed=5)
    out = tmp_path / "s.jsonl"
    killed_at_shard(monkeypatch, 1)
    with pytest.raises(KeyboardInterrupt):
        run_score_job(model_dir, data, out, shard_rows=100)
    notes = tmp_path / "s.jsonl.parts" / "notes.txt"
    notes.write_text("mine")
    assert run_score_job(model_dir, data, out, shard_rows=100)["resumed"] == 1
    assert notes.read_text() == "mine"
    assert sorted(p.name for p in notes.parent.iterdir()) == [".prefkit-manifest.json",
                                                              "notes.txt"]


def test_an_empty_parts_directory_left_by_a_kill_is_used(tmp_path: Path, model_dir: Path) -> None:
    (tmp_path / "s.jsonl.parts").mkdir()  # killed between mkdir and the manifest
    assert run_score_job(model_dir, battles(30), tmp_path / "s.jsonl", shard_rows=10)[
        "shards"] == 3
    assert len((tmp_path / "s.jsonl").read_text().splitlines()) == 30
    assert not (tmp_path / "s.jsonl.parts").exists()


def test_an_output_that_is_a_directory_fails_before_any_work(
    tmp_path: Path, model_dir: Path
) -> None:
    (tmp_path / "out").mkdir()
    with pytest.raises(ModelFileError, match="is a directory"):
        run_score_job(model_dir, battles(50), tmp_path / "out", shard_rows=10)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bt", "out"]  # no out.parts


def test_score_refuses_to_replace_its_input_or_write_into_its_model(
    tmp_path: Path, model_dir: Path
) -> None:
    data = tmp_path / "pairs.jsonl"
    battles(30).write(data, format="jsonl")
    before = data.read_bytes()
    link = tmp_path / "link.jsonl"
    link.symlink_to(data)
    for out, what in ((data, "is the input file"), (link, "is the input file"),
                      (model_dir / "config.json", "inside the input directory"),
                      (model_dir / "new" / "s.jsonl", "inside the input directory")):
        result = runner.invoke(app, ["rm", "score", str(model_dir), str(data), "--out", str(out)])
        assert result.exit_code == 2 and what in result.output, result.output
        assert "Traceback" not in result.output
    judge = ["jobs", "judge", str(data), "--model", f"rm:{model_dir}"]
    for out, cache in ((model_dir / "j.jsonl", None), (tmp_path / "j.jsonl", model_dir / "c.db"),
                       (tmp_path / "j.jsonl", data)):
        extra = [] if cache is None else ["--cache", str(cache)]
        result = runner.invoke(app, [*judge, "--out", str(out), *extra])
        said = ("is the input file", "inside the input directory")
        assert result.exit_code == 2 and any(w in result.output for w in said), result.output
    assert data.read_bytes() == before
    assert load(model_dir).item_scores() is not None  # the model is intact
    assert sorted(p.name for p in model_dir.iterdir()) == [".prefkit-manifest.json",
                                                           "arrays.safetensors", "config.json"]


def test_a_header_only_parquet_is_no_records_not_an_internal_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.parquet"
    pq.write_table(pa.table({c: pa.array([], pa.string()) for c in ("a", "b", "winner")}), empty)
    result = runner.invoke(app, ["leaderboard", str(empty)])
    assert result.exit_code == 2 and "no records to rank" in result.output, result.output
    # among other shards it counts zero battles: the merged table is the other shard's
    full = tmp_path / "full.jsonl"
    battles(200, seed=6).write(full, format="jsonl")
    merged = count_files([empty, full], workers=1)
    alone = count_files([full], workers=1)
    assert merged.items == alone.items
    np.testing.assert_array_equal(np.c_[merged.wi, merged.wj, merged.t],
                                  np.c_[alone.wi, alone.wj, alone.t])


def test_a_battle_file_named_twice_is_counted_once(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    battles(300, seed=7).write(logs / "day1.jsonl", format="jsonl")
    battles(200, seed=8).write(logs / "day2.parquet", format="parquet")
    (logs / "again.jsonl").symlink_to(logs / "day1.jsonl")
    once = runner.invoke(app, ["leaderboard", str(logs / "day1.jsonl"), str(logs / "day2.parquet"),
                               "--json"])
    with pytest.warns(UserWarning, match="named more than once"):
        twice = runner.invoke(app, ["leaderboard", str(logs), str(logs / "*.jsonl"), "--json"])
    assert once.exit_code == twice.exit_code == 0, twice.output
    assert json.loads(once.stdout)["n"] == 500
    assert json.loads(twice.stdout) == json.loads(once.stdout)  # not 300 battles counted 3 times


def test_a_judge_cache_that_is_someone_elses_database_is_left_alone(tmp_path: Path) -> None:
    import sqlite3

    from prefkit.judge.cache import JudgeCache

    theirs = tmp_path / "notes.db"
    with sqlite3.connect(theirs) as db:
        db.execute("CREATE TABLE notes (text TEXT)")
        db.execute("INSERT INTO notes VALUES ('mine')")
    db.close()
    before = theirs.read_bytes()
    with pytest.raises(DataError, match="not a judge cache: an SQLite database with other"):
        JudgeCache(theirs)
    assert theirs.read_bytes() == before  # no 'replies' table, no WAL journal mode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.db"]


def test_a_ray_address_nobody_listens_on_is_one_line_at_once(
    tmp_path: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'prefkit[ray]')")
    if ray.is_initialized():
        pytest.skip("a Ray cluster is already connected in this process")
    import socket

    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{port}")
    shard = tmp_path / "day1.jsonl"
    battles(50).write(shard, format="jsonl")
    with pytest.raises(DataError, match="RAY_ADDRESS: cannot reach a Ray cluster"):
        count_files([shard], engine="ray")
    with pytest.raises(DataError, match="RAY_ADDRESS: cannot reach a Ray cluster"):
        run_score_job(model_dir, battles(50), tmp_path / "s.jsonl", engine="ray")
    assert not ray.is_initialized()


def test_a_nan_timeout_is_refused_in_one_line(tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(json.dumps({"prompt": "2+2?", "a_text": "4", "b_text": "5"}) + "\n")
    for command in (["jobs", "judge"], ["judge", "pairwise"]):
        result = runner.invoke(app, [*command, str(pairs), "--model", "m", "--endpoint",
                                     "http://127.0.0.1:9/v1", "--out", str(tmp_path / "j.jsonl"),
                                     "--timeout", "nan", "--max-attempts", "1"])
        assert result.exit_code == 2 and "--timeout" in result.output, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pairs.jsonl"]


def test_a_misspelt_device_is_one_line_before_any_model_or_actor(tmp_path: Path) -> None:
    from prefkit.jobs.generate import run_generate_job
    from prefkit.jobs.judge import run_judge_job

    prompts = pa.table({"prompt": ["hi"], "id": pa.array([None], pa.string())})
    with pytest.raises(DataError, match="--device: unknown device 'banana'"):
        run_generate_job(prompts, tmp_path, tmp_path / "g.jsonl", device="banana", engine="ray")
    with pytest.raises(DataError, match="--device: unknown device 'gpu0'"):
        run_judge_job(battles(3), [f"hf:{tmp_path}"], tmp_path / "j.jsonl", engine="ray",
                      backend_options={"device": "gpu0"})
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(json.dumps({"prompt": "2+2?", "a_text": "4", "b_text": "5"}) + "\n")
    result = runner.invoke(app, ["judge", "pairwise", str(pairs), "--model", f"hf:{tmp_path}",
                                 "--device", "cuda:x", "--out", str(tmp_path / "j.jsonl")])
    assert result.exit_code == 2 and "unknown device 'cuda:x'" in result.output, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pairs.jsonl"]


def test_json_lines_with_raw_unicode_line_separators_are_read(tmp_path: Path) -> None:
    from prefkit.judge.run import read_pairs_jsonl

    texts = ["one\u2028line", "two\u2029para", "next\x85line"]
    rows = [{"id": f"p{k}", "prompt": t, "a_text": t, "b_text": "b"} for k, t in enumerate(texts)]
    source = tmp_path / "pairs.jsonl"  # raw U+2028 etc. are legal inside JSON strings
    source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                      encoding="utf-8")
    assert read_pairs_jsonl(source).columns["prompt"] == texts
    table = read_prompt_table(source)
    assert table.column("prompt").to_pylist() == texts
    assert table.column("id").to_pylist() == ["p0", "p1", "p2"]


def test_generate_names_a_broken_parquet_prompts_file(tmp_path: Path) -> None:
    broken = tmp_path / "prompts.parquet"
    broken.write_text("not parquet\n")
    with pytest.raises(DataError, match=r"prompts\.parquet: not a readable Parquet file"):
        read_prompt_table(broken)


def test_generate_refuses_a_named_pipe_instead_of_blocking(tmp_path: Path) -> None:
    import os

    pipe = tmp_path / "prompts.jsonl"
    os.mkfifo(pipe)  # reading it would wait for a writer forever
    with pytest.raises(DataError, match=r"prompts\.jsonl: not a regular file but a FIFO"):
        read_prompt_table(pipe)
