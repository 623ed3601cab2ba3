"""Verdict parsers: each grammar, the shared rules, hostile answers."""

from __future__ import annotations

import time

import pytest

from prefkit.judge.parsing import (
    MAX_SCAN_CHARS,
    parse_arena_hard,
    parse_pairwise_abc,
    parse_pandalm,
    parse_prometheus,
    parse_rating,
    parser_for,
)

# FastChat's pair-v2 system prompt ends with this instruction; judges sometimes echo it.
TEMPLATE_LINE = (
    'Output your final verdict by strictly following this format: "[[A]]" if assistant A is '
    'better, "[[B]]" if assistant B is better, and "[[C]]" for a tie.'
)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Final Verdict: [[A]]", "A"),
        ("... so [[B]]", "B"),
        ("It is a tie. [[C]]", "tie"),
        ("[[ a ]]", "A"),  # case and spaces
        ("［［Ｂ］］", "B"),  # full-width brackets and letter (NFKC)
        ("🤖 Ünïcödé prose ✓\n\n[[A]] 🎉", "A"),
        ("First I thought [[A]].\n\nOn reflection: [[B]]", "B"),  # last verdict wins
        (TEMPLATE_LINE + "\n\nBoth are fine.\n\n[[C]]", "tie"),  # echoed template, then verdict
        ("[[A]] and again [[A]]", "A"),  # repeated, not conflicting
    ],
)
def test_pairwise_abc(text, value):
    verdict = parse_pairwise_abc(text)
    assert verdict.parsed and verdict.value == value


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("A is better.", "no verdict"),
        ("", "no verdict"),
        ("$ERROR$", "no verdict"),
        (None, "no text"),
        (TEMPLATE_LINE, "conflicting verdicts"),  # the template alone is never a verdict
        ("My verdict: [[A]] or maybe [[B]]", "conflicting verdicts"),
        ("[[D]]", "no verdict"),
        ("[A]", "no verdict"),
    ],
)
def test_pairwise_abc_unparsed_is_explicit(text, reason):
    verdict = parse_pairwise_abc(text)
    assert not verdict.parsed
    assert verdict.value is None  # never a tie, never a loss
    assert verdict.reason == reason


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("My final verdict is: [[A>>B]]", "A>>B"),
        ("[[A>B]]", "A>B"),
        ("[[A=B]]", "A=B"),
        ("[[B>A]]", "B>A"),
        ("[[B>>A]]", "B>>A"),
        ("[[B<A]]", "A>B"),  # mirrored forms are normalised
        ("[[A<<B]]", "B>>A"),
        ("[[B=A]]", "A=B"),
        ("[[ a >> b ]]", "A>>B"),
        ("Example format: [[A>B]]\n\nMy final verdict is [[B>A]]", "B>A"),  # last wins
    ],
)
def test_arena_hard(text, value):
    assert parse_arena_hard(text).value == value


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[[A>B]] or [[B>A]]", "conflicting verdicts"),
        (
            'verdict labels: "[[A>>B]]", "[[A>B]]", "[[A=B]]", "[[B>A]]", "[[B>>A]]"',
            "conflicting verdicts",
        ),
        ("[[A>A]]", "out of range"),
        ("[[A]]", "no verdict"),
        ("A>B", "no verdict"),
    ],
)
def test_arena_hard_unparsed(text, reason):
    verdict = parse_arena_hard(text)
    assert verdict.value is None and verdict.reason == reason


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Rating: [[9]]", 9.0),
        ("Rating: [[9.5]]", 9.5),
        ("The assistant's response: 9/10.", 9.0),
        ("8.5 / 10", 8.5),
        ("Rating: [[10]]", 10.0),
        ("scored 3/10 earlier.\nFinal: Rating: [[7]]", 7.0),  # brackets take precedence
        ("[[5]]\n\nRating: [[6]]", 6.0),
    ],
)
def test_rating(text, value):
    assert parse_rating(text).value == value


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Rating: [[11]]", "out of range"),
        ("Rating: [[0]]", "out of range"),
        ("9/5", "no verdict"),  # wrong denominator
        ("19/100", "no verdict"),
        ("Rating: [[8]] or [[9]]", "conflicting verdicts"),
        ("return Math.Exp", "no verdict"),  # a truncated reply
        ("Rating: [[-3]]", "no verdict"),
    ],
)
def test_rating_unparsed(text, reason):
    verdict = parse_rating(text)
    assert verdict.value is None and verdict.reason == reason


def test_rating_scale_is_a_parameter():
    assert parse_rating("4/5", low=1, high=5).value == 4.0
    assert parse_rating("Rating: [[7]]", low=1, high=5).reason == "out of range"


