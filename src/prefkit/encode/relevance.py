r"""Candidate representations for reward heads: packed text, or prompt–response relevance features.

A frozen sentence encoder E gives one vector per text.  A reward head sees one vector φ(p, x) per
candidate response x to prompt p, and a linear head's preference logit is w·(φ(p, a) − φ(p, b)).

``packed``  φ = E(pack(p, x))         (prompt tail + response, :mod:`prefkit.encode.packing`)

    The prompt enters the text, but for an additive (bag-of-words) encoder it cancels exactly in
    E(pack(p, a)) − E(pack(p, b)); a transformer's pooled vector mixes prompt and response, yet a
    linear head on the difference has no term that compares the two.

``relevance``  φ = [E(x), E(p) ⊙ E(x)]       (2·dim; the prompt block is 0 when there is no prompt)

    The element-wise product is the "heuristic matching" feature of sentence-pair classifiers
    (Mou et al. 2016, "Natural language inference by tree-based convolution and heuristic
    matching", ACL; Conneau et al. 2017, "Supervised learning of universal sentence
    representations from natural language inference data" (InferSent), EMNLP).  Under a linear
    head its weights v give a diagonal bilinear relevance score::

        r(p, x) = u·E(x) + E(p)ᵀ diag(v) E(x)

    which with v = 1 is the cosine similarity of the (unit-normalised) prompt and response
    embeddings.  So the head can prefer the response that answers the prompt over one that answers
    a neighbouring instruction (LLMBar's adversarial pairs): for the same prompt the feature
    difference E(p) ⊙ (E(a) − E(b)) depends on the prompt, w·(E(a) − E(b)) does not.

``packed+relevance``  φ = [E(pack(p, x)), E(x), E(p) ⊙ E(x)]   (3·dim)

``packed+cosine`` (the default of :class:`~prefkit.reward.RewardModel`)::

    φ = [E(pack(p, x)), cos(E(p), E(x))]        (dim + 1; the cosine is 0 without a prompt)

    One scalar next to the packed embedding: the encoder's *own* prompt–response similarity, the
    score its contrastive pre-training optimised on (question, answer) pairs (Reimers & Gurevych
    2019, "Sentence-BERT"; all-MiniLM-L6-v2 was trained on about a billion such pairs).  Under a
    linear head r = w·E(pack(p, x)) + β·cos(E(p), E(x)).  The ``relevance`` block holds the same
    cosine as the direction v = 1 of E(p) ⊙ E(x), but spread over ``dim`` features of size
    ~1/dim, so weight decay costs dim·β² for it and the fitted head hardly uses it; as one feature
    it costs β².  This is the transfer-learning idea of keeping the pre-trained solution as the
    prior (Li et al. 2018, "Explicit inductive bias for transfer learning", L2-SP), here for a
    single pre-trained score.  Chosen on the *training* data by leave-one-source-out transfer
    (docs/reward.md, "Real data").

Prompts and responses are encoded separately and cached as plain texts, so switching between
representations re-uses the cache.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from prefkit.encode.encoders import encode_candidates
from prefkit.errors import DataError

#: the candidate representations (``RewardModel(inputs=...)``)
INPUTS = ("packed", "packed+cosine", "relevance", "packed+relevance")
#: the default of ``RewardModel`` and ``prefkit rm train`` (docs/reward.md, "Real data")
DEFAULT_INPUTS = "packed+cosine"


def relevance_features(prompts: np.ndarray | None, responses: np.ndarray) -> np.ndarray:
    """[e_x, e_p ⊙ e_x] per row (float32, ``(n, 2·dim)``); ``prompts=None``: the product is 0."""
    x = np.asarray(responses, dtype=np.float32)
    if prompts is None:
        return np.hstack([x, np.zeros_like(x)])
    p = np.asarray(prompts, dtype=np.float32)
    if p.shape != x.shape:
        raise DataError(f"prompt embeddings {p.shape} do not match responses {x.shape}")
    return np.hstack([x, p * x])


def prompt_cosine(prompts: np.ndarray | None, responses: np.ndarray) -> np.ndarray:
    """cos(E(p), E(x)) per row as an ``(n, 1)`` float32 column; 0 where a vector is all zeros
    (no prompt) and everywhere when ``prompts`` is None."""
    x = np.asarray(responses, dtype=np.float32)
    if prompts is None:
        return np.zeros((len(x), 1), dtype=np.float32)
    p = np.asarray(prompts, dtype=np.float32)
    if p.shape != x.shape:
        raise DataError(f"prompt embeddings {p.shape} do not match responses {x.shape}")
    norms = np.linalg.norm(p, axis=1) * np.linalg.norm(x, axis=1)
    dots = np.einsum("nd,nd->n", p, x)
    cos = np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)
    return cos.astype(np.float32)[:, None]


def candidate_features(
    encoder: Any, prompts: Sequence[str | None], responses: Sequence[str], inputs: str = "packed"
) -> np.ndarray:
    """φ(p, x) per (prompt, response) under the representation ``inputs`` (module docstring)."""
    if inputs not in INPUTS:
        raise DataError(
            f"unknown inputs {inputs!r} (expected one of {', '.join(INPUTS)})", field="inputs"
        )
    parts = [encode_candidates(encoder, prompts, responses)] if inputs.startswith("packed") else []
    have = np.array([p is not None and str(p) != "" for p in prompts], dtype=bool)
    if inputs == "packed+cosine" and not have.any():  # no prompts: the cosine column is 0
        parts.append(np.zeros((len(parts[0]), 1), dtype=np.float32))
    elif inputs != "packed":
        x = np.asarray(encoder.encode([str(r) for r in responses]), dtype=np.float32)
        e_p = np.zeros_like(x)
        if have.any():
            rows = np.flatnonzero(have)
            # each distinct prompt once (a prompt is usually shared by both candidates)
            unique, inverse = np.unique([str(prompts[int(k)]) for k in rows], return_inverse=True)
            e_p[rows] = np.asarray(encoder.encode(list(unique)), dtype=np.float32)[inverse]
        if inputs == "packed+cosine":
            parts.append(prompt_cosine(e_p, x))
        else:
            parts.append(relevance_features(e_p, x))
    return parts[0] if len(parts) == 1 else np.hstack(parts)
