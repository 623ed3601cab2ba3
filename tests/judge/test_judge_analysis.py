"""RecordedJudge aggregations and the analysis statistics on hand-made judgments (hand-computed)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from helpers.judge_helpers import fastchat_pair
from prefkit import PreferenceDataset, read
from prefkit.core.estimator import PreferenceEstimator
from prefkit.errors import DataError
from prefkit.judge.analysis import analyze
from prefkit.judge.backends import Backend, JudgeRequest, RecordedBackend
from prefkit.judge.recorded import RecordedJudge, reparse

# pair: (g1_winner, g2_winner), both in the original order
PAIRS = [
    ("model_1", "model_2"),  # 1: inconsistent, first position wins both games
    ("model_1", "model_1"),  # 2: consistent a
    ("tie", "tie"),          # 3: consistent tie
    ("model_2", "error"),    # 4: one order unparsed -> inconsistent, no verdict
    ("error", "error"),      # 5: nothing parsed
]


@pytest.fixture
def judgments(write_jsonl):
    return read(write_jsonl([fastchat_pair(q, g1, g2) for q, (g1, g2) in enumerate(PAIRS, 1)]))


def pid(q: int) -> str:
    return f"{q}/1/m1/m2"


def query(*ids: int, swap: bool = False) -> PreferenceDataset:
    a, b = ("m2", "m1") if swap else ("m1", "m2")
    return PreferenceDataset.from_records(
        [{"pair_id": pid(q), "a": a, "b": b, "winner": "a"} for q in ids]
    )


@pytest.mark.parametrize(
    ("aggregation", "expected"),
    [
        ("consistent-only", [np.nan, 1.0, 0.5, np.nan]),
        ("inconsistent-as-tie", [0.5, 1.0, 0.5, np.nan]),
        ("average", [0.5, 1.0, 0.5, np.nan]),
    ],
)
def test_recorded_judge_aggregations(judgments, aggregation, expected):
    judge = RecordedJudge(aggregation=aggregation).fit(judgments)
    assert isinstance(judge, PreferenceEstimator)
    np.testing.assert_array_equal(judge.predict_proba(query(1, 2, 3, 4)), expected)
    # a record asking about the same pair the other way round gets 1 - p
    np.testing.assert_array_equal(judge.predict_proba(query(2, swap=True)), [0.0])


def test_average_differs_from_tie_on_a_strong_and_a_tie(write_jsonl):
    ds = read(write_jsonl([fastchat_pair(1, "model_1", "tie")]))
    assert RecordedJudge(aggregation="average").fit(ds).predict_proba(query(1))[0] == 0.75
    assert RecordedJudge().fit(ds).predict_proba(query(1))[0] == 0.5
    assert np.isnan(RecordedJudge(aggregation="consistent-only").fit(ds).predict_proba(query(1))[0])


def test_recorded_judge_errors(judgments):
    with pytest.raises(DataError, match="no recorded judgment of pair '9/1/m1/m2'"):
        RecordedJudge().fit(judgments).predict_proba(query(9))
    with pytest.raises(DataError, match="unknown aggregation"):
        RecordedJudge(aggregation="majority").fit(judgments)


def test_judge_returns_the_judgments_of_the_pairs(judgments):
    out = RecordedJudge().fit(judgments).judge(query(1, 4))
    assert sorted(zip(out.column("pair_id"), out.column("order"), strict=True)) == [
        (pid(1), "ab"), (pid(1), "ba"), (pid(4), "ab")]
    assert set(out.column("annotator_id")) == {"gpt-4"}
    assert all(isinstance(t, str) and "[[" in t for t in out.column("rationale"))
    assert [(u["pair_id"], u["order"]) for u in out.metadata["unparsed"]] == [(pid(4), "ba")]


def test_reparse_finds_a_file_that_misparsed(write_jsonl):
    # the file says model_1 won game 1, but the judge's text ends with [[B]]
    ds = read(write_jsonl([fastchat_pair(1, "model_1", "model_1", j1="Hmm.\n\n[[B]]")]))
    _, report = reparse(ds)
    assert (report.total, report.agree) == (2, 1)
    (d,) = report.disagreements
    assert (d["order"], d["recorded"], d["reparsed"]) == ("ab", "a", "b")
    judge = RecordedJudge(verdicts="reparse").fit(ds)
    assert judge.predict_proba(query(1))[0] == 0.5  # now inconsistent -> tie
    assert RecordedJudge().fit(ds).predict_proba(query(1))[0] == 1.0


def test_recorded_backend_answers_with_raw_text(judgments):
    backend = RecordedBackend(judgments)
    assert isinstance(backend, Backend) and backend.name == "gpt-4"
    replies = backend.complete(
        [JudgeRequest(pid(1), "ab"), JudgeRequest(pid(5), "ba"), JudgeRequest("nope", "ab")]
    )
    assert replies[0].text.endswith("[[A]]")
    assert replies[1].text == "$ERROR$"
    assert replies[2].text is None and replies[2].error == "not recorded"


def test_position_and_length_statistics(judgments):
    result = analyze(judgments, bootstrap=0)
    assert result["n"] == 5
    assert result["unparsed"] == 3 and result["unparsed_pairs"] == 2
    assert result["position_consistency"] == pytest.approx(2 / 5)
    assert result["first_position_win_rate"] == pytest.approx(3 / 5)
    assert result["tie_rate"] == pytest.approx(2 / 7)
    # b's answer is the longer one (20 vs 5 characters): decisive verdicts b, a | a, a | b
    assert result["longer_win_rate"] == pytest.approx(2 / 5)
    # one length difference x: the MLE solves σ(βx) = share of a wins = 3/5
    x = (5 - 20) / 1000
    assert result["length_coef"] == pytest.approx(math.log(1.5) / x, rel=1e-4)


def test_agreement_with_humans_mt_bench_definitions(judgments):
    votes = {1: ["a", "tie"], 2: ["a", "b"], 3: ["tie"], 4: ["b"]}
    human = PreferenceDataset.from_records(
        [{"pair_id": pid(q), "a": "m1", "b": "m2", "winner": w, "annotator_id": f"h{k}"}
         for q, ws in votes.items() for k, w in enumerate(ws)]
    )
    result = analyze(judgments, human=human, bootstrap=0)
    # judge votes (inconsistent-as-tie): 1 tie, 2 a, 3 tie, 4 none (error), 5 none
    assert result["agreement_with_ties"] == pytest.approx(3 / 5)
    assert result["agreement_without_ties"] == pytest.approx(1 / 2)
    judge_votes = ["tie", "tie", "a", "a", "tie"]
    human_votes = ["a", "tie", "a", "b", "tie"]
    assert result["cohen_kappa"] == pytest.approx(cohen_kappa_score(judge_votes, human_votes))
    # human–human: pair 1 (a, tie) disagree, pair 2 (a, b) disagree; without ties only pair 2
    assert result["human_human_agreement_with_ties"] == 0.0
    assert result["human_human_agreement_without_ties"] == 0.0
    # the same humans with a and b written the other way round are flipped back
    flipped = PreferenceDataset.from_records(
        [{"pair_id": pid(q), "a": "m2", "b": "m1",
          "winner": {"a": "b", "b": "a"}.get(w, w)} for q, ws in votes.items() for w in ws]
    )
    again = analyze(judgments, human=flipped, bootstrap=0)
    assert again["agreement_with_ties"] == result["agreement_with_ties"]


def test_bootstrap_intervals_contain_the_estimate_and_are_reproducible(judgments):
    a = analyze(judgments, bootstrap=200, seed=3)
    b = analyze(judgments, bootstrap=200, seed=3)
    assert a == b
    lo, hi = a["position_consistency_ci"]
    assert lo <= a["position_consistency"] <= hi and lo < hi


def test_breakdown_by_column(judgments):
    result = analyze(judgments, by="protocol", bootstrap=0)
    assert set(result["by_category"]) == {"pair-v2"}
    assert result["by_category"]["pair-v2"]["n"] == 5
    with pytest.raises(DataError, match="no column 'nope'"):
        analyze(judgments, by="nope", bootstrap=0)


def test_human_human_agreement(judgments):
    votes = {1: ["a", "tie"], 2: ["a", "a", "b"]}
    human = PreferenceDataset.from_records(
        [{"pair_id": pid(q), "a": "m1", "b": "m2", "winner": w}
         for q, ws in votes.items() for w in ws]
    )
    result = analyze(judgments, human=human, bootstrap=0)
    # pair 1: (a, tie) ✗; pair 2: (a, a) ✓, (a, b) ✗, (a, b) ✗
    assert result["human_human_agreement_with_ties"] == pytest.approx(1 / 4)
    assert result["human_human_agreement_without_ties"] == pytest.approx(1 / 3)
