"""#12 item 16: the one report of every ``eval`` command (``prefkit.cli._eval``): ``--by COLUMN``
with the same ``"by": {value: {metrics}}`` shape, a minimum group size, the worst *user*, and
never NaN in JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest

from prefkit.cli._eval import echo_report, grouped_report, json_safe, model_report
from prefkit.data.schema import PreferenceDataset
from prefkit.errors import DataError


class Fixed:
    """P(a ≻ b) = 0.8 for every record."""

    def predict_proba(self, dataset):
        return np.full(len(dataset), 0.8)


def _data():
    rows = [{"a": "x", "b": "y", "winner": "a", "source": "big", "user_id": f"u{k % 3}"}
            for k in range(12)]
    rows += [{"a": "x", "b": "y", "winner": "b", "source": "small", "user_id": "lonely"}]
    return PreferenceDataset.from_records(rows)


def test_model_report_by_column_min_size_and_worst_user():
    ds = _data()
    report = model_report(Fixed(), ds, by="source", min_group_size=5,
                          users=np.asarray(ds.column("user_id"), dtype=object))
    assert report["ece_symmetric"] is True
    assert set(report["by"]) == {"big"} and report["by_groups_left_out"] == 1
    assert set(report["by"]["big"]) == {"accuracy", "log_loss", "ece", "n"}
    assert report["by"]["big"] == {"accuracy": 1.0, "log_loss": pytest.approx(-np.log(0.8)),
                                   "ece": pytest.approx(0.2), "n": 12}
    # the lonely user (1 record, predicted wrong) is below the minimum: not the worst user
    assert report["users"] == 4 and report["users_evaluated"] == 0  # 4 records each < 5
    assert report["worst_user"] is None and report["worst_user_accuracy"] is None
    small = model_report(Fixed(), ds, min_group_size=1,
                         users=np.asarray(ds.column("user_id"), dtype=object))
    assert small["worst_user"] == "lonely" and small["worst_user_accuracy"] == 0.0
    assert small["users_evaluated"] == 4
    json.dumps(report, allow_nan=False)


def test_grouped_report_has_the_same_shape_as_model_report():
    ds = _data()

    def metrics(records):  # what a policy scorer returns
        y = records.outcomes()
        return {"accuracy": float(np.mean(y == 1.0)), "loss": float("nan"), "n": len(records)}

    report = grouped_report(metrics, ds, by="source", min_group_size=5,
                            keys=("accuracy", "loss", "n"))
    assert report["by"] == {"big": {"accuracy": 1.0, "loss": None, "n": 12}}
    assert report["loss"] is None  # NaN → null
    assert report["by_min_group_size"] == 5 and report["by_groups_left_out"] == 1
    assert set(grouped_report(metrics, ds)) == {"accuracy", "loss", "n"}  # no --by: no keys
    with pytest.raises(DataError, match="no column 'nope'"):
        grouped_report(metrics, ds, by="nope")
    with pytest.raises(DataError, match="no column 'nope'"):
        model_report(Fixed(), ds, by="nope")


def test_json_output_never_holds_nan(capsys):
    echo_report({"accuracy": float("nan"), "n": np.int64(3), "x": [np.float32("inf")]},
                as_json=True)
    assert json.loads(capsys.readouterr().out) == {"accuracy": None, "n": 3, "x": [None]}
    assert json_safe({"a": {"b": float("nan")}}) == {"a": {"b": None}}
    echo_report({"ece": 0.1, "ece_symmetric": True, "by": {"g": {"n": 2}}}, as_json=False,
                by="col")
    text = capsys.readouterr().out
    assert "a/b-symmetric" in text and "col=g: n 2" in text


@pytest.mark.slow
def test_align_eval_by_column(tmp_path):
    """``prefkit align eval --by`` reports each group with the keys of the whole report."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from typer.testing import CliRunner

    from prefkit.align.tiny import build_tiny, synthetic_preferences
    from prefkit.cli.align import align_app

    base = tmp_path / "base"
    build_tiny(base, steps=0, hidden_size=16, layers=1)
    data = tmp_path / "pairs.jsonl"
    ds = synthetic_preferences(12, seed=11)
    ds.with_column("source", ["s1"] * 8 + ["s2"] * 4).write(str(data))
    runner = CliRunner()
    res = runner.invoke(align_app, ["train", str(data), "--base", str(base), "--loss", "dpo",
                                    "--out", str(tmp_path / "run"), "--max-steps", "1",
                                    "--batch-size", "4", "--json"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(align_app, ["eval", str(tmp_path / "run"), str(data), "--json",
                                    "--reference", str(base),
                                    "--by", "source", "--min-group-size", "5"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert set(out["by"]) == {"s1"} and out["by_groups_left_out"] == 1
    assert set(out["by"]["s1"]) == {"implicit_reward_accuracy", "ranking_accuracy", "loss", "n"}
    assert out["by"]["s1"]["n"] == 8 and out["n"] == 12
