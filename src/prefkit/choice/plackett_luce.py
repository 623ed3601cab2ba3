"""Plackett–Luce model for rankings and top-1 choices, fitted by MM (Hunter 2004) or Newton.

Luce (1959), Plackett (1975).  A ranking i_1 ≻ i_2 ≻ … ≻ i_L of a choice set is a sequence of
choices, each from the items not yet chosen (plus any ``unranked`` items, which are below all
ranked ones):

    P(ranking) = Π_s  γ_{i_s} / Σ_{k ∈ R_s} γ_k,      γ = e^θ,  R_s = items still available.

A top-1 choice is the one-stage case (``ranking=[winner]``, ``unranked=[the others]``) and a
pairwise comparison is the two-item case (so Plackett–Luce on pairs is Bradley–Terry).

Ties within a ranking (equal ``ranks``) use the Breslow (1974) convention familiar from Cox's
partial likelihood: a tied group G_s is chosen from R_s with probability
Π_{g∈G_s} γ_g / (Σ_{k∈R_s} γ_k)^{|G_s|}.  (The Davidson–Luce model of Firth, Kosmidis & Turner
(2019) is an alternative not implemented here.)

MM algorithm (Hunter, D. R. (2004), "MM algorithms for generalized Bradley–Terry models",
Annals of Statistics 32, 384–406, Section 5):

    γ_i ← W_i / Σ_s w_s m_s 1[i ∈ R_s] / Σ_{k∈R_s} γ_k,

with W_i = Σ_s w_s 1[i ∈ G_s] the (weighted) number of stages item i wins and m_s = |G_s|.
Newton (``solver="newton"``, and always for MAP with a Gaussian prior) uses the gradient
W − Σ_s w_s m_s p_s and the information Σ_s w_s m_s (diag p_s − p_s p_sᵀ), p_s = softmax over R_s.
The MLE exists iff every split of the items has a stage choosing across it both ways (Hunter 2004,
Assumption 1); otherwise a warning names the items and a small Gaussian prior is added.

Callers that run many Newton steps on one stage table with changing weights (EM for mixtures)
build a :class:`StagePlan` once (:func:`stage_plan`): stage starts, winner entries, and either
dense (S, n) availability / winner tables or the index of entry pairs sharing a stage.  With the
dense tables (stages covering most items, e.g. full rankings) every per-stage sum is a matrix
product; with P the (S, n) stage probabilities (0 off R_s) and c_s = w_s m_s,

    log Σ_{k∈R_s} γ_k = log(avail · e^{θ − max θ})_s + max θ,
    I = diag(cᵀP) − Pᵀ diag(c) P.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from prefkit.choice._data import pair_records, ranking_records
from prefkit.choice.graph import ComparisonGraphWarning
from prefkit.choice.persist import read_legacy
from prefkit.core.estimator import PreferenceEstimator
from prefkit.core.mathfn import sigmoid
from prefkit.core.persist import malformed, register
from prefkit.errors import DataError, ModelFileError

_MAX_PAIRS = 30_000_000
_MAX_DENSE = 2_000_000  # cells of each dense (stages × items) table of a StagePlan


@dataclass
class Stages:
    """Choice stages flattened: one entry per (stage, available item)."""

    n: int
    items: list[str]
    stage: np.ndarray  # (E,) stage id of each entry
    member: np.ndarray  # (E,) item code of each entry
    winner: np.ndarray  # (E,) bool, item chosen at this stage
    mult: np.ndarray  # (S,) |G_s|
    record: np.ndarray  # (S,) record (ranking) id of each stage
    weight: np.ndarray  # (S,) weight of each stage = weight of its record
    n_records: int

    @property
    def n_stages(self) -> int:
        return int(self.mult.shape[0])

    def with_record_weights(self, w: np.ndarray) -> Stages:
        return Stages(
            self.n, self.items, self.stage, self.member, self.winner, self.mult,
            self.record, w[self.record], self.n_records,
        )


def stages_from_rankings(
    n: int,
    rankings: list[np.ndarray],
    ranks: list[np.ndarray] | None = None,
    unranked: list[np.ndarray] | None = None,
    weights: np.ndarray | None = None,
    items: list[str] | None = None,
) -> Stages:
    """Build stages from rankings given as arrays of item codes (best first)."""
    strict = (ranks is None or all(np.all(np.diff(k) > 0) for k in ranks)) and (
        unranked is None or all(len(u) == 0 for u in unranked)
    )
    if strict:
        return _strict_stages(n, rankings, weights, items)
    stage, member, winner, mult, record = [], [], [], [], []
    s = 0
    for r, codes in enumerate(rankings):
        codes = np.asarray(codes, dtype=np.int64)
        kk = np.arange(codes.size) if ranks is None else np.asarray(ranks[r])
        rest = np.zeros(0, np.int64) if unranked is None else np.asarray(unranked[r], np.int64)
        starts = np.flatnonzero(np.r_[True, kk[1:] != kk[:-1]])
        ends = np.r_[starts[1:], codes.size]
        for a, b in zip(starts, ends, strict=False):
            risk = np.concatenate([codes[a:], rest])
            if risk.size < 2:
                continue
            stage.append(np.full(risk.size, s))
            member.append(risk)
            w = np.zeros(risk.size, dtype=bool)
            w[: b - a] = True
            winner.append(w)
            mult.append(b - a)
            record.append(r)
            s += 1
    if s == 0:
        raise DataError("no ranking has two or more items to choose between")
    m = len(rankings)
    return Stages(
        n,
        list(items) if items is not None else [str(k) for k in range(n)],
        np.concatenate(stage),
        np.concatenate(member),
        np.concatenate(winner),
        np.asarray(mult, dtype=float),
        np.asarray(record, dtype=np.int64),
        (np.ones(m) if weights is None else np.asarray(weights, float))[np.asarray(record)],
        m,
    )


def _strict_stages(
    n: int, rankings: list[np.ndarray], weights: np.ndarray | None, items: list[str] | None
) -> Stages:
    """:func:`stages_from_rankings` for rankings without ties or unranked items, vectorised:
    the rankings of each length L are one (m, L) array, and stage p of every ranking is
    ``row[p:]`` with ``row[p]`` chosen — the same stages, in the same order per ranking."""
    lengths = np.fromiter((len(r) for r in rankings), dtype=np.int64, count=len(rankings))
    parts = []
    next_stage = 0
    for L in np.unique(lengths):
        if L < 2:
            continue
        recs = np.flatnonzero(lengths == L)
        R = np.array([rankings[r] for r in recs], dtype=np.int64).reshape(recs.size, L)
        p_idx, j_idx = np.nonzero(np.triu(np.ones((L - 1, L), dtype=bool)))
        m = recs.size
        member = R[:, j_idx].ravel()
        local = np.tile(p_idx, m) + np.repeat(np.arange(m) * (L - 1), p_idx.size)
        parts.append((
            next_stage + local,
            member,
            np.tile(j_idx == p_idx, m),
            np.repeat(recs, L - 1),
        ))
        next_stage += m * (L - 1)
    if next_stage == 0:
        raise DataError("no ranking has two or more items to choose between")
    record = np.concatenate([q[3] for q in parts])
    w = np.ones(len(rankings)) if weights is None else np.asarray(weights, float)
    return Stages(
        n,
        list(items) if items is not None else [str(k) for k in range(n)],
        np.concatenate([q[0] for q in parts]),
        np.concatenate([q[1] for q in parts]),
        np.concatenate([q[2] for q in parts]),
        np.ones(next_stage),
        record,
        w[record],
        len(rankings),
    )


def stages_from_pairs(ds: Any) -> Stages:
    """Pairwise records as two-item stages (ties: both chosen, Breslow)."""
    rec = pair_records(ds)
    N = rec.ia.size
    hard = (rec.wi + rec.wj) > 0
    # split soft labels / weights into "a chosen" and "b chosen" stages plus tie stages
    parts = []
    for first, second, w in ((rec.ia, rec.ib, rec.wi), (rec.ib, rec.ia, rec.wj)):
        k = np.flatnonzero(hard & (w > 0))
        parts.append((first[k], second[k], w[k], np.ones(k.size), k))
    kt = np.flatnonzero(rec.t > 0)
    parts.append((rec.ia[kt], rec.ib[kt], rec.t[kt], np.full(kt.size, 2.0), kt))
    a = np.concatenate([p[0] for p in parts])
    b = np.concatenate([p[1] for p in parts])
    w = np.concatenate([p[2] for p in parts])
    mult = np.concatenate([p[3] for p in parts])
    record = np.concatenate([p[4] for p in parts])
    S = a.size
    if S == 0:
        raise DataError(
            "every record has weight 0: nothing to fit (give some records a positive weight)",
            source=getattr(ds, "name", None), field="weight",
        )
    stage = np.repeat(np.arange(S), 2)
    member = np.column_stack([a, b]).ravel()
    winner = np.column_stack([np.ones(S, bool), mult == 2.0]).ravel()
    return Stages(len(rec.items), rec.items, stage, member, winner, mult, record, w, N)


def positive_stages(st: Stages) -> Stages:
    """``st`` without its zero-weight stages (they carry no information and must not count as
    comparisons in the graph check); a one-line :class:`DataError` when no weight is left."""
    keep = st.weight > 0
    if not keep.any():
        raise DataError(
            "every record has weight 0: nothing to fit (give some records a positive weight)",
            field="weight",
        )
    if keep.all():
        return st
    new_id = np.cumsum(keep) - 1
    entries = keep[st.stage]
    return Stages(
        st.n, st.items, new_id[st.stage[entries]], st.member[entries], st.winner[entries],
        st.mult[keep], st.record[keep], st.weight[keep], st.n_records,
    )


def stage_starts(st: Stages) -> np.ndarray:
    """(S,) index of the first entry of each stage (entries of a stage are contiguous)."""
    return np.flatnonzero(np.r_[True, st.stage[1:] != st.stage[:-1]])


def _stage_max(st: Stages, values: np.ndarray, starts: np.ndarray | None = None) -> np.ndarray:
    """Per-stage maximum of entry values (entries of a stage are contiguous)."""
    return np.maximum.reduceat(values, stage_starts(st) if starts is None else starts)


def _log_denominators(
    st: Stages, theta: np.ndarray, starts: np.ndarray | None = None
) -> np.ndarray:
    """log Σ_{k∈R_s} e^{θ_k} per stage, computed stably (per-stage log-sum-exp)."""
    vals = theta[st.member]
    mx = _stage_max(st, vals, starts)
    return mx + np.log(np.bincount(st.stage, np.exp(vals - mx[st.stage]), st.n_stages))


def _loglik(st: Stages, theta: np.ndarray) -> float:
    log_den = _log_denominators(st, theta)
    win = np.bincount(st.stage, np.where(st.winner, theta[st.member], 0.0), st.n_stages)
    return float((st.weight * (win - st.mult * log_den)).sum())


def _loglik_from(
    st: Stages, theta: np.ndarray, log_den: np.ndarray, plan: StagePlan
) -> float:
    """Σ_s w_s (Σ_{g∈G_s} θ_g − m_s log Σ_{k∈R_s} e^{θ_k}) given the log-denominators.

    With the same log-denominators this equals :func:`_loglik` bit for bit (the winner sums
    only skip the zero terms of non-winners).
    """
    win = np.bincount(plan.win_stage, theta[plan.win_member], st.n_stages)
    return float((st.weight * (win - st.mult * log_den)).sum())


def _probs(st: Stages, theta: np.ndarray) -> np.ndarray:
    return np.exp(theta[st.member] - _log_denominators(st, theta)[st.stage])


def mm_solve(
    st: Stages, theta0: np.ndarray | None = None, *, tol: float = 1e-10, max_iter: int = 100_000
) -> tuple[np.ndarray, int, bool]:
    """Hunter's (2004) MM iteration on log-strengths; returns (θ, iterations, converged)."""
    n = st.n
    wins = np.bincount(st.member[st.winner], st.weight[st.stage[st.winner]], n)
    coef = (st.weight * st.mult)[st.stage]
    theta = np.zeros(n) if theta0 is None else np.asarray(theta0, float) - np.mean(theta0)
    for it in range(1, max_iter + 1):
        gam = np.exp(theta)
        denom = np.bincount(st.stage, gam[st.member], st.n_stages)
        rate = np.bincount(st.member, coef / denom[st.stage], n)
        new = np.log(np.maximum(wins, 1e-300)) - np.log(rate)
        new -= new.mean()
        delta = np.abs(new - theta).max()
        theta = new
        if delta < tol:
            return theta, it, True
    return theta, max_iter, False


