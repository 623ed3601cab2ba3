"""Readers of recorded judge files: layout, auto-detection, unparsed judgments, bad input."""

from __future__ import annotations

import json

import pytest

from helpers.judge_helpers import fastchat_pair
from prefkit import read
from prefkit.errors import DataError


def test_fastchat_pair_two_records_per_line_in_the_original_frame(write_jsonl):
    path = write_jsonl([fastchat_pair(1, "model_1", "model_2"), fastchat_pair(2, "tie", "error")])
    ds = read(path)  # --format auto
    assert ds.metadata["format"] == "fastchat-pair"
    assert ds.kind == "pairwise"
    rows = ds.to_records()
    assert [(r["pair_id"], r["order"], r["winner"], r["verdict"]) for r in rows] == [
        ("1/1/m1/m2", "ab", "a", "A"),
        ("1/1/m1/m2", "ba", "b", "A"),  # game 2 shows m2 first: judge picked position A
        ("2/1/m1/m2", "ab", "tie", "tie"),
    ]
    assert rows[0]["a_text"] == "short" and rows[0]["b_text"] == "a much longer answer"
    assert rows[0]["prompt"] == "q1"
    assert rows[0]["annotator_id"] == "gpt-4" and rows[0]["protocol"] == "pair-v2"
    assert "template_hash" in ds.columns and set(ds.column("template_hash")) == {None}
    (err,) = ds.metadata["unparsed"]
    assert (err["pair_id"], err["order"], err["label"], err["line"]) == ("2/1/m1/m2", "ba",
                                                                          "error", 2)
    assert err["rationale"] == "$ERROR$"


def test_fastchat_pair_unknown_winner_names_line_and_field(write_jsonl):
    path = write_jsonl([fastchat_pair(1, "model_1", "model_2"), fastchat_pair(2, "tie", "tie")])
    text = path.read_text().replace('"g2_winner": "tie"', '"g2_winner": "model_3"')
    path.write_text(text)
    with pytest.raises(DataError, match=r":2: field 'g2_winner': unknown winner 'model_3'"):
        read(path)


def test_fastchat_single_ratings(write_jsonl):
    recs = [
        {"question_id": "q1", "model": "m", "user_prompt": "[Question]\nWhat?\n\n"
         "[The Start of Assistant's Answer]\nThis.\n[The End of Assistant's Answer]",
         "judgment": "Fine. Rating: [[8]]", "score": 8},
        {"question_id": "q2", "model": "m", "judgment": "Rating: [[9.5]]", "score": None},
        {"question_id": "q3", "model": "m", "judgment": "oops", "score": -1,
         "judge": ["gpt-4", "single-v1"], "turn": 1},
    ]
    ds = read(write_jsonl(recs))
    assert ds.metadata["format"] == "fastchat-single" and ds.kind == "rating"
    assert len(ds) == 1
    rec = ds.to_records()[0]
    assert rec["text"] == "This." and rec["prompt"] == "What?"
    assert dict(rec["scores"]) == {"overall": 8.0}
    assert [u["id"] for u in ds.metadata["unparsed"]] == ["q2", "q3"]  # -1 is a failure


def test_arena_hard_games(write_jsonl):
    recs = [
        {"question_id": "q1", "model": "m", "judge": "gpt-4-turbo",
         "games": [{"judgment": "[[B>A]]", "score": "B>A"},
                   {"judgment": "[[A>>B]]", "score": "A>>B"}]},
        {"question_id": "q2", "model": "m", "judge": "gpt-4-turbo",
         "games": [{"judgment": "x", "score": None}, {"judgment": "[[B<A]]", "score": "B<A"}]},
    ]
    ds = read(write_jsonl(recs))
    assert ds.metadata["format"] == "arena-hard"
    rows = ds.to_records()
    assert [(r["a"], r["b"], r["order"], r["verdict"], r["winner"]) for r in rows] == [
        ("gpt-4-0314", "m", "ab", "B>A", "b"),   # game 1: baseline is A, model B won
        ("gpt-4-0314", "m", "ba", "A>>B", "b"),  # game 2: model is A and won strongly
        ("gpt-4-0314", "m", "ba", "A>B", "b"),   # B<A normalised
    ]
    assert [(u["pair_id"], u["order"], u["label"]) for u in ds.metadata["unparsed"]] == [
        ("q2/m", "ab", "null")
    ]
    assert read(write_jsonl(recs), format="arena-hard", baseline="base").to_records()[0]["a"] == (
        "base"
    )


def test_arena_hard_bad_games(write_jsonl):
    path = write_jsonl([{"question_id": "q1", "model": "m", "games": "A>B"}])
    with pytest.raises(DataError, match=r":1: field 'games': expected a list of one or two"):
        read(path)


def test_pandalm_gpt(tmp_path):
    path = tmp_path / "gpt.json"
    path.write_text(json.dumps([
        {"idx": 0, "gpt_result": "1", "gpt_reason": "r1", "gpt_reference": "ref"},
        {"idx": 1, "gpt_result": "Tie", "gpt_reason": "r2", "gpt_reference": ""},
        {"idx": 2, "gpt_result": "garbage", "gpt_reason": "", "gpt_reference": ""},
        {"idx": 3, "gpt_result": "2", "gpt_reason": "r4", "gpt_reference": ""},
    ], indent=1))
    ds = read(path)
    assert ds.metadata["format"] == "pandalm-gpt"
    assert [(r["pair_id"], r["winner"], r["verdict"]) for r in ds.to_records()] == [
        ("0", "a", "1"), ("1", "tie", "Tie"), ("3", "b", "2")]
    assert ds.metadata["unparsed"][0]["label"] == "garbage"


def test_all_unparsed_is_an_error(write_jsonl):
    path = write_jsonl([fastchat_pair(1, "error", "error")])
    with pytest.raises(DataError, match="no judgment with a verdict"):
        read(path)
