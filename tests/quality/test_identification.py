"""Bad input for annotator reliability: one label per comparison, single-label annotators, one
annotator — finite answers and a warning that says what η can mean there."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from prefkit import PreferenceDataset
from prefkit.cli.app import app
from prefkit.quality import CrowdBT
from prefkit.quality._comparisons import group_comparisons
from prefkit.quality.identification import identification


def _rows(n, annotator, pair_id):
    return [{"a": f"m{k % 4}", "b": f"m{(k + 1) % 4}", "winner": "a" if k % 3 else "b",
             "annotator_id": annotator(k), "pair_id": pair_id(k)} for k in range(n)]


def test_one_label_per_comparison_is_flagged_and_stays_finite():
    ds = PreferenceDataset.from_records(_rows(60, lambda k: f"u{k % 5}", str))
    ident = identification(group_comparisons(ds))
    assert ident["shared_comparisons"] == 0 and ident["labels_per_comparison"] == 1.0
    assert any("only through the item ranking" in w for w in ident["warnings"])
    eta = CrowdBT().fit(ds).eta_
    assert np.isfinite(eta).all() and ((eta > 0) & (eta < 1)).all()


def test_single_label_annotators_and_a_lone_annotator():
    ds = PreferenceDataset.from_records(_rows(5, lambda k: f"u{k}", lambda k: "p1"))
    ident = identification(group_comparisons(ds))
    assert ident["annotators_with_one_label"] == 5
    assert any("single label" in w for w in ident["warnings"])
    solo = PreferenceDataset.from_records(_rows(30, lambda k: "solo", lambda k: f"p{k % 6}"))
    assert any(w.startswith("one annotator") for w in
               identification(group_comparisons(solo))["warnings"])


def test_cli_annotators_json_keeps_the_contract_and_warns(tmp_path):
    path = tmp_path / "votes.jsonl"
    rows = _rows(40, lambda k: f"u{k % 4}", str)
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    with pytest.warns(UserWarning, match="every comparison has one label"):
        result = CliRunner().invoke(app, ["quality", "annotators", str(path), "--json",
                                          "--no-heldout"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert set(doc["annotators"]) == {"u0", "u1", "u2", "u3"}
    assert all(0 < v["reliability"] < 1 and v["n"] == 10 for v in doc["annotators"].values())
    assert doc["identification"]["shared_comparisons"] == 0
