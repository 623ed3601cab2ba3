"""Rubric grading, TICK checklists and the live Arena-Hard pipeline against a real
OpenAI-compatible server on 127.0.0.1 (``fake_openai_server.py`` as a subprocess; its rubric,
checklist and Arena-Hard replies are in ``fake_grading_replies.py``)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from prefkit.cli.app import app
from prefkit.judge.checklist import read_checklists
from prefkit.judge.grading import load_rubric, read_grades

runner = CliRunner()
MODEL = "judge-test"


@pytest.fixture(scope="module")
def server(fake_judge):
    with fake_judge() as (url, _):
        yield url


def reset(url: str) -> None:
    httpx.post(f"{url}/control", json={}, timeout=5).raise_for_status()


def chat_requests(url: str) -> int:
    return httpx.get(f"{url}/stats", timeout=5).json()["chat"]


def cli(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def write_items(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


RESPONSES = ["short", "a bit longer answer", "x" * 23, "NOVERDICT here", "y" * 40]


def test_prometheus_grades_unparsed_reasked_and_cached(server, tmp_path):
    reset(server)
    items = write_items(tmp_path / "items.jsonl", [
        {"id": f"r{k}", "prompt": f"question {k}", "response": text, "model": f"m{k % 2}"}
        for k, text in enumerate(RESPONSES)])
    rubric = tmp_path / "rubric.json"
    rubric.write_text(json.dumps({"criteria": "Is it good?", **{
        f"score{k}_description": f"level {k}" for k in range(1, 6)}}), encoding="utf-8")
    out = tmp_path / "grades.jsonl"
    args = ("judge", "grade", items, "--rubric", rubric, "--scale", "5", "--endpoint", server,
            "--model", MODEL, "--out", out, "--reask", "2", "--no-progress", "--json")
    result = cli(*args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    # the NOVERDICT answer is asked 1 + 2 times, then kept unparsed
    assert (summary["written"], summary["unparsed"], summary["reasks"]) == (5, 1, 2)
    assert summary["asked"] == chat_requests(server) == 7
    grades = read_grades(out)
    assert grades.kind == "rating" and len(grades) == 4
    got = {i: dict(s)["overall"] for i, s in zip(grades.column("id"), grades.column("scores"),
                                                  strict=True)}
    assert got == {f"r{k}": 1 + len(t) % 5 for k, t in enumerate(RESPONSES) if k != 3}
    (bad,) = grades.metadata["unparsed"]
    assert bad["id"] == "r3" and bad["reason"] == "no verdict"
    record = json.loads(out.read_text().splitlines()[0])
    assert "Score 5: level 5" in load_rubric(rubric, 5) and record["template"] == "prometheus"
    # a killed run's torn last line is cut off; the re-run asks only what is missing (r4,
    # answered from the cache) and asks the server nothing
    lines = out.read_text().splitlines()
    kept = [ln for ln in lines if json.loads(ln)["id"] != "r4"]
    out.write_text("\n".join(kept) + "\n" + '{"format": "prefkit-grade", "id": "r4", "sc')
    again = json.loads(cli(*args).stdout)
    assert (again["already_done"], again["written"], again["asked"]) == (4, 1, 0)
    assert chat_requests(server) == 7
    assert sorted(json.loads(ln)["id"] for ln in out.read_text().splitlines()) == [
        f"r{k}" for k in range(5)]
    assert summary["mean_score"] == pytest.approx(sum(got.values()) / 4)


def test_mt_bench_rating_with_reference(server, tmp_path):
    reset(server)
    items = write_items(tmp_path / "items.jsonl", [
        {"id": k, "question": "2+2?", "answer": text, "reference": "4"}
        for k, text in enumerate(["4", "four, obviously", "x" * 19])])
    out = tmp_path / "grades.jsonl"
    result = cli("judge", "grade", items, "--endpoint", server, "--model", MODEL,
                 "--out", out, "--with-reference", "--no-progress", "--json")
    assert result.exit_code == 0, result.output
    scores = [json.loads(line)["score"] for line in out.read_text().splitlines()]
    assert sorted(scores) == sorted(1 + len(t) % 10 for t in ["4", "four, obviously", "x" * 19])
    record = json.loads(out.read_text().splitlines()[0])
    assert record["protocol"] == "rating" and record["scale"] == [1, 10]


def test_missing_text_is_one_line_before_any_request(server, tmp_path):
    reset(server)
    items = write_items(tmp_path / "items.jsonl", [
        {"id": "1", "prompt": "q", "response": "r", "reference": "x"},
        {"id": "2", "prompt": "q", "response": "r"}])
    out = tmp_path / "grades.jsonl"
    result = cli("judge", "grade", items, "--endpoint", server, "--model", MODEL,
                 "--out", out, "--with-reference", "--no-progress")
    assert result.exit_code == 2
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "reference" in lines[0] and "items.jsonl:2:" in lines[0]
    assert not out.exists() and chat_requests(server) == 0


def test_checklists_generated_answered_every_item_kept(server, tmp_path):
    reset(server)
    items = write_items(tmp_path / "items.jsonl", [
        {"id": "a", "prompt": "Write about cats and dogs", "response": "Cats purr. Dogs bark."},
        {"id": "b", "prompt": "Write about cats and dogs", "response": "Cats only."},
        {"id": "c", "prompt": "NOCHECKLIST please", "response": "anything"}])
    out = tmp_path / "checklists.jsonl"
    result = cli("judge", "checklist", items, "--endpoint", server, "--model", MODEL,
                 "--out", out, "--no-progress", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    # checklist of the first prompt: 'write', 'about', 'cats' (three distinct words)
    records = {json.loads(ln)["id"]: json.loads(ln) for ln in out.read_text().splitlines()}
    assert [q["question"] for q in records["a"]["checklist"]] == [
        "Does the response mention 'write'?", "Does the response mention 'about'?",
        "Does the response mention 'cats'?"]
    assert [q["answer"] for q in records["b"]["checklist"]] == ["no", "no", "yes"]
    assert records["a"]["score"] == pytest.approx(1 / 3)
    assert records["c"]["score"] is None and records["c"]["parse_error"] == "no checklist"
    # one checklist per prompt (asked once each, the second re-asked once), 3 answers × 2
    assert (summary["checklists"], summary["checklists_unparsed"]) == (2, 1)
    assert chat_requests(server) == summary["asked"] == 2 + 1 + 6
    ds = read_checklists(out)
    assert len(ds) == 2 and len(ds.metadata["unparsed"]) == 1


def test_given_checklist_with_an_unparsed_answer_is_not_scored(server, tmp_path):
    reset(server)
    items = write_items(tmp_path / "items.jsonl", [
        {"id": "a", "prompt": "p", "response": "has cats"}])
    given = tmp_path / "given.json"
    given.write_text(json.dumps({"p": ["Does it mention 'cats'?",
                                       "Does it mention 'noverdict'?"]}), encoding="utf-8")
    out = tmp_path / "c.jsonl"
    result = cli("judge", "checklist", items, "--checklists", given, "--endpoint", server,
                 "--model", MODEL, "--out", out, "--reask", "0", "--no-progress", "--json")
    assert result.exit_code == 0, result.output
    (record,) = [json.loads(ln) for ln in out.read_text().splitlines()]
    assert [q["answer"] for q in record["checklist"]] == ["yes", None]
    assert record["score"] is None
    assert record["parse_error"] == "1 of 2 checklist answers unparsed"
    assert record["checklist_source"] == "given" and chat_requests(server) == 2


def test_live_arena_hard_pipeline(server, tmp_path):
    """Judge every model against the baseline in both orders with the five-verdict template,
    then score by the v0.1 rules: verdicts follow the answers' lengths (fake judge)."""
    reset(server)
    base_text = "b" * 10
    answers = {"long": "l" * 25, "same": "s" * 10, "short": "t" * 7}
    # arena-hard-auto files: v2 questions; the baseline's answers in v0.1 layout, others in v2
    questions = write_items(tmp_path / "question.jsonl", [
        {"uid": f"q{q}", "category": "hard_prompt", "prompt": f"question {q}"} for q in range(3)])
    folder = tmp_path / "model_answer"
    folder.mkdir()
    write_items(folder / "base.jsonl", [
        {"question_id": f"q{q}", "model_id": "base",
         "choices": [{"turns": [{"content": base_text}]}]} for q in range(3)])
    for m, text in answers.items():
        write_items(folder / f"{m}.jsonl", [
            {"uid": f"q{q}", "model": m, "messages": [
                {"role": "user", "content": f"question {q}"},
                {"role": "assistant", "content": {"answer": text + "!" * q}}]}
            for q in range(3)])
    pairs = tmp_path / "pairs.jsonl"
    made = cli("judge", "arena-pairs", questions, "--answers", folder, "--baseline", "base",
               "--out", pairs, "--json")
    assert made.exit_code == 0, made.output
    assert json.loads(made.stdout)["pairs"] == 9
    out = tmp_path / "j.jsonl"
    result = cli("judge", "pairwise", pairs, "--endpoint", server, "--model", MODEL,
                 "--template", "arena_hard", "--out", out, "--no-progress")
    assert result.exit_code == 0, result.output
    verdicts = {(r["pair_id"], r["order"]): r["verdict"]
                for r in map(json.loads, out.read_text().splitlines())}
    assert verdicts[("q0/long", "ab")] == "B>>A" and verdicts[("q0/long", "ba")] == "A>>B"
    scored = cli("judge", "arena-hard", out, "--bootstrap", "0", "--json")
    assert scored.exit_code == 0, scored.output
    rows = {r["model"]: r for r in json.loads(scored.stdout)["items"]}
    # 'long' wins every game strongly (3 battles each), 'short' (7–9 vs 10 chars) loses slightly
    assert rows["long"]["score"] == 100.0 and rows["long"]["battles"] == 18
    assert rows["short"]["score"] == pytest.approx(100 * 0 / 6)
    # 'same': q0 is a tie in both games, q1 and q2 are one character longer -> slight wins
    assert rows["same"]["score"] == pytest.approx(100 * 5 / 6)


