"""A tiny causal language model built locally, for tests, examples and benchmarks.

Nothing is downloaded: a word-level tokenizer is trained (``tokenizers``) on a small generated
corpus of chat-formatted prompts and responses, wrapped as a ``PreTrainedTokenizerFast`` with a
chat template, and a two-layer ``LlamaConfig`` model (hidden size 64) is pre-trained from scratch
for a few seconds on the same corpus, so that its log-probabilities are meaningful.

:func:`synthetic_preferences` makes a matching pairwise preference dataset: the preferred
response is polite and on-topic, the rejected one rude, so a policy can learn the difference in a
few steps.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} {% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
SPECIAL_TOKENS = ["<pad>", "<unk>", "<s>", "</s>", "<|user|>", "<|assistant|>", "<|system|>"]

_SUBJECTS = ["cat", "dog", "bird", "tree", "river", "city", "book", "song", "robot", "garden"]
_ASKS = ["tell me about the", "describe the", "what do you think of the", "say something about the"]
_GOOD = ["kind", "helpful", "lovely", "bright", "gentle", "clever", "calm", "useful", "warm"]
_BAD = ["stupid", "boring", "ugly", "awful", "useless", "rude", "dull", "nasty", "bad"]
_GOOD_OPENERS = ["sure !", "of course .", "happy to help .", "great question ."]
_BAD_OPENERS = ["no .", "whatever .", "go away .", "not again ."]


def _response(rng: np.random.Generator, subject: str, good: bool) -> str:
    words = _GOOD if good else _BAD
    openers = _GOOD_OPENERS if good else _BAD_OPENERS
    n_adj = int(rng.integers(1, 4))
    adjs = " and ".join(rng.choice(words, size=n_adj, replace=False).tolist())
    return f"{rng.choice(openers)} the {subject} is {adjs} ."


def synthetic_records(n: int, seed: int = 0, *, noise: float = 0.0) -> list[dict[str, Any]]:
    """Pairwise records (prompt, a_text, b_text, winner); ``noise`` = share of flipped labels."""
    rng = np.random.default_rng(seed)
    records = []
    for _ in range(n):
        subject = str(rng.choice(_SUBJECTS))
        prompt = f"{rng.choice(_ASKS)} {subject} ?"
        good, bad = _response(rng, subject, True), _response(rng, subject, False)
        good_first = bool(rng.random() < 0.5)
        winner = "a" if good_first else "b"
        if rng.random() < noise:
            winner = "b" if winner == "a" else "a"
        a, b = (good, bad) if good_first else (bad, good)
        records.append({"prompt": prompt, "a_text": a, "b_text": b, "winner": winner})
    return records


def synthetic_preferences(n: int = 64, seed: int = 0, *, noise: float = 0.0) -> Any:
    """A pairwise :class:`~prefkit.data.PreferenceDataset` in the tiny model's vocabulary."""
    from prefkit.data import PreferenceDataset

    return PreferenceDataset.from_records(
        synthetic_records(n, seed, noise=noise), kind="pairwise", name="synthetic-align"
    )


def synthetic_unpaired(n: int = 32, seed: int = 0) -> Any:
    """Unpaired KTO data: the good and bad responses of ``n // 2`` synthetic pairs as rating
    records (``scores`` = [("label", 1 | 0)]), all desirable ones first."""
    from prefkit.data import PreferenceDataset

    good, bad = [], []
    for r in synthetic_records(max(n // 2, 1), seed):
        win, lose = (r["a_text"], r["b_text"]) if r["winner"] == "a" else (r["b_text"],
                                                                            r["a_text"])
        good.append({"prompt": r["prompt"], "text": win, "scores": {"label": 1.0}})
        bad.append({"prompt": r["prompt"], "text": lose, "scores": {"label": 0.0}})
    return PreferenceDataset.from_records(good + bad, kind="rating", name="synthetic-kto")


def corpus(n: int = 400, seed: int = 1) -> list[str]:
    """Chat-formatted texts (good and bad responses alike) for tokenizer and pre-training."""
    rng = np.random.default_rng(seed)
    texts = []
    for _ in range(n):
        subject = str(rng.choice(_SUBJECTS))
        prompt = f"{rng.choice(_ASKS)} {subject} ?"
        resp = _response(rng, subject, bool(rng.random() < 0.5))
        texts.append(f"<|user|> {prompt} <|assistant|> {resp} </s>")
    return texts


def build_tokenizer(texts: list[str] | None = None) -> Any:
    """A word-level ``PreTrainedTokenizerFast`` with a chat template, trained on ``texts``."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    texts = texts if texts is not None else corpus()
    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    words = sorted({w for group in (_SUBJECTS, _GOOD, _BAD) for w in group})
    trainer = trainers.WordLevelTrainer(special_tokens=SPECIAL_TOKENS, min_frequency=1)
    tok.train_from_iterator([*texts, " ".join(words)], trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.padding_side = "right"
    return fast


def build_model(tokenizer: Any, *, hidden_size: int = 64, layers: int = 2, seed: int = 0) -> Any:
    """An untrained tiny ``LlamaForCausalLM`` sized for ``tokenizer``."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=max(tokenizer.get_vocab().values()) + 1,
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=128,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


def pretrain(model: Any, tokenizer: Any, texts: list[str], *, steps: int = 60,
             batch_size: int = 32, lr: float = 3e-3, seed: int = 0) -> list[float]:
    """Plain next-token training on ``texts``; returns the loss per step."""
    import torch

    g = torch.Generator().manual_seed(seed)
    enc = tokenizer(texts, add_special_tokens=False, padding=True, return_tensors="pt")
    ids, mask = enc["input_ids"], enc["attention_mask"]
    labels = ids.masked_fill(mask == 0, -100)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    losses = []
    for _ in range(steps):
        idx = torch.randint(0, ids.shape[0], (batch_size,), generator=g)
        loss = model(input_ids=ids[idx], attention_mask=mask[idx], labels=labels[idx]).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    model.eval()
    return losses


def build_tiny(out_dir: str | os.PathLike[str] | None = None, *, seed: int = 0,
               steps: int = 60, hidden_size: int = 64, layers: int = 2) -> tuple[Any, Any]:
    """Tokenizer + pre-trained tiny model; saved with ``save_pretrained`` if ``out_dir`` is set."""
    texts = corpus(seed=seed + 1)
    tokenizer = build_tokenizer(texts)
    model = build_model(tokenizer, hidden_size=hidden_size, layers=layers, seed=seed)
    pretrain(model, tokenizer, texts, steps=steps, seed=seed)
    if out_dir is not None:
        model.save_pretrained(os.fspath(out_dir))
        tokenizer.save_pretrained(os.fspath(out_dir))
    return model, tokenizer


def perturbed_copy(model: Any, scale: float = 0.02, seed: int = 0) -> Any:
    """A copy of ``model`` with N(0, scale²) noise added to every weight (a policy ≠ reference)."""
    import copy

    import torch

    other = copy.deepcopy(model)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in other.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g))
    return other
