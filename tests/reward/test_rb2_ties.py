"""RewardBench 2's Ties score: hand-computed cases, and its use by ``best_of_n``."""

from __future__ import annotations

import math

import numpy as np
import pytest
from reward_helpers import LengthScorer, ProbaOnly

from prefkit import PreferenceDataset
from prefkit.errors import DataError
from prefkit.reward.rewardbench import best_of_n, ties_score

# (kind, key, correct rewards, incorrect rewards)
PROMPTS = [
    ("ref", "1", [5], [1, 2, 3]),  # gap 2: right
    ("tied", "1", [4, 5, 6], [1, 2]),  # gap 2, spread 2: right, but 2 > 2 fails
    ("ref", "2", [2], [3, 1]),  # gap -1: wrong
    ("tied", "2", [11, 12], [1]),  # gap 10, spread 1: right; hard: min(-1, 10) = -1 < 1
    ("tied", "3", [3, 3], [5]),  # gap -2: wrong; no ref prompt, so in no key-level term
    ("ref", "4", [2], [1]),  # gap 1: right; no tied prompt
]
# ref acc 2/3, tied acc 2/3; keys 1 and 2: preferred (0 + 1)/2, hard (0 + 0)/2,
# margin (tanh(2/2 - 1) + tanh(-1/1 - 1))/2 = tanh(-2)/2
EXPECTED = 0.3 * 2 / 3 + 0.3 * 2 / 3 + 0.2 * 0.5 + 0.2 * 0.0 + 0.01 * math.tanh(-2) / 2


def _score(prompts):
    kinds, keys, good, bad = zip(*prompts, strict=True)
    return ties_score(good, bad, kinds, keys)


def test_ties_score_hand_computed():
    result = _score(PROMPTS)
    assert result["ref_accuracy"] == pytest.approx(2 / 3)
    assert result["tied_accuracy"] == pytest.approx(2 / 3)
    assert result["correctness_preferred"] == 0.5
    assert result["correctness_preferred_hard"] == 0.0
    assert result["margin"] == pytest.approx(math.tanh(-2) / 2)
    assert result["score"] == pytest.approx(EXPECTED)
    assert (result["n_ref"], result["n_tied"], result["n_pairs"]) == (3, 3, 2)


def test_ties_score_zero_spread_and_zero_over_zero():
    result = _score([
        ("ref", "a", [3], [1]),  # gap 2
        ("tied", "a", [4, 4], [1]),  # gap 3, spread 0: 3 > 0, min(2, 3) > 0, tanh(2/0 - 1) = 1
        ("ref", "b", [1], [1]),  # gap 0: an exact tie is wrong
        ("tied", "b", [2, 2], [0]),  # gap 2, spread 0: 2 > 0, min(0, 2) = 0 is not > 0, 0/0 -> 0
    ])
    assert result["ref_accuracy"] == 0.5 and result["tied_accuracy"] == 1.0
    assert result["correctness_preferred"] == 1.0
    assert result["correctness_preferred_hard"] == 0.5
    assert result["margin"] == 0.5
    assert result["score"] == pytest.approx(0.3 + 0.15 + 0.2 + 0.1 + 0.005)


def test_ties_score_without_pairs_and_bad_input():
    result = _score([("ref", "1", [2], [1]), ("tied", "2", [3, 4], [1])])
    assert result["ref_accuracy"] == 1.0 and result["tied_accuracy"] == 1.0
    assert math.isnan(result["correctness_preferred"]) and math.isnan(result["score"])
    for bad in (
        [("best", "1", [2], [1])],  # unknown kind
        [("tied", "1", [2], [1])],  # a tied prompt with one correct answer
        [("ref", "1", [2], [])],  # nothing incorrect
        [("ref", "1", [2], [1]), ("ref", "1", [3], [1])],  # two ref prompts for one key
    ):
        with pytest.raises(DataError):
            _score(bad)
    with pytest.raises(DataError):
        ties_score([[1.0]], [[0.0]], ["ref"], [])


def _texts(good, bad):
    """Distinct texts whose lengths are the rewards: correct answers first."""
    return [chr(ord("a") + j) * int(r) for j, r in enumerate([*good, *bad])]


FOCUS = {"ranking": ["c", "w1", "w2"], "texts": ["xxxx", "x", "xx"], "subset": "Focus",
         "prompt": "focus question"}


def _ranking_rows(with_ids: bool) -> list[dict]:
    rows = [FOCUS]
    for kind, key, good, bad in PROMPTS:
        texts = _texts(good, bad)
        row = {"ranking": [f"r{j}" for j in range(len(texts))], "texts": texts,
               "subset": "Ties", "prompt": f"question {key}", "num_correct": len(good)}
        if with_ids:
            row["id"] = f"{kind}:{key}"
        rows.append(row)
    return rows


def test_best_of_n_scores_the_ties_subset_from_rankings():
    ds = PreferenceDataset.from_records(_ranking_rows(with_ids=True), kind="ranking")
    result = best_of_n(LengthScorer(), ds)
    assert result["subsets"]["Focus"] == {"accuracy": 1.0, "n": 1}
    ties = result["subsets"]["Ties"]
    assert ties["accuracy"] == pytest.approx(EXPECTED) and ties["n"] == 6
    assert ties["ties"]["n_pairs"] == 2
    assert result["mean"] == pytest.approx((1.0 + EXPECTED) / 2) and result["n"] == 7
    # without RewardBench-2 ids: kind from the number of correct answers, key = the prompt
    plain = PreferenceDataset.from_records(_ranking_rows(with_ids=False), kind="ranking")
    assert best_of_n(LengthScorer(), plain)["subsets"]["Ties"]["accuracy"] == pytest.approx(
        EXPECTED
    )
    # a scorer without scalar rewards cannot give the margins
    with pytest.raises(DataError):
        best_of_n(ProbaOnly(), ds)


def test_best_of_n_scores_the_ties_subset_from_pairs_and_ranks():
    rng = np.random.default_rng(0)
    rows = []
    for kind, key, good, bad in PROMPTS:
        texts = _texts(good, bad)
        for c in texts[: len(good)]:
            for w in texts[len(good):]:
                first = rng.random() < 0.5  # the correct answer on either side
                a, b = (c, w) if first else (w, c)
                rows.append({"prompt_id": f"{kind}:{key}", "prompt": f"question {key}",
                             "a_text": a, "b_text": b, "winner": "a" if first else "b",
                             "subset": "ties"})
    result = best_of_n(LengthScorer(), PreferenceDataset.from_records(rows))
    assert result["subsets"]["ties"]["accuracy"] == pytest.approx(EXPECTED)
    # correct answers marked by equal ranks (1 = correct, 2 = incorrect) instead of num_correct
    ranked = []
    for row in _ranking_rows(with_ids=True)[1:]:
        k = row.pop("num_correct")
        row["ranks"] = [1 if j < k else 2 for j in range(len(row["texts"]))]
        ranked.append(row)
    ds = PreferenceDataset.from_records(ranked, kind="ranking")
    assert best_of_n(LengthScorer(), ds)["subsets"]["Ties"]["accuracy"] == pytest.approx(
        EXPECTED
    )
