"""Malformed inputs through the real CLI: one ``error:`` line, exit status 2, nothing written.

The corpus is the small files in ``corpus/`` (hand-written, one problem each) plus a few inputs
generated here because they are big or structural (6 MB lines, broken archives, a directory, a
missing file).  Every case runs through ``validate``, ``describe --json``, ``convert`` and
``split`` with typer's CliRunner, and a handful through ``python -m prefkit`` in a subprocess.
For each: exit status 2; stderr is exactly one line starting ``error: <file>`` with the line
number and field where they apply; stdout is empty (no traceback); no output file or temporary
file was left behind.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import zstandard
from typer.testing import CliRunner

from prefkit.cli import app

CORPUS = Path(__file__).resolve().parent / "corpus"
BIG_LINE = 6 * 1024 * 1024  # a 6 MB line: beyond Arrow's 1 MiB blocks, under max_text_chars
PAIR = {"a": "gpt", "b": "llama", "winner": "a"}


@dataclass(frozen=True)
class Case:
    """One malformed input and what its error line must say."""

    file: str  # a file in corpus/, or one made by the ``generated`` fixture
    line: int | None = None  # the line the message must name (``file:LINE:``)
    field: str | None = None  # the field the message must name (``field 'NAME'``)
    text: str = ""  # a fragment of the reason
    fmt: str | None = None  # --format (default: auto)
    id: str = ""

    @property
    def name(self) -> str:
        return self.id or (self.file if self.fmt is None else f"{self.file}[{self.fmt}]")


CASES: list[Case] = [
    # --- not JSON / not objects
    Case("bad_json.jsonl", 3, None, "invalid JSON"),
    Case("bad_json_array.json", 3, None, "invalid JSON"),
    Case("trailing_garbage.jsonl", None, None, "cannot tell the format"),
    Case("trailing_garbage.jsonl", 1, None, "invalid JSON", fmt="jsonl"),
    Case("top_level_scalar.jsonl", 1, None, "expected a JSON object, got int", fmt="jsonl"),
    Case("array_of_numbers.json", None, None, "cannot tell the format"),
    Case("array_of_numbers.json", 1, None, "expected a JSON object, got int", fmt="jsonl"),
    Case("array_mixed.json", 3, None, "expected a JSON object, got str"),
    Case("deeply_nested.json", 1, None, "nesting deeper than 64", fmt="jsonl"),
    Case("deep_20000.jsonl", 2, None, "nesting deeper than 64 (limit max_json_depth"),
    Case("deep_2000.jsonl", 2, None, "raise it with PREFKIT_MAX_JSON_DEPTH"),
    Case("deep_array.json", 3, None, "nesting deeper than 64"),
    Case("deep_meta.csv", 2, "meta", "nesting deeper than 64"),
    Case("kind_unknown.jsonl", 1, None, "cannot tell the kind of record", fmt="jsonl"),
    Case("random_text.txt", None, None, "cannot tell the format"),
    Case("random_text.txt", 1, None, "invalid JSON", fmt="jsonl"),
    Case("binary_garbage.bin", None, None, "cannot tell the format"),
    # --- wrong types
    Case("winner_number.jsonl", 2, "winner", "expected string, got int"),
    Case("winner_bool.jsonl", 2, "winner", "expected string, got bool"),
    Case("candidate_number.jsonl", 2, "a", "expected string, got int"),
    Case("weight_string.jsonl", 2, "weight", "expected number, got str"),
    Case("weight_word.csv", 3, "weight", 'expected number, got str "heavy"'),
    Case("ranking_not_a_list.jsonl", 2, "ranking", "expected string list"),
    Case("rating_score_string.jsonl", 2, "scores", "expected number map"),
    Case("rating_score_word.jsonl", 1, "scores", "expected number map"),
    # --- strict types, decided per value (not by what the other lines hold)
    Case("weight_bool_only.jsonl", 1, "weight", "expected number, got bool true"),
    Case("weight_bool_after_number.jsonl", 2, "weight", "expected number, got bool true"),
    Case("p_a_string.jsonl", 1, "p_a", 'expected number, got str "0.7"'),
    Case("weight_numeric_string.jsonl", 1, "weight", 'expected number, got str "2"'),
    Case("candidate_bool_only.jsonl", 1, "a", "expected string, got bool true"),
    Case("user_id_number.jsonl", 1, "user_id", "expected string, got int 7"),
    Case("duplicate_key.jsonl", 2, "winner", "key given twice"),
    Case("duplicate_nested_key.jsonl", 1, "k", "key given twice"),
    Case("duplicate_column.csv", 1, "winner", "column name given twice (columns 3 and 4)"),
    Case("duplicate_column_spaces.csv", 1, "b", "column name given twice (columns 2 and 4)"),
    Case("lone_surrogate.jsonl", 2, "a_text", "lone surrogate"),
    # --- missing fields
    Case("missing_b.jsonl", 2, "b", "missing"),
    Case("missing_winner.jsonl", 3, "winner", "missing"),
    Case("winner_null.jsonl", 2, "winner", "missing"),
    Case("kind_switch.jsonl", 2, "winner", "missing"),
    Case("missing_column.csv", None, None, "cannot tell the format"),
    Case("missing_column.csv", None, "b", "missing", fmt="csv"),
    Case("rating_missing_scores.jsonl", 2, "scores", "missing"),
    Case("rating_no_scores.jsonl", 2, "scores", "no scores"),
    Case("empty_candidate.jsonl", 2, "a", "empty string"),
    # --- impossible values
    Case("unknown_winner.jsonl", 2, "winner", "unknown label 'c'"),
    Case("nan_weight.jsonl", 2, "weight", "finite number, got nan"),
    Case("infinity_weight.jsonl", 2, "weight", "finite number, got inf"),
    Case("overflow_weight.jsonl", 1, "weight", "finite number, got inf"),
    Case("minus_infinity_margin.jsonl", 2, "margin", "finite number, got -inf"),
    Case("nan_p_a.jsonl", 2, "p_a", "finite number, got nan"),
    Case("nan_weight.csv", 3, "weight", "finite number, got nan"),
    Case("nan_p_a.csv", 4, "p_a", "finite number, got nan"),
    Case("rating_score_nan.jsonl", 2, "scores", "finite number, got nan"),
    Case("negative_weight.jsonl", 2, "weight", "must be ≥ 0"),
    Case("negative_weight.csv", 3, "weight", "must be ≥ 0"),
    Case("self_comparison.jsonl", 2, "b", "compared with itself"),
    Case("self_comparison.csv", 3, "b", "compared with itself"),
    Case("soft_label_above_one.jsonl", 2, "p_a", "must be ≤ 1"),
    Case("soft_label_negative.jsonl", 1, "p_a", "must be ≥ 0"),
    Case("p_a_contradicts_winner.jsonl", 2, "p_a", "contradicts winner 'a'"),
    Case("duplicate_id.jsonl", 3, "id", "duplicated id 'r1' (first at line 1)"),
    Case("ranking_repeats_item.jsonl", 2, "ranking", "repeats candidate 'x'"),
    Case("ranks_shorter_than_ranking.jsonl", 2, "ranks", "has 2 entries for 3 candidates"),
    Case("ranks_start_at_zero.jsonl", 1, "ranks", "start at 1"),
    Case("ranks_decreasing.jsonl", 2, "ranks", "must not decrease"),
    Case("ranking_single_item.jsonl", 2, "ranking", "at least 2 candidates"),
    # --- CSV structure (line numbers survive quoted multi-line cells and blank lines)
    Case("unknown_winner_multiline.csv", 5, "winner", "unknown label 'x'"),
    Case("ragged.csv", 3, None, "malformed CSV"),
    # --- arena battles
    Case("arena_model_c.jsonl", 2, "winner", "unknown label 'model_c'"),
    Case("arena_model_c.csv", 3, "winner", "unknown label 'model_c'"),
    Case("arena_self_battle.jsonl", 2, "model_b", "battles itself"),
    Case("arena_missing_winner.jsonl", 2, "winner", "missing value"),
    # --- empty and undecodable files
    Case("empty.jsonl", None, None, "empty file"),
    Case("empty.csv", None, None, "empty file"),
    Case("whitespace_only.jsonl", None, None, "empty file"),
    Case("non_utf8.jsonl", 2, None, "not valid UTF-8"),
    Case("non_utf8.csv", 3, None, "not valid UTF-8"),
    Case("non_utf8.jsonl.gz", 2, None, "not valid UTF-8"),
    Case("empty.jsonl.gz", None, None, "empty file"),
    # --- containers
    Case("not_gzip.jsonl.gz", None, None, "Not a gzipped file"),
    Case("truncated.jsonl.gz", None, None, "cannot read"),
    Case("truncated_large.jsonl.gz", None, None, "cannot read"),
    Case("truncated.jsonl.zst", None, None, "truncated zstd file (incomplete frame)"),
    Case("truncated.jsonl.zst", None, None, "truncated zstd", fmt="jsonl", id="zst-jsonl"),
    Case("two_members.zip", None, None, "zip archive holds 2 files"),
    Case("corrupt.zip", None, None, "not a zip file"),
    Case("corrupt.parquet", None, None, "not a readable Parquet file"),
    Case("corrupt.parquet", None, None, "not a readable Parquet file", fmt="parquet", id="p2"),
    # --- 6 MB lines (the valid one loads: see test_big_line_loads)
    Case("huge_line_bad_json.jsonl", 2, None, "invalid JSON"),
    Case("huge_line_bad_label.jsonl", 3, "winner", "unknown label 'q'"),
    # --- paths and options
    Case("a_directory.jsonl", None, None, "is a directory"),
    Case("a_directory.jsonl", None, None, "is a directory", fmt="jsonl"),
    Case("missing_file.jsonl", None, None, "no such file"),
    Case("fifo.jsonl", None, None, "not a regular file but a FIFO"),
    Case("fifo.jsonl", None, None, "not a regular file", fmt="jsonl", id="fifo-jsonl"),
    Case("link_loop.jsonl", None, None, "symbolic link loop"),
    Case("link_loop.jsonl", None, None, "symbolic link loop", fmt="jsonl", id="loop-jsonl"),
    Case("broken_link.jsonl", None, None, "broken symbolic link"),
    Case("self_comparison.jsonl", None, None, "unknown format 'nope'", fmt="nope"),
]

GENERATED = {
    "non_utf8.jsonl.gz",
    "empty.jsonl.gz",
    "truncated.jsonl.gz",
    "truncated_large.jsonl.gz",
    "two_members.zip",
    "huge_line_bad_json.jsonl",
    "huge_line_bad_label.jsonl",
    "a_directory.jsonl",
    "missing_file.jsonl",
    "deep_20000.jsonl",
    "deep_2000.jsonl",
    "deep_array.json",
    "deep_meta.csv",
    "truncated.jsonl.zst",
    "fifo.jsonl",
    "link_loop.jsonl",
    "broken_link.jsonl",
}


def _jsonl(records: list[dict]) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Inputs too big or too structural to keep as files in the repository."""
    root = tmp_path_factory.mktemp("generated-corpus")
    big = "x" * BIG_LINE
    (root / "huge_line_ok.jsonl").write_text(_jsonl([PAIR, {**PAIR, "prompt": big}, PAIR]))
    bad = json.dumps({**PAIR, "prompt": big})[:-1]  # unterminated object
    (root / "huge_line_bad_json.jsonl").write_text(_jsonl([PAIR]) + bad + "\n")
    (root / "huge_line_bad_label.jsonl").write_text(
        _jsonl([PAIR, PAIR, {**PAIR, "winner": "q", "prompt": big}])
    )
    (root / "non_utf8.jsonl.gz").write_bytes(
        gzip.compress(_jsonl([PAIR]).encode() + b'{"a": "gpt\xff", "b": "llama", "winner": "a"}\n')
    )
    (root / "empty.jsonl.gz").write_bytes(gzip.compress(b""))
    small = gzip.compress(_jsonl([{**PAIR, "id": str(i)} for i in range(500)]).encode())
    (root / "truncated.jsonl.gz").write_bytes(small[: len(small) // 2])
    # big enough that the first 64 KiB (format sniffing) decompress fine and the rest does not
    records = [{**PAIR, "id": str(i), "prompt": f"prompt {i} " * 20} for i in range(20000)]
    large = gzip.compress(_jsonl(records).encode(), compresslevel=1)
    (root / "truncated_large.jsonl.gz").write_bytes(large[: len(large) // 2])
    with zipfile.ZipFile(root / "two_members.zip", "w") as archive:
        archive.writestr("battles.jsonl", _jsonl([PAIR]))
        archive.writestr("more.jsonl", _jsonl([PAIR]))
    (root / "a_directory.jsonl").mkdir()
    # nesting: Arrow's reader segfaulted at 20,000 levels, Python's json at ~1,000
    for depth in (20000, 2000):
        deep = json.dumps({**PAIR, "meta": "@"})[:-1].replace('"@"', "[" * depth + "]" * depth)
        (root / f"deep_{depth}.jsonl").write_text(_jsonl([PAIR]) + deep + "}\n")
    element = '{"a": "gpt", "b": "llama", "winner": "a", "meta": ' + "[" * 3000 + "]" * 3000
    (root / "deep_array.json").write_text("[\n" + json.dumps(PAIR) + ",\n" + element + "}\n]\n")
    cell = "[" * 3000 + "]" * 3000
    (root / "deep_meta.csv").write_text(f'a,b,winner,meta\ngpt,llama,a,"{cell}"\n')
    frame = zstandard.ZstdCompressor().compress(
        _jsonl([{**PAIR, "id": str(i)} for i in range(1000)]).encode()
    )
    (root / "truncated.jsonl.zst").write_bytes(frame[: len(frame) * 2 // 3])
    os.mkfifo(root / "fifo.jsonl")  # opening it for reading would block forever
    os.symlink("link_loop.jsonl", root / "link_loop.jsonl")
    os.symlink("nowhere.jsonl", root / "broken_link.jsonl")
    return root


def input_path(case: Case, generated: Path) -> Path:
    return (generated if case.file in GENERATED else CORPUS) / case.file


def command(kind: str, path: Path, out_dir: Path, fmt: str | None) -> tuple[list[str], list[Path]]:
    """CLI arguments for one command on ``path``, and the outputs that must not appear."""
    fmt_args = ["--format", fmt] if fmt else []
    if kind == "validate":
        return ["data", "validate", str(path), *fmt_args], []
    if kind == "describe":
        return ["data", "describe", str(path), "--json", *fmt_args], []
    if kind == "convert":
        out = out_dir / "converted.jsonl"
        return ["data", "convert", str(path), str(out), *fmt_args], [out]
    split_dir = out_dir / "split"
    return ["data", "split", str(path), "--out", str(split_dir), "--by", "random", *fmt_args], [
        split_dir
    ]


def check_failure(
    case: Case,
    path: Path,
    status: int,
    stdout: str,
    stderr: str,
    out_dir: Path,
    outputs: list[Path],
) -> None:
    lines = stderr.splitlines()
    assert status == 2, (status, stdout, stderr)
    assert len(lines) == 1, stderr
    message = lines[0]
    assert message.startswith(f"error: {path}"), message
    if case.line is not None:
        assert message.startswith(f"error: {path}:{case.line}: "), message
    else:
        assert message.startswith(f"error: {path}: "), message
    if case.field is not None:
        assert f"field '{case.field}'" in message, message
    assert case.text.lower() in message.lower(), message
    assert stdout == "", stdout
    assert "Traceback" not in stderr
    for out in outputs:
        assert not out.exists(), out
    assert sorted(os.listdir(out_dir)) == [], "temporary or partial files left behind"


def test_corpus_is_large_and_complete() -> None:
    stored = {p.name for p in CORPUS.iterdir() if p.name != "README.md"}
    used = {c.file for c in CASES}
    assert stored <= used, f"corpus files without a case: {sorted(stored - used)}"
    assert used - GENERATED <= stored, f"cases without a file: {sorted(used - GENERATED - stored)}"
    assert len({c.file for c in CASES}) >= 40
    assert len(CASES) >= 40


runner = CliRunner()


@pytest.mark.parametrize("kind", ["validate", "describe", "convert", "split"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_malformed_input(case: Case, kind: str, generated: Path, tmp_path: Path) -> None:
    path = input_path(case, generated)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    args, outputs = command(kind, path, out_dir, case.fmt)
    result = runner.invoke(app, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    check_failure(case, path, result.exit_code, result.stdout, result.stderr, out_dir, outputs)


SUBPROCESS_CASES = [
    "nan_weight.jsonl",
    "non_utf8.csv",
    "arena_model_c.jsonl",
    "truncated.jsonl.gz",
    "missing_file.jsonl",
    "huge_line_bad_label.jsonl",
    "deep_20000.jsonl",
    "fifo.jsonl",
    "link_loop.jsonl",
    "lone_surrogate.jsonl",
    "rating_score_word.jsonl",
]


@pytest.mark.parametrize("name", SUBPROCESS_CASES)
def test_malformed_input_subprocess(name: str, generated: Path, tmp_path: Path) -> None:
    """The real process: ``python -m prefkit data convert BAD OUT``."""
    case = next(c for c in CASES if c.file == name and c.fmt is None)
    path = input_path(case, generated)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    args, outputs = command("convert", path, out_dir, case.fmt)
    proc = subprocess.run(
        [sys.executable, "-m", "prefkit", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "80"},
    )
    check_failure(case, path, proc.returncode, proc.stdout, proc.stderr, out_dir, outputs)


def test_big_line_loads(generated: Path, tmp_path: Path) -> None:
    path = generated / "huge_line_ok.jsonl"
    result = runner.invoke(app, ["data", "validate", str(path)])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "ok: 3 pairwise records\n"
    out = tmp_path / "copy.parquet"
    result = runner.invoke(app, ["data", "convert", str(path), str(out)])
    assert result.exit_code == 0, result.stderr
    result = runner.invoke(app, ["data", "describe", str(out), "--json"])
    assert json.loads(result.stdout)["records"] == 3
