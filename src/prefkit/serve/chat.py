"""OpenAI-compatible chat completions from a local causal language model.

:class:`ChatModel` wraps a Hugging Face causal LM and its tokenizer — a model folder opened with
``local_files_only=True, trust_remote_code=False`` (:func:`load_chat_model`), or the policy of a
prefkit align run (``prefkit.load(run_dir)`` → ``DPOPolicy``: its ``policy_`` and
``tokenizer_``) — and answers the request body of OpenAI's ``POST /v1/chat/completions``
(``messages``, ``max_tokens``, ``temperature``, ``top_p``, ``n``, ``stop``, ``seed``,
``logprobs``, ``top_logprobs``) with the response body of that API (``choices[].message``,
``finish_reason``, ``logprobs.content[]``, ``usage``).

Decoding: ``temperature == 0`` is greedy (``do_sample=False``); otherwise multinomial sampling
with temperature and nucleus (top-p, Holtzman et al., ICLR 2020) truncation, seeded by ``seed``
when given.  ``logprobs`` are those of the model's own next-token distribution (log-softmax of
the raw logits, before temperature and top-p), as OpenAI reports them — so a judge reading the
probability of a verdict token gets the model's probability.  A ``stop`` string ends a choice
(the stop string itself is not returned, ``finish_reason="stop"``); so does the end-of-sequence
token.  A prompt longer than the model's context (``max_position_embeddings``) is refused
(422); ``max_tokens`` beyond what the context leaves is cut to fit.
``usage.completion_tokens`` counts the tokens generated for all ``n`` choices, as OpenAI does.

Calls run one at a time in the model's worker thread (a lock with a queue: the app bounds the
number waiting and answers 503 beyond); there is no batching across requests yet.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from prefkit.errors import ModelFileError

#: most tokens one choice may generate (``max_tokens`` above → 422)
MAX_NEW_TOKENS = 4096
#: most choices per request
MAX_CHOICES = 16


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: str = Field(description="system, user, assistant (or developer → system).")
    content: str | list[dict[str, Any]] = Field(description="Text, or a list of text parts.")

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        parts = []
        for part in self.content:
            if part.get("type") != "text" or not isinstance(part.get("text"), str):
                raise ValueError("only text content parts are supported")
            parts.append(part["text"])
        return "".join(parts)


class ChatRequest(BaseModel):
    """The body of OpenAI's ``POST /v1/chat/completions`` (the fields a local LM can honour)."""

    model_config = ConfigDict(extra="ignore", protected_namespaces=())

    model: str | None = Field(None, description="Model name (optional when one LM is served).")
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(None, ge=1, le=MAX_NEW_TOKENS)
    max_completion_tokens: int | None = Field(None, ge=1, le=MAX_NEW_TOKENS)
    temperature: float = Field(1.0, ge=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    n: int = Field(1, ge=1, le=MAX_CHOICES)
    stop: str | list[str] | None = None
    seed: int | None = None
    logprobs: bool = False
    top_logprobs: int | None = Field(None, ge=0, le=20)
    stream: bool = False

    @field_validator("stop")
    @classmethod
    def _stops(cls, value: str | list[str] | None) -> list[str] | None:
        stops = [value] if isinstance(value, str) else value
        if stops is not None:
            if len(stops) > 4:
                raise ValueError("at most 4 stop sequences")
            if any(not s for s in stops):
                raise ValueError("a stop sequence must not be empty")
        return stops or None

    @model_validator(mode="after")
    def _consistent(self) -> ChatRequest:
        if self.stream:
            raise ValueError("stream=true is not supported by prefkit serve")
        if self.top_logprobs is not None and not self.logprobs:
            raise ValueError("top_logprobs needs logprobs=true")
        return self

    def new_tokens(self) -> int:
        return self.max_completion_tokens or self.max_tokens or 256


class ChatModel:
    """A causal LM and its tokenizer, answering chat-completion requests (module docstring)."""

    def __init__(self, model: Any, tokenizer: Any) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self._lock = threading.Lock()

    def prompt_ids(self, request: ChatRequest) -> list[int]:
        """Token ids of the chat-templated conversation, ending with the assistant's turn."""
        from prefkit.serve.served import RequestError

        messages = []
        for k, m in enumerate(request.messages):
            try:
                messages.append({"role": "system" if m.role == "developer" else m.role,
                                 "content": m.text()})
            except ValueError as err:
                raise RequestError(f"messages[{k}].content: {err}",
                                   field=f"messages[{k}].content") from None
        if getattr(self.tokenizer, "chat_template", None):
            try:
                ids = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                                         tokenize=True)
            except Exception as err:  # the template refuses these turns (jinja raise_exception)
                first = (str(err).splitlines() or [type(err).__name__])[0]
                raise RequestError(f"messages: the model's chat template refuses them ({first})",
                                   field="messages") from None
            if isinstance(ids, dict) or hasattr(ids, "keys"):
                ids = ids["input_ids"]
            return [int(i) for i in ids]
        text = "\n".join(f"{m['role']}: {m['content']}" for m in messages) + "\nassistant:"
        return [int(i) for i in self.tokenizer(text)["input_ids"]]

    def complete(self, request: ChatRequest, name: str) -> dict[str, Any]:
        """The OpenAI response body for ``request`` (runs the model; thread-safe)."""
        import torch

        prompt = self.prompt_ids(request)
        new_tokens = self._room(len(prompt), request.new_tokens())
        device = next(self.model.parameters()).device
        input_ids = torch.tensor([prompt], device=device)
        greedy = request.temperature == 0.0
        eos = self.tokenizer.eos_token_id
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else eos
        kwargs: dict[str, Any] = {
            "max_new_tokens": new_tokens, "do_sample": not greedy,
            # greedy: one generation, copied into the n choices (they would be identical)
            "num_return_sequences": 1 if greedy else request.n, "return_dict_in_generate": True,
            "output_logits": bool(request.logprobs), "pad_token_id": pad,
            "attention_mask": torch.ones_like(input_ids),
        }
        if not greedy:
            kwargs.update(temperature=request.temperature, top_p=request.top_p, top_k=0)
        else:  # no sampling knobs (a model's generation_config may carry some): no warnings
            kwargs.update(temperature=None, top_p=None, top_k=None)
        if request.stop:
            kwargs["stopping_criteria"] = _stop_criteria(self.tokenizer, request.stop,
                                                         len(prompt))
        with self._lock, torch.no_grad():
            if request.seed is not None:
                torch.manual_seed(request.seed)
            out = self.model.generate(input_ids, **kwargs)
        sequences = out.sequences[:, len(prompt):].tolist()
        logprobs = None
        if request.logprobs:
            # logits: one (n, vocab) tensor per generated position → (n, steps, vocab)
            logprobs = torch.log_softmax(torch.stack(out.logits, dim=1).float(), dim=-1)
        rows = [0] * request.n if greedy else list(range(request.n))
        choices, completion_tokens = [], 0
        for k, row in enumerate(rows):
            seq = sequences[row]
            tokens = _trim(seq, eos, pad)
            completion_tokens += len(tokens)
            text = self.tokenizer.decode(tokens, skip_special_tokens=True)
            finish = "stop" if eos is not None and tokens and tokens[-1] == eos else "length"
            for stop in request.stop or []:
                cut = text.find(stop)
                if cut >= 0:
                    text, finish = text[:cut], "stop"
            choice: dict[str, Any] = {"index": k,
                                      "message": {"role": "assistant", "content": text},
                                      "logprobs": None, "finish_reason": finish}
            if logprobs is not None:
                choice["logprobs"] = {"content": self._token_logprobs(
                    tokens, logprobs[row], request.top_logprobs or 0)}
            choices.append(choice)
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion",
            "created": int(time.time()), "model": name, "choices": choices,
            "system_fingerprint": None,
            "usage": {"prompt_tokens": len(prompt), "completion_tokens": completion_tokens,
                      "total_tokens": len(prompt) + completion_tokens},
        }

    def _room(self, prompt_tokens: int, wanted: int) -> int:
        """New tokens that fit the model's context (``finish_reason="length"`` when cut)."""
        from prefkit.serve.served import RequestError

        context = getattr(self.model.config, "max_position_embeddings", None)
        if not isinstance(context, int) or context <= 0:
            return wanted
        if prompt_tokens >= context:
            raise RequestError(f"messages: the prompt is {prompt_tokens} tokens long, the "
                               f"model's context holds {context}", field="messages")
        return min(wanted, context - prompt_tokens)

    def _token_logprobs(self, tokens: list[int], logprobs: Any, top: int) -> list[dict[str, Any]]:
        content = []
        for step, token in enumerate(tokens):
            row = logprobs[step]
            entry = self._entry(token, float(row[token]))
            entry["top_logprobs"] = []
            if top:
                values, ids = row.topk(top)
                entry["top_logprobs"] = [self._entry(int(i), float(v))
                                         for v, i in zip(values.tolist(), ids.tolist(),
                                                         strict=True)]
            content.append(entry)
        return content

    def _entry(self, token: int, logprob: float) -> dict[str, Any]:
        text = self.tokenizer.decode([token])
        return {"token": text, "logprob": max(logprob, -9999.0),
                "bytes": list(text.encode("utf-8"))}


