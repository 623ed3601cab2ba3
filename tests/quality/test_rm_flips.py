"""Flip detection with a cross-fitted reward-model ensemble, and held-out accuracy after repair."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.special import expit
from typer.testing import CliRunner

from prefkit import PreferenceDataset
from prefkit.errors import DataError

pytest.importorskip("torch")
from prefkit.cli.app import app
from prefkit.quality.repair_eval import heldout_repair_accuracy, repaired_labels
from prefkit.quality.rm_flips import detect_flips_rm, fit_flip_model
from prefkit.quality.simulate_rm import simulate_flips


def test_flip_model_recovers_alpha_and_eps_from_strengths():
    rng = np.random.default_rng(0)
    s = rng.normal(1.0, 1.5, 8_000)
    clean = rng.random(len(s)) < expit(2.0 * s)  # label agrees with s with prob σ(2s) …
    agree = clean ^ (rng.random(len(s)) < 0.15)  # … then flipped at 15 %
    strength = np.where(agree, s, -s)  # the strength towards the observed label
    alpha, eps, (lo, hi) = fit_flip_model(strength)
    assert alpha == pytest.approx(2.0, rel=0.2) and eps == pytest.approx(0.15, abs=0.03)
    assert lo <= 0.15 <= hi and hi - lo < 0.1


def test_known_flips_are_found_and_the_rate_estimated():
    ds, feats, flipped = simulate_flips(800, flip_rate=0.2, seed=1)
    rep = detect_flips_rm(ds, features=feats, members=4, seed=0)
    realised = flipped.mean()
    assert abs(rep.flip_rate - realised) < 0.07
    assert rep.flip_rate_interval[0] - 0.02 <= realised <= rep.flip_rate_interval[1] + 0.02
    flagged = rep.flagged()
    precision = (flagged & flipped).sum() / flagged.sum()
    recall = (flagged & flipped).sum() / flipped.sum()
    assert precision > 0.6 and recall > 0.35  # chance precision: 0.2
    # the baseline "disagreement rate" counts model errors too: it over-estimates ε
    assert rep.disagreement_rate > rep.flip_rate
    assert rep.strength_sd.min() >= 0 and np.isfinite(rep.flip_prob).all()


def test_no_record_judges_itself():
    ds, feats, _ = simulate_flips(400, flip_rate=0.1, seed=2, prompts=80)
    first = detect_flips_rm(ds, features=feats, members=2, epochs=150, seed=3)
    row = 7
    y = ds.outcomes()
    winners = ["a" if v > 0.5 else "b" for v in y]
    winners[row] = "b" if winners[row] == "a" else "a"
    records = [{"prompt": p, "a": a, "b": b, "winner": w} for p, a, b, w in zip(
        ds.column("prompt"), ds.column("a"), ds.column("b"), winners, strict=True)]
    again = detect_flips_rm(PreferenceDataset.from_records(records), features=feats, members=2,
                            epochs=150, seed=3)
    same_fold = np.flatnonzero(first.folds == first.folds[row])
    # the record's own label never reached the models that judge it: its gap only changes sign
    np.testing.assert_allclose(again.member_strengths[row], -first.member_strengths[row],
                               rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(again.member_strengths[same_fold[same_fold != row]],
                               first.member_strengths[same_fold[same_fold != row]], atol=1e-9)


def test_clean_data_has_a_small_flip_rate_and_repairs_are_consistent():
    ds, feats, _ = simulate_flips(600, flip_rate=0.0, seed=4)
    rep = detect_flips_rm(ds, features=feats, members=3, seed=0)
    assert rep.flip_rate < 0.04 and rep.flip_rate_interval[0] == 0.0
    y = np.array([1.0, 0.0, 1.0])
    p = np.array([0.9, 0.2, 0.6])
    rows, lab = repaired_labels(y, p, "drop")
    assert rows.tolist() == [1] and lab.tolist() == [0.0]
    assert repaired_labels(y, p, "flip")[1].tolist() == [0.0, 0.0, 0.0]
    np.testing.assert_allclose(repaired_labels(y, p, "soft")[1], [0.1, 0.2, 0.4])
    with pytest.raises(DataError, match="unknown repair"):
        repaired_labels(y, p, "burn")


def test_heldout_repair_accuracy_runs_on_the_simulator():
    ds, feats, flipped = simulate_flips(600, flip_rate=0.25, seed=5)
    y = ds.outcomes()
    out = heldout_repair_accuracy(ds, features=feats, splits=1, members=3, epochs=150,
                                  clean=np.where(flipped, 1 - y, y))
    assert set(out["repairs"]) == {"none", "drop", "flip", "soft"}
    for row in out["repairs"].values():
        # through 25 % label noise: accuracy against noisy labels ≈ ε + (1 − 2ε)·clean accuracy
        assert row["clean_accuracy"] > 0.7
        assert abs(row["accuracy"] - (0.25 + 0.5 * row["clean_accuracy"])) < 0.1
    assert 0.1 < out["flip_rate"] < 0.4


def test_too_few_records_and_cli_without_texts_are_one_line_errors(tmp_path):
    ds, feats, _ = simulate_flips(12, prompts=2)
    with pytest.raises(DataError, match="too few"):
        detect_flips_rm(ds, features=feats)
    path = tmp_path / "items.jsonl"
    path.write_text("\n".join(json.dumps({"a": "x", "b": "y", "winner": "a"})
                              for _ in range(30)) + "\n")
    result = CliRunner().invoke(app, ["quality", "flips", str(path), "--method", "rm"])
    assert result.exit_code == 2 and "--method bt" in result.output


GOOD = ["Paris is the capital of France.", "Water boils at 100 degrees Celsius."]
BAD = ["I don't know, maybe Berlin?", "Water never boils."]


class PhraseEncoder:
    """Stand-in for MiniLM: (good sentences, bad sentences, 1) counted in the text."""

    id, dim = "phrases", 3

    def encode(self, texts):
        return np.array([[sum(g in t for g in GOOD), sum(b in t for b in BAD), 1.0]
                         for t in texts], dtype=np.float32)


def _planted() -> list[dict]:
    rows = []
    for k in range(40):
        a, b, w = (GOOD[k % 2], BAD[k % 2], "a") if k % 3 else (BAD[k % 2], GOOD[k % 2], "b")
        if k in (5, 11):
            w = "b" if w == "a" else "a"  # two planted flips
        rows.append({"prompt": f"question {k}", "a_text": a, "b_text": b, "winner": w})
    return rows


def test_report_rm_flips_part():
    from prefkit.quality.report import build_report

    doc = build_report(PreferenceDataset.from_records(_planted()), n_bootstrap=0,
                       rm_flips=True, encoder=PhraseEncoder())
    part = doc["rm_flips"]
    assert part["flagged"] == 2 and {r["row"] for r in part["most_suspect"][:2]} == {5, 11}
    assert sum(part["flip_prob_histogram"]) == 40 and part["flip_rate_interval"][1] <= 0.5


def test_cli_flips_rm_flags_planted_flips_and_repairs_them(tmp_path, monkeypatch):
    monkeypatch.setattr("prefkit.reward.model.default_encoder", lambda: PhraseEncoder())
    rows = _planted()
    path = tmp_path / "pairs.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = tmp_path / "fixed.jsonl"
    result = CliRunner().invoke(app, ["quality", "flips", str(path), "--method", "rm", "--json",
                                      "--members", "2", "--out", str(out), "--repair", "flip",
                                      "--heldout-splits", "1"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert {r["row"] for r in doc["most_suspect"][:2]} == {5, 11}
    assert doc["flagged"] == 2 and doc["crossfit_accuracy"] == pytest.approx(38 / 40)
    assert set(doc["heldout_repair"]["repairs"]) == {"none", "drop", "flip", "soft"}
    fixed = [json.loads(line)["p_a"] for line in out.read_text().splitlines()]
    want = [float((r["winner"] == "a") != (k in (5, 11))) for k, r in enumerate(rows)]
    assert fixed == want  # the flagged two swapped, the rest as given
