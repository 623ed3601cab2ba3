"""``prefkit jobs generate``: responses of a local Hugging Face causal LM to every prompt of a
file, as a sharded batch job (on-policy samples for judging, scoring or online training).

Each prompt is rendered through the tokenizer's chat template when it has one
(:func:`prefkit.align.pairs.encode_prompt`) and answered ``n`` times: sampled at ``temperature``
(> 0) or greedily (0).  Sampling is seeded *per record*, ``seed_k = SHA-256(seed, k)`` for the
record's index ``k`` in the whole file, so a record gets the same responses whichever shard,
worker or engine generates it, and a resumed job continues exactly (tests/jobs checks that the
local and Ray engines write the same file).

Output: one JSON line per prompt, in input order —
``{"record": k, "id": …, "prompt": …, "responses": [n texts], "model": NAME}`` (``id`` when the
input has one).

On GPUs, give the Ray actors a GPU share (``gpus_per_worker``, ``--gpus-per-worker``): the model
then loads on the GPU Ray assigned to each actor (``device`` ``auto``, the default with a share);
see docs/scale.md, which also covers vLLM through ``ray.data.llm`` for large models.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from prefkit.errors import DataError
from prefkit.jobs.engines import ENGINES, check_gpu_share, run_shards, shards_to_run, worker_device
from prefkit.jobs.parts import PartsDirectory, plan_shards

#: prompts per shard by default (generation is slow: small shards resume well)
DEFAULT_GENERATE_SHARD_ROWS = 64


def record_seed(seed: int, record: int) -> int:
    """The sampling seed of record ``record``: the first 8 bytes of SHA-256(``seed:record``)."""
    digest = hashlib.sha256(f"{seed}:{record}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def read_prompt_table(path: str | os.PathLike[str]) -> pa.Table:
    """Prompts (``prompt``, and ``id`` when present) of a Parquet file, or of a JSON-lines / text
    file (:func:`prefkit.align.online.prompts.read_prompts`: ``prompt`` or chat ``messages``)."""
    from prefkit.data.io import check_input_file

    path = Path(path)
    check_input_file(path)  # one line for a missing file, a directory, a loop; a FIFO would block
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        if not path.is_file():
            raise DataError("no such prompts file", source=str(path))
        try:
            table = pq.read_table(path)
        except (pa.ArrowException, OSError) as err:
            raise DataError(f"not a readable Parquet file ({str(err).splitlines()[0][:160]})",
                            source=str(path)) from None
        if "prompt" not in table.column_names:
            raise DataError("no 'prompt' column", source=str(path), field="prompt")
        prompts = table.column("prompt").to_pylist()
        for row, value in enumerate(prompts):
            if not isinstance(value, str) or not value.strip():
                raise DataError("no prompt text", source=str(path), row=row, field="prompt")
        ids = (table.column("id").to_pylist() if "id" in table.column_names
               else [None] * len(prompts))
    else:
        from prefkit.align.online.prompts import read_prompts

        prompts = read_prompts(path)
        ids = _jsonl_ids(path, len(prompts))
    if not prompts:
        raise DataError("no prompts", source=str(path))
    return pa.table({"prompt": pa.array(prompts, pa.string()),
                     "id": pa.array([None if i is None else str(i) for i in ids], pa.string())})


def _jsonl_ids(path: Path, n: int) -> list[Any]:
    """The ``id`` of each JSON-lines prompt record (None for text files or records without)."""
    if path.suffix.lower() not in (".jsonl", ".json", ".ndjson"):
        return [None] * n
    ids = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                value = json.loads(line)
                ids.append(value.get("id") if isinstance(value, dict) else None)
    return ids


def sample_responses(model: Any, tokenizer: Any, prompt: str, *, n: int, max_new_tokens: int,
                     temperature: float, seed: int) -> list[str]:
    """``n`` responses of ``model`` to ``prompt``: sampled with ``seed`` (temperature > 0) or
    greedy (temperature 0, the same response ``n`` times)."""
    import torch

    from prefkit.align.pairs import encode_prompt

    device = next(model.parameters()).device
    ids = torch.tensor([encode_prompt(tokenizer, prompt)], device=device)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    sampled = temperature > 0
    generator_kwargs: dict[str, Any] = {"do_sample": sampled, "num_return_sequences": n}
    if sampled:
        generator_kwargs["temperature"] = temperature
        torch.manual_seed(seed)
    else:
        generator_kwargs.update(num_return_sequences=1, num_beams=1)
    with torch.no_grad():
        out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids),
                             max_new_tokens=max_new_tokens, pad_token_id=pad,
                             eos_token_id=tokenizer.eos_token_id, **generator_kwargs)
    texts = [t.strip() for t in tokenizer.batch_decode(out[:, ids.shape[1]:],
                                                        skip_special_tokens=True)]
    return texts if sampled else texts * n


class GenerateTask:
    """The per-worker state of a generation job: the model and tokenizer, loaded once, on
    ``device`` (``auto``: the worker's GPU when torch sees one, :func:`worker_device`)."""

    def __init__(self, model_dir: str, n: int, max_new_tokens: int, temperature: float,
                 seed: int, device: str = "cpu") -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError:
            raise DataError("generation needs torch and transformers: pip install "
                            "'prefkit[align]'") from None
        place = worker_device(device)  # outside the try: its DataError names the device
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
            self.model = AutoModelForCausalLM.from_pretrained(model_dir).to(place).eval()
        except (OSError, ValueError) as err:
            raise DataError(f"not a causal LM directory ({str(err)[:160]})", source=model_dir
                            ) from None
        self.name = Path(model_dir).name
        self.n, self.max_new_tokens = n, max_new_tokens
        self.temperature, self.seed = temperature, seed

    def __call__(self, table: pa.Table, first_record: int) -> list[str]:
        prompts = table.column("prompt").to_pylist()
        ids = table.column("id").to_pylist()
        lines = []
        for k, (prompt, pid) in enumerate(zip(prompts, ids, strict=True)):
            record = first_record + k
            responses = sample_responses(
                self.model, self.tokenizer, prompt, n=self.n,
                max_new_tokens=self.max_new_tokens, temperature=self.temperature,
                seed=record_seed(self.seed, record))
            rec: dict[str, Any] = {"record": record}
            if pid is not None:
                rec["id"] = pid
            rec.update(prompt=prompt, responses=responses, model=self.name)
            lines.append(json.dumps(rec, ensure_ascii=False))
        return lines


def run_generate_job(
    prompts: pa.Table,
    model_dir: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    engine: str = "local",
    n: int = 1,
    max_new_tokens: int = 64,
    temperature: float = 1.0,
    seed: int = 0,
    device: str | None = None,
    shard_rows: int = DEFAULT_GENERATE_SHARD_ROWS,
    workers: int | None = None,
    on_shard: Callable[[int, int], None] | None = None,
    gpus_per_worker: float = 0.0,
) -> dict[str, int]:
    """Generate ``n`` responses per prompt of ``prompts`` (:func:`read_prompt_table`) with the
    causal LM in ``model_dir`` into ``out`` (JSON lines, input order); same engines, shards and
    resumption as :func:`prefkit.jobs.score.run_score_job`.  ``device``: ``cpu``, ``cuda`` or
    ``auto``; by default ``cpu``, or ``auto`` (each Ray actor's GPU) with ``gpus_per_worker`` > 0.
    ``cuda`` on Ray needs a GPU share: Ray reserves a GPU for an actor only when it asks.

    Returns ``{"records", "shards", "resumed", "responses"}``.
    """
    from prefkit.encode.fingerprint import directory_fingerprint

    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r} (expected one of {', '.join(ENGINES)})")
    gpus = check_gpu_share(engine, gpus_per_worker)
    device = device or ("auto" if gpus > 0 else "cpu")
    if engine == "ray" and device.startswith("cuda") and gpus == 0:
        raise DataError(f"{device} on Ray needs --gpus-per-worker > 0 (Ray reserves a GPU "
                        "for an actor only when it asks for one)", field="--device")
    if n < 1 or max_new_tokens < 1 or temperature < 0:
        raise DataError("need n ≥ 1, max_new_tokens ≥ 1 and temperature ≥ 0",
                        field="--n/--max-new-tokens/--temperature")
    from prefkit.core.devices import check_device

    check_device(device)  # a misspelt device: one line here, not a dead actor later
    model_path = Path(model_dir)
    if not (model_path / "config.json").is_file():
        raise DataError("not a model directory (no config.json)", source=str(model_path))
    settings: Sequence[Any] = (n, max_new_tokens, float(temperature), seed)
    key = f"generate:{directory_fingerprint(model_path)}:{json.dumps(list(settings))}"
    shards = plan_shards(prompts, key, shard_rows)
    parts = PartsDirectory(out, ".jsonl")
    done = parts.done(shards)
    todo = shards_to_run(shards, done, on_shard)
    if todo:
        task_args = (os.fspath(model_path), n, max_new_tokens, float(temperature), seed, device)
        run_shards(GenerateTask, task_args, prompts, todo, parts, engine=engine,
                   workers=workers, on_shard=on_shard, gpus_per_worker=gpus)
    parts.join(shards)
    return {"records": prompts.num_rows, "shards": len(shards), "resumed": len(done),
            "responses": prompts.num_rows * n}
