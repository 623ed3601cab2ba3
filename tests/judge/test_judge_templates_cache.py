"""Templates (render, hash, missing values), the reply cache, the judgment file reader."""

from __future__ import annotations

import json

import pytest

from prefkit.errors import DataError
from prefkit.judge.backends.base import JudgeReply
from prefkit.judge.backends.openai_http import _retry_after, api_base
from prefkit.judge.cache import JudgeCache, cache_key
from prefkit.judge.recorded import RecordedJudge
from prefkit.judge.run import read_judgment_file, run_pairwise
from prefkit.judge.templates import Template, load_template


def test_builtin_template_renders_system_and_user_and_hashes_its_text():
    template = load_template("pairwise")
    messages = template.render(question="Q?", answer_a="first", answer_b="second")
    assert [m["role"] for m in messages] == ["system", "user"]
    user = messages[1]["content"]
    assert user.index("first") < user.index("second") and "Q?" in user
    assert template.variables == {"question", "answer_a", "answer_b"}
    edited = Template("x", template.text + " ")
    assert len(template.hash) == 64 and edited.hash != template.hash


def test_template_missing_value_and_bad_file_are_data_errors(tmp_path):
    with pytest.raises(DataError, match="answer_b"):
        load_template("pairwise").render(question="q", answer_a="a")
    bad = tmp_path / "bad.jinja"
    bad.write_text("{% if %}")
    with pytest.raises(DataError, match=r"bad\.jinja:1"):
        load_template(bad)
    with pytest.raises(DataError, match="no template file"):
        load_template(tmp_path / "none.jinja")
    plain = tmp_path / "plain.jinja"
    plain.write_text("Compare {{ answer_a }} and {{ answer_b }}: {{ question }}")
    assert load_template(plain).render(question="q", answer_a="1", answer_b="2") == (
        {"role": "user", "content": "Compare 1 and 2: q"},)


def test_cache_key_depends_on_every_part_and_cache_persists(tmp_path):
    messages = ({"role": "user", "content": "hi"},)
    base = cache_key({"model": "m", "params": {"temperature": 0}}, "h", messages)
    assert base != cache_key({"model": "m", "params": {"temperature": 1}}, "h", messages)
    assert base != cache_key({"model": "n", "params": {"temperature": 0}}, "h", messages)
    assert base != cache_key({"model": "m", "params": {"temperature": 0}}, "h2", messages)
    assert base != cache_key({"model": "m", "params": {"temperature": 0}}, "h", messages, 1)
    with JudgeCache(tmp_path / "c.sqlite") as cache:
        cache.put(base, "[[A]]", {"total_tokens": 3})
    with JudgeCache(tmp_path / "c.sqlite") as cache:
        assert cache.get(base) == ("[[A]]", {"total_tokens": 3}, None) and len(cache) == 1
        assert cache.get("nope") is None


def test_retry_after_and_base_url():
    assert _retry_after("3") == 3.0 and _retry_after(None) is None
    assert _retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past
    assert api_base("http://h:1/") == api_base("http://h:1/v1") == "http://h:1/v1"


class _LongerWins:
    """A synchronous backend: ``[[A]]`` when the first answer is longer; garbage for 'bad'."""

    name = "longer"

    def __init__(self) -> None:
        self.asked = 0

    def complete(self, requests):
        self.asked += len(requests)
        replies = []
        for req in requests:
            text = req.messages[-1]["content"]
            if "bad" in text:
                replies.append(JudgeReply("no idea"))
                continue
            a = text.split("[The Start of Assistant A's Answer]\n")[1].split("\n[The End")[0]
            b = text.split("[The Start of Assistant B's Answer]\n")[1].split("\n[The End")[0]
            replies.append(JudgeReply("[[A]]" if len(a) > len(b) else "[[B]]"))
        return replies


