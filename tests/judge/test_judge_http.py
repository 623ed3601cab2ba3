"""The live judge path against a real OpenAI-compatible server on 127.0.0.1 (a subprocess).

The server (``fake_openai_server.py``) answers ``[[A]]`` when the answer shown first is longer and
injects faults on request; it counts requests, so the tests check from the server side that
everything is retried or reported, nothing is lost or duplicated, a resumed run asks only what is
missing and a cached re-run asks nothing.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from prefkit.cli.app import app

runner = CliRunner()
MODEL = "judge-test"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(fake_judge):
    with fake_judge() as (url, _):
        yield url


def control(url: str, **config) -> None:
    httpx.post(f"{url}/control", json=config, timeout=5).raise_for_status()


def stats(url: str) -> dict:
    return httpx.get(f"{url}/stats", timeout=5).json()


def write_pairs(path: Path, n: int, *, noverdict: set[int] = frozenset()) -> Path:
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(n):
            prompt = f"question {i}" + (" NOVERDICT" if i in noverdict else "")
            handle.write(json.dumps({"pair_id": f"p{i}", "prompt": prompt, "a": "m1", "b": "m2",
                                     "a_text": "x" * (1 + i % 9), "b_text": "y" * 5}) + "\n")
    return path


def expected_winner(i: int) -> str:
    a, b = 1 + i % 9, 5
    return "a" if a > b else "b" if b > a else "tie"


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def judge_args(url: str, data: Path, out: Path, *extra: str) -> list[str]:
    return ["judge", "pairwise", str(data), "--endpoint", url, "--model", MODEL,
            "--out", str(out), "--no-progress", "--json", *extra]


def test_faults_are_retried_nothing_lost_or_duplicated(server, tmp_path):
    control(server, fault_every=3, faults=["429", "500", "slow", "truncated"], slow_s=3.0)
    data, out = write_pairs(tmp_path / "pairs.jsonl", 24), tmp_path / "j.jsonl"
    result = runner.invoke(app, judge_args(server, data, out, "--timeout", "1.0",
                                           "--concurrency", "8"))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    records = lines(out)
    keys = [(r["pair_id"], r["order"]) for r in records]
    assert len(keys) == len(set(keys)) == 48
    for r in records:
        assert r["winner"] == expected_winner(int(r["pair_id"][1:]))
        assert r["template_hash"] == summary["template_hash"]
    server_stats = stats(server)
    faults = 16  # distinct messages 0, 3, …, 45 fail once
    assert server_stats["chat"] == 48 + faults == summary["requests_sent"]
    assert summary["retries"] == faults and summary["errors"] == 0
    # each distinct question got exactly one successful answer
    assert sorted(server_stats["answered"].values()) == [1] * 48
    assert summary["usage"]["total_tokens"] == sum(r["usage"]["total_tokens"] for r in records)

    analysis = runner.invoke(app, ["judge", "analyze", str(out), "--json", "--bootstrap", "0"])
    assert analysis.exit_code == 0, analysis.output
    stats_out = json.loads(analysis.stdout)
    assert (stats_out["n"], stats_out["unparsed"], stats_out["position_consistency"]) == (24, 0,
                                                                                          1.0)
    assert stats_out["format"] == "prefkit-judgment"


def test_retry_after_is_honoured(server, tmp_path):
    control(server, fault_every=1, faults=["429"], retry_after=1)
    data, out = write_pairs(tmp_path / "pairs.jsonl", 2), tmp_path / "j.jsonl"
    result = runner.invoke(app, judge_args(server, data, out, "--orders", "ab"))
    assert result.exit_code == 0, result.output
    arrivals = stats(server)["arrivals"].values()
    assert all(len(times) == 2 and times[1] - times[0] >= 0.95 for times in arrivals)


def test_cached_rerun_sends_zero_requests(server, tmp_path):
    control(server)
    data, out = write_pairs(tmp_path / "pairs.jsonl", 10), tmp_path / "j.jsonl"
    assert runner.invoke(app, judge_args(server, data, out)).exit_code == 0
    first = out.read_text(encoding="utf-8")
    assert stats(server)["chat"] == 20
    again = runner.invoke(app, judge_args(server, data, out))  # output complete: nothing to do
    assert again.exit_code == 0 and json.loads(again.stdout)["already_done"] == 20
    out.unlink()  # output gone, cache kept: every judgment from the cache
    cached = runner.invoke(app, judge_args(server, data, out, "--cache",
                                           str(tmp_path / "j.jsonl.cache.sqlite")))
    assert cached.exit_code == 0, cached.output
    assert json.loads(cached.stdout)["cached"] == 20
    assert stats(server)["chat"] == 20  # zero new requests, not even the pre-flight's chat
    strip = [{k: v for k, v in r.items() if k != "cached"} for r in lines(out)]
    assert sorted(strip, key=str) == sorted(
        ({k: v for k, v in json.loads(x).items() if k != "cached"}
         for x in first.splitlines()), key=str)


def test_changed_template_asks_again(server, tmp_path):
    control(server)
    data, out = write_pairs(tmp_path / "pairs.jsonl", 3), tmp_path / "j.jsonl"
    assert runner.invoke(app, judge_args(server, data, out)).exit_code == 0
    template = tmp_path / "mine.jinja"
    builtin = Path(__file__).parents[2] / "src/prefkit/judge/templates/pairwise.jinja"
    template.write_text(builtin.read_text(encoding="utf-8") + "\nThink step by step.\n")
    out2 = tmp_path / "j2.jsonl"
    result = runner.invoke(app, judge_args(server, data, out2, "--template", str(template),
                                           "--cache", str(tmp_path / "j.jsonl.cache.sqlite")))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["asked"] == 6 and stats(server)["chat"] == 12
    assert {r["template_hash"] for r in lines(out2)} != {r["template_hash"] for r in lines(out)}


def test_killed_run_resumes_asking_only_what_is_missing(server, tmp_path):
    control(server, delay=0.05)
    n = 40
    data, out = write_pairs(tmp_path / "pairs.jsonl", n), tmp_path / "j.jsonl"
    cmd = [sys.executable, "-m", "prefkit", *judge_args(server, data, out, "--concurrency", "2")]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src")}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 20
    while (not out.exists() or out.read_text().count("\n") < 10) and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=5)
    before = {(r["pair_id"], r["order"]) for r in lines(out)} if out.read_text() else set()
    assert 10 <= len(before) < 2 * n
    asked_before = stats(server)["chat"]
    result = runner.invoke(app, judge_args(server, data, out))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["already_done"] == len(before)
    # replies received but not yet written came from the cache; the rest was asked
    assert summary["asked"] + summary["cached"] == 2 * n - len(before)
    assert stats(server)["chat"] - asked_before == summary["asked"] <= 2 * n - len(before)
    keys = [(r["pair_id"], r["order"]) for r in lines(out)]
    assert len(keys) == len(set(keys)) == 2 * n


def test_unparsed_answers_are_counted_and_reasked(server, tmp_path):
    control(server)
    data, out = write_pairs(tmp_path / "pairs.jsonl", 4, noverdict={1}), tmp_path / "j.jsonl"
    result = runner.invoke(app, judge_args(server, data, out, "--reask", "2"))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["unparsed"], summary["reasks"]) == (2, 4)
    assert stats(server)["chat"] == 6 + 2 * 3
    bad = [r for r in lines(out) if r["pair_id"] == "p1"]
    assert [r["winner"] for r in bad] == [None, None]
    assert {r["parse_error"] for r in bad} == {"no verdict"}
    analysis = json.loads(runner.invoke(app, ["judge", "analyze", str(out), "--json",
                                              "--bootstrap", "0"]).stdout)
    assert (analysis["n"], analysis["unparsed"], analysis["unparsed_pairs"]) == (4, 2, 1)


def test_failed_requests_keep_the_rest_and_are_asked_next_time(server, tmp_path):
    control(server, always500="question 2")
    data, out = write_pairs(tmp_path / "pairs.jsonl", 4), tmp_path / "j.jsonl"
    args = judge_args(server, data, out, "--max-attempts", "2")
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "2 requests failed" in result.stderr and len(result.stderr.splitlines()) == 1
    assert len(lines(out)) == 6
    control(server)
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["asked"] == 2 and stats(server)["chat"] == 2
    assert len({(r["pair_id"], r["order"]) for r in lines(out)}) == len(lines(out)) == 8


def test_preflight_errors_are_one_line_before_any_work(server, tmp_path):
    data = write_pairs(tmp_path / "pairs.jsonl", 2)
    control(server, api_key="s3cret-key")
    for extra, url, expected in [
        ((), f"http://127.0.0.1:{_free_port()}", "cannot reach"),
        (("--model", "nope"), server, "401 unauthorised"),
    ]:
        args = judge_args(url, data, tmp_path / "x.jsonl") + list(extra)
        result = runner.invoke(app, args, env={"OPENAI_API_KEY": ""})
        assert result.exit_code == 2, result.output
        assert expected in result.stderr and len(result.stderr.splitlines()) == 1
    wrong = runner.invoke(app, [*judge_args(server, data, tmp_path / "x.jsonl"), "--model",
                                "nope", "--api-key-env", "JUDGE_KEY"],
                          env={"JUDGE_KEY": "s3cret-key"})
    assert wrong.exit_code == 2 and "unknown model 'nope'" in wrong.stderr
    assert stats(server)["chat"] == 0 and not (tmp_path / "x.jsonl").exists()
    ok = runner.invoke(app, [*judge_args(server, data, tmp_path / "x.jsonl"), "--api-key-env",
                             "JUDGE_KEY"], env={"JUDGE_KEY": "s3cret-key"})
    assert ok.exit_code == 0, ok.output
    for path in tmp_path.iterdir():
        assert b"s3cret-key" not in path.read_bytes()
    assert "s3cret-key" not in ok.output


def test_missing_text_is_one_line_naming_the_field(server, tmp_path):
    control(server, api_key="s3cret-key")  # the data is checked before the endpoint
    data = tmp_path / "pairs.jsonl"
    data.write_text(json.dumps({"prompt": "q", "a_text": "x"}) + "\n")
    result = runner.invoke(app, judge_args(server, data, tmp_path / "x.jsonl"))
    assert result.exit_code == 2 and "b_text" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_requests_per_minute_limit_spaces_request_starts(server, tmp_path):
    control(server)
    data, out = write_pairs(tmp_path / "pairs.jsonl", 6), tmp_path / "j.jsonl"
    result = runner.invoke(app, judge_args(server, data, out, "--orders", "ab", "--rpm", "600",
                                           "--concurrency", "6"))
    assert result.exit_code == 0, result.output
    starts = sorted(t for times in stats(server)["arrivals"].values() for t in times)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(starts) == 6 and min(gaps) >= 0.05  # 600 per minute: a start per 0.1 s


def test_httpx_transport_path_retries_the_same_way(server):
    """With a proxy in the environment requests go through httpx.AsyncClient: same behaviour."""
    from prefkit.judge.backends.base import JudgeRequest
    from prefkit.judge.backends.openai_http import OpenAIChatBackend, proxies_configured

    control(server, fault_every=2, faults=["500", "truncated"])
    backend = OpenAIChatBackend(server, MODEL, api_key_env=None, transport="httpx",
                                backoff=0.01)
    messages = [({"role": "user", "content": f"[The Start of Assistant A's Answer]\n{'x' * i}\n"
                  "[The End of Assistant A's Answer]"},) for i in range(4)]
    replies = backend.complete([JudgeRequest(str(i), "ab", m) for i, m in enumerate(messages)])
    assert [r.text.endswith("[[A]]" if i else "[[C]]") for i, r in enumerate(replies)] == [True] * 4
    assert (backend.retries, stats(server)["chat"]) == (2, 6)
    assert isinstance(proxies_configured(), bool)
