"""Judgments: one record per (pair, order) shown to a judge, and the pairing of both orders.

The layout is the one the recorded-judge readers produce (:mod:`prefkit.data.readers._judgments`):
a pairwise :class:`~prefkit.data.schema.PreferenceDataset` with ``pair_id``, ``order`` (``"ab"``:
``a`` shown first, ``"ba"``: ``b`` shown first), ``winner`` in the original frame, ``verdict`` as
the judge gave it, ``rationale`` (raw text), ``annotator_id`` (judge), ``protocol`` and
``template_hash``; unparsed judgments live in ``metadata["unparsed"]`` (they have no outcome).

:func:`pair_table` folds it into one row per pair with the outcome of each order, and
:func:`aggregate` turns both orders into one verdict by a declared rule:

* ``"consistent-only"`` — a verdict only when both orders agree (else none);
* ``"inconsistent-as-tie"`` — FastChat's rule: disagreeing orders are a tie;
* ``"average"`` — the mean of the orders' values (a = 1, tie = ½, b = 0): balanced position
  calibration (Wang et al. 2023, "Large language models are not fair evaluators").

A pair with an *unparsed* order has no verdict under every rule (never a tie, never a loss); a
pair judged in one order only (PandaLM) takes that order's verdict.

Judges that give probabilities (a local LM read from its verdict-token log-probabilities, a
reward model: a ``p_a`` column, P(a ≻ b) of each order) are folded by
:func:`aggregate_probabilities` with the same rules on their verdicts, keeping the numbers:
``average`` is the mean of the two orders' P(a ≻ b); under the other two rules a consistent pair
gets that mean and an inconsistent one a tie (½) or no verdict.  For hard verdicts (P ∈ {1, ½,
0}) it equals :func:`aggregate`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from prefkit.data.schema import PreferenceDataset
from prefkit.errors import DataError

AGGREGATIONS: tuple[str, ...] = ("consistent-only", "inconsistent-as-tie", "average")
#: Outcome codes of one order, in the original frame.
A_WINS, B_WINS, TIE, UNPARSED, MISSING = 0, 1, 2, -1, -2
CODES = {"a": A_WINS, "b": B_WINS, "tie": TIE}
VALUES = np.array([1.0, 0.0, 0.5])  # P(a ≻ b) of A_WINS, B_WINS, TIE
ORDERS = ("ab", "ba")


@dataclass
class PairTable:
    """One row per pair: ``outcome[:, 0]`` for order ``ab``, ``outcome[:, 1]`` for ``ba``."""

    pair_id: np.ndarray
    a: np.ndarray
    b: np.ndarray
    outcome: np.ndarray
    len_a: np.ndarray
    len_b: np.ndarray
    category: np.ndarray | None
    judge: np.ndarray
    #: P(a ≻ b) per order (``p_a`` of probability judges, else 1 / ½ / 0 of the verdict; NaN
    #: where the order has no verdict)
    prob: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.pair_id)

    def take(self, index: np.ndarray) -> PairTable:
        return PairTable(
            self.pair_id[index], self.a[index], self.b[index], self.outcome[index],
            self.len_a[index], self.len_b[index],
            None if self.category is None else self.category[index], self.judge[index],
            None if self.prob is None else self.prob[index],
        )


def _column(ds: PreferenceDataset, name: str, default: Any = None) -> np.ndarray:
    if ds.has(name):
        return np.asarray(ds.column(name), dtype=object)
    return np.full(len(ds), default, dtype=object)


def _lengths(values: np.ndarray) -> np.ndarray:
    return np.array([len(v) if isinstance(v, str) else np.nan for v in values], dtype=float)


def pair_table(judgments: PreferenceDataset, *, by: str | None = None) -> PairTable:
    """Fold per-order judgments (and ``metadata["unparsed"]``) into one row per pair.

    A pair is a ``pair_id`` (the row number when absent) of one judge (``annotator_id``).  A
    missing ``order`` column means every judgment was shown in order ``ab``.  Two judgments of the
    same pair, judge and order are a DataError naming the record.  ``by``: a column to break
    results down by (its first value per pair).
    """
    if judgments.kind != "pairwise":
        raise DataError(
            f"expected pairwise judgments, got {judgments.kind} data", source=judgments.name
        )
    if by is not None and not judgments.has(by):
        raise DataError(
            f"no column {by!r} to break down by (columns: {', '.join(judgments.columns)})",
            source=judgments.name, field=by,
        )
    n = len(judgments)
    pair_ids = _column(judgments, "pair_id")
    pair_ids = np.where(_is_none(pair_ids), np.arange(n).astype(str), pair_ids)
    orders = _column(judgments, "order", "ab")
    judges = _column(judgments, "annotator_id", "")
    winners = _column(judgments, "winner")
    p_a = _column(judgments, "p_a") if judgments.has("p_a") else None
    a_names, b_names = _column(judgments, "a"), _column(judgments, "b")
    len_a, len_b = _lengths(_column(judgments, "a_text")), _lengths(_column(judgments, "b_text"))
    cats = _column(judgments, by) if by else None

    rows: dict[tuple[str, str], int] = {}
    out: list[list[int]] = []
    probs: list[list[float]] = []
    info: list[list[Any]] = []

    def slot(key: tuple[str, str], a: Any, b: Any, la: float, lb: float, cat: Any) -> int:
        if key not in rows:
            rows[key] = len(out)
            out.append([MISSING, MISSING])
            probs.append([np.nan, np.nan])
            info.append([a, b, la, lb, cat])
        return rows[key]

    for i in range(n):
        order = orders[i] if orders[i] is not None else "ab"
        if order not in ORDERS:
            raise DataError(
                f"unknown order {order!r} (expected 'ab' or 'ba')",
                source=judgments.name, row=i, field="order",
            )
        key = (str(pair_ids[i]), str(judges[i] or ""))
        k = slot(key, a_names[i], b_names[i], len_a[i], len_b[i], None if cats is None else cats[i])
        j = ORDERS.index(order)
        if out[k][j] != MISSING:
            raise DataError(
                f"pair {key[0]!r} judged twice in order {order!r}",
                source=judgments.name, row=i, field="pair_id",
            )
        w = winners[i]
        if w is None and p_a is not None and p_a[i] is not None and np.isfinite(p_a[i]):
            w = "a" if p_a[i] > 0.5 else "b" if p_a[i] < 0.5 else "tie"
        out[k][j] = CODES.get(w, UNPARSED)
        if out[k][j] >= 0:
            given = p_a[i] if p_a is not None else None
            probs[k][j] = (float(given) if given is not None and np.isfinite(given)
                           else VALUES[out[k][j]])
    for u in judgments.metadata.get("unparsed") or []:
        order = u.get("order") or "ab"
        if order not in ORDERS:
            continue
        key = (str(u.get("pair_id")), str(u.get("annotator_id") or _judge_of(judges)))
        k = slot(key, u.get("a"), u.get("b"), np.nan, np.nan, u.get(by) if by else None)
        out[k][ORDERS.index(order)] = UNPARSED
    keys = list(rows)
    return PairTable(
        pair_id=np.array([k[0] for k in keys], dtype=object),
        a=np.array([x[0] for x in info], dtype=object),
        b=np.array([x[1] for x in info], dtype=object),
        outcome=np.array(out, dtype=np.int64).reshape(-1, 2),
        len_a=np.array([x[2] for x in info], dtype=float),
        len_b=np.array([x[3] for x in info], dtype=float),
        category=None if by is None else np.array([x[4] for x in info], dtype=object),
        judge=np.array([k[1] for k in keys], dtype=object),
        prob=np.array(probs, dtype=float).reshape(-1, 2),
    )


def _judge_of(judges: np.ndarray) -> str:
    """The one judge of a file (unparsed entries of reader metadata carry no judge name)."""
    names = {str(j or "") for j in judges}
    return names.pop() if len(names) == 1 else ""


def _is_none(values: np.ndarray) -> np.ndarray:
    return np.array([v is None for v in values], dtype=bool)


def aggregate(outcome: np.ndarray, aggregation: str = "inconsistent-as-tie") -> np.ndarray:
    """P(a ≻ b) per pair from the outcome codes of both orders (NaN: no verdict).

    ``outcome``: (n, 2) codes (columns ``ab``, ``ba``); see the module notes for the rules.
    """
    if aggregation not in AGGREGATIONS:
        raise DataError(
            f"unknown aggregation {aggregation!r} (expected one of {', '.join(AGGREGATIONS)})",
            field="aggregation",
        )
    outcome = np.asarray(outcome, dtype=np.int64).reshape(-1, 2)
    parsed = outcome >= 0
    value = np.where(parsed, VALUES[np.clip(outcome, 0, 2)], np.nan)
    any_unparsed = (outcome == UNPARSED).any(axis=1)
    both = parsed.all(axis=1)
    single = parsed.sum(axis=1) == 1
    p = np.full(len(outcome), np.nan)
    one = np.nanmax(np.where(parsed, value, -np.inf), axis=1) if len(outcome) else p
    p[single & ~any_unparsed] = one[single & ~any_unparsed]
    agree = both & (outcome[:, 0] == outcome[:, 1])
    if aggregation == "average":
        p[both] = value[both].mean(axis=1)
    else:
        p[agree] = value[agree, 0]
        if aggregation == "inconsistent-as-tie":
            p[both & ~agree] = 0.5
    return p


def aggregate_probabilities(outcome: np.ndarray, prob: np.ndarray,
                            aggregation: str = "average") -> np.ndarray:
    """P(a ≻ b) per pair from both orders' verdicts (``outcome``, (n, 2) codes) and their
    probabilities (``prob``, (n, 2) P(a ≻ b) per order); see the module notes.  NaN: no
    verdict (an unparsed order, or an inconsistent pair under ``consistent-only``)."""
    if aggregation not in AGGREGATIONS:
        raise DataError(
            f"unknown aggregation {aggregation!r} (expected one of {', '.join(AGGREGATIONS)})",
            field="aggregation",
        )
    outcome = np.asarray(outcome, dtype=np.int64).reshape(-1, 2)
    prob = np.asarray(prob, dtype=float).reshape(-1, 2)
    parsed = outcome >= 0
    value = np.where(parsed, prob, np.nan)
    any_unparsed = (outcome == UNPARSED).any(axis=1)
    both = parsed.all(axis=1)
    single = (parsed.sum(axis=1) == 1) & ~any_unparsed
    p = np.full(len(outcome), np.nan)
    if not len(outcome):
        return p
    p[single] = np.nanmax(np.where(parsed, value, -np.inf), axis=1)[single]
    mean = value.mean(axis=1)
    if aggregation == "average":
        p[both] = mean[both]
        return p
    agree = both & (outcome[:, 0] == outcome[:, 1])
    p[agree] = mean[agree]
    if aggregation == "inconsistent-as-tie":
        p[both & ~agree] = 0.5
    return p


def votes(p_a: np.ndarray) -> np.ndarray:
    """Outcome codes of aggregated probabilities: a (> ½), b (< ½), tie (= ½), UNPARSED (NaN)."""
    p_a = np.asarray(p_a, dtype=float)
    return np.select(
        [np.isnan(p_a), p_a > 0.5, p_a < 0.5], [UNPARSED, A_WINS, B_WINS], TIE
    ).astype(np.int64)
