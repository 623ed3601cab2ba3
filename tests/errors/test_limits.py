"""Limits on untrusted data (prefkit.core.limits / prefkit.data.limits) through the real CLI.

Each limit stops a hostile file with one ``error:`` line that names the limit and the
environment variable that raises it, and the same file loads once the limit is raised.  The
defaults are scaled down here (environment variables, read when a limit is checked) so the
inputs stay small.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import prefkit.data.limits as data_limits
from prefkit.cli import app

PAIR = {"a": "gpt", "b": "llama", "winner": "a"}
runner = CliRunner()


def _jsonl(records: list[dict]) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def _validate(path: Path, *extra: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["data", "validate", str(path), *extra])
    return result.exit_code, result.stdout, result.stderr


def _one_error_line(status: int, stdout: str, stderr: str, path: Path) -> str:
    assert status == 2, (status, stdout, stderr)
    assert stdout == ""
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f"error: {path}"), lines[0]
    return lines[0]


def test_text_longer_than_max_text_chars(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "long_prompt.jsonl"
    path.write_text(_jsonl([PAIR, {**PAIR, "prompt": "é" * 5000}, PAIR]))
    monkeypatch.setenv("PREFKIT_MAX_TEXT_CHARS", "4000")
    message = _one_error_line(*_validate(path), path)
    assert message == (
        f"error: {path}:2: field 'prompt': text of 5000 characters, longer than 4000 "
        "(limit max_text_chars = 4000; raise it with PREFKIT_MAX_TEXT_CHARS)"
    )
    monkeypatch.setenv("PREFKIT_MAX_TEXT_CHARS", "5000")  # characters, not UTF-8 bytes (10,000)
    assert _validate(path)[:2] == (0, "ok: 3 pairwise records\n")


def test_default_text_limit_refuses_a_ten_megabyte_prompt(tmp_path: Path) -> None:
    path = tmp_path / "huge_prompt.jsonl"
    path.write_text(_jsonl([PAIR, PAIR, {**PAIR, "prompt": "x" * 10_000_000}]))
    message = _one_error_line(*_validate(path), path)
    assert message.startswith(f"error: {path}:3: field 'prompt': text of 10000000 characters")
    assert "PREFKIT_MAX_TEXT_CHARS" in message


def test_texts_inside_lists_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "ranking_texts.jsonl"
    path.write_text(_jsonl([{"ranking": ["x", "y"], "texts": ["short", "t" * 300]}]))
    monkeypatch.setenv("PREFKIT_MAX_TEXT_CHARS", "100")
    message = _one_error_line(*_validate(path), path)
    assert "field 'texts': text of 300 characters" in message


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_record_longer_than_max_record_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    path = tmp_path / f"long_record{suffix}"
    if suffix == ".jsonl":
        path.write_text(_jsonl([PAIR, PAIR, {**PAIR, "prompt": "p" * 3000}, PAIR]))
    else:
        path.write_text("a,b,winner,prompt\ngpt,llama,a,x\ngpt,llama,b," + "p" * 3000 + "\n")
    monkeypatch.setenv("PREFKIT_MAX_RECORD_BYTES", "2000")
    message = _one_error_line(*_validate(path), path)
    line = 3
    assert message.startswith(f"error: {path}:{line}: record longer than 2000 bytes"), message
    assert "raise it with PREFKIT_MAX_RECORD_BYTES" in message
    monkeypatch.setenv("PREFKIT_MAX_RECORD_BYTES", "4000")
    assert _validate(path)[0] == 0


def test_json_depth_limit_can_be_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "nested_meta.jsonl"
    deep = json.dumps({**PAIR, "meta": "@"}).replace('"@"', "[" * 100 + "]" * 100)
    path.write_text(_jsonl([PAIR]) + deep + "\n")
    message = _one_error_line(*_validate(path), path)
    assert message == (
        f"error: {path}:2: nesting deeper than 64 "
        "(limit max_json_depth = 64; raise it with PREFKIT_MAX_JSON_DEPTH)"
    )
    monkeypatch.setenv("PREFKIT_MAX_JSON_DEPTH", "101")  # the record itself is one level
    assert _validate(path)[:2] == (0, "ok: 2 pairwise records\n")


def test_brackets_inside_strings_are_not_nesting(tmp_path: Path) -> None:
    path = tmp_path / "brackets_in_text.jsonl"
    text = '[{"' * 500 + '\\"' + "]}" * 500
    path.write_text(_jsonl([{**PAIR, "a_text": text}, PAIR]))
    assert _validate(path)[:2] == (0, "ok: 2 pairwise records\n")


def test_expanded_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = tmp_path / "battles.jsonl"
    plain.write_text(_jsonl([{**PAIR, "id": str(i)} for i in range(20000)]))
    packed = tmp_path / "battles.jsonl.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    monkeypatch.setenv("PREFKIT_MAX_EXPANDED_BYTES", "100000")
    for path in (plain, packed):
        message = _one_error_line(*_validate(path), path)
        assert "larger than 100000 bytes" in message, message
        assert "raise it with PREFKIT_MAX_EXPANDED_BYTES" in message
        for fmt in ("jsonl", "arena"):  # every reader goes through the same stream
            message = _one_error_line(*_validate(path, "--format", fmt), path)
            assert "PREFKIT_MAX_EXPANDED_BYTES" in message, message


def test_decompression_bomb_stops_at_the_expansion_ratio(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """~8 MB of identical lines gzip to ~30 KB (ratio ~300): with the floor scaled down from
    256 MiB to 1 MiB the default ratio limit (200) stops it; raising the ratio lets it through."""
    path = tmp_path / "bomb.jsonl.gz"
    path.write_bytes(gzip.compress(_jsonl([PAIR] * 200_000).encode(), compresslevel=9))
    monkeypatch.setattr(data_limits, "RATIO_FLOOR_BYTES", 1 << 20)
    message = _one_error_line(*_validate(path), path)
    assert "a decompression bomb?" in message
    assert "limit max_expansion_ratio = 200; raise it with PREFKIT_MAX_EXPANSION_RATIO" in message
    monkeypatch.setenv("PREFKIT_MAX_EXPANSION_RATIO", "10000")
    assert _validate(path)[:2] == (0, "ok: 200000 pairwise records\n")
