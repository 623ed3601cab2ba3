"""A record with an id but no response text (valid data, docs/format.md) is refused by every
text reward model of the CLI with the same one-line error naming the record: ``rm train`` and
``quality flips --method rm`` alike (the latter used to embed the id as if it were the answer);
``quality report --rm-flips`` skips that part and says why (``--method bt`` reads the ids)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

import prefkit
from prefkit.cli.app import app

runner = CliRunner()
EXPECTED = "record 3: field 'b_text': record has no response text"


def _pairs(path):
    rows = [{"prompt": f"q{k}", "a": f"m{k % 3}", "b": f"m{(k + 1) % 3}",
             "a_text": "a careful answer " * (1 + k % 3), "b_text": f"short {k}",
             "winner": "a" if k % 4 else "b"} for k in range(30)]
    rows[3].pop("b_text")  # an id only, as format.md allows
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_rm_train_and_flips_rm_refuse_the_same_record(tmp_path):
    data = _pairs(tmp_path / "pairs.jsonl")
    for args in (["rm", "train", str(data), "--out", str(tmp_path / "rm")],
                 ["quality", "flips", str(data), "--method", "rm", "--json"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert lines == [f"error: {data}: {EXPECTED}"], args
    assert not (tmp_path / "rm").exists()


def test_report_rm_flips_part_is_skipped_naming_the_record(tmp_path):
    from prefkit.quality.report import _part, _rm_flips

    notes: list[str] = []
    data = _pairs(tmp_path / "pairs.jsonl")
    part = _part(notes, "rm_flips", lambda: _rm_flips(prefkit.read(str(data)), 0, 5))
    assert EXPECTED in part["skipped"] and not notes
