"""Sufficient statistics for pairwise choice models: the win/tie count table.

Every pairwise model in :mod:`prefkit.choice` (Bradley–Terry, Thurstone, Davidson, Rao–Kupper)
has a log-likelihood that depends on the data only through, for each *unique row*
``(i, j, z)`` (first item, second item, covariate values), the weighted counts

    w_ij = Σ weight · 1[i beat j],   w_ji = Σ weight · 1[j beat i],   t_ij = Σ weight · 1[tie].

Counting is one ``np.bincount`` over integer pair codes ``i·n + j`` (no Python loop over
records), so a billion battles reduce to at most ``n(n-1)`` rows.  Without covariates or
order effects the pair is canonicalised to ``i < j`` (the models are symmetric), which halves
the table.  With covariates (home advantage, style features) rows are unique
``(i, j, z)`` tuples (``np.unique`` on the stacked columns).

Soft labels ``p_a`` are split into fractional wins: ``w_ij += weight·p_a``,
``w_ji += weight·(1-p_a)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from prefkit.errors import DataError

_DENSE_LIMIT = 50_000_000  # n*n bins above which counting falls back to np.unique


@dataclass
class PairCounts:
    """Aggregated pairwise outcomes: one row per unique ``(i, j[, z])``.

    Attributes:
        items: item names; ``i``/``j`` index into it.
        i, j: int64 arrays (R,): first and second item of each row.
        wi, wj, t: float arrays (R,): weighted wins of ``i``, wins of ``j``, ties.
        Z: float array (R, q) of per-row covariates (``None`` when q = 0).
        z_names: names of the covariate columns.
    """

    items: list[str]
    i: np.ndarray
    j: np.ndarray
    wi: np.ndarray
    wj: np.ndarray
    t: np.ndarray
    Z: np.ndarray | None = None
    z_names: list[str] = field(default_factory=list)

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def n_rows(self) -> int:
        return int(self.i.shape[0])

    @property
    def q(self) -> int:
        return 0 if self.Z is None else int(self.Z.shape[1])

    def total(self) -> float:
        return float(self.wi.sum() + self.wj.sum() + self.t.sum())

    def n_ties(self) -> float:
        return float(self.t.sum())

    def matrix(self) -> tuple[np.ndarray, np.ndarray]:
        """Dense ``(wins, ties)`` matrices: ``wins[i, j]`` = times i beat j; ties symmetric."""
        n = self.n_items
        wins = np.zeros((n, n))
        ties = np.zeros((n, n))
        np.add.at(wins, (self.i, self.j), self.wi)
        np.add.at(wins, (self.j, self.i), self.wj)
        np.add.at(ties, (self.i, self.j), self.t)
        return wins, ties + ties.T


def _check_records(
    n: int, ia: np.ndarray, ib: np.ndarray, wi: np.ndarray, wj: np.ndarray, t: np.ndarray
) -> None:
    if ia.size and (ia.min() < 0 or ib.min() < 0 or ia.max() >= n or ib.max() >= n):
        raise DataError("item code out of range (missing item id?)")
    for name, arr in (("a wins", wi), ("b wins", wj), ("ties", t)):
        if arr.size and (not np.isfinite(arr.sum()) or arr.min() < 0):
            raise DataError(f"{name}: weights must be finite and non-negative")


def _bincount(code: np.ndarray, weights: np.ndarray, size: int) -> np.ndarray:
    """Weighted counts of ``code`` on ``size`` bins, as an n×n table; codes ≥ size are errors."""
    out = np.bincount(code, weights=weights, minlength=size)
    if out.size > size:
        raise DataError("item code out of range (missing item id?)")
    n = round(size**0.5)
    return out.reshape(n, n)


def count_pairs(
    n_items: int,
    ia: np.ndarray,
    ib: np.ndarray,
    wi: np.ndarray,
    wj: np.ndarray,
    t: np.ndarray,
    *,
    Z: np.ndarray | None = None,
    items: list[str] | None = None,
    z_names: list[str] | None = None,
) -> PairCounts:
    """Aggregate per-record outcome weights into a :class:`PairCounts` table.

    ``wi``/``wj``/``t`` are per-record weights of "a won", "b won" and "tie".  Records comparing
    an item with itself carry no information and are dropped.
    """
    ia = np.asarray(ia, dtype=np.int64)
    ib = np.asarray(ib, dtype=np.int64)
    wi = np.asarray(wi, dtype=float)
    wj = np.asarray(wj, dtype=float)
    t = np.asarray(t, dtype=float)
    n = int(n_items)
    if items is None:
        items = [str(k) for k in range(n)]
    dense = (Z is None or Z.shape[1] == 0) and n * n <= _DENSE_LIMIT
    if not dense:
        _check_records(n, ia, ib, wi, wj, t)
    self_pairs = None if dense else ia == ib  # the dense table drops its diagonal anyway
    if self_pairs is not None and self_pairs.any():
        keep = ~self_pairs
        ia, ib, wi, wj, t = ia[keep], ib[keep], wi[keep], wj[keep], t[keep]
        Z = None if Z is None else Z[keep]
    if Z is None or Z.shape[1] == 0:
        if dense:
            # count ordered pairs, then fold (i, j) and (j, i) into i < j on the n×n tables;
            # range and weight checks run on the n×n tables, not on every record
            code = ia * n + ib
            size = n * n
            if code.size and (ia.min() < 0 or ib.min() < 0 or ib.max() >= n):
                raise DataError("item code out of range (missing item id?)")
            Wa = _bincount(code, wi, size)
            Wb = _bincount(code, wj, size)
            Tt = _bincount(code, t, size) if t.size and t.any() else np.zeros((n, n))
            for name, table in (("a wins", Wa), ("b wins", Wb), ("ties", Tt)):
                if not np.isfinite(table).all() or (table.size and table.min() < 0):
                    raise DataError(f"{name}: weights must be finite and non-negative")
            wins = Wa + Wb.T  # wins[i, j] = times i beat j
            ties = Tt + Tt.T
            iu, ju = np.triu_indices(n, k=1)
            c_lo, c_hi, c_t = wins[iu, ju], wins[ju, iu], ties[iu, ju]
            rows = np.flatnonzero((c_lo + c_hi + c_t) > 0)
            return PairCounts(
                list(items),
                iu[rows].astype(np.int64),
                ju[rows].astype(np.int64),
                c_lo[rows],
                c_hi[rows],
                c_t[rows],
            )
        swap = ia > ib
        lo = np.where(swap, ib, ia)
        hi = np.where(swap, ia, ib)
        w_lo = np.where(swap, wj, wi)
        w_hi = np.where(swap, wi, wj)
        code = lo * n + hi
        uniq, inv = np.unique(code, return_inverse=True)
        size = uniq.size
        c_lo = np.bincount(inv, weights=w_lo, minlength=size)
        c_hi = np.bincount(inv, weights=w_hi, minlength=size)
        c_t = np.bincount(inv, weights=t, minlength=size)
        keep = (c_lo + c_hi + c_t) > 0
        uniq = uniq[keep]
        return PairCounts(list(items), uniq // n, uniq % n, c_lo[keep], c_hi[keep], c_t[keep])
    Z = np.asarray(Z, dtype=float)
    if not np.all(np.isfinite(Z)):
        raise DataError("covariates must be finite (missing values?)")
    stacked = np.column_stack([ia.astype(float), ib.astype(float), Z])
    uniq, inv = np.unique(stacked, axis=0, return_inverse=True)
    inv = inv.ravel()
    size = uniq.shape[0]
    c_i = np.bincount(inv, weights=wi, minlength=size)
    c_j = np.bincount(inv, weights=wj, minlength=size)
    c_t = np.bincount(inv, weights=t, minlength=size)
    keep = (c_i + c_j + c_t) > 0
    uniq = uniq[keep]
    return PairCounts(
        list(items),
        uniq[:, 0].astype(np.int64),
        uniq[:, 1].astype(np.int64),
        c_i[keep],
        c_j[keep],
        c_t[keep],
        uniq[:, 2:].copy(),
        list(z_names or [f"z{k}" for k in range(Z.shape[1])]),
    )


def counts_from_matrix(
    wins: np.ndarray, ties: np.ndarray | None = None, items: list[str] | None = None
) -> PairCounts:
    """Build counts from a dense win matrix (``wins[i, j]`` = times i beat j) and tie matrix."""
    wins = np.asarray(wins, dtype=float)
    n = wins.shape[0]
    iu, ju = np.triu_indices(n, k=1)
    t = np.zeros(iu.size) if ties is None else np.asarray(ties, dtype=float)[iu, ju]
    return count_pairs(n, iu, ju, wins[iu, ju], wins[ju, iu], t, items=items)


def count_outcomes(
    n_items: int,
    ia: np.ndarray,
    ib: np.ndarray,
    outcome: np.ndarray,
    *,
    items: list[str] | None = None,
) -> PairCounts:
    """Count hard, unweighted outcomes: ``outcome`` 0 = a won, 1 = b won, 2 = tie.

    The fast path for raw battle logs: one unweighted ``np.bincount`` over the codes
    ``3·(i·n + j) + outcome`` builds the whole table (no float weight arrays), then the same
    folding into ``i < j`` rows as :func:`count_pairs`.
    """
    ia = np.asarray(ia, dtype=np.int64)
    ib = np.asarray(ib, dtype=np.int64)
    outcome = np.asarray(outcome)
    n = int(n_items)
    if n * n * 3 > 3 * _DENSE_LIMIT:
        wi = (outcome == 0).astype(float)
        wj = (outcome == 1).astype(float)
        return count_pairs(n, ia, ib, wi, wj, (outcome == 2).astype(float), items=items)
    if ia.size and (ia.min() < 0 or ib.min() < 0 or ib.max() >= n):
        raise DataError("item code out of range (missing item id?)")
    if outcome.size and (outcome.min() < 0 or outcome.max() > 2):
        raise DataError("outcome codes must be 0 (a won), 1 (b won) or 2 (tie)")
    code = ia * (3 * n) + ib * 3 + outcome
    table = np.bincount(code, minlength=3 * n * n)
    if table.size > 3 * n * n:
        raise DataError("item code out of range (missing item id?)")
    table = table.reshape(n, n, 3).astype(float)
    wins = table[:, :, 0] + table[:, :, 1].T
    ties = table[:, :, 2] + table[:, :, 2].T
    iu, ju = np.triu_indices(n, k=1)
    c_lo, c_hi, c_t = wins[iu, ju], wins[ju, iu], ties[iu, ju]
    rows = np.flatnonzero((c_lo + c_hi + c_t) > 0)
    names = list(items) if items is not None else [str(k) for k in range(n)]
    return PairCounts(
        names,
        iu[rows].astype(np.int64),
        ju[rows].astype(np.int64),
        c_lo[rows],
        c_hi[rows],
        c_t[rows],
    )
