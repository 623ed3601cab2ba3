"""Which task an annotator sees next: a weight per item pair, refreshed by the live refit.

The rules are those of :mod:`prefkit.choice.active` (formulas and papers there), applied to the
arena's tasks: after each refit the background thread turns the current Bradley–Terry posterior
(θ, Σ) into a symmetric matrix W of pair weights, and a request for the next task draws
:data:`prefkit.arena.store.CANDIDATES` unvoted tasks at random and picks one with probability
∝ W[a, b] (the pair of items the task compares).

``uniform``    W = 1: every unvoted task equally likely.
``arena``      Chatbot Arena's sampling: W ∝ the drop of the pair's interval width from one
               more vote (:func:`prefkit.choice.active.arena_weights`).
``a-optimal``  W = the greedy A-optimal gains of the best pairs (tr Σ reduction,
               :func:`prefkit.choice.active.next_pairs`), a small floor elsewhere.
``rank``       W = the greedy drops of the expected number of misordered pairs
               (:func:`prefkit.choice.active.rank_pairs`), a small floor elsewhere.
``density``    W = the greedy drops of the density-weighted variances of the differences
               (:func:`prefkit.choice.active_density.density_pairs`), a small floor elsewhere.

Tasks whose candidates are texts without item names get the mean weight.  Drawing (instead of
the arg-max) keeps concurrent annotators on different pairs between two refits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: the selection rules (``prefkit arena serve --rule``)
RULES = ("uniform", "arena", "a-optimal", "rank", "density")
#: pairs scored by the greedy rules per refit; the rest get FLOOR × the smallest scored gain
GREEDY_PAIRS, FLOOR = 64, 0.05


@dataclass(frozen=True)
class PairWeights:
    """A snapshot of pair weights: ``index`` item name → row of ``weights``."""

    index: dict[str, int]
    weights: np.ndarray

    @classmethod
    def uniform(cls) -> PairWeights:
        return cls({}, np.ones((0, 0)))

    def of(self, a: str | None, b: str | None) -> float:
        i, j = self.index.get(a or ""), self.index.get(b or "")
        if i is None or j is None or i == j:
            return float(self.weights.mean()) if self.weights.size else 1.0
        return float(self.weights[i, j])

    def pick(self, candidates: Sequence[tuple[int, str | None, str | None]],
             rng: np.random.Generator) -> int:
        """Index into ``candidates`` ((task id, a, b) rows), drawn ∝ the pair weights."""
        w = np.array([max(self.of(a, b), 0.0) for _, a, b in candidates])
        total = w.sum()
        if not np.isfinite(total) or total <= 0:
            return int(rng.integers(len(candidates)))
        return int(rng.choice(len(candidates), p=w / total))


def pair_weights(rule: str, items: list[str], ia: np.ndarray, ib: np.ndarray, ya: np.ndarray,
                 theta0: np.ndarray | None = None) -> tuple[PairWeights, np.ndarray]:
    """(weights, θ) for ``rule`` from battles ``(ia, ib, ya)`` on ``items`` (ya = P(a won)).

    θ warm-starts the next call (``theta0``); items without a vote get the prior.
    """
    from prefkit.choice import active

    n = len(items)
    index = {name: k for k, name in enumerate(items)}
    if rule == "uniform" or n < 2:
        return PairWeights(index, np.ones((n, n))), np.zeros(n)
    if theta0 is not None and len(theta0) != n:
        theta0 = None
    theta, cov = active.fit_bt_map(n, ia, ib, ya, theta0=theta0)
    W = np.zeros((n, n))
    iu, ju = np.triu_indices(n, 1)
    if rule == "arena":
        counts = np.zeros((n, n))
        np.add.at(counts, (ia, ib), 1.0)
        W[iu, ju] = active.arena_weights(cov, counts)
    else:
        picked = active.greedy_rule(rule)(theta, cov, min(GREEDY_PAIRS, len(iu)))
        gains = np.array([max(g, 0.0) for _, _, g in picked])
        positive = gains[gains > 0]
        W[iu, ju] = FLOOR * (positive.min() if positive.size else 1.0)
        for (i, j, _), g in zip(picked, gains, strict=True):
            W[min(i, j), max(i, j)] = max(g, W[min(i, j), max(i, j)])
    W = W + W.T
    return PairWeights(index, W), theta
