r"""What to label next for a reward model: the records a reward-model ensemble disagrees about most.

Query by committee (Seung, Opper & Sompolinsky 1992): a pool record (prompt, a, b) is worth a
label when the ensemble members r_1 … r_K disagree about it.  The disagreement is the members'
spread of reward gaps (Secrets of RLHF II's preference strength; Coste et al. 2024)::

    u(a, b) = std_k (r_k(a) − r_k(b)),

computed by :meth:`prefkit.reward.RewardModel.uncertainty` (head ``ensemble``).  Two criteria:

* ``spread``: u itself (the members' raw disagreement; favours far-out records);
* ``sign``: Φ(−|μ| / u), μ = the ensemble's mean reward gap — the chance, under a normal
  approximation of the members, that the preferred side would change (the continuous form of
  query by committee's vote disagreement; favours records near the decision boundary).

The K records of largest score are proposed, ties broken by the pool order; records of one
comparison (a ``pair_id``, or the same prompt and responses — one pair copied per annotator) are
proposed once.  The pool's
``winner`` values are ignored (an unlabelled pool may say ``tie`` everywhere).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from prefkit.errors import DataError


def _excerpt(value: Any, width: int = 80) -> Any:
    if not isinstance(value, str):
        return value
    return value if len(value) <= width else value[: width - 1] + "…"


CRITERIA = ("spread", "sign")


def _distinct_comparisons(pool: Any, ranked: np.ndarray, k: int) -> list[int]:
    """The first ``k`` rows of ``ranked`` that are distinct comparisons: rows sharing a
    ``pair_id`` (else the same prompt and the same two responses, in either order) — e.g. one
    pair copied once per annotator — are proposed once."""
    if pool.has("pair_id"):
        keys: list[Any] = [str(v) for v in pool.column("pair_id")]
    else:
        prompts = pool.column("prompt") if pool.has("prompt") else [None] * len(pool)
        sides = [pool.column(f"{s}_text") if pool.has(f"{s}_text") else
                 pool.column(s) if pool.has(s) else [None] * len(pool) for s in ("a", "b")]
        keys = [(p, frozenset((str(a), str(b)))) for p, a, b in zip(prompts, *sides,
                                                                       strict=True)]
    seen: set[Any] = set()
    out: list[int] = []
    for r in ranked:
        if keys[r] in seen:
            continue
        seen.add(keys[r])
        out.append(int(r))
        if len(out) == k:
            break
    return out


def disagreement_scores(mean_gap: np.ndarray, spread: np.ndarray, criterion: str) -> np.ndarray:
    """Per record, the score of ``criterion`` from the ensemble's mean reward gap μ and the
    members' spread u (module notes): u for ``spread``, Φ(−|μ| / u) for ``sign``."""
    if criterion not in CRITERIA:
        raise DataError(f"unknown criterion {criterion!r} (expected spread or sign)",
                        field="--criterion")
    spread = np.asarray(spread, dtype=float)
    if criterion == "spread":
        return spread
    from scipy.special import ndtr

    return ndtr(-np.abs(np.asarray(mean_gap, dtype=float)) / np.maximum(spread, 1e-12))


def propose_records(model: Any, pool: Any, k: int, *,
                    criterion: str = "sign") -> list[dict[str, Any]]:
    """The ``k`` records of ``pool`` with the largest ensemble disagreement (module notes):
    ``[{"row", "disagreement", "score", "p_a", "prompt"?, "a", "b"}]``, highest score first."""
    if criterion not in CRITERIA:
        raise DataError(f"unknown criterion {criterion!r} (expected spread or sign)",
                        field="--criterion")
    if k < 1:
        raise DataError(f"k must be at least 1, got {k}", field="--n")
    if pool.kind != "pairwise":
        raise DataError("records to label next must be pairwise", source=pool.name, field="kind")
    try:
        spread = np.asarray(model.uncertainty(pool), dtype=float)
    except (AttributeError, NotImplementedError) as err:
        raise DataError(f"the reward model has no ensemble disagreement ({err}); train it with "
                        "head 'ensemble'", field="--reward-model") from None
    p_a = np.asarray(model.predict_proba(pool), dtype=float)
    if not (np.isfinite(spread).all() and np.isfinite(p_a).all()):
        raise DataError("the reward model returned non-finite rewards on this pool",
                        source=pool.name)
    gap = np.zeros(len(spread))
    if criterion == "sign":
        rewards = np.asarray(model.reward(pool), dtype=float)
        gap = rewards[:, 0] - rewards[:, 1]
    score = disagreement_scores(gap, spread, criterion)
    order = _distinct_comparisons(pool, np.argsort(-score, kind="stable"), k)
    sides = {}
    for side in ("a", "b"):
        column = f"{side}_text" if pool.has(f"{side}_text") else side
        sides[side] = pool.column(column) if pool.has(column) else [None] * len(pool)
    prompts = pool.column("prompt") if pool.has("prompt") else None
    out = []
    for r in order:
        row: dict[str, Any] = {"row": int(r), "disagreement": float(spread[r]),
                               "score": float(score[r]), "p_a": float(p_a[r])}
        if prompts is not None:
            row["prompt"] = _excerpt(prompts[r])
        row["a"], row["b"] = _excerpt(sides["a"][r]), _excerpt(sides["b"][r])
        out.append(row)
    return out
