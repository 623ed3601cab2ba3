"""How a judge behaves: position bias, length bias, agreement with people — with intervals.

All statistics are over **pairs** (a pair = one ``pair_id`` judged by one judge, in one or both
orders; :func:`prefkit.judge.judgments.pair_table`) and every interval is a percentile bootstrap
over pairs (multinomial resampling weights, vectorised; ``bootstrap`` rounds, seed fixed).

* ``position_consistency`` — share of pairs judged in both orders whose two verdicts, both put in
  the original order, are equal (FastChat's definition; an unparsed/error order makes the pair
  inconsistent).
* ``first_position_win_rate`` — among decisive verdicts (not ties, not unparsed) of every order,
  the share that chose the answer shown first; 0.5 = no position bias.  ``tie_rate``: share of
  parsed verdicts that are ties.
* length bias (when both answers' texts are known): ``longer_win_rate`` — among decisive verdicts
  on answers of different length, the share won by the longer answer; ``length_coef`` — β of the
  logistic model P(a wins) = σ(β·(len_a − len_b)/1000 characters) without intercept (a position
  effect cancels over both orders), fitted by Newton's method with a tiny ridge (10⁻⁸ × Σ x²
  over the decisive verdicts, so it does not depend on the unit) that keeps a separable sample
  finite.
* agreement with humans (MT-Bench definitions, Zheng et al. 2023, FastChat
  ``compute_agreement.py``): the judge's vote per pair (both orders aggregated; FastChat's is
  ``inconsistent-as-tie``) is compared with **each** human vote of the pair.
  ``agreement_with_ties`` counts every (pair, human vote) with a judge vote;
  ``agreement_without_ties`` drops the pairs whose judge vote is a tie and the human votes that
  are ties.  ``cohen_kappa`` — Cohen's κ on the same (judge, human) units as
  ``agreement_with_ties``, labels a / b / tie.  A pair without a judge vote (an unparsed order)
  is left out of agreement and counted in ``unparsed_pairs``; FastChat would count it a tie.
  ``human_human_agreement_with_ties`` / ``_without_ties``: the same over every two human votes
  of one pair (FastChat's ``human human`` mode) — the ceiling a judge is measured against.
* self-preference (with humans; :mod:`prefkit.judge.self_preference`): ``dbg`` — the DBG score
  (Chen et al. 2025), mean over pairs with exactly one answer of the judge's own model family of
  P_judge(own ≻ other) − P_humans(own ≻ other); ``dbg_pairs`` such pairs.  ``null`` when no pair
  has an own answer (the usual case: judges rarely judge their own family).
* calibration (with humans): ``ece`` — expected calibration error (10 equal-width bins,
  a/b-symmetric, :func:`prefkit.evaluate.calibration.expected_calibration_error`) of the judge's
  P(a ≻ b) per pair against each decisive human vote; the probability is the mean of the
  orders' ``p_a`` where the judgments carry probabilities (``ece_source: "probabilities"``:
  scoring backends), else the ``average`` of the verdicts (1, ½, 0; ``"verdicts"``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from prefkit.core.mathfn import sigmoid
from prefkit.data.schema import PreferenceDataset
from prefkit.errors import DataError
from prefkit.judge.judgments import (
    A_WINS,
    B_WINS,
    CODES,
    MISSING,
    TIE,
    UNPARSED,
    VALUES,
    PairTable,
    aggregate,
    pair_table,
    votes,
)
from prefkit.judge.self_preference import dbg_pairwise, own_side

RIDGE = 1e-8


# ------------------------------------------------------------------ per-pair statistics
def _per_pair(pt: PairTable, humans: list[list[int]] | None, aggregation: str) -> dict[str, Any]:
    """Numerators and denominators per pair; every ratio statistic is Σ num / Σ den."""
    out = pt.outcome
    present = out != MISSING
    parsed = out >= 0
    both = present.all(axis=1)
    stats: dict[str, np.ndarray] = {}
    stats["consistent"] = (both & parsed.all(axis=1) & (out[:, 0] == out[:, 1])).astype(float)
    stats["both_orders"] = both.astype(float)
    first_wins = np.stack([out[:, 0] == A_WINS, out[:, 1] == B_WINS], axis=1)
    decisive = parsed & (out != TIE)
    stats["first_wins"] = (first_wins & decisive).sum(axis=1).astype(float)
    stats["decisive"] = decisive.sum(axis=1).astype(float)
    stats["ties"] = (out == TIE).sum(axis=1).astype(float)
    stats["parsed"] = parsed.sum(axis=1).astype(float)
    # length: decisive verdicts on answers of known, different length
    diff = pt.len_a - pt.len_b
    known = np.isfinite(diff) & (diff != 0)
    a_wins = (out == A_WINS).sum(axis=1)
    b_wins = (out == B_WINS).sum(axis=1)
    longer = np.where(diff > 0, a_wins, b_wins)
    stats["longer_wins"] = np.where(known, longer, 0).astype(float)
    stats["length_decisive"] = np.where(known, a_wins + b_wins, 0).astype(float)
    stats["a_wins"] = np.where(known, a_wins, 0).astype(float)
    stats["b_wins"] = np.where(known, b_wins, 0).astype(float)
    stats["len_diff"] = np.where(known, diff / 1000.0, 0.0)
    if humans is not None:
        vote = votes(aggregate(out, aggregation))
        with_ties = np.zeros(len(pt))
        agree_ties = np.zeros(len(pt))
        without = np.zeros(len(pt))
        agree_without = np.zeros(len(pt))
        confusion = np.zeros((len(pt), 9))
        for k, hv in enumerate(humans):
            if vote[k] == UNPARSED or not hv:
                continue
            for h in hv:
                with_ties[k] += 1
                agree_ties[k] += h == vote[k]
                confusion[k, 3 * vote[k] + h] += 1
                if vote[k] != TIE and h != TIE:
                    without[k] += 1
                    agree_without[k] += h == vote[k]
        stats.update(
            human_units=with_ties, human_agree=agree_ties, human_units_nt=without,
            human_agree_nt=agree_without, has_human=np.array([bool(h) for h in humans], float),
        )
        stats["confusion"] = confusion
        hh = np.zeros((len(pt), 4))  # human–human: agree, units, agree without ties, units
        for k, hv in enumerate(humans):
            for i in range(len(hv)):
                for j in range(i + 1, len(hv)):
                    hh[k, 0] += hv[i] == hv[j]
                    hh[k, 1] += 1
                    if hv[i] != TIE and hv[j] != TIE:
                        hh[k, 2] += hv[i] == hv[j]
                        hh[k, 3] += 1
        stats.update(hh_agree=hh[:, 0], hh_units=hh[:, 1], hh_agree_nt=hh[:, 2],
                     hh_units_nt=hh[:, 3])
    return stats


def _ratio(num: np.ndarray, den: np.ndarray) -> float | None:
    total = float(den.sum())
    return None if total == 0 else float(num.sum()) / total


def _kappa(confusion: np.ndarray) -> np.ndarray:
    """Cohen's κ of 3×3 confusion counts, ``confusion[..., 9]`` (rows: judge, columns: human)."""
    c = confusion.reshape(*confusion.shape[:-1], 3, 3)
    n = c.sum(axis=(-1, -2))
    with np.errstate(invalid="ignore", divide="ignore"):
        observed = np.trace(c, axis1=-2, axis2=-1) / n
        expected = (c.sum(axis=-1) * c.sum(axis=-2)).sum(axis=-1) / n**2
        kappa = (observed - expected) / (1.0 - expected)
    return np.where(n > 0, kappa, np.nan)


