"""Uncertainty of ratings: multinomial bootstrap, sandwich intervals, and ranks with intervals.

Bootstrap (Efron 1979) over battles, done on sufficient statistics: the unique
(i, j, z, outcome) cells with counts c_u are resampled as one multinomial draw per round,
``rng.multinomial(N, c/N, size=B)`` — exactly the distribution of the cell counts when N battles
are resampled with replacement, without materialising them.  All rounds are then refitted
*together* by the batched Newton solver, warm-started at the full-data estimate.  This is what
LMArena's ``compute_bootstrap_bt`` does with ``np.random.multinomial`` over unique battle rows.

Sandwich (Huber 1967; White 1982): Cov(θ̂) ≈ A⁻¹ J A⁻¹ with A the observed information and
J = Σ_battles s sᵀ the outer product of per-battle scores — valid when the model is misspecified
(e.g. annotator heterogeneity, intransitivity).  Intervals: θ̂ ± z_{1−α/2}·se.

Ranks (LMArena convention): rank_i = 1 + #{j : lower_j > upper_i}, i.e. one plus the number of
items statistically better than i; with bootstrap samples we also report the percentile interval
of each item's rank across rounds.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from prefkit.choice import newton
from prefkit.choice._threads import one_blas_thread


@dataclass
class BootstrapResult:
    samples: np.ndarray  # (B, p) all parameters per round
    ratings: np.ndarray  # (B, n) ratings θ per round
    converged: np.ndarray  # (B,)
    items: list[str]

    def intervals(self, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        a = (1.0 - level) / 2.0
        return (
            np.quantile(self.ratings, a, axis=0),
            np.quantile(self.ratings, 1.0 - a, axis=0),
        )


def _units(model) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cells (row, outcome) with positive count: (row index, outcome weights (U,3), counts)."""
    c = model.counts_
    ties = model.ties_
    rows, vecs, cnts = [], [], []
    outcome = [((1.0, 0.0, 0.0), c.wi), ((0.0, 1.0, 0.0), c.wj)]
    if ties == "half" or (ties == "model" and not model._fam.has_tau):
        outcome.append(((0.5, 0.5, 0.0), c.t))
    elif ties == "model":
        outcome.append(((0.0, 0.0, 1.0), c.t))
    for vec, cnt in outcome:
        r = np.flatnonzero(cnt > 0)
        rows.append(r)
        vecs.append(np.broadcast_to(np.asarray(vec), (r.size, 3)))
        cnts.append(cnt[r])
    return np.concatenate(rows), np.concatenate(vecs), np.concatenate(cnts)


def bootstrap(
    model,
    n_rounds: int = 1000,
    *,
    seed: int | None = 0,
    n_jobs: int | None = None,
    chunk_size: int | None = None,
    max_iter: int = 50,
) -> BootstrapResult:
    """Bootstrap a fitted pairwise model (see module docstring).  Returns all round estimates."""
    model._check_fitted()
    if hasattr(model, "_bootstrap"):  # models with their own resampling unit (Plackett–Luce)
        return model._bootstrap(n_rounds, seed=seed)
    from scipy import sparse

    rows, vecs, cnts = _units(model)
    R = model.counts_.n_rows
    total = float(cnts.sum())
    N = max(round(total), 1)
    prob_u = cnts / total
    S = [
        sparse.csr_matrix((vecs[:, k], (np.arange(rows.size), rows)), shape=(rows.size, R))
        for k in range(3)
    ]
    base = model._prob
    prec = base.prec.copy()
    if model.prior_var_ is None:  # keep degenerate rounds (an item never losing) finite
        prec[: base.n] = 1e-6
    if chunk_size is None:
        chunk_size = int(np.clip(4_000_000 // max(R + base.n * base.n // 4, 1), 1, 1000))
    bounds = [(s, min(n_rounds, s + chunk_size)) for s in range(0, n_rounds, chunk_size)]
    # one child generator per chunk: results depend on seed and chunk_size, not on n_jobs
    seeds = np.random.SeedSequence(seed).spawn(len(bounds))
    scale = total / N
    x_ref = model.x_
    A = model._ground(model._info) if model.prior_var_ is None else model._info
    info_inv = np.linalg.inv(A)
    full = newton.Problem(base.n, base.i, base.j, base.Z, base.wi, base.wj, base.t,
                          base.family, prec)

    def solve(job: tuple[tuple[int, int], np.random.SeedSequence]) -> tuple[np.ndarray, ...]:
        (s, e), ss = job
        C = np.random.default_rng(ss).multinomial(N, prob_u, size=e - s)
        Ct = C.T * scale
        w = [np.ascontiguousarray((Sk.T @ Ct).T) for Sk in S]
        prob = newton.Problem(full.n, full.i, full.j, full.Z, w[0], w[1], w[2], full.family, prec)
        x, conv = newton.chord_solve(prob, x_ref, info_inv, tol=1e-7)
        if not conv.all():  # stragglers (e.g. an item that never lost in this round)
            idx = np.flatnonzero(~conv)
            sub = newton._subproblem(prob, idx)
            sol = newton.newton_solve(sub, x_ref[None], tol=1e-8, max_iter=max_iter)
            x[idx], conv[idx] = sol.x, sol.converged
        if model.prior_var_ is None:
            x[:, : full.n] -= x[:, : full.n].mean(axis=1, keepdims=True)
        return x, conv

    jobs = n_jobs or min(2, os.cpu_count() or 1)
    work = list(zip(bounds, seeds, strict=False))
    if jobs > 1 and len(work) > 1:
        # one BLAS thread per worker: `jobs` workers × BLAS's own threads would oversubscribe
        # the cores (busy-waiting BLAS threads make run times vary by an order of magnitude)
        with one_blas_thread(), ThreadPoolExecutor(jobs) as pool:
            sols = list(pool.map(solve, work))
    else:
        sols = [solve(job) for job in work]
    x = np.concatenate([s[0] for s in sols])
    conv = np.concatenate([s[1] for s in sols])
    return BootstrapResult(x, x[:, : base.n], conv, list(model.items_))


def sandwich_intervals(
    model, level: float = 0.95, cov: np.ndarray | None = None, A: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(estimate, lower, upper) of the ratings (optionally mapped by ``r = A θ``)."""
    theta = model.ratings_
    C = model.rating_cov("sandwich") if cov is None else cov
    if A is not None:
        theta = A @ theta
        C = A @ C @ A.T
    se = np.sqrt(np.maximum(np.diag(C), 0.0))
    z = NormalDist().inv_cdf(0.5 + level / 2.0)
    return theta, theta - z * se, theta + z * se


def rank_intervals(lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """rank_i = 1 + #{j : lower_j > upper_i} (number of items significantly better, plus one)."""
    lower = np.asarray(lower)
    upper = np.asarray(upper)
    return 1 + (lower[None, :] > upper[:, None]).sum(axis=1)


def bootstrap_rank_range(ratings: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of each item's rank (1 = best) across bootstrap rounds."""
    order = np.argsort(-ratings, axis=1)
    ranks = np.empty_like(order)
    B, n = ratings.shape
    ranks[np.arange(B)[:, None], order] = np.arange(1, n + 1)[None, :]
    a = (1.0 - level) / 2.0
    return (
        np.floor(np.quantile(ranks, a, axis=0)).astype(int),
        np.ceil(np.quantile(ranks, 1.0 - a, axis=0)).astype(int),
    )
