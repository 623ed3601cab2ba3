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

Batching across requests (:meth:`ChatModel.complete_batch`, fed by the app's micro-batcher):
concurrent requests are left-padded into one ``generate`` call — position ids follow the
attention mask, so a greedy request gets the same tokens as alone — and each row stops at its
own ``max_tokens``, stop strings or end-of-sequence (:class:`_RowCriteria`); the call ends when
every row is done.  Greedy requests batch together, unseeded sampling requests with the same
temperature and top-p together, a seeded request runs alone (its samples depend on its seed
only).  This is the static batching of text-generation servers (rows wait for the longest; no
continuous batching of new arrivals into a running call).

A per-request deadline (``prefkit serve --chat-timeout``, counted from arrival, queue wait
included) is checked after every generated token: the row past it stops, its request answers
504 (:class:`GenerationTimeout`), its neighbours in the batch carry on.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from dataclasses import dataclass
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

    def complete(self, request: ChatRequest, name: str, timeout_s: float | None = None
                 ) -> dict[str, Any]:
        """The OpenAI response body for ``request`` (runs the model; thread-safe)."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        out = self.complete_batch([ChatJob(request, deadline)], name)[0]
        if isinstance(out, Exception):
            raise out
        return out

    def complete_batch(self, jobs: list[ChatJob], name: str) -> list[dict[str, Any] | Exception]:
        """Answers to several requests, batched into as few ``generate`` calls as possible.

        One answer per job, in order: the response body, or the exception that request alone
        raised (a :class:`RequestError`, a :class:`GenerationTimeout`).  Greedy requests share
        one left-padded ``generate`` call; unseeded sampling requests with the same temperature
        and top-p share another; a seeded request runs alone (its samples depend only on its
        seed).  A batch never needs more positions than the model's context.
        """
        from prefkit.serve.served import RequestError

        out: list[dict[str, Any] | Exception | None] = [None] * len(jobs)
        rows: list[_Row] = []
        for k, job in enumerate(jobs):
            try:
                prompt = self.prompt_ids(job.request)
                new_tokens = self._room(len(prompt), job.request.new_tokens())
            except RequestError as err:
                out[k] = err
                continue
            if job.deadline is not None and time.monotonic() >= job.deadline:
                out[k] = GenerationTimeout("the request waited longer than the generation "
                                           "timeout before its turn came")
                continue
            rows.append(_Row(k, job.request, prompt, new_tokens, job.deadline))
        groups: dict[tuple[Any, ...], list[_Row]] = {}
        for row in rows:
            r = row.request
            key: tuple[Any, ...] = ("greedy",) if r.temperature == 0.0 else \
                ("seeded", row.job) if r.seed is not None else ("sample", r.temperature, r.top_p)
            groups.setdefault(key, []).append(row)
        for group in groups.values():
            for batch in self._fit_context(group):
                for row, answer in zip(batch, self._generate(batch, name), strict=True):
                    out[row.job] = answer
        return [x if x is not None else RuntimeError("no answer") for x in out]

    def _fit_context(self, group: list[_Row]) -> list[list[_Row]]:
        """Split ``group`` so that longest prompt + most new tokens fits the context."""
        context = getattr(self.model.config, "max_position_embeddings", None)
        if not isinstance(context, int) or context <= 0:
            return [group]
        batches: list[list[_Row]] = []
        for row in group:
            last = batches[-1] if batches else None
            if last is not None and max(len(r.prompt) for r in (*last, row)) + max(
                    r.new_tokens for r in (*last, row)) <= context:
                last.append(row)
            else:
                batches.append([row])
        return batches

    def _generate(self, batch: list[_Row], name: str) -> list[dict[str, Any] | Exception]:
        """One ``generate`` call for ``batch`` (left-padded), split back into responses."""
        import torch

        first = batch[0].request
        greedy = first.temperature == 0.0
        # greedy: one sequence per request, copied into its n choices (they would be identical)
        owners = [i for i, row in enumerate(batch) for _ in range(1 if greedy else
                                                                    row.request.n)]
        eos = self.tokenizer.eos_token_id
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else eos
        width = max(len(row.prompt) for row in batch)
        device = next(self.model.parameters()).device
        ids = [[pad] * (width - len(batch[i].prompt)) + batch[i].prompt for i in owners]
        mask = [[0] * (width - len(batch[i].prompt)) + [1] * len(batch[i].prompt)
                for i in owners]
        input_ids = torch.tensor(ids, device=device)
        want_logits = any(row.request.logprobs for row in batch)
        limits = [batch[i].new_tokens for i in owners]
        criteria = _RowCriteria(self.tokenizer, eos, width, limits,
                                [batch[i].request.stop or [] for i in owners],
                                [batch[i].deadline for i in owners])
        kwargs: dict[str, Any] = {
            "max_new_tokens": max(limits), "do_sample": not greedy,
            "num_return_sequences": 1, "return_dict_in_generate": True,
            "output_logits": want_logits, "pad_token_id": pad,
            "attention_mask": torch.tensor(mask, device=device),
            "stopping_criteria": _criteria_list(criteria),
        }
        if not greedy:
            kwargs.update(temperature=first.temperature, top_p=first.top_p, top_k=0)
        else:  # no sampling knobs (a model's generation_config may carry some): no warnings
            kwargs.update(temperature=None, top_p=None, top_k=None)
        with self._lock, torch.no_grad():
            if first.seed is not None:
                torch.manual_seed(first.seed)
            out = self.model.generate(input_ids, **kwargs)
        sequences = out.sequences[:, width:].tolist()
        answers: list[dict[str, Any] | Exception] = []
        for i, row in enumerate(batch):
            mine = [r for r, owner in enumerate(owners) if owner == i]
            if any(criteria.timed_out[r] for r in mine):
                answers.append(GenerationTimeout(
                    f"generation took longer than the timeout ({row.request.new_tokens()} "
                    "tokens asked for); ask for fewer max_tokens or retry later"))
                continue
            answers.append(self._response(row, [sequences[r][: limits[r]] for r in mine],
                                          [self._row_logprobs(out, r) if want_logits else None
                                           for r in mine], name, eos, pad))
        return answers

    @staticmethod
    def _row_logprobs(out: Any, row: int) -> Any:
        import torch

        # logits: one (rows, vocab) tensor per generated position → (steps, vocab) of this row
        return torch.log_softmax(torch.stack([step[row] for step in out.logits]).float(), dim=-1)

    def _response(self, row: _Row, sequences: list[list[int]], logprobs: list[Any], name: str,
                  eos: int | None, pad: int | None) -> dict[str, Any]:
        request = row.request
        picks = [0] * request.n if len(sequences) == 1 else list(range(request.n))
        choices, completion_tokens = [], 0
        for k, pick in enumerate(picks):
            tokens = _trim(sequences[pick], eos, pad)
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
            if request.logprobs:
                choice["logprobs"] = {"content": self._token_logprobs(
                    tokens, logprobs[pick], request.top_logprobs or 0)}
            choices.append(choice)
        prompt_tokens = len(row.prompt)
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion",
            "created": int(time.time()), "model": name, "choices": choices,
            "system_fingerprint": None,
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
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


class GenerationTimeout(Exception):
    """A generation ran past the per-request timeout (the app answers 504)."""


@dataclass
class ChatJob:
    """One request waiting for generation, and when its answer stops being wanted."""

    request: ChatRequest
    #: ``time.monotonic()`` after which the request answers 504 (None: no timeout)
    deadline: float | None = None


@dataclass
class _Row:
    job: int
    request: ChatRequest
    prompt: list[int]
    new_tokens: int
    deadline: float | None


class _RowCriteria:
    """Per row of a batched ``generate``: done at its own token limit, at one of its own stop
    strings, or at its deadline (then ``timed_out``); the call ends when every row is done."""

    def __init__(self, tokenizer: Any, eos: int | None, prompt_len: int, limits: list[int],
                 stops: list[list[str]], deadlines: list[float | None]) -> None:
        self.tokenizer, self.eos, self.prompt_len = tokenizer, eos, prompt_len
        self.limits, self.stops, self.deadlines = limits, stops, deadlines
        self.done = [False] * len(limits)
        self.timed_out = [False] * len(limits)

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        generated = input_ids.shape[1] - self.prompt_len
        now = time.monotonic()
        for r in range(len(self.done)):
            if self.done[r]:
                continue
            new = input_ids[r, self.prompt_len:]
            ended = self.eos is not None and bool((new == self.eos).any())
            stopped = bool(self.stops[r]) and any(
                s in self.tokenizer.decode(new, skip_special_tokens=True) for s in self.stops[r])
            if generated >= self.limits[r] or ended or stopped:
                self.done[r] = True
            elif self.deadlines[r] is not None and now >= self.deadlines[r]:
                self.done[r] = self.timed_out[r] = True
        return torch.tensor(self.done, dtype=torch.bool, device=input_ids.device)


def _criteria_list(criteria: _RowCriteria) -> Any:
    from transformers import StoppingCriteria, StoppingCriteriaList

    class _Adapter(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            return criteria(input_ids, scores, **kwargs)

    return StoppingCriteriaList([_Adapter()])


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
    except (OSError, ValueError, RecursionError):
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
