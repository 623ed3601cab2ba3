"""The bundled sentence encoder on ONNX Runtime with int8 weights: a faster CPU encoder.

``OnnxEncoder`` computes what :class:`~prefkit.encode.encoders.SentenceEncoder` computes for a
BERT-style sentence-transformers model — the same tokenizer and truncation (the model's
``max_seq_length``, 256 for MiniLM), mean pooling over the attention mask, L2 normalisation
(Reimers & Gurevych 2019) — on a graph exported, fused, smoothed and int8-quantized once per
machine by :mod:`prefkit.encode.onnx_export`.  Its vectors agree with the torch encoder's to a
cosine ≥ 0.99 per text (tests/encode/test_onnx_encoder.py); they are *not* identical, so its
cache id differs (``onnx:…``) and the two never share cached vectors.

**No padding, many runs at once.**  Texts are tokenized without padding and each forward pass
holds texts of one token length only (by default one text), so the attention mask is all ones,
nothing is computed on padding, and a text's vector does not depend on the other texts of the
call (the same text always gives the same vector, whatever its neighbours, shard or engine).
The session runs single-threaded and ``threads`` passes run at once on a thread pool (ONNX
Runtime releases the GIL).  Measured against sentence-transformers on the same 2 cores and the
same texts (docs/benchmarks.md), this is what lifts int8 from 1.6× (batches of 32 padded texts
on two intra-op threads: small per-head attention products, per-op thread hand-offs and
activations that leave the L2 cache) to about 3×: each pass's activations stay in one core's
cache and no thread ever waits for another.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from prefkit.core.progress import progress_bar
from prefkit.encode.encoders import EncoderError, bundled_model_path, check_model_configs
from prefkit.encode.fingerprint import directory_fingerprint
from prefkit.encode.onnx_export import ONNX_EXTRA, OnnxSettings, ensure_export

BACKENDS = ("torch", "onnx")
#: held while a session is opened lazily (module-level: encoders stay picklable)
_OPENING = threading.Lock()


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


#: ``model_type`` values whose graphs ONNX Runtime's BERT optimiser fuses (onnx_export)
BERT_FAMILY = ("bert",)


def _check_bert_family(model_path: Path) -> None:
    """One line unless ``model_path`` holds a BERT-family model (``config.json``'s
    ``model_type``): the export fuses BERT attention and nothing else."""
    config = model_path / "config.json"
    if not config.is_file():
        raise EncoderError(f"{model_path}: not an encoder model directory (no config.json)")
    model_type = json.loads(config.read_text(encoding="utf-8")).get("model_type")
    if model_type not in BERT_FAMILY:
        raise EncoderError(f"{config}: model_type {model_type!r} is not BERT-family; the ONNX "
                           "encoder exports BERT models only: use --encoder-backend torch")


class OnnxEncoder:
    """A sentence encoder on ONNX Runtime (module docstring).

    Args:
        model: a sentence-transformers model directory (BERT family, mean pooling); ``None`` for
            the bundled all-MiniLM-L6-v2.
        settings: export and quantization settings (:class:`OnnxSettings`; default int8).
        batch_size: at most this many texts per forward pass, all of one token length (no
            padding); the default 1 makes every vector independent of the other texts.
        threads: forward passes run at once, each on one thread (default: ``torch``'s thread
            count, which follows the CPU count and a Ray actor's CPU share).
        cache_dir: cache root for the exported graph (default ``PREFKIT_CACHE``).
        progress: progress on stderr (``None``: a bar on a terminal).
    """

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        *,
        settings: OnnxSettings | None = None,
        batch_size: int = 1,
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
        _check_bert_family(self.model_path)
        self.settings = settings or OnnxSettings()
        if batch_size < 1:
            raise EncoderError(f"batch_size must be at least 1 (got {batch_size})")
        self.batch_size = batch_size
        self.normalize = normalize and _check_pooling(self.model_path)
        self.threads = threads
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.progress = progress
        self.max_tokens = _max_tokens(self.model_path)
        name = "all-MiniLM-L6-v2" if model is None else self.model_path.name
        self.id = (f"onnx:{name}:{directory_fingerprint(self.model_path)}"
                   f":{self.settings.label()}:{self.settings.key('')[:8]}"
                   f":norm={int(self.normalize)}:nopad{batch_size}")
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
        with _OPENING:  # worker threads open the float graph on first need
            if self._float_session is None:
                from prefkit.encode.onnx_export import FLOAT_FILE

                self._float_session = self._open(self.onnx_path.parent / FLOAT_FILE)
        return self._float_session

    def _open(self, path: Path) -> Any:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # one thread per pass; passes run side by side (module docstring)
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
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
            try:
                self._tokenizer = AutoTokenizer.from_pretrained(str(self.model_path))
            except (OSError, ValueError, RecursionError) as err:
                raise EncoderError(f"{self.model_path}: cannot load the encoder's tokenizer "
                                   f"({str(err)[:200]})") from None
            self._tokenizer.model_max_length = self.max_tokens
        return self._tokenizer

    @property
    def dim(self) -> int:
        config = json.loads((self.model_path / "config.json").read_text(encoding="utf-8"))
        return int(config["hidden_size"])

    def _run(self, ids: list[list[int]]) -> np.ndarray:
        """Pooled vectors of token sequences that all have the same length (no padding)."""
        input_ids = np.asarray(ids, dtype=np.int64)
        short = self.settings.quantize and input_ids.shape[1] <= self.settings.float_max_tokens
        session = self.float_session if short else self.session
        feed = {}
        for spec in session.get_inputs():
            # attention_mask: all ones (no padding); token_type_ids and the like: zeros
            fill = 1 if spec.name == "attention_mask" else 0
            feed[spec.name] = (input_ids if spec.name == "input_ids"
                               else np.full_like(input_ids, fill))
        pooled = session.run(None, feed)[0].mean(axis=1)
        if self.normalize:
            pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return pooled.astype(np.float32, copy=False)

    def _groups(self, lengths: list[int]) -> Iterator[np.ndarray]:
        """Positions grouped into passes: longest first, one token length per pass, at most
        ``batch_size`` texts."""
        order = np.argsort([-n for n in lengths], kind="stable")
        start = 0
        while start < len(order):
            stop = start + 1
            width = lengths[int(order[start])]
            while (stop < len(order) and stop - start < self.batch_size
                   and lengths[int(order[stop])] == width):
                stop += 1
            yield order[start:stop]
            start = stop

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of ``texts`` (float32, ``(n, dim)``), in the order given."""
        n = len(texts)
        out = np.empty((n, self.dim), dtype=np.float32)
        if n == 0:
            return out
        self.session  # noqa: B018 - export (once) before the pool starts
        workers = max(1, int(self.threads or _default_threads()))
        with progress_bar(self.progress, n, "encoding (onnx)", unit="texts") as advance, \
                ThreadPoolExecutor(workers) as pool:
            for chunk in range(0, n, _TOKENIZE_CHUNK):
                piece = [t.strip() for t in texts[chunk : chunk + _TOKENIZE_CHUNK]]
                ids = self.tokenizer(piece, truncation="longest_first",
                                     max_length=self.max_tokens)["input_ids"]
                groups = list(self._groups([len(row) for row in ids]))

                def run(rows: np.ndarray, ids: list[list[int]] = ids,
                        chunk: int = chunk) -> int:
                    out[rows + chunk] = self._run([ids[int(i)] for i in rows])
                    return len(rows)

                for done in pool.map(run, groups):
                    advance(done)
        return out


#: texts tokenized at a time (bounds the token lists held in memory)
_TOKENIZE_CHUNK = 4096


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
