"""Fixtures of the batch-job tests: the fake OpenAI-compatible judge server (a real process on
127.0.0.1, tests/judge/fake_openai_server.py) and a tiny causal LM saved to disk."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def judge_server(fake_judge) -> Iterator[str]:
    """The base URL of the fake judge (``[[A]]`` when the answer shown first is longer)."""
    with fake_judge() as (url, _):
        yield url


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