def test_prometheus():
    assert parse_prometheus("Feedback: good. [RESULT] 4").value == 4
    assert parse_prometheus("[RESULT]5").value == 5
    assert parse_prometheus("[result] 2.").value == 2
    # the template's own instruction is not a score (prometheus-eval's old regex bug)
    template = 'write "[RESULT] (an integer number between 1 and 5)"'
    assert parse_prometheus(template).reason == "no verdict"
    assert parse_prometheus(template + "\nFeedback ... [RESULT] 3").value == 3
    assert parse_prometheus("[RESULT] 7").reason == "out of range"
    assert parse_prometheus("[RESULT] 4.5").reason == "out of range"
    assert parse_prometheus("[RESULT] 4 [RESULT] 2").reason == "conflicting verdicts"


def test_pandalm():
    assert parse_pandalm("1").value == "A"
    assert parse_pandalm("2\n\n### Reason: ...").value == "B"
    assert parse_pandalm(" Tie ").value == "tie"
    assert parse_pandalm("garbage").reason == "no verdict"
    assert parse_pandalm("").reason == "no verdict"


def test_parser_for_protocol_names():
    assert parser_for("pair-v2") is parse_pairwise_abc
    assert parser_for("pair-math-v1") is parse_pairwise_abc
    assert parser_for("single-v1") is parse_rating
    assert parser_for("arena-hard") is parse_arena_hard
    with pytest.raises(KeyError):
        parser_for("nonsense")


def test_huge_answer_is_bounded():
    """A 20 MB answer is read only by its tail: fast, and the final verdict is still found."""
    filler = "[[A]] " * 10 + "x" * 20_000_000
    start = time.perf_counter()
    assert parse_pairwise_abc(filler + "\n[[B]]").value == "B"
    assert parse_arena_hard(filler).reason == "no verdict"
    # many tokens in the tail (pathological): still linear
    many = "[[A]] " * (MAX_SCAN_CHARS // 6)
    assert parse_pairwise_abc(many).value == "A"
    assert time.perf_counter() - start < 2.0


def test_verdict_only_at_the_start_of_a_huge_answer_is_unparsed():
    verdict = parse_pairwise_abc("[[A]]" + "y" * (MAX_SCAN_CHARS + 10))
    assert verdict.value is None and verdict.reason == "no verdict"


def test_pathological_brackets_are_fast():
    start = time.perf_counter()
    for parse in (parse_pairwise_abc, parse_arena_hard, parse_rating, parse_prometheus):
        verdict = parse("[[" * 30000 + "1" * 30000 + "/" * 1000 + "]]" * 100)
        assert verdict.value is None or isinstance(verdict.value, (str, int, float))
    assert time.perf_counter() - start < 2.0


# ------------------------------------------------------------------ checklists, positions
def test_yes_no_grammar():
    from prefkit.judge.parsing import parse_yes_no

    assert parse_yes_no("It rhymes.\n[[YES]]").value == "yes"
    assert parse_yes_no("[[yes]]\n... on reflection, [[NO]]").value == "no"  # last line wins
    assert parse_yes_no("Answer: no.").value == "no"
    assert parse_yes_no("**Yes**").value == "yes"
    assert parse_yes_no("[[YES]] or [[NO]]").reason == "conflicting verdicts"
    # prose ending in a word that is not a bare YES/NO line is unparsed, never a NO
    assert parse_yes_no("I would say no in general but it depends").reason == "no verdict"
    assert parse_yes_no(None).reason == "no text"


def test_checklist_question_grammar():
    from prefkit.judge.parsing import parse_checklist_questions

    text = ("Checklist:\n1. Is it under 100 words?\n2) Does it rhyme?\n- Not a question.\n"
            "* Does it rhyme?\nQ4: Is the tone formal?\nIs this unnumbered?")
    verdict = parse_checklist_questions(text)
    assert verdict.value == ("Is it under 100 words?", "Does it rhyme?", "Is the tone formal?")
    assert parse_checklist_questions("No questions here.").reason == "no questions"


def test_shown_winner_of_every_protocol():
    from prefkit.judge.parsing import shown_winner

    assert [shown_winner(v) for v in ("A", "B", "tie", "A>>B", "A>B", "A=B", "B>A", "B>>A")] == [
        "A", "B", "tie", "A", "A", "tie", "B", "B"]
    assert shown_winner(None) is None and shown_winner(4) is None


def test_template_protocols():
    from prefkit.judge.templates import load_template, sniff_protocol

    assert load_template("arena_hard").protocol == "arena-hard"
    assert load_template("prometheus").protocol == "prometheus"
    assert load_template("mt_bench").protocol == "rating"
    assert sniff_protocol("... [[A>>B]] ...") == "arena-hard"
    assert sniff_protocol("{# protocol: yes-no #}") == "yes-no"
    assert sniff_protocol("[[A]] or [[B]]") == "pairwise-abc"
    messages = load_template("arena_hard").render(question="q", answer_a="x", answer_b="y")
    assert "[[A>>B]]" in messages[0]["content"] and "<|Reference Answer|>" not in messages[1][
        "content"]
