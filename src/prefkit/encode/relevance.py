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
INPUTS = ("packed", "relevance", "packed+relevance")


def relevance_features(prompts: np.ndarray | None, responses: np.ndarray) -> np.ndarray:
    """[e_x, e_p ⊙ e_x] per row (float32, ``(n, 2·dim)``); ``prompts=None``: the product is 0."""
    x = np.asarray(responses, dtype=np.float32)
    if prompts is None:
        return np.hstack([x, np.zeros_like(x)])
    p = np.asarray(prompts, dtype=np.float32)
    if p.shape != x.shape:
        raise DataError(f"prompt embeddings {p.shape} do not match responses {x.shape}")
    return np.hstack([x, p * x])


def candidate_features(
    encoder: Any, prompts: Sequence[str | None], responses: Sequence[str], inputs: str = "packed"
) -> np.ndarray:
    """φ(p, x) per (prompt, response) under the representation ``inputs`` (module docstring)."""
    if inputs not in INPUTS:
        raise DataError(
            f"unknown inputs {inputs!r} (expected one of {', '.join(INPUTS)})", field="inputs"
        )
    parts = []
    if inputs in ("packed", "packed+relevance"):
        parts.append(encode_candidates(encoder, prompts, responses))
    if inputs in ("relevance", "packed+relevance"):
        x = np.asarray(encoder.encode([str(r) for r in responses]), dtype=np.float32)
        have = np.array([p is not None and str(p) != "" for p in prompts], dtype=bool)
        e_p = np.zeros_like(x)
        if have.any():
            rows = np.flatnonzero(have)
            e_p[rows] = encoder.encode([str(prompts[int(k)]) for k in rows])
        parts.append(relevance_features(e_p, x))
    return parts[0] if len(parts) == 1 else np.hstack(parts)