def stage_pair_index(st: Stages) -> tuple[np.ndarray, np.ndarray] | None:
    """Every ordered (row, row) pair of entries that share a choice stage, for the Hessian.

    Returns ``None`` when Σ_s |stage s|² exceeds the memory cap (callers then use the MM update).
    """
    sizes = np.bincount(st.stage, minlength=st.n_stages)
    if int((sizes.astype(np.int64) ** 2).sum()) > _MAX_PAIRS:
        return None
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    order = np.argsort(st.stage, kind="stable")
    ea, eb = [], []
    for size in np.unique(sizes):
        ss = np.flatnonzero(sizes == size)
        off = starts[ss][:, None, None]
        ia, ib = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
        ea.append((off + ia[None]).ravel())
        eb.append((off + ib[None]).ravel())
    return order[np.concatenate(ea)], order[np.concatenate(eb)]


@dataclass(frozen=True, eq=False)
class StagePlan:
    """What Newton needs of a stage table that neither θ nor the stage weights change.

    Built once by :func:`stage_plan` and reused for every re-weighting of the same stages
    (``dataclasses.replace(st, weight=...)``), e.g. every M-step of a mixture's EM.
    With the dense layout, ``avail`` (S, n) is 1 where item i is in R_s and ``won`` (S, n)
    is 1 where it is in G_s; otherwise ``pairs`` indexes the entry pairs sharing a stage.
    """

    n: int
    n_stages: int
    starts: np.ndarray  # (S,) first entry of each stage
    win_stage: np.ndarray  # (W,) stage of each winner entry
    win_member: np.ndarray  # (W,) item of each winner entry
    avail: np.ndarray | None  # (S, n) 0/1: item available at the stage (dense layout)
    won: np.ndarray | None  # (S, n) 0/1: item chosen at the stage (dense layout)
    pairs: tuple[np.ndarray, np.ndarray] | None  # entry pairs sharing a stage (sparse layout)


