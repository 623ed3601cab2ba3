"""The live judge against a real OpenAI-compatible server: ``prefkit serve`` on 127.0.0.1
serving a tiny local causal LM, checked against the official ``openai`` client."""

from __future__ import annotations

import json
import os
import socket
import sys

import pytest
from typer.testing import CliRunner

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
openai = pytest.importorskip("openai")

from helpers.serve_process import running  # noqa: E402
from prefkit.judge.backends.base import JudgeRequest  # noqa: E402
from prefkit.judge.backends.openai_http import OpenAIChatBackend  # noqa: E402
from prefkit.judge.templates import load_template  # noqa: E402

KEY_ENV, KEY = "PREFKIT_JUDGE_SERVE_KEY", "judge-serve-token-0123456789"
runner = CliRunner()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from prefkit.align import tiny

    tokenizer = tiny.build_tokenizer([*tiny.corpus(60), "A B C [[A]] [[B]] [[C]]"])
    model = tiny.build_model(tokenizer, hidden_size=32, seed=5)
    model.config.max_position_embeddings = 1024
    root = tmp_path_factory.mktemp("served")
    path = root / "judge-lm"
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    port = _free_port()
    env = {**os.environ, KEY_ENV: KEY, "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "prefkit", "serve", str(path), "--host", "127.0.0.1",
               "--port", str(port), "--api-key-env", KEY_ENV, "--log-level", "warning",
               "--no-access-log"]
    with running(command, env, root / "serve.log", port) as (_, url):
        yield url


def test_judge_over_prefkit_serve_matches_the_openai_client(served, tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    messages = load_template().render(question="tell me about the cat ?",
                                      answer_a="sure ! the cat is kind .", answer_b="no .")
    client = openai.OpenAI(base_url=f"{served}/v1", api_key=KEY, max_retries=0)
    official = client.chat.completions.create(model="judge-lm", messages=list(messages),
                                              temperature=0.0, max_tokens=6)
    backend = OpenAIChatBackend(served, "judge-lm", api_key_env=KEY_ENV,
                                params={"max_tokens": 6})
    backend.preflight()
    reply = backend.complete([JudgeRequest("p", "ab", messages)])[0]
    assert reply.error is None and reply.text == official.choices[0].message.content
    assert reply.usage["prompt_tokens"] == official.usage.prompt_tokens > 100

    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps({"pair_id": f"p{i}", "prompt": "describe the dog ?",
                                        "a_text": "sure ! the dog is warm ." * (i + 1),
                                        "b_text": "go away ."}) + "\n" for i in range(3)))
    out = tmp_path / "j.jsonl"
    from prefkit.cli.app import app

    args = ["judge", "pairwise", str(data), "--endpoint", served, "--model", "judge-lm",
            "--api-key-env", KEY_ENV, "--max-tokens", "6", "--out", str(out), "--no-progress",
            "--json", "--price-in", "0.5", "--price-out", "2.0"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(lines) == summary["written"] == 6
    assert summary["written"] - summary["unparsed"] == sum(x["winner"] is not None
                                                           for x in lines)
    usage = summary["usage"]
    assert usage["prompt_tokens"] == sum(x["usage"]["prompt_tokens"] for x in lines)
    assert summary["cost"] == pytest.approx(
        (0.5 * usage["prompt_tokens"] + 2.0 * usage["completion_tokens"]) / 1000)
    # the raw texts are what the official client gets for the same messages
    first = lines[0]
    shown = (first["a_text"], first["b_text"]) if first["order"] == "ab" else (
        first["b_text"], first["a_text"])
    again = client.chat.completions.create(
        model="judge-lm", temperature=0.0, max_tokens=6,
        messages=list(load_template().render(question=first["prompt"], answer_a=shown[0],
                                             answer_b=shown[1])))
    assert first["rationale"] == again.choices[0].message.content

    for extra, env, expected in [(("--model", "nope"), {KEY_ENV: KEY}, "unknown model 'nope'"),
                                 ((), {KEY_ENV: "wrong"}, "401 unauthorised")]:
        bad = runner.invoke(app, [*args, "--out", str(tmp_path / "x.jsonl"), *extra], env=env)
        assert bad.exit_code == 2 and expected in bad.stderr, bad.output
        assert len(bad.stderr.splitlines()) == 1 and not (tmp_path / "x.jsonl").exists()
