"""Judge inputs come from strangers: deep nesting or broken JSON in any file the judge layer
reads (items, pairs, checklists, rubrics, its own outputs) is a one-line error, never a crash."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from prefkit.core.limits import parse_json_line
from prefkit.errors import DataError
from prefkit.judge.asking import read_jsonl
from prefkit.judge.checklist import load_checklists
from prefkit.judge.grading import load_rubric, read_items_jsonl
from prefkit.judge.run import read_judgment_file, read_pairs_jsonl

DEEP = "[" * 50_000 + "]" * 50_000


def _write(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_parse_json_line_bounds_depth_and_names_the_line() -> None:
    assert parse_json_line('{"a": [[1]]}', "f", 3) == {"a": [[1]]}
    with pytest.raises(DataError, match=r"^f:7: nesting deeper than max_json_depth"):
        parse_json_line(DEEP, "f", 7)
    with pytest.raises(DataError, match=r"^f:2: not JSON"):
        parse_json_line("{oops", "f", 2)


@pytest.mark.parametrize("reader", [read_items_jsonl, read_pairs_jsonl])
def test_input_readers_refuse_deep_records(tmp_path: Path, reader) -> None:
    ok = json.dumps({"prompt": "p", "response": "r", "a_text": "x", "b_text": "y"})
    path = _write(tmp_path / "in.jsonl", ok, '{"prompt": ' + DEEP + ', "response": "r"}')
    with pytest.raises(DataError, match=r"in\.jsonl:2: .*nest"):
        reader(path)


def test_checklists_rubric_and_outputs_refuse_deep_json(tmp_path: Path) -> None:
    checklists = _write(tmp_path / "c.jsonl", '{"prompt": "p", "checklist": ["q?"]}',
                        '{"prompt": "p2", "checklist": ' + DEEP + "}")
    with pytest.raises(DataError, match=r"c\.jsonl:2: nesting deeper"):
        load_checklists(checklists)
    rubric = tmp_path / "r.json"
    rubric.write_text('{"criteria": ' + DEEP + "}", encoding="utf-8")
    with pytest.raises(DataError, match="nesting too deep"):
        load_rubric(rubric, 5)
    out = _write(tmp_path / "o.jsonl", DEEP)
    with pytest.raises(DataError, match=r"o\.jsonl:1: nesting deeper"):
        read_jsonl(out, "prefkit-grade")
    with pytest.raises(DataError, match=r"o\.jsonl:1: nesting deeper"):
        read_judgment_file(out)


def test_cli_grade_on_deep_input_exits_2_with_one_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "answers.jsonl", '{"prompt": "p", "response": "r"}',
                  '{"prompt": "p", "response": ' + DEEP + "}")
    done = subprocess.run(
        [sys.executable, "-m", "prefkit", "judge", "grade", str(path), "--endpoint",
         "http://127.0.0.1:9/v1", "--model", "m", "--out", str(tmp_path / "g.jsonl")],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "answers.jsonl:2" in lines[0] and "nest" in lines[0]
    assert not (tmp_path / "g.jsonl").exists()