def _dense_table(st: Stages, entries: np.ndarray) -> np.ndarray:
    """(S, n) table with 1 at (stage, item) of the selected entries, 0 elsewhere."""
    table = np.zeros((st.n_stages, st.n))
    table[st.stage[entries], st.member[entries]] = 1.0
    return table


def stage_plan(st: Stages) -> StagePlan | None:
    """Pre-compute the θ- and weight-free structure of ``st`` for :func:`newton_solve`.

    Dense (S, n) tables are used when the stages cover most items (S·n² ≤ 8 Σ_s |R_s|², e.g.
    full rankings) and have at most 2·10⁶ cells: then every per-stage sum is a matrix product.
    Otherwise the sums run over entries and the entry-pair index of :func:`stage_pair_index`.
    Returns ``None`` when that index exceeds its memory cap (callers then use the MM update).
    """
    sizes = np.bincount(st.stage, minlength=st.n_stages).astype(np.int64)
    cells = st.n_stages * st.n
    dense = cells <= _MAX_DENSE and cells * st.n <= 8 * int((sizes**2).sum())
    pairs = None if dense else stage_pair_index(st)
    if not dense and pairs is None:
        return None
    all_entries = np.arange(st.stage.size)
    return StagePlan(
        n=st.n,
        n_stages=st.n_stages,
        starts=stage_starts(st),
        win_stage=st.stage[st.winner],
        win_member=st.member[st.winner],
        avail=_dense_table(st, all_entries) if dense else None,
        won=_dense_table(st, all_entries[st.winner]) if dense else None,
        pairs=pairs,
    )


