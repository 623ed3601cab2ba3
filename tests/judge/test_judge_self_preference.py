"""Self-preference (DBG score) and calibration (ECE) in ``analyze``: hand-computed values and
recovery of a simulated judge's known bias."""

from __future__ import annotations

import numpy as np
import pytest

from prefkit import PreferenceDataset
from prefkit.evaluate.calibration import expected_calibration_error
from prefkit.judge.analysis import analyze
from prefkit.judge.self_preference import dbg_ratings, family, own_side


def judgments(rows, judge="gpt-4", p_a=None):
    """rows: (pair_id, a, b, winner in order ab, winner in order ba)."""
    records = []
    for k, (pid, a, b, w1, w2) in enumerate(rows):
        for order, w in (("ab", w1), ("ba", w2)):
            rec = {"pair_id": pid, "a": a, "b": b, "order": order, "winner": w,
                   "annotator_id": judge}
            if p_a is not None:
                rec["p_a"] = p_a[k]
            records.append(rec)
    return PreferenceDataset.from_records(records)


def humans(votes):
    return PreferenceDataset.from_records(
        [{"pair_id": pid, "a": a, "b": b, "winner": w}
         for pid, a, b, ws in votes for w in ws])


def test_family_and_own_side():
    assert family("GPT-4-0314") == "gpt-4" and family("gpt-4") == "gpt-4"
    assert family("gpt-4o-mini") == "gpt-4o" and family("gpt-3.5-turbo") == "gpt-3.5"
    assert family("claude-3-opus") == "claude-3" and family("vicuna") == "vicuna"
    side = own_side(["gpt-4-0613", "llama", "gpt-4", "x"], ["llama", "gpt-4-0314", "gpt-4", "y"],
                    ["gpt-4"] * 4)
    assert side.tolist() == [1, -1, 0, 0]
    assert own_side(["a", "b"], ["b", "c"], ["j", "j"], self_models=["b"]).tolist() == [-1, 1]
    assert dbg_ratings([9, 8, 7], [7, 8, 9], [True, True, False]) == 1.0


def test_dbg_hand_computed():
    rows = [("p1", "gpt-4-0613", "llama", "a", "a"),   # own a, judge a (1); humans a, b (½)
            ("p2", "llama", "gpt-4-0314", "b", "b"),   # own b, judge b (P(a)=0); humans tie (½)
            ("p3", "llama", "vicuna", "a", "b"),       # no own answer
            ("p4", "gpt-4", "vicuna", "a", "b")]       # own a, inconsistent = tie (½); humans a
    votes = [("p1", "gpt-4-0613", "llama", ["a", "b"]), ("p2", "llama", "gpt-4-0314", ["tie"]),
             ("p3", "llama", "vicuna", ["a"]), ("p4", "gpt-4", "vicuna", ["a"])]
    result = analyze(judgments(rows), human=humans(votes), bootstrap=0)
    # terms: +(1 − ½), −(0 − ½), (½ − 1) -> (½ + ½ − ½) / 3
    assert result["dbg"] == pytest.approx(1 / 6)
    assert result["dbg_pairs"] == 3
    assert result["self_models"] == ["gpt-4", "gpt-4-0314", "gpt-4-0613"]
    # the fixed keys are still there, unchanged in meaning
    for key in ("n", "unparsed", "position_consistency", "first_position_win_rate",
                "agreement_with_ties", "agreement_without_ties", "cohen_kappa"):
        assert key in result
    # explicit own models: llama's pairs p1 (b own: −(1 − ½)), p2 (a own: 0 − ½), p3 (½ − 1)
    other = analyze(judgments(rows), human=humans(votes), bootstrap=0, self_models=["llama"])
    assert other["dbg"] == pytest.approx((-0.5 - 0.5 - 0.5) / 3)


def test_dbg_recovers_a_simulated_bias():
    rng = np.random.default_rng(0)
    rows, votes = [], []
    for k in range(300):
        own_first = k % 2 == 0
        a, b = ("gpt-4-0613", "llama") if own_first else ("llama", "gpt-4-0613")
        own = "a" if own_first else "b"
        other = "b" if own_first else "a"
        # people prefer the judge's model 40 % of the time; the judge always does
        rows.append((f"p{k}", a, b, own, own))
        votes.append((f"p{k}", a, b, [own if rng.random() < 0.4 else other for _ in range(3)]))
    result = analyze(judgments(rows), human=humans(votes), bootstrap=300, seed=1)
    assert result["dbg"] == pytest.approx(0.6, abs=0.05)
    lo, hi = result["dbg_ci"]
    assert lo < 0.6 < hi and hi - lo < 0.1


def test_ece_from_probabilities_and_from_verdicts():
    rows = [(f"p{k}", "m1", "m2", "a" if k % 3 else "b", "a" if k % 3 else "b")
            for k in range(12)]
    p_a = [0.9 if k % 3 else 0.2 for k in range(12)]
    votes = [(f"p{k}", "m1", "m2", ["a" if k % 2 else "b", "tie"]) for k in range(12)]
    with_p = analyze(judgments(rows, p_a=p_a), human=humans(votes), bootstrap=50)
    ys = np.array([1.0 if k % 2 else 0.0 for k in range(12)])
    assert with_p["ece_source"] == "probabilities" and with_p["ece_votes"] == 12
    assert with_p["ece"] == pytest.approx(expected_calibration_error(ys, np.array(p_a)))
    assert with_p["ece_ci"][0] <= with_p["ece"] <= with_p["ece_ci"][1]
    hard = analyze(judgments(rows), human=humans(votes), bootstrap=0)
    verdict_p = np.array([1.0 if k % 3 else 0.0 for k in range(12)])
    assert hard["ece_source"] == "verdicts"
    assert hard["ece"] == pytest.approx(expected_calibration_error(ys, verdict_p))


def test_analyze_cli_self_model_option(write_jsonl):
    import json

    from typer.testing import CliRunner

    from helpers.judge_helpers import fastchat_pair
    from prefkit.cli.app import app

    path = write_jsonl([fastchat_pair(1, "model_1", "model_1"), fastchat_pair(2, "tie", "tie")])
    human = write_jsonl([{"pair_id": f"{q}/1/m1/m2", "a": "m1", "b": "m2", "winner": "b"}
                         for q in (1, 2)], name="human.jsonl")
    result = CliRunner().invoke(app, ["judge", "analyze", str(path), "--human", str(human),
                                      "--self-model", "m1", "--bootstrap", "0", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    # m1 is own: judge P(m1) = 1 and ½, people say 0 -> DBG = (1 + ½) / 2
    assert out["dbg"] == pytest.approx(0.75) and out["self_models"] == ["m1"]
    assert out["ece_source"] == "verdicts"
