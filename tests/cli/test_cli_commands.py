"""The ``prefkit`` command on good input: version, validate, describe, convert, split, simulate,
formats; plus the error guard's handling of interrupts, OS errors and bugs."""

from __future__ import annotations

import importlib
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import prefkit
import prefkit.cli._common as cli_common
import prefkit.cli.data as cli_data
from prefkit.cli import app
from prefkit.data import read

runner = CliRunner()

PAIRS = [
    {"a": "gpt", "b": "llama", "winner": "a", "user_id": "u1", "prompt": "p1", "weight": 1.5},
    {"a": "llama", "b": "gpt", "winner": "tie", "user_id": "u1", "prompt": "p1"},
    {"a": "gpt", "b": "llama", "winner": "b", "user_id": "u2", "prompt": "p2"},
    {"a": "mistral", "b": "qwen", "winner": "a", "user_id": "u2", "prompt": "p3"},
    {"a": "qwen", "b": "mistral", "winner": "tie", "user_id": "u3", "prompt": "p4"},
    {"a": "qwen", "b": "mistral", "p_a": 0.75, "user_id": "u3", "prompt": "p5"},
]
RANKINGS = [
    {"ranking": ["x", "y", "z"], "ranks": [1, 1, 2], "prompt": "p1"},
    {"ranking": ["z", "x", "y"], "prompt": "p2", "user_id": "u1"},
]
RATINGS = [
    {"item": "r1", "scores": {"helpfulness": 4.0, "safety": 5.0}, "prompt": "p1"},
    {"item": "r2", "scores": {"helpfulness": 2.0, "safety": 5.0}, "prompt": "p1"},
]


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def invoke(*args: str) -> Any:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr, result.exception)
    return result


# ---------------------------------------------------------------------------------- basics
def test_version() -> None:
    result = invoke("--version")
    assert result.stdout == f"prefkit {prefkit.__version__}\n"


def test_version_subprocess() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "prefkit", "--version"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"prefkit {prefkit.__version__}"


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "prefkit"
    if not script.exists():
        pytest.skip("no console script next to this interpreter")
    proc = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.startswith("prefkit ")


def test_help_lists_commands() -> None:
    result = runner.invoke(app, ["data", "--help"])
    assert result.exit_code == 0
    for name in ("validate", "describe", "convert", "split", "simulate", "formats"):
        assert name in result.stdout


