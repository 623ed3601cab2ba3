r"""Routing between human and LM annotation: which records should people label, and which can an
LLM judge label, for a fixed human budget.

Miranda et al. 2024, "Hybrid Preferences: Learning to Route Instances for Human vs. AI
Feedback".  Every record i has an LM label ŷ_i (a judge verdict: ``a``, ``b``, ``tie`` or none)
and could get a human label h_i at a cost; a routing rule picks the set S (|S| ≤ B) sent to
people, and the data set's labels become the *mixed annotation*

    y_i^S = h_i  if i ∈ S,   ŷ_i otherwise.

Two routing rules:

* **confidence** — people label the records the judge is least sure of.  With P(a ≻ b) from the
  judge (the mean over the orders it saw; a verdict is 1 / 0 / ½) the confidence is
  c_i = |2 p_i − 1|: 0 for a tie, for orders that disagree and for no verdict, 1 for a decisive
  consistent verdict.  S = the B records of smallest c (random among equals).
* **performance prediction** (the paper's PPM) — records carry tags t_i (a category, a data
  source, a model pair).  The features of a routed set are the shares of each tag's records that
  go to people, φ_k(S) = |S ∩ T_k| / |T_k|; a quadratic model (ridge on [φ, φ², φ_k φ_l])
  predicts the mixed annotation's quality g(φ(S)) from random mixes whose quality was measured,
  and routing adds records tag by tag greedily where the predicted gain per record is largest.

The paper's quality measure is the RewardBench score of a reward model trained on the mixed
annotation (many RM trainings); here it is anything measurable per mix — by default the
agreement of the mixed labels with held-out gold labels (:func:`label_accuracy`).

:func:`routing_curve` gives the accuracy of the mixed annotation against gold labels as the
budget grows, for a rule and for random routing (the baseline a rule must beat).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from prefkit.errors import DataError

LABELS = ("a", "b", "tie")


def verdict_probability(verdicts: Sequence[Sequence[str | None]]) -> np.ndarray:
    """P(a ≻ b) per record from its judge verdicts (``a``/``b``/``tie``, one per order seen, in
    the record's own orientation); NaN when none parsed."""
    value = {"a": 1.0, "b": 0.0, "tie": 0.5}
    out = np.full(len(verdicts), np.nan)
    for i, vs in enumerate(verdicts):
        got = [value[v] for v in vs if v in value]
        if got:
            out[i] = float(np.mean(got))
    return out


def judge_confidence(p_a: np.ndarray) -> np.ndarray:
    """c = |2p − 1| (0 where the judge gave no verdict)."""
    p = np.asarray(p_a, dtype=float)
    return np.where(np.isfinite(p), np.abs(2 * p - 1), 0.0)


def route_by_confidence(p_a: np.ndarray, budget: int, *, seed: int = 0) -> np.ndarray:
    """Indices of the ``budget`` least confident records (random among equal confidence)."""
    c = judge_confidence(p_a)
    jitter = np.random.default_rng(seed).random(len(c))
    return np.lexsort((jitter, c))[: max(0, min(int(budget), len(c)))]


def route_at_random(n: int, budget: int, *, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).permutation(n)[: max(0, min(int(budget), n))]


def as_labels(p_a: np.ndarray) -> np.ndarray:
    """'a' / 'b' / 'tie' / '' (none) from P(a ≻ b)."""
    p = np.asarray(p_a, dtype=float)
    return np.where(~np.isfinite(p), "", np.where(p > 0.5, "a", np.where(p < 0.5, "b", "tie")))


def mixed_labels(judge: np.ndarray, human: np.ndarray, routed: np.ndarray) -> np.ndarray:
    """y^S: the human label on the routed records, the judge's elsewhere (labels as strings)."""
    out = np.asarray(judge, dtype=object).copy()
    idx = np.asarray(routed, dtype=int)
    out[idx] = np.asarray(human, dtype=object)[idx]
    return out


def label_accuracy(labels: np.ndarray, gold: np.ndarray) -> float:
    """Share of records whose label equals the gold label (a missing label counts as wrong)."""
    labels, gold = np.asarray(labels, dtype=object), np.asarray(gold, dtype=object)
    return float(np.mean(labels == gold)) if len(gold) else float("nan")


def routing_curve(judge_p: np.ndarray, human: np.ndarray, gold: np.ndarray,
                  budgets: Sequence[float], *, rule: str = "confidence",
                  route: Callable[[int], np.ndarray] | None = None,
                  seeds: int = 20) -> list[dict[str, Any]]:
    """Accuracy of the mixed annotation against ``gold`` per budget (a share of the records):
    the rule's, and random routing's mean and 2.5–97.5 % range over ``seeds`` draws.

    ``rule``: ``"confidence"`` or ``"custom"`` with ``route(budget) -> indices``."""
    judge = as_labels(judge_p)
    n = len(judge)
    if not (len(human) == len(gold) == n):
        raise DataError(f"routing: {n} judge labels, {len(human)} human, {len(gold)} gold")
    rows = []
    for share in budgets:
        b = round(float(share) * n)
        if rule == "confidence":
            acc = float(np.mean([label_accuracy(mixed_labels(
                judge, human, route_by_confidence(judge_p, b, seed=s)), gold)
                for s in range(seeds)]))
        elif rule == "custom" and route is not None:
            acc = label_accuracy(mixed_labels(judge, human, route(b)), gold)
        else:
            raise DataError(f"unknown routing rule {rule!r} (confidence, or custom with route=)")
        rand = np.array([label_accuracy(mixed_labels(judge, human,
                                                     route_at_random(n, b, seed=s)), gold)
                         for s in range(seeds)])
        rows.append({"budget": float(share), "human_labels": b, "accuracy": acc,
                     "random": float(rand.mean()),
                     "random_range": [float(np.quantile(rand, 0.025)),
                                      float(np.quantile(rand, 0.975))]})
    return rows


def _quadratic(phi: np.ndarray) -> np.ndarray:
    phi = np.atleast_2d(phi)
    k = phi.shape[1]
    cross = [phi[:, i] * phi[:, j] for i in range(k) for j in range(i + 1, k)]
    return np.column_stack([np.ones(len(phi)), phi, phi**2, *cross])


@dataclass
class PerformancePredictor:
    """Hybrid Preferences' performance-prediction model: quality ≈ g(φ(S)), g quadratic
    (ridge), φ_k(S) = share of tag k's records routed to people."""

    tags: list[str]
    alpha: float = 1e-3
    coef_: np.ndarray | None = None
    counts_: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def features(self, record_tags: np.ndarray, routed: np.ndarray) -> np.ndarray:
        record_tags = np.asarray(record_tags, dtype=object)
        chosen = np.zeros(len(record_tags), dtype=bool)
        chosen[np.asarray(routed, dtype=int)] = True
        return np.array([chosen[record_tags == t].mean() if (record_tags == t).any() else 0.0
                         for t in self.tags])

    def fit(self, phis: np.ndarray, quality: np.ndarray) -> PerformancePredictor:
        X = _quadratic(np.asarray(phis, dtype=float))
        y = np.asarray(quality, dtype=float)
        reg = self.alpha * np.eye(X.shape[1])
        reg[0, 0] = 0.0
        self.coef_ = np.linalg.solve(X.T @ X + reg, X.T @ y)
        return self

    def predict(self, phis: np.ndarray) -> np.ndarray:
        if self.coef_ is None:
            raise DataError("PerformancePredictor is not fitted")
        return _quadratic(np.asarray(phis, dtype=float)) @ self.coef_


def random_mixes(record_tags: np.ndarray, quality: Callable[[np.ndarray], float], *,
                 n_mixes: int = 60, seed: int = 0) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Training data for the predictor: ``n_mixes`` random routed sets — each tag routed with
    its own random share — and their measured ``quality(routed)``.  Returns (tags, φ, quality)."""
    record_tags = np.asarray(record_tags, dtype=object)
    tags = sorted({str(t) for t in record_tags})
    rng = np.random.default_rng(seed)
    phis, scores = [], []
    for _ in range(n_mixes):
        share = rng.random(len(tags))
        routed = np.flatnonzero(rng.random(len(record_tags)) <
                                share[[tags.index(str(t)) for t in record_tags]])
        predictor = PerformancePredictor(tags)
        phis.append(predictor.features(record_tags, routed))
        scores.append(quality(routed))
    return tags, np.array(phis), np.array(scores)


def greedy_route(record_tags: np.ndarray, budget: int, predictor: PerformancePredictor, *,
                 step: int | None = None, seed: int = 0) -> np.ndarray:
    """Routed set of ``budget`` records: repeatedly add ``step`` records (default 2 % of the data
    set) of the tag whose addition raises the predicted quality most; records within a tag are
    taken in a random order."""
    record_tags = np.asarray(record_tags, dtype=object)
    rng = np.random.default_rng(seed)
    pools = {t: list(rng.permutation(np.flatnonzero(record_tags == t))) for t in predictor.tags}
    step = step or max(1, len(record_tags) // 50)
    routed: list[int] = []
    while len(routed) < budget:
        now = predictor.features(record_tags, np.array(routed, dtype=int))
        base = float(predictor.predict(now[None])[0])
        best, gain = None, -np.inf
        for t, pool in pools.items():
            if not pool:
                continue
            take = min(step, len(pool), budget - len(routed))
            after = predictor.features(record_tags, np.array(routed + pool[:take], dtype=int))
            g = (float(predictor.predict(after[None])[0]) - base) / take
            if g > gain:
                best, gain = t, g
        if best is None:
            break
        take = min(step, len(pools[best]), budget - len(routed))
        routed += [int(i) for i in pools[best][:take]]
        del pools[best][:take]
    return np.array(routed, dtype=int)


__all__ = ["LABELS", "PerformancePredictor", "as_labels", "greedy_route", "judge_confidence",
           "label_accuracy", "mixed_labels", "random_mixes", "route_at_random",
           "route_by_confidence", "routing_curve", "verdict_probability"]