def _length_coef(x: np.ndarray, a: np.ndarray, b: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """β of P(a wins) = σ(β x) per row of ``weights`` (B, P); x, a, b per pair.  Newton steps."""
    beta = np.zeros(weights.shape[0])
    ridge = RIDGE * (weights @ ((a + b) * x * x))  # relative to the data's own curvature
    for _ in range(100):
        p = sigmoid(beta[:, None] * x[None, :])
        grad = weights @ (a * x) - (weights * (a + b)[None, :] * p) @ x - ridge * beta
        hess = (weights * (a + b)[None, :] * p * (1 - p)) @ (x * x) + ridge
        hess = np.where(hess > 0, hess, 1.0)
        step = grad / hess
        beta = beta + step
        if np.all(np.abs(step) < 1e-10):
            break
    return beta


def _statistics(stats: dict[str, np.ndarray], weights: np.ndarray) -> dict[str, np.ndarray]:
    """Every statistic for each row of resampling ``weights`` (B, P); NaN where undefined."""

    def ratio(num: str, den: str) -> np.ndarray:
        d = weights @ stats[den]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(d > 0, (weights @ stats[num]) / d, np.nan)

    out = {
        "position_consistency": ratio("consistent", "both_orders"),
        "first_position_win_rate": ratio("first_wins", "decisive"),
        "tie_rate": ratio("ties", "parsed"),
        "longer_win_rate": ratio("longer_wins", "length_decisive"),
    }
    if stats["length_decisive"].sum() > 0:
        out["length_coef"] = _length_coef(stats["len_diff"], stats["a_wins"], stats["b_wins"],
                                          weights)
    if "dbg_den" in stats:
        out["dbg"] = ratio("dbg_num", "dbg_den")
    if "human_units" in stats:
        out["agreement_with_ties"] = ratio("human_agree", "human_units")
        out["agreement_without_ties"] = ratio("human_agree_nt", "human_units_nt")
        out["cohen_kappa"] = _kappa(weights @ stats["confusion"])
        out["human_human_agreement_with_ties"] = ratio("hh_agree", "hh_units")
        out["human_human_agreement_without_ties"] = ratio("hh_agree_nt", "hh_units_nt")
    return out


def _clean(x: Any) -> float | None:
    x = float(x)
    return None if not np.isfinite(x) else x


def _summarise(
    stats: dict[str, np.ndarray], bootstrap: int, seed: int, level: float
) -> dict[str, Any]:
    n = len(stats["consistent"])
    point = _statistics(stats, np.ones((1, n)))
    result: dict[str, Any] = {k: _clean(v[0]) for k, v in point.items()}
    if bootstrap > 0 and n > 1:
        rng = np.random.default_rng(seed)
        weights = rng.multinomial(n, np.full(n, 1.0 / n), size=bootstrap).astype(float)
        draws = _statistics(stats, weights)
        lo, hi = (1 - level) / 2 * 100, (1 + level) / 2 * 100
        for key, values in draws.items():
            finite = values[np.isfinite(values)]
            if result[key] is None or finite.size == 0:
                result[f"{key}_ci"] = None
            else:
                result[f"{key}_ci"] = [float(np.percentile(finite, lo)),
                                       float(np.percentile(finite, hi))]
    return result


# ------------------------------------------------------------------ humans
def human_votes(human: PreferenceDataset, pt: PairTable) -> tuple[list[list[int]], dict[str, Any]]:
    """Each pair's human votes (outcome codes, in the judge's a/b frame), joined on ``pair_id``.

    Human votes are flipped when the human record's ``a``/``b`` are the judge pair's ``b``/``a``;
    a soft label ``p_a`` counts as the side it favours (½: a tie).
    Also returns, per pair id, the human record's texts (used for length bias when the judgments
    have none) and row, for breakdowns by a human column.
    """
    if human.kind != "pairwise" or not human.has("pair_id"):
        raise DataError(
            "human labels must be pairwise records with a 'pair_id' to join on",
            source=human.name, field="pair_id",
        )
    by_pair: dict[str, list[tuple[Any, Any, str]]] = defaultdict(list)
    first_row: dict[str, int] = {}
    ids = human.column("pair_id")
    a = human.column("a") if human.has("a") else [None] * len(human)
    b = human.column("b") if human.has("b") else [None] * len(human)
    outcomes = human.outcomes() if hasattr(human, "outcomes") else None
    winners = human.column("winner") if human.has("winner") else None
    for i, pid in enumerate(ids):
        w = winners[i] if winners is not None else None
        if w is None and outcomes is not None:
            w = _soft_winner(outcomes[i])
        if w not in CODES:
            continue
        by_pair[str(pid)].append((a[i], b[i], w))
        first_row.setdefault(str(pid), i)
    flip = {A_WINS: B_WINS, B_WINS: A_WINS, TIE: TIE}
    result: list[list[int]] = []
    for k, pid in enumerate(pt.pair_id):
        codes = []
        for ha, hb, w in by_pair.get(str(pid), []):
            code = CODES[w]
            swapped = ha is not None and ha == pt.b[k] and hb == pt.a[k] and ha != hb
            codes.append(flip[code] if swapped else code)
        result.append(codes)
    return result, first_row


def _soft_winner(value: Any) -> str | None:
    try:
        p = float(value)
    except (TypeError, ValueError):
        return None
    if not np.isfinite(p):
        return None
    return "a" if p > 0.5 else "b" if p < 0.5 else "tie"


# ------------------------------------------------------------------ entry point
def analyze(
    judgments: PreferenceDataset,
    *,
    human: PreferenceDataset | None = None,
    aggregation: str = "inconsistent-as-tie",
    by: str | None = None,
    bootstrap: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    self_models: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Everything above as one JSON-able dict (``None`` where a statistic is undefined).

    ``self_models``: the judge's own model names for ``dbg`` (default: the judge's family).

    Keys: ``n`` (pairs), ``judgments``, ``unparsed`` (judgments without a verdict),
    ``unparsed_pairs``, ``pairs_both_orders``, ``position_consistency``,
    ``first_position_win_rate``, ``tie_rate``, ``longer_win_rate``, ``length_coef`` (when texts
    are known), with ``--human`` ``agreement_with_ties``, ``agreement_without_ties``,
    ``cohen_kappa`` and ``human_pairs``; each statistic ``X`` has ``X_ci`` (bootstrap percentile
    interval); ``by_category`` when ``by`` is given.
    """
    from_human = by and not judgments.has(by) and human is not None and human.has(by)
    human_by = by if from_human else None
    pt = pair_table(judgments, by=None if human_by else by)
    humans = None
    if human is not None:
        humans, first_row = human_votes(human, pt)
        _fill_lengths(pt, human, first_row)
        if human_by:
            column = human.column(human_by)
            pt.category = np.array(
                [column[first_row[str(p)]] if str(p) in first_row else None for p in pt.pair_id],
                dtype=object,
            )
    stats = _per_pair(pt, humans, aggregation)
    side = None
    if humans is not None:
        side = own_side(pt.a, pt.b, pt.judge, self_models)
        gold = np.array([np.mean(VALUES[h]) if h else np.nan for h in humans], dtype=float)
        stats["dbg_num"], stats["dbg_den"] = dbg_pairwise(aggregate(pt.outcome, aggregation),
                                                          gold, side)
    result: dict[str, Any] = {
        "n": len(pt),
        "judgments": int((pt.outcome != MISSING).sum()),
        "unparsed": int((pt.outcome == UNPARSED).sum()),
        "unparsed_pairs": int((pt.outcome == UNPARSED).any(axis=1).sum()),
        "pairs_both_orders": int(stats["both_orders"].sum()),
        "judges": sorted({str(j) for j in pt.judge}),
        "aggregation": aggregation,
        "bootstrap": bootstrap,
        "level": level,
    }
    if humans is not None:
        result["human_pairs"] = int(sum(1 for h in humans if h))
        result["human_votes"] = int(sum(len(h) for h in humans))
        result["dbg_pairs"] = int(stats["dbg_den"].sum())
        result["self_models"] = (sorted(self_models) if self_models is not None else
                                 sorted({str(m) for m, s_ in zip(
                                     np.r_[pt.a, pt.b], np.r_[side, -side], strict=True)
                                     if s_ == 1}))
    result.update(_summarise(stats, bootstrap, seed, level))
    if humans is not None:
        result.update(_calibration(judgments, pt, humans, bootstrap, seed, level))
    if not np.isfinite(pt.len_a).any():
        for key in ("longer_win_rate", "longer_win_rate_ci"):
            result[key] = None
        result["length_coef"] = None
    if by is not None and pt.category is not None:
        result["by"] = by
        result["by_category"] = {}
        for cat in sorted({str(c) for c in pt.category}):
            index = np.flatnonzero(np.array([str(c) == cat for c in pt.category]))
            sub = {k: v[index] for k, v in stats.items()}
            entry: dict[str, Any] = {"n": len(index)}
            entry.update(_summarise(sub, bootstrap, seed, level))
            result["by_category"][cat] = entry
    return result


def _pair_probabilities(judgments: PreferenceDataset, pt: PairTable) -> np.ndarray | None:
    """Mean of the orders' ``p_a`` per pair (keys as in ``pair_table``), or None if the
    judgments carry no probabilities."""
    if not judgments.has("p_a"):
        return None
    n = len(judgments)
    ids = judgments.column("pair_id") if judgments.has("pair_id") else [None] * n
    judges = judgments.column("annotator_id") if judgments.has("annotator_id") else [""] * n
    sums: dict[tuple[str, str], list[float]] = defaultdict(list)
    for i, (pid, judge, p) in enumerate(zip(ids, judges, judgments.column("p_a"), strict=True)):
        if p is not None and np.isfinite(p):
            sums[(str(pid if pid is not None else i), str(judge or ""))].append(float(p))
    if not sums:
        return None
    return np.array([np.mean(sums[(str(k), str(j))]) if (str(k), str(j)) in sums else np.nan
                     for k, j in zip(pt.pair_id, pt.judge, strict=True)], dtype=float)


def _calibration(judgments: PreferenceDataset, pt: PairTable, humans: list[list[int]],
                 bootstrap: int, seed: int, level: float) -> dict[str, Any]:
    """``ece`` (+ ``ece_ci``) of the judge's P(a ≻ b) against each decisive human vote."""
    from prefkit.evaluate.calibration import expected_calibration_error

    probs = _pair_probabilities(judgments, pt)
    source = "probabilities" if probs is not None else "verdicts"
    if probs is None:
        probs = aggregate(pt.outcome, "average")
    pair, y, p = [], [], []
    for k, hv in enumerate(humans):
        if not np.isfinite(probs[k]):
            continue
        for h in hv:
            if h != TIE:
                pair.append(k)
                y.append(1.0 if h == A_WINS else 0.0)
                p.append(probs[k])
    out: dict[str, Any] = {"ece": None, "ece_ci": None, "ece_source": source,
                           "ece_votes": len(y)}
    if not y:
        return out
    pair_index, ys, ps = np.array(pair), np.array(y), np.clip(np.array(p), 0.0, 1.0)
    out["ece"] = _clean(expected_calibration_error(ys, ps))
    if bootstrap > 0 and len(pt) > 1:
        rng = np.random.default_rng(seed)
        weights = rng.multinomial(len(pt), np.full(len(pt), 1.0 / len(pt)), size=bootstrap)
        draws = []
        for w in weights:
            unit_w = w[pair_index].astype(float)
            if unit_w.sum() > 0:
                draws.append(expected_calibration_error(ys, ps, sample_weight=unit_w))
        if draws:
            lo, hi = (1 - level) / 2 * 100, (1 + level) / 2 * 100
            out["ece_ci"] = [float(np.percentile(draws, lo)), float(np.percentile(draws, hi))]
    return out


def _fill_lengths(pt: PairTable, human: PreferenceDataset, first_row: dict[str, int]) -> None:
    """Answer lengths from the human records where the judgments have no texts."""
    if not (human.has("a_text") and human.has("b_text")):
        return
    ta, tb = human.column("a_text"), human.column("b_text")
    for k, pid in enumerate(pt.pair_id):
        i = first_row.get(str(pid))
        if i is None or np.isfinite(pt.len_a[k]):
            continue
        if isinstance(ta[i], str) and isinstance(tb[i], str):
            ha = human.column("a")[i] if human.has("a") else None
            swapped = ha is not None and ha == pt.b[k] and ha != pt.a[k]
            la, lb = len(ta[i]), len(tb[i])
            pt.len_a[k], pt.len_b[k] = (lb, la) if swapped else (la, lb)