def test_usage_error_exits_2(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", PAIRS)
    result = runner.invoke(app, ["data", "split", str(path), "--by", "colour", "--out", "x"])
    assert result.exit_code == 2
    assert not (Path.cwd() / "x").exists()


# ------------------------------------------------------------------------- validate / describe
def test_validate(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "pairs.jsonl", PAIRS)
    assert invoke("data", "validate", str(path)).stdout == "ok: 6 pairwise records\n"
    path = write_jsonl(tmp_path / "ranks.jsonl", RANKINGS)
    assert invoke("data", "validate", str(path), "--format", "jsonl").stdout == (
        "ok: 2 ranking records\n"
    )


def test_describe_json_counts(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "pairs.jsonl", PAIRS)
    result = invoke("data", "describe", str(path), "--json")
    assert result.stdout.count("\n") == 1
    assert json.loads(result.stdout) == {
        "kind": "pairwise",
        "records": 6,
        "ties": 2,
        "users": 3,
        "items": 4,
        "components": 2,
    }
    assert list(json.loads(result.stdout)) == list(cli_data.DESCRIBE_JSON_KEYS)
    assert result.stderr == ""


def test_describe_json_rankings(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "ranks.jsonl", RANKINGS)
    info = json.loads(invoke("data", "describe", str(path), "--json").stdout)
    assert info == {
        "kind": "ranking",
        "records": 2,
        "ties": 1,
        "users": 1,
        "items": 3,
        "components": 1,
    }


def test_describe_table(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "pairs.jsonl", PAIRS)
    out = invoke("data", "describe", str(path)).stdout
    for word in ("kind", "pairwise", "records", "components", "jsonl"):
        assert word in out


def test_progress_only_on_stderr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a terminal on stderr a spinner runs, and --json stdout stays pure JSON."""
    monkeypatch.setattr(cli_common, "_stderr_is_tty", lambda: True)
    monkeypatch.setattr(cli_common, "PROGRESS_MIN_BYTES", 0)
    path = write_jsonl(tmp_path / "pairs.jsonl", PAIRS)
    result = invoke("data", "describe", str(path), "--json")
    assert json.loads(result.stdout)["records"] == 6


# ---------------------------------------------------------------------------------- convert
def _records(path: Path) -> list[dict[str, Any]]:
    return read(path).to_records()


@pytest.mark.parametrize(
    "records", [PAIRS, RANKINGS, RATINGS], ids=["pairs", "rankings", "ratings"]
)
def test_convert_round_trip(tmp_path: Path, records: list[dict[str, Any]]) -> None:
    start = write_jsonl(tmp_path / "start.jsonl", records)
    chain = [
        start,
        tmp_path / "a.csv",
        tmp_path / "b.parquet",
        tmp_path / "c.jsonl.gz",
        tmp_path / "d.csv.gz",
        tmp_path / "end.jsonl",
    ]
    for src, dst in itertools.pairwise(chain):
        result = invoke("data", "convert", str(src), str(dst))
        assert result.stdout.startswith("wrote ")
    assert _records(chain[-1]) == _records(start)
    assert len(_records(chain[-1])) == len(records)


def test_convert_to_pairs(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "ranks.jsonl", [{"ranking": ["x", "y", "z"]}])
    full, adjacent = tmp_path / "full.jsonl", tmp_path / "adjacent.jsonl"
    invoke("data", "convert", str(src), str(full), "--to-pairs", "full")
    invoke("data", "convert", str(src), str(adjacent), "--to-pairs", "adjacent")
    assert read(full).kind == "pairwise" and len(read(full)) == 3
    assert len(read(adjacent)) == 2


def test_convert_ratings_to_pairs(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "ratings.jsonl", RATINGS)
    out = tmp_path / "pairs.jsonl"
    invoke(
        "data", "convert", str(src), str(out), "--to-pairs", "full", "--attribute", "helpfulness"
    )
    pairs = read(out)
    assert pairs.kind == "pairwise" and len(pairs) == 1


def test_convert_aggregate(tmp_path: Path) -> None:
    votes = [
        {"a": "x", "b": "y", "winner": w, "annotator_id": f"ann{i}", "prompt": "p"}
        for i, w in enumerate(["a", "a", "b"])
    ]
    src = write_jsonl(tmp_path / "votes.jsonl", votes)
    majority, soft = tmp_path / "majority.jsonl", tmp_path / "soft.jsonl"
    invoke("data", "convert", str(src), str(majority), "--aggregate", "majority")
    invoke("data", "convert", str(src), str(soft), "--aggregate", "soft")
    (row,) = read(majority).to_records()
    assert row["winner"] == "a"
    (row,) = read(soft).to_records()
    assert row["p_a"] == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("out.txt", "cannot tell the output format"),
        ("out.parquet.gz", "Parquet compresses itself"),
        ("out.jsonl.zst", ".gz only"),
    ],
)
def test_convert_bad_output_name(tmp_path: Path, name: str, text: str) -> None:
    src = write_jsonl(tmp_path / "pairs.jsonl", PAIRS)
    out = tmp_path / name
    result = runner.invoke(app, ["data", "convert", str(src), str(out)])
    assert result.exit_code == 2
    assert result.stderr == f"error: {out}: " + result.stderr.split(": ", 2)[2]
    assert text in result.stderr
    assert not out.exists()


def test_convert_rating_options_need_ratings(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "pairs.jsonl", PAIRS)
    out = tmp_path / "out.jsonl"
    result = runner.invoke(
        app, ["data", "convert", str(src), str(out), "--to-pairs", "full", "--attribute", "x"]
    )
    assert result.exit_code == 2
    assert not out.exists()


def test_convert_error_in_conversion_names_input(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "ranks.jsonl", RANKINGS)
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["data", "convert", str(src), str(out), "--aggregate", "soft"])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {src}")
    assert result.stderr.count("\n") == 1
    assert not out.exists()


# ---------------------------------------------------------------------------------- split
def test_split_by_prompt_is_disjoint(tmp_path: Path) -> None:
    records = [
        {
            "a": f"m{i % 5}",
            "b": f"m{(i + 1) % 5}",
            "winner": "a",
            "prompt": f"p{i // 3}",
            "user_id": f"u{i % 4}",
        }
        for i in range(60)
    ]
    src = write_jsonl(tmp_path / "pairs.jsonl", records)
    out = tmp_path / "splits"
    result = invoke(
        "data",
        "split",
        str(src),
        "--by",
        "prompt",
        "--test-size",
        "0.25",
        "--seed",
        "1",
        "--out",
        str(out),
    )
    assert sorted(os.listdir(out)) == ["test.jsonl", "train.jsonl"]
    assert "train: " in result.stdout and "test: " in result.stdout
    train, test = read(out / "train.jsonl"), read(out / "test.jsonl")
    train_prompts = set(train.column("prompt"))
    test_prompts = set(test.column("prompt"))
    assert train_prompts.isdisjoint(test_prompts)
    assert train_prompts | test_prompts == {f"p{i}" for i in range(20)}
    assert len(train) + len(test) == 60
    assert len(test_prompts) == 5
    # same seed, same split
    again = tmp_path / "again"
    invoke(
        "data",
        "split",
        str(src),
        "--by",
        "prompt",
        "--test-size",
        "0.25",
        "--seed",
        "1",
        "--out",
        str(again),
    )
    assert (again / "test.jsonl").read_bytes() == (out / "test.jsonl").read_bytes()


def test_split_formats(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "pairs.jsonl", PAIRS)
    out = tmp_path / "splits"
    invoke("data", "split", str(src), "--by", "user", "--out", str(out), "--out-format", "parquet")
    assert sorted(os.listdir(out)) == ["test.parquet", "train.parquet"]
    users = [set(read(out / f).column("user_id")) for f in ("train.parquet", "test.parquet")]
    assert users[0].isdisjoint(users[1])


def test_split_error_leaves_nothing(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "pairs.jsonl", [PAIRS[3]] * 4)  # one prompt only
    out = tmp_path / "splits"
    result = runner.invoke(app, ["data", "split", str(src), "--by", "prompt", "--out", str(out)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {src}") and result.stderr.count("\n") == 1
    assert not out.exists()


# ---------------------------------------------------------------------------------- simulate
def test_simulate_items(tmp_path: Path) -> None:
    out, truth = tmp_path / "sim.jsonl", tmp_path / "truth.json"
    result = invoke(
        "data",
        "simulate",
        "items",
        "--out",
        str(out),
        "--n",
        "50",
        "--items",
        "6",
        "--seed",
        "3",
        "--truth",
        str(truth),
    )
    assert result.stdout.startswith("wrote 50 pairwise records")
    ds = read(out)
    assert len(ds) == 50 and len(ds.items()) <= 6
    assert json.loads(truth.read_text())["config"]["seed"] == 3
    again = tmp_path / "again.jsonl"
    invoke(
        "data", "simulate", "items", "--out", str(again), "--n", "50", "--items", "6", "--seed", "3"
    )
    assert again.read_bytes() == out.read_bytes()


def test_simulate_rankings_parquet_with_params(tmp_path: Path) -> None:
    out = tmp_path / "ranks.parquet"
    invoke(
        "data",
        "simulate",
        "rankings",
        "--out",
        str(out),
        "--n",
        "20",
        "-p",
        "top_k=2",
        "-p",
        "set_size=4",
    )
    ds = read(out)
    assert ds.kind == "ranking" and len(ds) == 20


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["nonsense"], "unknown simulator 'nonsense'"),
        (["items", "-p", "colour=1"], "unknown parameter"),
        (["users", "--n", "10"], "--n does not apply"),
    ],
)
def test_simulate_errors(tmp_path: Path, args: list[str], text: str) -> None:
    out = tmp_path / "sim.jsonl"
    result = runner.invoke(app, ["data", "simulate", *args, "--out", str(out)])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: simulate ") and result.stderr.count("\n") == 1
    assert text in result.stderr
    assert not out.exists()


# ---------------------------------------------------------------------------------- formats
def test_formats() -> None:
    out = invoke("data", "formats").stdout
    for name in ("jsonl", "csv", "parquet", "arena"):
        assert name in out
    listed = json.loads(invoke("data", "formats", "--json").stdout)
    assert {"jsonl", "csv", "parquet", "arena"} <= {f["name"] for f in listed}


# ---------------------------------------------------------------------------------- error guard
def test_keyboard_interrupt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_data, "load", interrupted)
    result = runner.invoke(app, ["data", "validate", str(tmp_path / "x.jsonl")])
    assert result.exit_code == 2
    assert result.stderr == "error: interrupted\n"


def test_os_error_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(*args: Any, **kwargs: Any) -> None:
        raise PermissionError(13, "Permission denied", str(tmp_path / "out.jsonl"))

    monkeypatch.setattr(cli_data, "write", denied)
    src = write_jsonl(tmp_path / "pairs.jsonl", PAIRS)
    result = runner.invoke(app, ["data", "convert", str(src), str(tmp_path / "out.jsonl")])
    assert result.exit_code == 2
    assert result.stderr == f"error: {tmp_path / 'out.jsonl'}: Permission denied\n"


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores modes")
def test_unwritable_output_directory(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "pairs.jsonl", PAIRS)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        result = runner.invoke(app, ["data", "convert", str(src), str(locked / "out.jsonl")])
    finally:
        locked.chmod(0o700)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and "Permission denied" in result.stderr
    assert result.stderr.count("\n") == 1
    assert os.listdir(locked) == []


def test_bug_is_one_line_status_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(cli_data, "load", broken)
    monkeypatch.delenv(cli_common.DEBUG_ENV, raising=False)
    result = runner.invoke(app, ["data", "validate", "x.jsonl"])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: internal error (RuntimeError: boom second line)")
    assert result.stderr.count("\n") == 1
    monkeypatch.setenv(cli_common.DEBUG_ENV, "1")
    result = runner.invoke(app, ["data", "validate", "x.jsonl"])
    assert isinstance(result.exception, RuntimeError)


# ---------------------------------------------------------------------------------- leaderboard
def test_cli_works_without_leaderboard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A command module that cannot be imported breaks that command only, with one line."""
    app_module = importlib.import_module("prefkit.cli.app")
    monkeypatch.setitem(sys.modules, "prefkit.cli.leaderboard", None)  # import -> ImportError
    monkeypatch.delenv(cli_common.DEBUG_ENV, raising=False)
    try:
        reloaded = importlib.reload(app_module)
        src = write_jsonl(tmp_path / "pairs.jsonl", PAIRS)
        result = runner.invoke(reloaded.app, ["data", "validate", str(src)])
        assert result.exit_code == 0
        result = runner.invoke(reloaded.app, ["leaderboard", str(src)])
        assert result.exit_code == 1 and result.stderr.startswith("error: internal error")
        assert result.stderr.count("\n") == 1
    finally:
        monkeypatch.undo()
        importlib.reload(app_module)


def test_leaderboard_registered_when_present() -> None:
    app_module = importlib.import_module("prefkit.cli.app")
    assert "leaderboard" in app_module.COMMANDS
    result = runner.invoke(app_module.app, ["leaderboard", "--help"])
    assert result.exit_code == 0 and "Example: prefkit leaderboard" in " ".join(
        result.stdout.split()
    )
