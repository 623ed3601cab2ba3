"""A local Hugging Face causal LM as a judge, read from its next-token log-probabilities.

Instead of generating a verdict and parsing it, the judge's chat prompt (the model's chat
template with the generation prompt, then ``answer_prefix``, by default ``"[["`` — the start of
the pairwise template's ``[[A]]``) is run once, and the logits :math:`z_v` of the next token are
read at the first token of each verdict string (``A``, ``B``, ``C`` for a tie).  Renormalised
over the verdict tokens only,

.. math::  P(v) = \\frac{\\exp z_v}{\\sum_{u \\in \\{A, B, C\\}} \\exp z_u},

a probability of each verdict and never a parse failure — the likelihood-based reading of a
judge used by G-Eval (Liu et al. 2023, "G-Eval: NLG evaluation using GPT-4 with better human
alignment", probability-weighted scores) and by generative reward models that read a "Yes" /
"A" token (Zhang et al. 2024, "Generative verifiers").  The reply's ``text`` records the three
probabilities; ``probs`` carries them.

Batched: prompts are sorted by length, right-padded, and only the logits at each prompt's last
position are computed (``logits_to_keep``), so a batch gives the same numbers as one prompt at a
time.  A prompt longer than the model's context is an error reply (never silently truncated).
The model folder is opened with ``local_files_only=True`` and ``trust_remote_code=False`` (never
downloads, never runs code from the folder), on first use or in :meth:`preflight`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from prefkit.errors import ModelFileError, PrefkitError
from prefkit.judge.backends.base import JudgeReply, JudgeRequest

#: verdict value → the string whose first token is read (the pairwise template's letters)
DEFAULT_LABELS: dict[str, str] = {"A": "A", "B": "B", "tie": "C"}
#: folders opened in this process, by (folder, weights' sizes and times): a jury of judges on one
#: folder, or a judge saved and loaded again, opens it once (the two most recent are kept)
_OPENED: dict[tuple[str, str], tuple[Any, Any]] = {}
_OPENED_MAX = 2


class HFCausalLMBackend:
    """Verdict probabilities from a local causal LM's next-token logits.

    Args:
        model: a Hugging Face causal-LM folder, or a loaded model (then pass ``tokenizer``).
        labels: verdict value (``A``, ``B``, ``tie``) → the string whose first token is read.
        answer_prefix: text appended after the chat template's generation prompt.
        batch_size: prompts per forward pass.
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` …
        name: the judge's name (``annotator_id``); default: the folder's name.
    """

    def __init__(self, model: str | os.PathLike[str] | Any, tokenizer: Any = None, *,
                 labels: dict[str, str] | None = None, answer_prefix: str = "[[",
                 batch_size: int = 8, device: str = "auto", name: str | None = None) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be ≥ 1")
        self.labels = dict(labels or DEFAULT_LABELS)
        self.answer_prefix = answer_prefix
        self.batch_size = batch_size
        if isinstance(device, str):
            from prefkit.core.devices import check_device

            check_device(device)  # a misspelt device: one line before the model loads
        self.device = device
        if isinstance(model, (str, os.PathLike)):
            self.path: Path | None = Path(model)
            self.model: Any = None
            self.tokenizer: Any = None
            self.name = name or self.path.name
        else:
            if tokenizer is None:
                raise ValueError("a loaded model needs its tokenizer")
            self.path, self.model, self.tokenizer = None, model, tokenizer
            self.name = name or type(model).__name__
        self.token_ids_: list[int] | None = None
        self.usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
        self.requests_sent = 0

    def __repr__(self) -> str:
        return f"HFCausalLMBackend({str(self.path or self.name)!r})"

    @property
    def cache_identity(self) -> dict[str, Any]:
        """The model (its weights' sizes and times), the verdict strings and the prefix."""
        files: list[Any] = []
        if self.path is not None and self.path.is_dir():
            for f in sorted(self.path.glob("*.safetensors")) + sorted(self.path.glob("*.bin")):
                st = f.stat()
                files.append([f.name, st.st_size, st.st_mtime_ns])
        return {"backend": "hf-logprobs", "model": self.name, "weights": files,
                "labels": self.labels, "answer_prefix": self.answer_prefix}

    # ------------------------------------------------------------------ loading
    def preflight(self) -> None:
        """Open the model and check the verdict tokens, before any work (one-line errors)."""
        self._load()

    def _load(self) -> None:
        if self.token_ids_ is not None:
            return
        if self.model is None:
            assert self.path is not None
            if not (self.path / "config.json").is_file():
                raise ModelFileError(f"{self.path}: not a Hugging Face model folder "
                                     "(no config.json)")
            try:
                from transformers import AutoModelForCausalLM, AutoTokenizer
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()  # stderr keeps prefkit's own lines only
            except ImportError:
                raise PrefkitError("a local judge needs transformers: "
                                   "pip install 'prefkit[align]'") from None
            opened = (os.fspath(self.path.resolve()), repr(self.cache_identity["weights"]))
            if opened not in _OPENED:
                try:
                    tokenizer = AutoTokenizer.from_pretrained(
                        os.fspath(self.path), local_files_only=True, trust_remote_code=False)
                    model = AutoModelForCausalLM.from_pretrained(
                        os.fspath(self.path), local_files_only=True, trust_remote_code=False)
                except (OSError, ValueError, KeyError) as err:
                    first = (str(err).splitlines() or [type(err).__name__])[0]
                    raise ModelFileError(
                        f"{self.path}: cannot load a causal LM ({first})") from None
                while len(_OPENED) >= _OPENED_MAX:
                    _OPENED.pop(next(iter(_OPENED)))
                _OPENED[opened] = (model, tokenizer)
            self.model, self.tokenizer = _OPENED[opened]
        import torch

        device = self.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.model.to(device)
        self.model.eval()
        self._device = device
        ids = []
        unk = getattr(self.tokenizer, "unk_token_id", None)
        for value, text in self.labels.items():
            encoded = self.tokenizer.encode(text, add_special_tokens=False)
            if not encoded or encoded[0] == unk:
                raise ModelFileError(f"{self.name}: the verdict {value!r} ({text!r}) is not a "
                                     "token of the judge's tokenizer")
            ids.append(int(encoded[0]))
        if len(set(ids)) != len(ids):
            raise ModelFileError(f"{self.name}: the verdict strings {list(self.labels.values())} "
                                 "share their first token")
        self.token_ids_ = ids

    # ------------------------------------------------------------------ prompts
    def prompt_text(self, messages: Sequence[dict[str, str]]) -> str:
        """The text run through the model: chat template + generation prompt + prefix."""
        tok = self.tokenizer
        if getattr(tok, "chat_template", None):
            text = tok.apply_chat_template(list(messages), tokenize=False,
                                           add_generation_prompt=True)
        else:
            text = "\n\n".join(m["content"] for m in messages) + "\n\n"
        return str(text) + self.answer_prefix

    def _encode(self, messages: Sequence[dict[str, str]]) -> list[int]:
        tok = self.tokenizer
        special = not getattr(tok, "chat_template", None)
        return list(tok(self.prompt_text(messages), add_special_tokens=special)["input_ids"])

    def verdict_logits(self, prompts: Sequence[Sequence[int]]) -> np.ndarray:
        """(n, k) logits of the k verdict tokens after each token-id prompt (batched)."""
        import torch

        self._load()
        pad = self.tokenizer.pad_token_id
        pad = pad if pad is not None else (self.tokenizer.eos_token_id or 0)
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        out = np.empty((len(prompts), len(self.labels)), dtype=np.float64)
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                rows = order[start:start + self.batch_size]
                width = max(len(prompts[i]) for i in rows)
                ids = torch.full((len(rows), width), pad, dtype=torch.long)
                mask = torch.zeros((len(rows), width), dtype=torch.long)
                for r, i in enumerate(rows):
                    ids[r, :len(prompts[i])] = torch.tensor(prompts[i], dtype=torch.long)
                    mask[r, :len(prompts[i])] = 1
                last = torch.tensor([len(prompts[i]) - 1 for i in rows])
                keep, where = torch.unique(last, return_inverse=True)
                ids, mask = ids.to(self._device), mask.to(self._device)
                try:
                    logits = self.model(input_ids=ids, attention_mask=mask,
                                        logits_to_keep=keep.to(self._device)).logits
                    picked = logits[torch.arange(len(rows)), where.to(self._device)]
                except TypeError:  # a model without logits_to_keep: all positions
                    logits = self.model(input_ids=ids, attention_mask=mask).logits
                    picked = logits[torch.arange(len(rows)), last.to(self._device)]
                verdict = picked[:, self.token_ids_].double().cpu().numpy()
                out[rows] = verdict
        return out

    # ------------------------------------------------------------------ the protocol
    def complete(self, requests: Sequence[JudgeRequest]) -> list[JudgeReply]:
        """One reply per request: ``probs`` over the verdict values, ``text`` recording them."""
        self._load()
        limit = getattr(self.model.config, "max_position_embeddings", None)
        encoded = [self._encode(r.messages) for r in requests]
        fits = [i for i, ids in enumerate(encoded) if limit is None or len(ids) <= limit]
        replies: list[JudgeReply] = [
            JudgeReply(None, f"prompt too long ({len(ids)} tokens > {limit})")
            for ids in encoded
        ]
        if fits:
            logits = self.verdict_logits([encoded[i] for i in fits])
            z = logits - logits.max(axis=1, keepdims=True)
            p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
            for row, i in enumerate(fits):
                probs = {v: float(p[row, k]) for k, v in enumerate(self.labels)}
                text = " ".join(f"P({self.labels[v]})={probs[v]:.6f}" for v in self.labels)
                n = len(encoded[i])
                usage = {"prompt_tokens": n, "completion_tokens": 0, "total_tokens": n}
                for key, value in usage.items():
                    self.usage[key] += value
                replies[i] = JudgeReply(text, None, usage, probs)
        self.requests_sent += len(requests)
        return replies
