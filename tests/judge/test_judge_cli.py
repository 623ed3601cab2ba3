"""``prefkit judge`` commands on hand-made files: output, and one-line errors."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from helpers.judge_helpers import fastchat_pair
from prefkit import read
from prefkit.cli.app import app

runner = CliRunner()


def test_analyze_json_has_the_contract_keys(write_jsonl):
    path = write_jsonl([fastchat_pair(1, "model_1", "model_1"), fastchat_pair(2, "tie", "error")])
    result = runner.invoke(app, ["judge", "analyze", str(path), "--json", "--bootstrap", "10"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert (out["n"], out["unparsed"], out["position_consistency"]) == (2, 1, 0.5)
    assert out["first_position_win_rate"] == 0.5
    assert out["parse_check"]["agree"] == out["parse_check"]["total"] == 4


def test_analyze_text_output(write_jsonl):
    path = write_jsonl([fastchat_pair(1, "model_1", "model_2")])
    result = runner.invoke(app, ["judge", "analyze", str(path), "--bootstrap", "0"])
    assert result.exit_code == 0, result.output
    assert "position_consistency" in result.stdout


def test_analyze_bad_input_is_one_line(tmp_path, write_jsonl):
    missing = runner.invoke(app, ["judge", "analyze", str(tmp_path / "nope.jsonl"), "--json"])
    assert missing.exit_code == 2
    assert missing.stderr.strip().startswith("error:") and len(missing.stderr.splitlines()) == 1
    path = write_jsonl([fastchat_pair(1, "model_1", "model_1")])
    bad_by = runner.invoke(app, ["judge", "analyze", str(path), "--by", "nope", "--json"])
    assert bad_by.exit_code == 2 and "no column 'nope'" in bad_by.stderr


def test_battles_writes_file_and_leaderboard(tmp_path, write_jsonl):
    recs = [{"question_id": f"q{i}", "model": "m",
             "games": [{"judgment": "", "score": "B>A"}, {"judgment": "", "score": "A>>B"}]}
            for i in range(3)]
    recs.append({"question_id": "q9", "model": "m",
                 "games": [{"judgment": "", "score": "A>B"}, {"judgment": "", "score": "A=B"}]})
    path = write_jsonl(recs)
    out = tmp_path / "battles.jsonl"
    result = runner.invoke(
        app, ["judge", "battles", str(path), "--out", str(out), "--leaderboard", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["battles"] == 3 * 4 + 2 and summary["strong"] == 3
    assert summary["leaderboard"]["items"][0]["name"] == "m"
    written = read(out)
    assert len(written) == 14


def test_battles_bad_output_name_fails_before_work(tmp_path, write_jsonl):
    path = write_jsonl([fastchat_pair(1, "model_1", "model_1")])
    result = runner.invoke(app, ["judge", "battles", str(path), "--out", str(tmp_path / "x.txt")])
    assert result.exit_code == 2 and "cannot tell the output format" in result.stderr
