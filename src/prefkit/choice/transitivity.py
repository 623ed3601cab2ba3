r"""Transitivity of a preference matrix: the probability of a cycle in a triad.

For items i, j, k with P_ab = P(a ≻ b) and the three comparisons drawn independently, the
probability that they form a cycle (either direction) is

    P_cycle(i, j, k) = P_ij·P_jk·P_ki + P_ik·P_kj·P_ji

and the *transitivity* of a set of items is 1 − the mean of P_cycle over all triads (with no
missing entry); with P̃ = P with a zero diagonal, Σ_triads P_cycle = trace(P̃³)/3.  This is the
transitivity half of the "coherence" of the Thurstonian utilities of Mazeika et al. (2025),
"Utility Engineering: Analyzing and Controlling Emergent Value Systems in AIs" (the other half is
held-out accuracy of the fitted model, e.g. :func:`prefkit.evaluate` on a test split); the exact
estimator of that paper is reconstructed here from the seed catalogue's description.
:func:`majority_cycle_rate` is the deterministic counterpart: the share of triads whose majority
relation is a cycle (Kendall & Babington Smith 1940).

Fully random preferences (every P = ½) give P_cycle = ¼; any P that follows a strict order with
certainty gives 0; a certain rock–paper–scissors triad gives 1.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np

from prefkit.choice._data import pair_records
from prefkit.errors import DataError


def _matrix(p: Any) -> np.ndarray:
    arr = np.asarray(p, dtype=float)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.shape[0] < 3:
        raise DataError(f"need a square preference matrix of 3+ items, got shape {arr.shape}")
    finite = arr[~np.isnan(arr)]
    if np.any((finite < 0) | (finite > 1)):
        raise DataError("preference probabilities must lie in [0, 1]")
    return arr


def _triads(n: int) -> np.ndarray:
    return np.array(list(combinations(range(n), 3)), dtype=np.int64)


def cycle_probabilities(p: Any) -> np.ndarray:
    """P_cycle of every triad i < j < k (NaN where an entry of the triad is missing)."""
    arr = _matrix(p)
    t = _triads(arr.shape[0])
    i, j, k = t[:, 0], t[:, 1], t[:, 2]
    return arr[i, j] * arr[j, k] * arr[k, i] + arr[i, k] * arr[k, j] * arr[j, i]


def cycle_probability(p: Any) -> float:
    """Mean P_cycle over the triads with all three comparisons known."""
    probs = cycle_probabilities(p)
    probs = probs[~np.isnan(probs)]
    if probs.size == 0:
        raise DataError("no triad of items with all three pairs compared")
    return float(probs.mean())


def transitivity(p: Any) -> float:
    """1 − :func:`cycle_probability` (1 = never a cycle)."""
    return 1.0 - cycle_probability(p)


def majority_cycle_rate(p: Any) -> float:
    """Share of complete triads whose majority relation (P > ½) is a cycle."""
    arr = _matrix(p)
    t = _triads(arr.shape[0])
    i, j, k = t[:, 0], t[:, 1], t[:, 2]
    ok = ~np.isnan(arr[i, j] + arr[j, k] + arr[i, k])
    if not ok.any():
        raise DataError("no triad of items with all three pairs compared")
    a, b, c = arr[i, j][ok] > 0.5, arr[j, k][ok] > 0.5, arr[k, i][ok] > 0.5
    a2, b2, c2 = arr[j, i][ok] > 0.5, arr[k, j][ok] > 0.5, arr[i, k][ok] > 0.5
    return float(((a & b & c) | (a2 & b2 & c2)).mean())


def empirical_preference_matrix(dataset: Any) -> tuple[list[str], np.ndarray]:
    """(items, P) with P[i, j] = share of i's wins over j (ties half; NaN = never compared)."""
    rec = pair_records(dataset)
    n = len(rec.items)
    wins = np.zeros((n, n))
    np.add.at(wins, (rec.ia, rec.ib), rec.wi + 0.5 * rec.t)
    np.add.at(wins, (rec.ib, rec.ia), rec.wj + 0.5 * rec.t)
    games = wins + wins.T
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(games > 0, wins / np.where(games > 0, games, 1.0), np.nan)
    np.fill_diagonal(p, 0.5)
    return list(rec.items), p
