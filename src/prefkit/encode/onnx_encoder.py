"""The bundled sentence encoder on ONNX Runtime with int8 weights: a faster CPU encoder.

``OnnxEncoder`` computes what :class:`~prefkit.encode.encoders.SentenceEncoder` computes for a
BERT-style sentence-transformers model — the same tokenizer and truncation (the model's
``max_seq_length``, 256 for MiniLM), mean pooling over the attention mask, L2 normalisation
(Reimers & Gurevych 2019) — on a graph exported, fused, smoothed and int8-quantized once per
machine by :mod:`prefkit.encode.onnx_export`.  Its vectors agree with the torch encoder's to a
cosine ≥ 0.99 per text (tests/encode/test_onnx_encoder.py); they are *not* identical, so its
cache id differs (``onnx:…``) and the two never share cached vectors.

Texts are sorted by length (longest first) and batched, so padding is small, as
sentence-transformers does.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from prefkit.core.progress import progress_bar
from prefkit.encode.encoders import EncoderError, bundled_model_path, check_model_configs
from prefkit.encode.fingerprint import directory_fingerprint
from prefkit.encode.onnx_export import ONNX_EXTRA, OnnxSettings, ensure_export

BACKENDS = ("torch", "onnx")


def _max_tokens(model_path: Path) -> int:
    path = model_path / "sentence_bert_config.json"
    if path.is_file():
        value = json.loads(path.read_text(encoding="utf-8")).get("max_seq_length")
        if isinstance(value, int) and value > 0:
            return value
    return 256


def _check_pooling(model_path: Path) -> bool:
    """Mean pooling is what this encoder implements; returns whether a Normalize module is in
    the pipeline (modules.json)."""
    pooling = model_path / "1_Pooling" / "config.json"
    if pooling.is_file():
        doc = json.loads(pooling.read_text(encoding="utf-8"))
        if not doc.get("pooling_mode_mean_tokens", True) or any(
            doc.get(k) for k in ("pooling_mode_cls_token", "pooling_mode_max_tokens",
                                 "pooling_mode_mean_sqrt_len_tokens")):
            raise EncoderError(f"{pooling}: the ONNX encoder supports mean pooling only; use "
                               "--encoder-backend torch")
    modules = model_path / "modules.json"
    if modules.is_file():
        return any("Normalize" in str(m.get("type", "")) for m in json.loads(modules.read_text()))
    return True


class OnnxEncoder:
    """A sentence encoder on ONNX Runtime (module docstring).

    Args:
        model: a sentence-transformers model directory (BERT family, mean pooling); ``None`` for
            the bundled all-MiniLM-L6-v2.
        settings: export and quantization settings (:class:`OnnxSettings`; default int8).
        batch_size: texts per forward pass.
        threads: ONNX Runtime intra-op threads (default: ``torch``'s default, the CPU count).
        cache_dir: cache root for the exported graph (default ``PREFKIT_CACHE``).
        progress: progress on stderr (``None``: a bar on a terminal).
    """

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        *,
        settings: OnnxSettings | None = None,
        batch_size: int = 32,
        normalize: bool = True,
        threads: int | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        progress: bool | None = None,
    ) -> None:
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            raise EncoderError(f"--encoder-backend onnx needs onnxruntime: {ONNX_EXTRA}") from None
        self.bundled = model is None
        self.model_path = Path(model) if model is not None else bundled_model_path()
        if not self.model_path.exists():
            raise EncoderError(f"{self.model_path}: no such encoder model directory")
        check_model_configs(self.model_path)
        self.settings = settings or OnnxSettings()
        self.batch_size = batch_size
        self.normalize = normalize and _check_pooling(self.model_path)
        self.threads = threads
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.progress = progress
        self.max_tokens = _max_tokens(self.model_path)
        name = "all-MiniLM-L6-v2" if model is None else self.model_path.name
        self.id = (f"onnx:{name}:{directory_fingerprint(self.model_path)}"
                   f":{self.settings.label()}:{self.settings.key('')[:8]}"
                   f":norm={int(self.normalize)}")
        self._session: Any = None
        self._float_session: Any = None
        self._tokenizer: Any = None

    @property
    def onnx_path(self) -> Path:
        """The exported graph (built on first use)."""
        return ensure_export(self.model_path, self.settings, self.cache_dir,
                             max_tokens=self.max_tokens)

    @property
    def session(self) -> Any:
        """The int8 graph's session."""
        if self._session is None:
            self._session = self._open(self.onnx_path)
        return self._session

    @property
    def float_session(self) -> Any:
        """The float32 graph's session (very short batches, :class:`OnnxSettings`)."""
        if self._float_session is None:
            from prefkit.encode.onnx_export import FLOAT_FILE

            self._float_session = self._open(self.onnx_path.parent / FLOAT_FILE)
        return self._float_session

    def _open(self, path: Path) -> Any:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = int(self.threads or _default_threads())
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # idle threads sleep instead of spinning: 1.44× → 1.65× on a shared 2-core machine
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as err:  # a corrupt cache entry: one line, not a traceback
            raise EncoderError(f"{path}: cannot load ({str(err)[:200]}); remove the directory "
                               "to rebuild it") from None

    @property
    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            from transformers import AutoTokenizer
            from transformers.utils import logging as hf_logging

            hf_logging.set_verbosity_error()
            self._tokenizer = AutoTokenizer.from_pretrained(str(self.model_path))
            self._tokenizer.model_max_length = self.max_tokens
        return self._tokenizer

    @property
    def dim(self) -> int:
        config = json.loads((self.model_path / "config.json").read_text(encoding="utf-8"))
        return int(config["hidden_size"])

    def _batch(self, texts: list[str]) -> np.ndarray:
        enc = self.tokenizer([t.strip() for t in texts], padding=True, truncation="longest_first",
                             max_length=self.max_tokens, return_tensors="np")
        width = enc["input_ids"].shape[1]
        short = self.settings.quantize and width <= self.settings.float_max_tokens
        session = self.float_session if short else self.session
        feed = {}
        for spec in session.get_inputs():
            value = enc[spec.name] if spec.name in enc else np.zeros_like(enc["input_ids"])
            feed[spec.name] = np.asarray(value, dtype=np.int64)
        hidden = session.run(None, feed)[0]
        mask = np.asarray(enc["attention_mask"], dtype=np.float32)[..., None]
        pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
        if self.normalize:
            pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return pooled.astype(np.float32, copy=False)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of ``texts`` (float32, ``(n, dim)``), batched longest first."""
        n = len(texts)
        out = np.empty((n, self.dim), dtype=np.float32)
        if n == 0:
            return out
        order = np.argsort([-len(t) for t in texts], kind="stable")
        with progress_bar(self.progress, n, "encoding (onnx)", unit="texts") as advance:
            for start in range(0, n, self.batch_size):
                rows = order[start : start + self.batch_size]
                out[rows] = self._batch([texts[int(i)] for i in rows])
                advance(len(rows))
        return out


def _default_threads() -> int:
    try:
        import torch

        return int(torch.get_num_threads())
    except ImportError:  # pragma: no cover - torch is there whenever transformers is
        return os.cpu_count() or 1


def make_encoder(
    model: str | os.PathLike[str] | None = None, backend: str = "torch", **kwargs: Any
) -> Any:
    """A sentence encoder on ``backend`` (``torch``: sentence-transformers; ``onnx``: int8 ONNX
    Runtime), without the cache wrapper."""
    if backend == "onnx":
        return OnnxEncoder(model, **kwargs)
    if backend == "torch":
        from prefkit.encode.encoders import SentenceEncoder

        return SentenceEncoder(model, **kwargs)
    raise EncoderError(f"unknown encoder backend {backend!r} (expected torch or onnx)")


def cached_encoder(model: str | os.PathLike[str] | None = None, backend: str = "torch") -> Any:
    """:func:`make_encoder` behind the on-disk embedding cache (keyed by the encoder's id)."""
    from prefkit.encode.encoders import CachedEncoder, default_encoder

    if backend == "torch" and model is None:
        return default_encoder()
    return CachedEncoder(make_encoder(model, backend))
