"""``prefkit rm score``: P(a ≻ b) (and P(tie), r_a, r_b where the model has them) per record.

:func:`score_lines` is the per-shard function both engines run; :func:`run_score_job` is the
whole job — read, shard, run on an engine, join the parts in input order.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from prefkit.jobs.engines import ENGINES, check_gpu_share, run_shards, shards_to_run, worker_device
from prefkit.jobs.parts import DEFAULT_SHARD_ROWS, PartsDirectory, plan_shards


def score_lines(model: Any, dataset: Any, first_record: int = 0) -> list[str]:
    """One JSON line per record of ``dataset``: ``record`` (its index in the whole input),
    ``p_a``, ``p_tie`` (models with ties) and ``r_a``/``r_b`` (scalar-reward models)."""
    n = len(dataset)
    if hasattr(model, "predict_outcome_proba"):
        full = np.asarray(model.predict_outcome_proba(dataset), dtype=float)
    else:
        full = np.column_stack([model.predict_proba(dataset), np.zeros(n), np.zeros(n)])
    head = getattr(model, "head", None)
    scalar = getattr(head, "scalar", True) and hasattr(model, "reward")
    rewards = np.asarray(model.reward(dataset), dtype=float) if scalar else None
    ties = bool(getattr(head, "ties", False))
    lines = []
    for k in range(n):
        rec: dict[str, Any] = {"record": first_record + k, "p_a": float(full[k, 0])}
        if ties:
            rec["p_tie"] = float(full[k, 2])
        if rewards is not None:
            rec.update(r_a=float(rewards[k, 0]), r_b=float(rewards[k, 1]))
        lines.append(json.dumps(rec))
    return lines


class ScoreTask:
    """The per-worker state of a scoring job: the model, loaded once (per Ray actor); with
    ``device`` ``auto`` its torch parts (encoder, fine-tuned transformer) go to the worker's GPU
    when it has one (:func:`~prefkit.jobs.engines.worker_device`)."""

    def __init__(self, model_dir: str, encoder_dir: str | None = None,
                 encoder_backend: str = "torch", device: str = "cpu") -> None:
        from prefkit.core.persist import load

        kwargs: dict[str, Any] = {}
        if encoder_backend != "torch":  # e.g. onnx: the same weights on another runtime
            from prefkit.encode.onnx_encoder import cached_encoder

            own = Path(model_dir) / "encoder"
            kwargs["encoder"] = cached_encoder(
                encoder_dir or (own if own.is_dir() else None), encoder_backend)
        elif encoder_dir is not None:
            from prefkit.encode import CachedEncoder, SentenceEncoder

            kwargs["encoder"] = CachedEncoder(SentenceEncoder(encoder_dir))
        self.model = load(model_dir, **kwargs)
        if device != "cpu":
            _model_to_device(self.model, device)

    def __call__(self, table: pa.Table, first_record: int) -> list[str]:
        from prefkit.data import PreferenceDataset

        return score_lines(self.model, PreferenceDataset(table, "pairwise"), first_record)


def _model_to_device(model: Any, requested: str) -> None:
    """Move ``model``'s torch parts to the ``requested`` device (:func:`worker_device`): its
    sentence encoder (the default one when it has none yet) and a fine-tuned transformer
    (``model_``); small heads stay on the CPU, and a model without torch parts (Bradley–Terry)
    does not even import torch."""
    from prefkit.jobs.encode import use_device

    module = getattr(model, "model_", None)
    reward = hasattr(model, "encoder") and hasattr(model, "_encoder")  # the reward models
    if (module is None and not reward) or (device := worker_device(requested)) == "cpu":
        return
    if reward:
        if model.encoder is None:  # what their lazy ``_encoder()`` would build
            from prefkit.encode import default_encoder

            model.encoder = default_encoder()
        use_device(model.encoder, device)
    if module is not None and hasattr(module, "to"):
        module.to(device)


def job_key(model_dir: str | os.PathLike[str], encoder_dir: str | None,
            encoder_backend: str = "torch") -> str:
    """What a finished shard depends on besides its records: the model's and encoder's content."""
    from prefkit.encode.fingerprint import directory_fingerprint

    parts = ["score", directory_fingerprint(model_dir)]
    if encoder_dir is not None:
        parts.append(directory_fingerprint(encoder_dir))
    if encoder_backend != "torch":
        parts.append(encoder_backend)
    return ":".join(parts)


def run_score_job(
    model_dir: str | os.PathLike[str],
    dataset: Any,
    out: str | os.PathLike[str],
    *,
    engine: str = "local",
    encoder_dir: str | os.PathLike[str] | None = None,
    shard_rows: int = DEFAULT_SHARD_ROWS,
    workers: int | None = None,
    model: Any = None,
    on_shard: Callable[[int, int], None] | None = None,
    encoder_backend: str = "torch",
    gpus_per_worker: float = 0.0,
) -> dict[str, int]:
    """Score every record of ``dataset`` with the model in ``model_dir`` into ``out`` (JSON lines).

    Args:
        model_dir: a saved model directory (``prefkit.load``).
        dataset: the pairwise :class:`~prefkit.data.PreferenceDataset` to score.
        out: the JSON-lines output; written atomically once every shard is done.
        engine: ``"local"`` or ``"ray"`` (see :mod:`prefkit.jobs`).
        encoder_dir: an encoder directory passed explicitly by the user.
        shard_rows: records per shard (the unit of work and of resumption).
        workers: Ray actors (default: one per CPU of the cluster); ignored by ``local``.
        model: an already loaded model for the local engine (saves loading it twice).
        on_shard: called with (shard records, shards still to do) as each shard finishes.
        gpus_per_worker: each Ray actor's GPU share (``num_gpus``; 0.5: two actors per GPU);
            the model's torch parts then run on the actor's GPU.

    Returns ``{"records": …, "shards": …, "resumed": shards skipped because already done}``.
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r} (expected one of {', '.join(ENGINES)})")
    gpus = check_gpu_share(engine, gpus_per_worker)
    encoder = None if encoder_dir is None else os.fspath(encoder_dir)
    table = dataset.table
    shards = plan_shards(table, job_key(model_dir, encoder, encoder_backend), shard_rows)
    parts = PartsDirectory(out, ".jsonl")
    done = parts.done(shards)
    todo = shards_to_run(shards, done, on_shard)
    if todo:
        task_args = (os.fspath(Path(model_dir)), encoder, encoder_backend,
                     "auto" if gpus > 0 else "cpu")
        preloaded = None
        if engine == "local" and model is not None:
            preloaded = ScoreTask.__new__(ScoreTask)
            preloaded.model = model
        run_shards(ScoreTask, task_args, table, todo, parts, engine=engine, workers=workers,
                   preloaded=preloaded, on_shard=on_shard, gpus_per_worker=gpus)
    parts.join(shards)
    return {"records": table.num_rows, "shards": len(shards), "resumed": len(done)}
