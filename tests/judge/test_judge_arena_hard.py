"""Arena-Hard v0.1 battle counting on hand-made verdicts, and the leaderboard on them."""

from __future__ import annotations

import math

import pytest

from prefkit import read
from prefkit.judge.arena_hard import arena_leaderboard, battles


def game(score):
    return {"judgment": f"... [[{score}]]" if score else "truncated", "score": score}


@pytest.fixture
def judgments(write_jsonl):
    recs = [
        {"question_id": "q1", "model": "m", "games": [game("B>A"), game("A>>B")]},
        {"question_id": "q2", "model": "m", "games": [game("A=B"), game("B>>A")]},
        {"question_id": "q3", "model": "m", "games": [game(None), game("A>B")]},
    ]
    return read(write_jsonl(recs))


def test_v01_counting_rules(judgments):
    out = battles(judgments)
    winners = list(out.column("winner"))
    # q1: game 1 B>A -> model x1; game 2 A>>B (model shown as A) -> model x3
    # q2: game 1 A=B -> 1 tie;   game 2 B>>A (baseline shown as B) -> baseline x3
    # q3: game 1 unparsed -> none; game 2 A>B -> model x1
    assert winners == ["b"] + ["b"] * 3 + ["tie"] + ["a"] * 3 + ["b"]
    assert set(out.column("a")) == {"gpt-4-0314"} and set(out.column("b")) == {"m"}
    assert out.metadata["battles"] == {
        "games": 6, "battles": 9, "strong": 2, "unparsed": 1, "weight": 3, "rules": "v0.1",
        "dropped": 0}
    # v2 drops q3 whole (its game 1 is unparsed): 8 battles, game 2 of q3 counted as dropped
    v2 = battles(judgments, rules="v2")
    assert list(v2.column("winner")) == winners[:-1]
    assert v2.metadata["battles"]["dropped"] == 1


def test_weight_and_first_game_only(judgments):
    assert len(battles(judgments, weight=1)) == 5
    first = battles(judgments, first_game_only=True)
    assert list(first.column("winner")) == ["b", "tie"]
    assert first.metadata["battles"]["unparsed"] == 1


def test_leaderboard_counts_ties_half(judgments):
    board = arena_leaderboard(battles(judgments))
    ratings = {row["name"]: row["rating"] for row in board.rows}
    # 5 model wins, 3 baseline wins, 1 tie (half each): θ_m − θ_base = logit(5.5 / 9)
    assert ratings["m"] - ratings["gpt-4-0314"] == pytest.approx(math.log(5.5 / 3.5), rel=1e-6)