def _entry_plan(st: Stages, pairs: tuple[np.ndarray, np.ndarray]) -> StagePlan:
    """A plan with the entry (sparse) layout and the given entry-pair index."""
    return StagePlan(
        st.n, st.n_stages, stage_starts(st), st.stage[st.winner], st.member[st.winner],
        None, None, pairs,
    )


def dense_log_denominators(plan: StagePlan, theta: np.ndarray) -> np.ndarray | None:
    """log Σ_{k∈R_s} e^{θ_k} of every stage for θ (n,) → (S,) or (K, n) → (K, S).

    With θ* = max_k θ_k:  log(avail · e^{θ − θ*}) + θ*, one matrix product.  ``None`` without dense
    tables, or when some stage's sum falls below 1e-250 (then the per-stage log-sum-exp of
    :func:`_log_denominators` is needed).
    """
    if plan.avail is None:
        return None
    shift = theta.max(axis=-1, keepdims=True)
    den = np.exp(theta - shift) @ plan.avail.T
    if not den.size or den.min() < 1e-250:
        return None
    return np.log(den) + shift


def _plan_log_denominators(st: Stages, theta: np.ndarray, plan: StagePlan) -> np.ndarray:
    """(S,) log-denominators: dense product when the plan allows, else per-stage log-sum-exp."""
    out = dense_log_denominators(plan, theta)
    return _log_denominators(st, theta, plan.starts) if out is None else out


