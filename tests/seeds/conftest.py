"""A tiny local causal LM for the seed-method tests that need one (built once, never downloaded):
pre-trained on unlabelled dialogues with follow-ups (``tests/seeds/dialogue_lm.py``), so it also
serves FLR."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from seeds.dialogue_lm import build_dialogue_lm

    path = tmp_path_factory.mktemp("tiny") / "base"
    model, tokenizer = build_dialogue_lm(steps=40)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture
def tiny(tiny_dir: Path) -> tuple[Any, Any]:
    """A fresh copy (model, tokenizer) of the session's tiny model."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(tiny_dir), AutoTokenizer.from_pretrained(tiny_dir)
