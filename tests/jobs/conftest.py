"""Fixtures of the batch-job tests: the fake OpenAI-compatible judge server (a real process on
127.0.0.1, tests/judge/fake_openai_server.py) and a tiny causal LM saved to disk."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

SERVER = Path(__file__).resolve().parents[1] / "judge" / "fake_openai_server.py"


@pytest.fixture(scope="session")
def judge_server() -> Iterator[str]:
    """The base URL of the fake judge (``[[A]]`` when the answer shown first is longer)."""
    httpx = pytest.importorskip("httpx")
    pytest.importorskip("uvicorn")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, str(SERVER), str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{url}/stats", timeout=1).raise_for_status()
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail(f"judge server did not start: {proc.stderr.read()[-500:]!r}")
            time.sleep(0.1)
    yield url
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def tiny_lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Llama (2 layers, hidden 64, random weights) and its word-level tokenizer."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from prefkit.align.tiny import build_model, build_tokenizer

    path = tmp_path_factory.mktemp("tiny-lm") / "tiny"
    tokenizer = build_tokenizer()
    build_model(tokenizer, hidden_size=32, layers=1).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