def _pairs(tmp_path):
    from prefkit.judge.run import read_pairs_jsonl

    path = tmp_path / "pairs.jsonl"
    rows = [{"id": i, "prompt": "bad" if i == 3 else f"q{i}", "response_a": "x" * (2 * i + 1),
             "response_b": "yyyy"} for i in range(5)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return read_pairs_jsonl(path)


def test_run_with_a_sync_backend_and_the_three_aggregations(tmp_path):
    backend, out = _LongerWins(), tmp_path / "j.jsonl"
    with JudgeCache(tmp_path / "c.sqlite") as cache:
        summary = run_pairwise(_pairs(tmp_path), backend, out, template=load_template(),
                               cache=cache, reask=1)
    assert (summary.written, summary.unparsed, summary.reasks, backend.asked) == (10, 2, 2, 12)
    judgments = read_judgment_file(out)
    assert len(judgments) == 8 and len(judgments.metadata["unparsed"]) == 2
    for aggregation in ("consistent-only", "inconsistent-as-tie", "average"):
        judge = RecordedJudge(aggregation=aggregation).fit(judgments)
        proba = judge.predict_proba(judgments)
        winners = judgments.column("winner")
        assert all(p == (1.0 if w == "a" else 0.0) for p, w in zip(proba, winners, strict=True))


def test_torn_last_line_is_cut_and_not_duplicated(tmp_path):
    backend, out = _LongerWins(), tmp_path / "j.jsonl"
    run_pairwise(_pairs(tmp_path), backend, out, template=load_template(), orders=("ab",))
    text = out.read_text()
    out.write_text(text + text.splitlines()[0][:30])  # a killed writer's half line
    assert read_judgment_file(out).metadata["format"] == "prefkit-judgment"
    summary = run_pairwise(_pairs(tmp_path), backend, out, template=load_template())
    assert (summary.already_done, summary.written) == (5, 5)
    keys = [(r["pair_id"], r["order"]) for r in map(json.loads, out.read_text().splitlines())]
    assert len(keys) == len(set(keys)) == 10


class _AlwaysFirst:
    """A fully position-biased judge: ``[[A]]`` whatever it is shown."""

    name = "first"

    def complete(self, requests):
        return [JudgeReply("[[A]]") for _ in requests]


def test_aggregations_differ_on_a_position_biased_judge(tmp_path):
    import numpy as np

    out = tmp_path / "j.jsonl"
    run_pairwise(_pairs(tmp_path), _AlwaysFirst(), out, template=load_template())
    judgments = read_judgment_file(out)
    expected = {"consistent-only": np.nan, "inconsistent-as-tie": 0.5, "average": 0.5}
    for aggregation, value in expected.items():
        proba = RecordedJudge(aggregation=aggregation).fit(judgments).predict_proba(judgments)
        np.testing.assert_array_equal(proba, np.full(len(judgments), value))


def test_two_runs_never_append_to_one_output(tmp_path):
    import fcntl

    out = tmp_path / "j.jsonl"
    out.touch()
    with open(out, "a") as other:
        fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(DataError, match="another run is writing"):
            run_pairwise(_pairs(tmp_path), _AlwaysFirst(), out, template=load_template())
    assert out.read_text() == ""


def test_stored_parse_is_used_only_for_the_same_parser_code(tmp_path):
    from prefkit.judge.cache import inputs_key, key_prefix
    from prefkit.judge.run import parser_fingerprint

    prefix = key_prefix({"model": "m"}, "h")
    keys = [inputs_key(prefix, ("q", "a", "bc")), inputs_key(prefix, ("q", "ab", "c")),
            inputs_key(prefix, ("q", "ab", "c"), 1)]
    assert len(set(keys)) == 3  # length-prefixed inputs, re-ask number
    mine = parser_fingerprint("pairwise-abc")
    with JudgeCache(tmp_path / "c.sqlite", commit_every=2) as cache:
        cache.put(keys[0], "[[A]]", {"total_tokens": 1}, None, (mine, "A", None))
        cache.put(keys[1], "hmm", {}, None, (mine, None, "no verdict"))
        cache.put(keys[2], "[[B]]", {}, None, ("pairwise-abc:old-parser", "A", None))
    with JudgeCache(tmp_path / "c.sqlite") as cache:
        found = cache.get_many_parsed(keys, mine)
    assert found[keys[0]] == ("[[A]]", '{"total_tokens": 1}', None, ("A", None))
    assert found[keys[1]][3] == (None, "no verdict")
    assert found[keys[2]][3] is None  # made by other parser code: parsed again
