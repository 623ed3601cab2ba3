"""A tiny causal LM pre-trained on unlabelled dialogues in which users thank good answers and
complain about bad ones (the signal FLR reads), built locally in seconds; never downloaded."""

from __future__ import annotations

from typing import Any

import numpy as np

from prefkit.align import tiny

THANKS = ("thank you , that is helpful .", "thanks , great answer .")
COMPLAINTS = ("that is not what i asked .", "no , that is wrong .")


def dialogue_corpus(n: int = 400, seed: int = 1, *, agree: float = 0.9) -> list[str]:
    """Chat-formatted dialogues: prompt, a good or bad response, and a follow-up that matches the
    response's quality with probability ``agree`` (no preference labels anywhere)."""
    rng = np.random.default_rng(seed)
    texts = []
    for _ in range(n):
        subject = str(rng.choice(tiny._SUBJECTS))
        prompt = f"{rng.choice(tiny._ASKS)} {subject} ?"
        good = bool(rng.random() < 0.5)
        resp = tiny._response(rng, subject, good)
        pool = THANKS if good == bool(rng.random() < agree) else COMPLAINTS
        texts.append(f"<|user|> {prompt} <|assistant|> {resp} <|user|> {rng.choice(pool)} </s>")
    return texts


def build_dialogue_lm(steps: int = 60, seed: int = 0) -> tuple[Any, Any]:
    texts = dialogue_corpus(seed=seed + 1)
    tokenizer = tiny.build_tokenizer(texts)
    model = tiny.build_model(tokenizer, seed=seed)
    tiny.pretrain(model, tokenizer, texts, steps=steps, seed=seed)
    return model, tokenizer
