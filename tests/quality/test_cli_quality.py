"""``prefkit quality …``: the fixed JSON contract, errors as one line, real multi-annotator data."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from prefkit.cli.app import app
from prefkit.quality import simulate_annotators

runner = CliRunner()


def _sim_file(tmp_path):
    sim = simulate_annotators(n_items=8, n_comparisons=120, eta=(0.9, 0.8, 0.2), seed=0)
    path = tmp_path / "votes.jsonl"
    sim.dataset.write(str(path))
    return path


def test_annotators_json_contract(tmp_path):
    result = runner.invoke(app, ["quality", "annotators", str(_sim_file(tmp_path)), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert set(doc["annotators"]) == {"ann0", "ann1", "ann2"}
    for row in doc["annotators"].values():
        assert 0 < row["reliability"] < 1 and row["n"] > 0
    assert doc["annotators"]["ann2"]["reliability"] < 0.5 < doc["annotators"]["ann0"]["reliability"]
    assert {"model", "majority", "n"} <= set(doc["heldout"])


def test_next_and_drivers_text(tmp_path):
    path = _sim_file(tmp_path)
    result = runner.invoke(app, ["quality", "next", str(path), "--n", "2", "--json"])
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["pairs"]) == 2
    result = runner.invoke(app, ["quality", "drivers", str(path), "--bootstrap", "5"])
    assert result.exit_code == 0, result.output


def test_missing_annotators_is_one_error_line(tmp_path):
    path = tmp_path / "plain.jsonl"
    path.write_text('{"a": "x", "b": "y", "winner": "a"}\n')
    result = runner.invoke(app, ["quality", "annotators", str(path)])
    assert result.exit_code == 2
    assert "annotator_id" in result.output and "Traceback" not in result.output


def test_pandalm_three_annotators(real_file):
    path = real_file("llm-pairwise/WeOpenML_PandaLM__data_testset-v1.json")
    result = runner.invoke(app, ["quality", "annotators", str(path), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert set(doc["annotators"]) == {"annotator1", "annotator2", "annotator3"}
    for row in doc["annotators"].values():
        assert 0.8 < row["reliability"] < 1 and row["n"] == 999
    assert doc["heldout"]["model"] >= doc["heldout"]["majority"] - 0.02


def test_dawid_skene_and_drivers_by_group_json(tmp_path):
    path = _sim_file(tmp_path)
    result = runner.invoke(app, ["quality", "annotators", str(path), "--model", "dawid-skene",
                                 "--json", "--no-heldout"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["model"] == "dawid-skene" and "heldout" not in doc
    assert doc["annotators"]["ann2"]["reliability"] < 0.5


def test_bad_folds_and_bad_n_are_one_line_errors(tmp_path):
    path = _sim_file(tmp_path)
    for args in (["flips", str(path), "--folds", "1"], ["next", str(path), "--n", "0"]):
        result = runner.invoke(app, ["quality", *args])
        assert result.exit_code == 2, result.output
        assert "error:" in result.output and "Traceback" not in result.output