def _stop_criteria(tokenizer: Any, stops: list[str], prompt_len: int) -> Any:
    """Stop a sequence once its decoded continuation contains a stop string (any tokenizer)."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    class _StopStrings(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            texts = tokenizer.batch_decode(input_ids[:, prompt_len:], skip_special_tokens=True)
            return torch.tensor([any(s in t for s in stops) for t in texts],
                                dtype=torch.bool, device=input_ids.device)

    return StoppingCriteriaList([_StopStrings()])


def _trim(seq: list[int], eos: int | None, pad: int | None) -> list[int]:
    """The generated tokens up to and including the first end-of-sequence token."""
    if eos is not None and eos in seq:
        return seq[: seq.index(eos) + 1]
    if pad is not None and pad != eos:
        while seq and seq[-1] == pad:
            seq = seq[:-1]
    return seq


#: files that make a folder a prefkit model even when it holds a Hugging Face ``config.json``
PREFKIT_MARKERS = ("prefkit_rm.json", "align_config.json", "arrays.safetensors")


def is_hf_causal_lm(directory: str | os.PathLike[str]) -> bool:
    """Whether ``directory`` is a Hugging Face causal-LM folder, not a prefkit-saved model.

    Its ``config.json`` names a ``…ForCausalLM`` / ``…LMHeadModel`` architecture and has no
    prefkit ``format``; no prefkit file lies beside it.
    """
    root = Path(directory)
    config = root / "config.json"
    if not config.is_file() or config.stat().st_size > 1_000_000:
        return False
    if any((root / marker).exists() for marker in PREFKIT_MARKERS):
        return False
    try:
        value = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(value, dict) or "format" in value:
        return False
    architectures = value.get("architectures") or []
    return isinstance(architectures, list) and any(
        isinstance(a, str) and a.endswith(("ForCausalLM", "LMHeadModel")) for a in architectures)


def load_chat_model(directory: str | os.PathLike[str]) -> ChatModel:
    """A local Hugging Face causal LM folder (never downloads, never runs code from it)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = os.fspath(directory)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True,
                                                  trust_remote_code=False)
        model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True,
                                                     trust_remote_code=False)
    except (OSError, ValueError, KeyError) as err:
        first = (str(err).splitlines() or [type(err).__name__])[0]
        raise ModelFileError(f"{path}: cannot load a causal LM ({first})") from None
    return ChatModel(model, tokenizer)