def _expected_and_information(
    st: Stages, plan: StagePlan, theta: np.ndarray, log_den: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(Σ_s c_s p_s, Σ_s c_s (diag p_s − p_s p_sᵀ)) with c_s = w_s m_s, p_s = softmax over R_s.

    Dense layout: with P (S, n) the stage probabilities (0 off R_s), these are cᵀP and
    diag(cᵀP) − Pᵀ diag(c) P.  Entry layout: sums over entries and over entry pairs.
    """
    n = st.n
    c = st.weight * st.mult
    if plan.avail is None:
        p = np.exp(theta[st.member] - log_den[st.stage])
        coef = c[st.stage]
        expected = np.bincount(st.member, coef * p, n)
        return expected, _information(st, p, coef, *plan.pairs)
    P = plan.avail * np.exp(theta[None, :] - log_den[:, None])
    expected = c @ P
    return expected, np.diag(expected) - (P * c[:, None]).T @ P


def newton_solve(
    st: Stages,
    theta0: np.ndarray | None = None,
    *,
    prec: float = 0.0,
    tol: float = 1e-10,
    max_iter: int = 100,
    pairs: tuple[np.ndarray, np.ndarray] | None = None,
    plan: StagePlan | None = None,
    final_info: bool = True,
) -> tuple[np.ndarray, np.ndarray | None, int, bool]:
    """Newton on θ with line search; returns (θ, information matrix, iterations, converged).

    Maximises ℓ(θ) − prec ‖θ‖²/2 with steps d = (I + prec·1)⁻¹ g,
    g = W − Σ_s w_s m_s p_s − prec θ, halving d until the Armijo condition holds.
    ``plan`` (:func:`stage_plan` of a table with the same entries, any weights) replaces
    ``pairs`` and the per-call index work; ``final_info=False`` skips the information at the
    returned θ (then ``None``).
    """
    n = st.n
    if plan is None:
        if pairs is None:
            pairs = stage_pair_index(st)
            if pairs is None:
                raise ValueError(
                    "too many (stage, item, item) triples for Newton; use solver='mm'"
                )
        plan = _entry_plan(st, pairs)
    wins = np.bincount(plan.win_member, st.weight[plan.win_stage], n)
    theta = np.zeros(n) if theta0 is None else np.asarray(theta0, float).copy()

    def f(th: np.ndarray, log_den: np.ndarray | None = None) -> float:
        if log_den is None:
            log_den = _plan_log_denominators(st, th, plan)
        return -_loglik_from(st, th, log_den, plan) + 0.5 * prec * float(th @ th)

    converged = False
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007
        log_den = _plan_log_denominators(st, theta, plan)
        expected, info = _expected_and_information(st, plan, theta, log_den)
        g = wins - expected - prec * theta
        A = info + prec * np.eye(n)
        if prec == 0.0:
            A = A + 1.0
        d = np.linalg.solve(A, g)
        f0, step = f(theta, log_den), 1.0
        while step > 1e-10:
            if f(theta + step * d) <= f0 - 1e-4 * step * float(g @ d) + 1e-12 * abs(f0):
                break
            step *= 0.5
        theta = theta + step * d
        if np.abs(step * d).max() < tol:
            converged = True
            break
    if prec == 0.0:
        theta -= theta.mean()
    if not final_info:
        return theta, None, it, converged
    info = _expected_and_information(st, plan, theta, _plan_log_denominators(st, theta, plan))[1]
    return theta, info + prec * np.eye(n), it, converged


def _information(st, p, coef, ea, eb) -> np.ndarray:
    n = st.n
    diag = np.bincount(st.member, coef * p, n)
    outer = np.bincount(
        st.member[ea] * n + st.member[eb], coef[ea] * p[ea] * p[eb], n * n
    ).reshape(n, n)
    return np.diag(diag) - outer


def _diagnose(st: Stages) -> tuple[bool, list[str], list[str]]:
    """Strong connectivity of the member → winner graph; (ok, never-chosen, never-beaten)."""
    n = st.n
    sw = st.stage[st.winner]
    ww = st.member[st.winner]
    # map each entry to its stage's winners (entries × winners of that stage)
    order = np.argsort(sw, kind="stable")
    sw, ww = sw[order], ww[order]
    first = np.searchsorted(sw, st.stage, side="left")
    last = np.searchsorted(sw, st.stage, side="right")
    counts = last - first
    src = np.repeat(st.member, counts)
    offset = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    idx = np.repeat(first, counts) + offset
    dst = ww[idx]
    keep = src != dst
    g = sparse.csr_matrix((np.ones(keep.sum()), (src[keep], dst[keep])), shape=(n, n))
    n_strong, _ = csgraph.connected_components(g, directed=True, connection="strong")
    seen = np.bincount(st.member, minlength=n) > 0
    chosen = np.bincount(ww, minlength=n) > 0
    beaten = np.bincount(src[keep], minlength=n) > 0
    names = np.asarray(st.items, dtype=object)
    never_chosen = [str(x) for x in names[seen & ~chosen]]
    never_beaten = [str(x) for x in names[seen & ~beaten]]
    return n_strong == 1 and seen.all(), never_chosen, never_beaten


@register("choice.PlackettLuce")
class PlackettLuce(PreferenceEstimator):
    """Plackett–Luce model (see module docstring).

    Args:
        solver: ``"mm"`` (Hunter 2004) or ``"newton"``; MAP fits always use Newton.
        prior_var: variance of a N(0, prior_var) prior on θ (MAP); ``None`` for the MLE.
        fallback_prior_var: prior added with a warning when the MLE does not exist.
        tol, max_iter: stopping rule on the largest change of θ; iteration cap.
    """

    _fitted_attr: ClassVar[str | None] = "ratings_"

    def __init__(
        self,
        *,
        solver: str = "mm",
        prior_var: float | None = None,
        fallback_prior_var: float = 10.0,
        tol: float = 1e-10,
        max_iter: int | None = None,
    ) -> None:
        self.solver = solver
        self.prior_var = prior_var
        self.fallback_prior_var = fallback_prior_var
        self.tol = tol
        self.max_iter = max_iter

    def stages(self, dataset: Any) -> Stages:
        if getattr(dataset, "kind", None) == "pairwise":
            return stages_from_pairs(dataset)
        rec = ranking_records(dataset)
        return stages_from_rankings(
            len(rec.items), rec.rankings, rec.ranks, rec.unranked, rec.weights, rec.items
        )

    def fit(self, dataset: Any, *, init: Any = None) -> PlackettLuce:
        """Fit on a ranking (or pairwise) dataset; returns ``self``."""
        return self.fit_stages(self.stages(dataset), init=init)

    def fit_stages(self, st: Stages, *, init: Any = None) -> PlackettLuce:
        if self.solver not in ("mm", "newton"):
            raise ValueError(f"solver must be 'mm' or 'newton', not {self.solver!r}")
        st = positive_stages(st)
        ok, never_chosen, never_beaten = _diagnose(st)
        prior_var = self.prior_var
        self.regularized_ = False
        if not ok:
            parts = []
            if never_chosen:
                parts.append(f"items never chosen: {never_chosen[:10]}")
            if never_beaten:
                parts.append(f"items never beaten: {never_beaten[:10]}")
            msg = "; ".join(parts) or "comparison graph is not strongly connected"
            if prior_var is None:
                prior_var = self.fallback_prior_var
                self.regularized_ = True
                msg += f"; adding a N(0, {prior_var:g}) prior on the ratings"
            warnings.warn(msg, ComparisonGraphWarning, stacklevel=2)
        theta0 = None if init is None else np.asarray(
            init.ratings_ if hasattr(init, "ratings_") else init, float
        )
        pairs = None
        if prior_var is None and self.solver == "mm":
            theta, it, conv = mm_solve(st, theta0, tol=self.tol, max_iter=self.max_iter or 100_000)
            pairs = stage_pair_index(st)
            info = None
            if pairs is not None:
                coef = (st.weight * st.mult)[st.stage]
                info = _information(st, _probs(st, theta), coef, *pairs)
        else:
            prec = 0.0 if prior_var is None else 1.0 / prior_var
            theta, info, it, conv = newton_solve(
                st, theta0, prec=prec, tol=self.tol, max_iter=self.max_iter or 100
            )
        self.items_ = list(st.items)
        self.ratings_ = theta
        self.n_iter_ = it
        self.converged_ = conv
        self.prior_var_ = prior_var
        self.log_likelihood_ = _loglik(st, theta)
        self.n_obs_ = float(np.bincount(st.record, st.weight, st.n_records).astype(bool).sum())
        self.stages_ = st
        self._info = info
        self.cov_ = self._sandwich() if info is not None and st.n <= 3000 else None
        self.tie_param_ = None
        return self

    # ------------------------------------------------------------------ uncertainty
    def _inv_info(self) -> np.ndarray:
        n = len(self.items_)
        A = self._info + (1.0 if self.prior_var_ is None else 0.0)
        Ainv = np.linalg.inv(A)
        if self.prior_var_ is None:
            P = np.eye(n) - 1.0 / n
            Ainv = P @ Ainv @ P
        return Ainv

    def _sandwich(self) -> np.ndarray | None:
        st = self.stages_
        n = st.n
        if st.n_records * n > 50_000_000:
            return None
        p = _probs(st, self.ratings_)
        contrib = np.where(st.winner, 1.0, 0.0) - st.mult[st.stage] * p
        rec = st.record[st.stage]
        S = np.bincount(rec * n + st.member, contrib, st.n_records * n).reshape(st.n_records, n)
        w = np.bincount(st.record, st.weight, st.n_records) / np.maximum(
            np.bincount(st.record, minlength=st.n_records), 1
        )
        J = (S * w[:, None]).T @ S
        Ainv = self._inv_info()
        return Ainv @ J @ Ainv

    def rating_cov(self, kind: str = "sandwich") -> np.ndarray:
        self._check_fitted()
        if kind == "model":
            return self._inv_info()
        if self.cov_ is None:
            raise ValueError("sandwich covariance not available")
        return self.cov_

    def _bootstrap(self, n_rounds: int, *, seed: int | None = 0):
        """Record (ranking) bootstrap, batched on choice-set statistics (:mod:`.pl_bootstrap`)."""
        from prefkit.choice.pl_bootstrap import bootstrap_rankings
        from prefkit.choice.uncertainty import BootstrapResult

        prec = 1e-6 if self.prior_var_ is None else 1.0 / self.prior_var_
        out, conv = bootstrap_rankings(self.stages_, self.ratings_, n_rounds, seed=seed, prec=prec)
        return BootstrapResult(out, out, conv, list(self.items_))

    # ------------------------------------------------------------------ prediction
    def _check_fitted(self) -> None:
        self.check_fitted()

    def item_scores(self, items: Any = None) -> np.ndarray:
        """Log-strengths θ (mean zero) of the named items (all items when ``None``)."""
        from prefkit.choice._pairwise import item_scores

        self._check_fitted()
        return item_scores(self.items_, self.ratings_, items)

    def score(self, items: Any) -> np.ndarray:
        """Deprecated alias of :meth:`item_scores` (kept for one release)."""
        warnings.warn(
            "PlackettLuce.score is deprecated; use item_scores", DeprecationWarning, stacklevel=2
        )
        return self.item_scores(items)

    def predict_proba(self, dataset: Any) -> np.ndarray:
        """P(a ≻ b) = σ(θ_a − θ_b) per pairwise record (rankings: per pair of their
        ``to_pairs()`` view, i.e. full rank breaking)."""
        self._check_fitted()
        if getattr(dataset, "kind", None) == "ranking":
            dataset = dataset.to_pairs()
        rec = pair_records(dataset)
        pos = {nm: k for k, nm in enumerate(self.items_)}
        th = np.append(self.ratings_, 0.0)
        lk = np.array([pos.get(nm, -1) for nm in rec.items], dtype=np.int64)
        eta = th[lk[rec.ia]] - th[lk[rec.ib]]
        return sigmoid(eta)

    def choice_proba(self, choice_set: list[str]) -> np.ndarray:
        """P(each item is chosen first) from ``choice_set``."""
        th = self.item_scores(choice_set)
        e = np.exp(th - th.max())
        return e / e.sum()

    def win_matrix(self) -> np.ndarray:
        self._check_fitted()
        return sigmoid(self.ratings_[:, None] - self.ratings_[None, :])

    def log_likelihood(self, dataset: Any) -> float:
        self._check_fitted()
        st = self.stages(dataset)
        pos = {nm: k for k, nm in enumerate(self.items_)}
        th = np.array([self.ratings_[pos[nm]] if nm in pos else 0.0 for nm in st.items])
        return _loglik(st, th)

    # ------------------------------------------------------------------ persistence
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """(config, arrays) for :mod:`prefkit.core.persist` (``prefkit.save(model, dir)``)."""
        self._check_fitted()
        config = {
            "params": self.get_params(),
            "items": list(self.items_),
            "scalars": {
                "log_likelihood": self.log_likelihood_,
                "n_obs": self.n_obs_,
                "n_iter": self.n_iter_,
                "converged": self.converged_,
                "prior_var": self.prior_var_,
            },
        }
        return config, {"ratings": self.ratings_, "cov": self.cov_}

    @classmethod
    def _from_state(
        cls, config: dict[str, Any], arrays: dict[str, np.ndarray], directory: Path, **kw: Any
    ) -> PlackettLuce:
        return cls._from_saved(config, arrays, directory)

    @classmethod
    def _from_legacy(cls, directory: Path, **kw: Any) -> PlackettLuce:
        """A model saved by prefkit 0.1 (``config.json`` + ``arrays.npz``)."""
        config, arrays = read_legacy(directory, "PlackettLuce")
        return cls._from_saved(config, arrays, directory)

    @classmethod
    def _from_saved(
        cls, config: dict[str, Any], arrays: dict[str, np.ndarray], where: Any = ""
    ) -> PlackettLuce:
        try:
            model = cls(**config["params"])
            sc = config["scalars"]
            items = [str(x) for x in config["items"]]
            ratings = np.asarray(arrays["ratings"], dtype=float)
            if ratings.shape != (len(items),):
                raise ModelFileError(f"{where}: ratings do not match the {len(items)} items")
            model.items_ = items
            model.ratings_ = ratings
            cov = arrays.get("cov")
            model.cov_ = None if cov is None else np.asarray(cov, dtype=float)
            model.log_likelihood_ = sc["log_likelihood"]
            model.n_obs_ = sc["n_obs"]
            model.n_iter_ = sc["n_iter"]
            model.converged_ = sc["converged"]
            model.prior_var_ = sc["prior_var"]
            model.tie_param_ = None
        except ModelFileError:
            raise
        except (KeyError, TypeError, ValueError) as err:
            raise malformed(where, err) from None
        return model
