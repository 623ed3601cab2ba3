"""Layer 3 — text → vectors: the bundled sentence encoder, any local model, an on-disk cache,
prompt+response packing, and the candidate representations of reward heads (``relevance``).
"""

from prefkit.encode.cache import EmbeddingCache, default_cache_root
from prefkit.encode.encoders import (
    CachedEncoder,
    Encoder,
    EncoderError,
    SentenceEncoder,
    bundled_model_path,
    default_encoder,
    encode_candidates,
    pair_keys,
)
from prefkit.encode.packing import pack, pack_batch
from prefkit.encode.relevance import (
    INPUTS,
    candidate_features,
    prompt_cosine,
    relevance_features,
)

__all__ = [
    "INPUTS",
    "CachedEncoder",
    "EmbeddingCache",
    "Encoder",
    "EncoderError",
    "SentenceEncoder",
    "bundled_model_path",
    "candidate_features",
    "default_cache_root",
    "default_encoder",
    "encode_candidates",
    "pack",
    "pack_batch",
    "pair_keys",
    "prompt_cosine",
    "relevance_features",
]
