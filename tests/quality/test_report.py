"""``prefkit quality report``: the JSON summary, valid PNG figures, all-or-nothing output."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from prefkit.cli.app import app
from prefkit.quality import simulate_annotators

pytest.importorskip("matplotlib")
pytest.importorskip("datasketch")

runner = CliRunner()
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _texts_file(tmp_path):
    """Simulated annotators (η 0.9, 0.85, 0.25) on items whose responses grow with strength."""
    sim = simulate_annotators(n_items=8, n_comparisons=150, eta=(0.9, 0.85, 0.25), seed=4)
    rank = {f"i{k}": int(r) for k, r in enumerate(np.argsort(np.argsort(sim.theta)))}
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota",
             "kappa", "lambda", "mu"]

    def text(item: str) -> str:
        return " ".join(words[(rank[item] + k) % len(words)] for k in range(4 + 6 * rank[item]))

    path = tmp_path / "votes.jsonl"
    with open(path, "w") as fh:
        for rec in sim.dataset.to_pandas().to_dict("records"):
            rec = {**rec, "prompt": f"question {rec['pair_id']} about items and their answers",
                   "a_text": text(rec["a"]), "b_text": text(rec["b"])}
            fh.write(json.dumps(rec) + "\n")
    return path, sim


def test_report_keys_figures_and_foreign_file_left_alone(tmp_path):
    path, _ = _texts_file(tmp_path)
    out = tmp_path / "report"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n")
    result = runner.invoke(app, ["quality", "report", str(path), "--out", str(out),
                                 "--bootstrap", "10", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["skipped"] == []
    doc = json.loads((out / "quality.json").read_text())
    assert {"annotators", "drivers", "length_bias", "flips", "duplicates", "notes",
            "figures"} <= set(doc)
    eta = {k: v["reliability"] for k, v in doc["annotators"]["annotators"].items()}
    assert eta["ann2"] < 0.5 < min(eta["ann0"], eta["ann1"])
    assert "length" in doc["drivers"]["overall"]["effects"]
    assert doc["length_bias"]["longer_win_rate"] > 0.5  # stronger items answer at greater length
    assert 0.0 <= doc["flips"]["flip_rate"] <= 0.5
    figures = {"reliability.png", "property_effects.png", "length_bias.png", "flips.png"}
    assert set(doc["figures"]) == figures
    for name in figures:
        data = (out / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 2000
    assert (out / "notes.txt").read_text() == "mine\n"
    assert sorted(p.name for p in out.iterdir()) == sorted([*figures, "quality.json",
                                                            "notes.txt"])  # no temp left


def test_report_is_all_or_nothing(tmp_path, monkeypatch):
    from prefkit.quality import report

    path, _ = _texts_file(tmp_path)
    out = tmp_path / "report"

    def broken(block, target):
        raise RuntimeError("disk full")

    monkeypatch.setitem(report.FIGURES, "length_bias.png", ("length_bias", broken))
    result = runner.invoke(app, ["quality", "report", str(path), "--out", str(out),
                                 "--bootstrap", "0"])
    assert result.exit_code != 0
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["votes.jsonl"]


def test_report_without_texts_or_annotators_skips_parts_with_notes(tmp_path):
    path = tmp_path / "games.jsonl"
    rng = np.random.default_rng(0)
    with open(path, "w") as fh:
        for _ in range(200):
            i, j = rng.choice(6, size=2, replace=False)
            fh.write(json.dumps({"a": f"t{i}", "b": f"t{j}",
                                 "winner": "a" if rng.random() < 0.5 + 0.08 * (j - i) else "b"})
                     + "\n")
    out = tmp_path / "new" / "report"
    result = runner.invoke(app, ["quality", "report", str(path), "--out", str(out),
                                 "--bootstrap", "5"])
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "quality.json").read_text())
    assert "annotator_id" in doc["annotators"]["skipped"]
    assert "skipped" in doc["length_bias"] and "skipped" in doc["duplicates"]["fields"]["prompt"]
    assert "flip_rate" in doc["flips"]
    assert any("a_text" in n for n in doc["notes"])  # the drivers' warning, kept as a note
    assert sorted(p.name for p in out.iterdir()) == ["flips.png", "property_effects.png",
                                                     "quality.json"]
    assert np.isfinite(doc["flips"]["flip_rate"])


def test_report_refuses_a_file_as_out_and_a_bad_threshold(tmp_path):
    path, _ = _texts_file(tmp_path)
    target = tmp_path / "taken"
    target.write_text("x")
    result = runner.invoke(app, ["quality", "report", str(path), "--out", str(target),
                                 "--bootstrap", "0", "--no-figures"])
    assert result.exit_code == 2 and "not a directory" in result.output
    assert target.read_text() == "x"
    result = runner.invoke(app, ["quality", "report", str(path), "--out", str(tmp_path / "r"),
                                 "--threshold", "0"])
    assert result.exit_code == 2 and "threshold" in result.output
    assert not (tmp_path / "r").exists()