def test_grader_scores_pairwise_data(server, tmp_path):
    """``Grader.score`` grades both answers of every pair: an (n, 2) array, NaN when unparsed."""
    import numpy as np

    from prefkit import PreferenceDataset
    from prefkit.judge.backends.openai_http import OpenAIChatBackend
    from prefkit.judge.grading import Grader

    reset(server)
    pairs = PreferenceDataset.from_records([
        {"pair_id": "p1", "prompt": "q", "a": "m1", "b": "m2", "a_text": "abc",
         "b_text": "abcdefg", "winner": "b"},
        {"pair_id": "p2", "prompt": "q", "a": "m1", "b": "m2", "a_text": "NOVERDICT",
         "b_text": "x" * 12, "winner": "a"}])
    grader = Grader(OpenAIChatBackend(server, MODEL, concurrency=4), scale=10, reask=0)
    scores = grader.score(pairs, tmp_path / "g.jsonl")
    expected = np.array([[1 + 3 % 10, 1 + 7 % 10], [np.nan, 1 + 12 % 10]])
    np.testing.assert_array_equal(scores, expected)
    graded = read_grades(tmp_path / "g.jsonl")
    assert sorted(graded.column("item")) == ["m1", "m2", "m2"]


def test_grading_pairs_gives_verdicts_and_agreement(server, tmp_path):
    reset(server)
    # MT-Bench fake scores 1 + len % 10: a=3 chars (4) vs b=5 chars (6) -> b; equal -> tie
    pairs = write_items(tmp_path / "pairs.jsonl", [
        {"pair_id": "p1", "prompt": "q", "a_text": "abc", "b_text": "abcde", "winner": "b"},
        {"pair_id": "p2", "prompt": "q", "a_text": "abcd", "b_text": "ab", "winner": "b"},
        {"pair_id": "p3", "prompt": "q", "a_text": "xy", "b_text": "zw", "winner": "tie"}])
    out = tmp_path / "g.jsonl"
    result = cli("judge", "grade", pairs, "--endpoint", server, "--model", MODEL, "--out", out,
                 "--no-progress", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["graded"] == 6
    assert summary["pairwise"] == {"pairs": 3, "pairs_with_verdict": 3,
                                   "agreement_with_labels": pytest.approx(2 / 3)}


def test_unreachable_endpoint_is_one_line_and_no_file(tmp_path):
    items = write_items(tmp_path / "items.jsonl", [{"prompt": "q", "response": "r"}])
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    for command in ("grade", "checklist"):
        out = tmp_path / f"{command}.jsonl"
        result = cli("judge", command, items, "--endpoint", dead, "--model", MODEL,
                     "--out", out, "--no-progress")
        assert result.exit_code == 2
        lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and "cannot reach" in lines[0]
        assert sorted(p.name for p in tmp_path.iterdir()) == ["items.jsonl"]
