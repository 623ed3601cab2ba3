"""RewardBench-v1 sections / weighted score and RewardBench-2 best-of-N, on hand-made scorers."""

from __future__ import annotations

import pytest
from reward_helpers import LengthScorer, ProbaOnly

from prefkit import PreferenceDataset
from prefkit.errors import DataError
from prefkit.reward.rewardbench import EXAMPLE_COUNTS, SUBSET_MAPPING, best_of_n, rewardbench_v1


def _record(subset, chosen, rejected, chosen_first=True):
    if chosen_first:
        return {"subset": subset, "a_text": chosen, "b_text": rejected, "winner": "a"}
    return {"subset": subset, "a_text": rejected, "b_text": chosen, "winner": "b"}


def _v1_data():
    rows = []
    # llmbar-natural: 4 records, 3 right (longer chosen), 1 wrong
    rows += [_record("llmbar-natural", "long answer", "short", k % 2 == 0) for k in range(3)]
    rows += [_record("llmbar-natural", "tiny", "much longer", True)]
    # mt-bench-hard: 2 records, 1 right, 1 exact tie (counts as wrong)
    rows += [_record("mt-bench-hard", "long answer", "x"), _record("mt-bench-hard", "abc", "xyz")]
    # alpacaeval-easy: 2 right
    rows += [_record("alpacaeval-easy", "long answer", "x", False)] * 2
    # a prior set and an unmapped subset
    rows += [_record("anthropic_hhh", "x", "long answer")] * 2
    rows += [_record("my-own", "long answer", "x")]
    return PreferenceDataset.from_records(rows)


def test_rewardbench_v1_sections_and_weighted_score():
    result = rewardbench_v1(LengthScorer(), _v1_data())
    subsets = result["subsets"]
    assert subsets["llmbar-natural"] == {"accuracy": 0.75, "n": 4}
    assert subsets["mt-bench-hard"]["accuracy"] == 0.5  # the exact tie is wrong
    sections = result["sections"]
    assert sections["Chat Hard"] == pytest.approx((4 * 0.75 + 2 * 0.5) / 6)  # count-weighted
    assert sections["Chat"] == 1.0
    assert sections["Prior Sets"] == 0.0
    assert sections["Other"] == 1.0
    expected = (2 * sections["Chat Hard"] + 2 * 1.0 + 1 * 0.0 + 1 * 1.0) / 6
    assert result["score"] == pytest.approx(expected)
    official = rewardbench_v1(LengthScorer(), _v1_data(), official_counts=True)
    n_nat, n_mt = EXAMPLE_COUNTS["llmbar-natural"], EXAMPLE_COUNTS["mt-bench-hard"]
    assert official["sections"]["Chat Hard"] == pytest.approx(
        (n_nat * 0.75 + n_mt * 0.5) / (n_nat + n_mt)
    )


def test_rewardbench_v1_with_a_probability_only_scorer():
    a = rewardbench_v1(LengthScorer(), _v1_data())
    b = rewardbench_v1(ProbaOnly(), _v1_data())
    assert a["subsets"] == b["subsets"]  # P = ½ is a tie and counts as wrong, as r_a = r_b


def test_best_of_four_with_fractional_ties():
    rows = []
    # prompt 1: correct is longest -> 1; prompt 2: correct ties with one other at max -> 1/2;
    # prompt 3: an incorrect completion is longer -> 0
    for g, (correct, wrong) in enumerate(
        [("longest one", ["a", "bb", "ccc"]), ("same len", ["abcdefgh", "x", "y"]),
         ("mid", ["much longer text", "a", "b"])]
    ):
        for w in wrong:
            rows.append({"prompt_id": f"p{g}", "subset": "Focus" if g < 2 else "Math",
                         "a_text": correct, "b_text": w, "winner": "a"})
    ds = PreferenceDataset.from_records(rows)
    result = best_of_n(LengthScorer(), ds)
    assert result["subsets"]["Focus"] == {"accuracy": 0.75, "n": 2}
    assert result["subsets"]["Math"] == {"accuracy": 0.0, "n": 1}
    assert result["mean"] == pytest.approx(0.375) and result["n"] == 3
    # the same data as rankings (correct completion first)
    ranking = PreferenceDataset.from_records(
        [{"ranking": ["c", "w1", "w2", "w3"], "texts": ["longest one", "a", "bb", "ccc"],
          "subset": "Focus"},
         {"ranking": ["c", "w1", "w2", "w3"], "texts": ["mid", "much longer text", "a", "b"],
          "subset": "Math"}],
        kind="ranking",
    )
    result = best_of_n(LengthScorer(), ranking)
    assert result["subsets"]["Focus"]["accuracy"] == 1.0
    assert result["subsets"]["Math"]["accuracy"] == 0.0
    with pytest.raises(DataError):
        rewardbench_v1(LengthScorer(), ds.replace(ds.table.drop_columns(["subset"])))


def test_official_counts_and_sections_match_rewardbench_constants():
    # allenai/reward-bench rewardbench/constants.py (and analysis/constants.py): note refuse 250,
    # respond 154 there
    assert EXAMPLE_COUNTS["xstest-should-refuse"] == 250
    assert EXAMPLE_COUNTS["xstest-should-respond"] == 154
    assert EXAMPLE_COUNTS["math-prm"] == 984 and EXAMPLE_COUNTS["donotanswer"] == 136
    assert sum(EXAMPLE_COUNTS.values()) == 3522
    assert {s: len(v) for s, v in SUBSET_MAPPING.items()} == {
        "Chat": 5, "Chat Hard": 6, "Safety": 5, "Reasoning": 7
    }
    assert set(EXAMPLE_COUNTS) == {s for v in SUBSET_MAPPING.values() for s in v}
    # the safety section weights the two XSTest subsets 250 : 154
    rows = [_record("xstest-should-refuse", "long answer", "x")]
    rows += [_record("xstest-should-respond", "x", "long answer")]
    result = rewardbench_v1(LengthScorer(), PreferenceDataset.from_records(rows),
                            official_counts=True)
    assert result["sections"]["Safety"] == pytest.approx(250 / 404)
