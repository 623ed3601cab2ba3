"""``prefkit quality …`` on hostile files: one annotator, single-label annotators, no texts,
NaN/inf values, huge ids — finite answers or one-line errors, never NaN or a traceback."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from prefkit.cli.app import app

runner = CliRunner()


def _no_nan(text: str) -> dict:
    def reject(token: str) -> None:
        raise AssertionError(f"non-finite {token} in the JSON output")

    return json.loads(text, parse_constant=reject)


def _records(n: int, seed: int, *, annotator=None, texts: bool = True) -> list[dict]:
    rng = np.random.default_rng(seed)
    items = ["m1", "m2", "m3", "m4"]
    out = []
    for i in range(n):
        a, b = rng.choice(items, 2, replace=False)
        row = {"pair_id": str(i // 3), "prompt": f"question {i // 3}", "a": str(a), "b": str(b),
               "winner": str(rng.choice(["a", "b", "b", "tie"]))}
        if texts:
            row["a_text"] = "answer " + "word " * int(rng.integers(1, 40))
            row["b_text"] = "reply " + "token " * int(rng.integers(1, 40))
        if annotator is not None:
            row["annotator_id"] = annotator(i)
        out.append(row)
    return out


def _write(tmp_path, name: str, rows: list[dict]):
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _run(*args: str):
    result = runner.invoke(app, ["quality", *args])
    assert "Traceback" not in result.output
    return result


def test_one_annotator_and_single_label_annotators_get_finite_flagged_answers(tmp_path):
    solo = _write(tmp_path, "solo.jsonl", _records(45, 0, annotator=lambda i: "solo"))
    doc = _no_nan(_run("annotators", str(solo), "--json", "--no-heldout").stdout)
    row = doc["annotators"]["solo"]
    assert 0 < row["reliability"] < 1 and row["majority_agreement"] is None
    assert any("one annotator" in w for w in doc["identification"]["warnings"])
    single = _write(tmp_path, "single.jsonl", _records(30, 1, annotator=lambda i: f"ann{i}"))
    for model in ("crowd-bt", "dawid-skene"):
        doc = _no_nan(_run("annotators", str(single), "--model", model, "--json",
                                 "--no-heldout").stdout)
        assert len(doc["annotators"]) == 30
        for row in doc["annotators"].values():
            assert row["n"] == 1 and "uncertain" in row["flags"]
            lo, hi = row["interval"]
            assert 0 <= lo <= row["reliability"] <= hi <= 1


def test_no_texts_skips_text_properties_with_a_warning(tmp_path):
    path = _write(tmp_path, "items.jsonl",
                  _records(60, 2, annotator=lambda i: "xyz"[i % 3], texts=False))
    with pytest.warns(UserWarning, match="no a_text/b_text"):
        result = _run("drivers", str(path), "--json", "--bootstrap", "5")
    assert result.exit_code == 0, result.output
    doc = _no_nan(result.stdout)
    assert doc["overall"]["effects"] == {} and doc["length_bias"] is None
    assert "skipped" in doc["controlled"]
    result = _run("flips", str(path), "--method", "rm")
    assert result.exit_code == 2 and "a_text" in result.output


def test_nan_and_inf_side_columns_count_as_no_difference(tmp_path):
    rows = _records(80, 3, annotator=lambda i: "xyz"[i % 3])
    for k, row in enumerate(rows):
        row["a_score"] = [math.nan, math.inf, float(k), -math.inf][k % 4]
        row["b_score"] = 2.0 * (k % 5)
    path = tmp_path / "nan.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))  # NaN / Infinity tokens
    with pytest.warns(UserWarning, match=r"60 record\(s\) have a missing or non-finite a_score"):
        result = _run("drivers", str(path), "--json", "--method", "bayes")
    assert result.exit_code == 0, result.output
    doc = _no_nan(result.stdout)
    effect = doc["overall"]["effects"]["score"]
    assert math.isfinite(effect["coef"]) and effect["nonzero"] <= 20


def test_huge_ids_are_kept_verbatim(tmp_path):
    big = str(2**70)
    rows = _records(45, 4, annotator=lambda i: big + str(i % 3))
    for row in rows:
        row["a"], row["b"] = "9" * 40 + row["a"], "9" * 40 + row["b"]
        row["pair_id"] = "p" * 3000 + row["pair_id"]
    path = _write(tmp_path, "huge.jsonl", rows)
    doc = _no_nan(_run("annotators", str(path), "--json", "--no-heldout", "--model",
                       "dawid-skene").stdout)
    assert set(doc["annotators"]) == {big + "0", big + "1", big + "2"}
    doc = _no_nan(_run("next", str(path), "--n", "2", "--json").stdout)
    assert all(p["a"].startswith("9" * 40) for p in doc["pairs"])


def test_a_single_record_is_a_one_line_error_where_nothing_can_be_fitted(tmp_path):
    path = _write(tmp_path, "one.jsonl", _records(1, 5, annotator=lambda i: "x"))
    for args in (["drivers", str(path)], ["flips", str(path)]):
        result = _run(*args)
        assert result.exit_code == 2 and "too few" in result.output, result.output
    doc = _no_nan(_run("annotators", str(path), "--json", "--no-heldout").stdout)
    assert doc["annotators"]["x"]["flags"] == ["uncertain"]
