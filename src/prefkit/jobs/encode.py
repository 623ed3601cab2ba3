"""``prefkit encode``: embeddings of every response of a pairwise file, as a reward model sees
them — the response packed with its prompt into the encoder's window
(:func:`prefkit.encode.encode_candidates`).

The output is one ``.npy`` array of shape (records, 2, dim): row ``k`` holds the embeddings of
record ``k``'s ``a`` and ``b`` responses.  Every vector also lands in the shared embedding cache
(``PREFKIT_CACHE``), so a later ``prefkit rm train`` / ``rm score`` on the same texts encodes
nothing — encoding a large file on a Ray cluster is how to warm that cache.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa

from prefkit.errors import DataError
from prefkit.jobs.engines import ENGINES, check_gpu_share, run_shards, shards_to_run, worker_device
from prefkit.jobs.parts import DEFAULT_SHARD_ROWS, PartsDirectory, plan_shards


def _texts(table: pa.Table, side: str) -> list[str]:
    column = f"{side}_text"
    if column not in table.column_names:
        raise DataError(f"encoding needs response texts: no '{column}' column", field=column)
    texts = table.column(column).to_pylist()
    if any(t is None for t in texts):
        row = next(k for k, t in enumerate(texts) if t is None)
        raise DataError("missing response text", row=row, field=column)
    return texts


def encode_table(encoder: Any, table: pa.Table) -> np.ndarray:
    """(records, 2, dim) float32 embeddings of the a and b responses in their prompts' context."""
    from prefkit.encode import encode_candidates

    prompts = (table.column("prompt").to_pylist() if "prompt" in table.column_names
               else [None] * table.num_rows)
    a, b = _texts(table, "a"), _texts(table, "b")
    vectors = encode_candidates(encoder, prompts + prompts, a + b)
    n = table.num_rows
    return np.stack([vectors[:n], vectors[n:]], axis=1).astype(np.float32, copy=False)


def use_device(encoder: Any, device: str) -> None:
    """Run the torch encoder behind ``encoder`` (cached or not) on ``device``: it loads its
    model there, or moves it if loaded; other backends (ONNX Runtime) stay on the CPU."""
    from prefkit.encode.encoders import SentenceEncoder

    inner = getattr(encoder, "encoder", encoder)
    if isinstance(inner, SentenceEncoder) and inner.device != device:
        inner.device = device
        if inner._model is not None:
            inner._model.to(device)


class EncodeTask:
    """The per-worker state of an encoding job: the encoder, loaded once (per Ray actor), on
    ``device`` (``auto``: the worker's GPU when it has one, :func:`worker_device`)."""

    def __init__(self, encoder_dir: str | None = None, encoder_backend: str = "torch",
                 device: str = "cpu") -> None:
        from prefkit.encode.onnx_encoder import cached_encoder

        self.encoder = cached_encoder(encoder_dir, encoder_backend)
        if device != "cpu" and encoder_backend == "torch":
            use_device(self.encoder, worker_device(device))

    def __call__(self, table: pa.Table, first_record: int) -> np.ndarray:
        del first_record  # rows come back in shard order
        return encode_table(self.encoder, table)


def run_encode_job(
    dataset: Any,
    out: str | os.PathLike[str],
    *,
    engine: str = "local",
    encoder_dir: str | os.PathLike[str] | None = None,
    shard_rows: int = 1024,
    workers: int | None = None,
    on_shard: Callable[[int, int], None] | None = None,
    encoder_backend: str = "torch",
    gpus_per_worker: float = 0.0,
) -> dict[str, int]:
    """Embed both responses of every record of ``dataset`` into ``out`` (a ``.npy`` file).

    Same arguments and resumption as :func:`prefkit.jobs.score.run_score_job`; with
    ``gpus_per_worker`` > 0 (Ray) the torch encoder runs on each actor's GPU.
    """
    from prefkit.encode.encoders import bundled_model_path
    from prefkit.encode.fingerprint import directory_fingerprint

    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r} (expected one of {', '.join(ENGINES)})")
    gpus = check_gpu_share(engine, gpus_per_worker)
    if dataset.kind != "pairwise":
        raise DataError(f"encoding needs pairwise records, not {dataset.kind}")
    table = dataset.table
    for side in ("a", "b"):
        _texts(table.slice(0, 0), side)  # the columns exist: fail before any work
    encoder = None if encoder_dir is None else os.fspath(encoder_dir)
    key = f"encode:{directory_fingerprint(encoder or bundled_model_path())}"
    if encoder_backend != "torch":
        key += f":{encoder_backend}"
    shards = plan_shards(table, key, shard_rows or DEFAULT_SHARD_ROWS)
    parts = PartsDirectory(out, ".npy")
    done = parts.done(shards)
    todo = shards_to_run(shards, done, on_shard)
    if todo:
        device = "auto" if gpus > 0 else "cpu"
        run_shards(EncodeTask, (encoder, encoder_backend, device), table, todo, parts,
                   engine=engine, workers=workers, on_shard=on_shard, gpus_per_worker=gpus)
    parts.join(shards)
    return {"records": table.num_rows, "shards": len(shards), "resumed": len(done)}
