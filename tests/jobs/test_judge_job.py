"""The judging job on the local engine: the fake judge's verdicts (the longer answer wins) for
every pair in both orders, the same judgments as the whole-file runner, input order, and a job
whose requests fail for one shard keeps the other shards and resumes with that one only."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from prefkit.jobs.judge import run_judge_job
from prefkit.judge.backends.openai_http import JudgeBackendError
from prefkit.judge.run import read_pairs_jsonl, run_pairwise
from prefkit.judge.templates import load_template

MODEL = "judge-test"


def write_pairs(path: Path, n: int, *, tag: str) -> Path:
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(n):
            handle.write(json.dumps({
                "prompt": f"{tag} question {i}", "a": "m1", "b": "m2",
                "a_text": "x" * (1 + i % 9), "b_text": "y" * 5}) + "\n")
    return path


def options(url: str) -> dict:
    return {"endpoint": url, "api_key_env": None, "max_attempts": 1, "timeout": 10.0}


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_judge_job_matches_the_judge_and_the_whole_file_runner(
    tmp_path: Path, judge_server: str
) -> None:
    pairs = read_pairs_jsonl(write_pairs(tmp_path / "pairs.jsonl", 30, tag="match"))
    out = tmp_path / "j.jsonl"
    summary = run_judge_job(pairs, [MODEL], out, backend_options=options(judge_server),
                            shard_rows=8)
    assert summary == {"records": 30, "shards": 4, "resumed": 0, "judgments": 60}
    got = lines(out)
    # input order: pair ids are the records' indices, both orders, "ab" first
    assert [(r["pair_id"], r["order"]) for r in got] == [
        (str(i), order) for i in range(30) for order in ("ab", "ba")]
    for r in got:  # the fake judge prefers the longer answer, in both orders
        a, b = len(r["a_text"]), len(r["b_text"])
        assert r["winner"] == ("a" if a > b else "b" if b > a else "tie")
    whole = tmp_path / "whole.jsonl"
    run_pairwise(pairs, _backend(judge_server), whole, template=load_template("pairwise"))
    drop = ("cached", "usage")
    expected = {(r["pair_id"], r["order"]): {k: v for k, v in r.items() if k not in drop}
                for r in lines(whole)}
    assert {(r["pair_id"], r["order"]): {k: v for k, v in r.items() if k not in drop}
            for r in got} == expected


def _backend(url: str):
    from prefkit.judge.live import make_backend

    return make_backend(MODEL, **options(url))


def test_failed_shard_is_named_and_the_rerun_asks_only_it(
    tmp_path: Path, judge_server: str
) -> None:
    pairs = read_pairs_jsonl(write_pairs(tmp_path / "pairs.jsonl", 24, tag="resume"))
    clean = tmp_path / "clean.jsonl"
    run_judge_job(pairs, [MODEL], clean, backend_options=options(judge_server), shard_rows=8,
                  cache=tmp_path / "clean-cache.sqlite")
    out = tmp_path / "j.jsonl"
    httpx.post(f"{judge_server}/control", json={"always500": "resume question 13"},
               timeout=5).raise_for_status()
    try:
        with pytest.raises(JudgeBackendError, match="records 8–15: 2 request"):
            run_judge_job(pairs, [MODEL], out, backend_options=options(judge_server),
                          shard_rows=8)
    finally:
        httpx.post(f"{judge_server}/control", json={}, timeout=5).raise_for_status()
    assert not out.exists()
    assert len(list((tmp_path / "j.jsonl.parts").glob("*.jsonl"))) == 1  # shard 0 only
    summary = run_judge_job(pairs, [MODEL], out, backend_options=options(judge_server),
                            shard_rows=8)
    assert summary["resumed"] == 1
    strip = [{k: v for k, v in r.items() if k != "cached"} for r in lines(out)]
    assert strip == [{k: v for k, v in r.items() if k != "cached"} for r in lines(clean)]


def test_jobs_judge_command(tmp_path: Path, judge_server: str) -> None:
    from typer.testing import CliRunner

    from prefkit.cli.app import app

    source = write_pairs(tmp_path / "pairs.jsonl", 6, tag="cli")
    out = tmp_path / "j.jsonl"
    args = ["jobs", "judge", str(source), "--model", MODEL, "--endpoint", judge_server,
            "--api-key-env", "NO_SUCH_KEY_VAR", "--out", str(out), "--shard-rows", "4",
            "--orders", "ab", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"records": 6, "shards": 2, "resumed": 0,
                                         "judgments": 6, "out": str(out), "engine": "local"}
    assert [r["order"] for r in lines(out)] == ["ab"] * 6
    bad = CliRunner().invoke(app, [*args[:-3], "--orders", "xy"])
    assert bad.exit_code == 2 and "--orders must be both, ab or ba" in bad.output
