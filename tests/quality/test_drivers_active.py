"""What drives the preferences (property regression, length bias) and what to label next."""

from __future__ import annotations

import numpy as np
import pytest

from prefkit import PreferenceDataset
from prefkit.quality.active import labels_to_reach_tau, propose
from prefkit.quality.drivers import drivers_report, length_bias
from prefkit.quality.properties import text_properties


def test_text_properties_count_markdown_and_phrases():
    text = "# Title\n- one\n- two\n1. three\n```py\nx\n```\nI'm sorry, I might be **wrong**."
    p = text_properties(text, prompt="title wrong")
    assert p["headers"] == 1 and p["list_items"] == 3 and p["code_blocks"] == 1
    assert p["refusal"] == 1 and p["hedging"] == 1 and p["bold"] == 1
    assert p["length"] == len(text.split()) and 0 < p["prompt_overlap"] < 1


def _length_biased(n=600, seed=0):
    """Simulated pairs whose winner depends on length (β = 1 per SD) and on nothing else."""
    rng = np.random.default_rng(seed)
    rows, la, lb = [], rng.integers(5, 80, n), rng.integers(5, 80, n)
    z = (la - lb) / np.std(la - lb)
    won = rng.random(n) < 1 / (1 + np.exp(-z))
    for k in range(n):
        rows.append({"prompt": "say something", "a_text": "x " * la[k], "b_text": "y " * lb[k],
                     "winner": "a" if won[k] else "b", "a_score": float(rng.normal()),
                     "b_score": float(rng.normal()), "group": "g1" if k % 2 else "g2"})
    return PreferenceDataset.from_records(rows)


def test_length_effect_recovered_with_interval_and_noise_property_null():
    report = drivers_report(_length_biased(), by="group", n_bootstrap=30)
    length = report["overall"]["effects"]["length"]
    assert 0.7 < length["coef"] < 1.3
    assert length["interval"][0] < 1.0 < length["interval"][1]
    noise = report["overall"]["effects"]["score"]  # a numeric a_/b_ column pair
    assert noise["interval"][0] < 0 < noise["interval"][1]
    assert set(report["by"]["groups"]) == {"g1", "g2"}
    lb = report["length_bias"]
    assert lb["longer_win_rate"] > 0.6
    rates = [b["longer_win_rate"] for b in lb["bins"] if b["n"] >= 50]
    assert rates[-1] > rates[0]  # bigger length gap, stronger preference for the longer


def test_no_texts_skips_text_properties_with_warning():
    rows = [{"a": "x", "b": "y", "winner": "a" if k % 3 else "b", "a_len": k, "b_len": 1}
            for k in range(40)]
    ds = PreferenceDataset.from_records(rows)
    with pytest.warns(UserWarning, match="text properties"):
        report = drivers_report(ds, n_bootstrap=10)
    assert list(report["overall"]["effects"]) == ["len"]
    assert report["length_bias"] is None and length_bias(ds) is None


def test_next_prefers_close_uncertain_pairs():
    rows = [{"a": "strong", "b": "weak", "winner": "a"} for _ in range(30)]
    rows += [{"a": "mid1", "b": "weak", "winner": "a"}, {"a": "mid2", "b": "weak", "winner": "a"}]
    rows += [{"a": "strong", "b": "mid1", "winner": "a"}, {"a": "strong", "b": "mid2",
                                                          "winner": "a"}]
    pairs = propose(PreferenceDataset.from_records(rows), k=3)
    assert {pairs[0]["a"], pairs[0]["b"]} == {"mid1", "mid2"}  # never compared, equally matched
    assert len({(p["a"], p["b"]) for p in pairs}) == 3
    assert all(np.isfinite(p["gain"]) for p in pairs)


def test_active_selection_needs_fewer_labels_than_random():
    seeds = range(12)
    active = [labels_to_reach_tau(True, s, target=0.9) for s in seeds]
    random = [labels_to_reach_tau(False, s, target=0.9) for s in seeds]
    assert np.mean(active) < 0.85 * np.mean(random)


@pytest.mark.parametrize("rate", [0.1, 0.3])
def test_flip_rate_and_flagged_flips_on_simulator(rate):
    from prefkit.quality.noisy_labels import detect_flips, repair
    from prefkit.quality.simulate import simulate_flips

    sim = simulate_flips(n_items=30, n_comparisons=3000, flip_rate=rate, seed=1)
    report = detect_flips(sim.dataset)
    true_rate = sim.flipped.mean()
    assert abs(report.flip_rate - true_rate) < 0.04
    flagged = report.flagged()
    precision = (flagged & sim.flipped).sum() / flagged.sum()
    recall = (flagged & sim.flipped).sum() / sim.flipped.sum()
    assert precision > 2 * true_rate and precision > 0.55  # chance precision = the flip rate
    assert recall > 0.4
    assert np.all(np.isfinite(report.flip_prob)) and np.all(report.strength_sd >= 0)
    dropped = repair(sim.dataset, report, "drop")
    assert len(dropped) == len(sim.dataset) - flagged.sum()
    soft = repair(sim.dataset, report, "soft").outcomes()
    assert np.all((soft >= 0) & (soft <= 1))


def test_flips_cli_writes_repaired_file(tmp_path):
    import json

    from typer.testing import CliRunner

    from prefkit.cli.app import app
    from prefkit.quality.simulate import simulate_flips

    path = tmp_path / "battles.jsonl"
    simulate_flips(n_items=10, n_comparisons=400, flip_rate=0.2, seed=0).dataset.write(str(path))
    out = tmp_path / "fixed.jsonl"
    result = CliRunner().invoke(app, ["quality", "flips", str(path), "--json", "--out", str(out),
                                      "--repair", "drop"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert 0.05 < doc["flip_rate"] < 0.4 and out.exists()
    assert sum(1 for _ in out.open()) == 400 - doc["flagged"]
