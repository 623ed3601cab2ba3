r"""Ranking metrics of a score vector: NDCG@k with graded relevance, top-k mass and top-k entropy.

**NDCG@k** (Järvelin & Kekäläinen 2002, "Cumulated gain-based evaluation of IR techniques",
ACM TOIS 20(4); exponential gains as in Burges et al. 2005, "Learning to rank using gradient
descent", ICML).  Items are ordered by decreasing score; with relevance grades rel and gain
g(rel) = rel (``gains="linear"``) or 2^rel − 1 (``gains="exponential"``)::

    DCG@k  = Σ_{r=1..k} g(rel_(r)) / log2(r + 1)
    NDCG@k = DCG@k / IDCG@k        (IDCG@k: DCG@k of the items sorted by relevance)

Items with tied scores share the discounts of the positions they occupy (each gets the mean of
those discounts, McSherry & Najork 2008, "Computing information retrieval performance measures
efficiently in the presence of tied scores", ECIR) — the convention of
``sklearn.metrics.ndcg_score``, which the linear-gain form equals.  A query with IDCG = 0 (no
relevant item) scores 0.

**Top-k probability mass and top-k entropy** (the over-optimisation indicators of Shi et al.
2024, "Understanding likelihood over-optimisation in direct alignment algorithms"): for a score
vector s (a policy's next-token logits, or the log-strengths of a Plackett–Luce model, whose
first-choice probabilities are softmax(s)), p = softmax(s) and T_k the k most probable entries::

    mass@k    = Σ_{t ∈ T_k} p_t
    entropy@k = − Σ_{t ∈ T_k} q_t log q_t,   q_t = p_t / mass@k   (nats)

Falling top-k mass and falling top-k entropy during training are the paper's warning signs.
Both work on the last axis, so a (sequence, vocabulary) array of logits gives one value per
position.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import log_softmax

from prefkit.errors import DataError


def _two_d(values: Any, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] == 0:
        raise DataError(f"{name}: expected a 1-D or 2-D array of scores, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise DataError(f"{name}: scores must be finite")
    return arr


def dcg_at_k(relevance: Any, scores: Any, k: int | None = None, *,
             gains: str = "linear") -> np.ndarray:
    """DCG@k per query (tie-averaged over equal scores); 1-D inputs are one query."""
    rel = _two_d(relevance, "relevance")
    sc = _two_d(scores, "scores")
    if rel.shape != sc.shape:
        raise DataError(f"relevance {rel.shape} and scores {sc.shape} differ in shape")
    if gains == "linear":
        g = rel
    elif gains == "exponential":
        g = np.exp2(rel) - 1.0
    else:
        raise ValueError(f"gains={gains!r}: expected 'linear' or 'exponential'")
    n = rel.shape[1]
    k = n if k is None else int(k)
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    discount = 1.0 / np.log2(np.arange(n) + 2.0)
    discount[k:] = 0.0
    out = np.empty(rel.shape[0])
    for q in range(rel.shape[0]):
        order = np.argsort(-sc[q], kind="stable")
        sorted_scores, sorted_gains = sc[q, order], g[q, order]
        total, start = 0.0, 0
        while start < n:  # one group of equal scores at a time
            stop = start + 1
            while stop < n and sorted_scores[stop] == sorted_scores[start]:
                stop += 1
            mean_discount = discount[start:stop].mean()
            total += mean_discount * sorted_gains[start:stop].sum()
            start = stop
        out[q] = total
    return out


def ndcg_at_k(relevance: Any, scores: Any, k: int | None = None, *, gains: str = "linear",
              average: bool = True) -> float | np.ndarray:
    """NDCG@k (module docstring): mean over queries, or per query with ``average=False``.

    ``relevance`` and ``scores`` are (n_queries, n_items) arrays (or one 1-D query); higher
    scores rank first; ``k=None`` uses every item.
    """
    dcg = dcg_at_k(relevance, scores, k, gains=gains)
    rel = _two_d(relevance, "relevance")
    ideal = dcg_at_k(rel, rel, k, gains=gains)
    safe = np.where(ideal > 0, ideal, 1.0)
    ndcg = np.where(ideal > 0, dcg / safe, 0.0)
    return float(ndcg.mean()) if average else ndcg


def _log_probs(scores: Any) -> np.ndarray:
    if hasattr(scores, "item_scores"):  # a fitted Plackett–Luce (or any item-score) model
        scores = scores.item_scores()
    if hasattr(scores, "detach"):  # a torch tensor
        scores = scores.detach().cpu().float().numpy()
    arr = np.asarray(scores, dtype=float)
    if arr.ndim == 0 or arr.shape[-1] == 0:
        raise DataError(f"scores: expected at least one entry on the last axis, got {arr.shape}")
    if np.isnan(arr).any() or np.isposinf(arr).any():
        raise DataError("scores: NaN or +inf in the logits")
    return log_softmax(arr, axis=-1)


def _top_k_log_probs(scores: Any, k: int) -> np.ndarray:
    logp = _log_probs(scores)
    if not 1 <= int(k) <= logp.shape[-1]:
        raise ValueError(f"k must be between 1 and {logp.shape[-1]}, got {k}")
    return -np.sort(-logp, axis=-1)[..., : int(k)]


def top_k_mass(scores: Any, k: int) -> float | np.ndarray:
    """mass@k = Σ of the k largest softmax(scores) probabilities (per row of the last axis)."""
    mass = np.exp(_top_k_log_probs(scores, k)).sum(axis=-1)
    return float(mass) if np.ndim(mass) == 0 else mass


def top_k_entropy(scores: Any, k: int) -> float | np.ndarray:
    """Entropy (nats) of the top-k probabilities of softmax(scores), renormalised to sum 1."""
    top = _top_k_log_probs(scores, k)
    logq = top - np.logaddexp.reduce(top, axis=-1, keepdims=True)
    q = np.exp(logq)
    ent = -(q * np.where(q > 0, logq, 0.0)).sum(axis=-1)
    return float(ent) if np.ndim(ent) == 0 else ent
