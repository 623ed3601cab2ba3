"""Bootstrap of Plackett–Luce over rankings, on sufficient statistics and batched over rounds.

Resampling unit: the ranking (record).  One round draws record counts
``d ~ Multinomial(N, 1/N)`` (Efron 1979) and refits θ.  The Plackett–Luce log-likelihood
(Luce 1959; Plackett 1975; Breslow ties)

    ℓ(θ) = Σ_s w_s (Σ_{g∈G_s} θ_g − m_s log Σ_{k∈R_s} e^{θ_k})

depends on the data only through the winner totals W_i = Σ_s w_s 1[i ∈ G_s] and, for every
*distinct* choice set A, the total c_A = Σ_{s: R_s = A} w_s m_s:

    ℓ(θ) = Σ_i W_i θ_i − Σ_A c_A log Σ_{k∈A} e^{θ_k}.

Both are linear in the record weights, so a round is two sparse products ``d @ Q`` and
``d @ R`` (records × items, records × sets).  Full rankings of n items have at most 2ⁿ distinct
choice sets (≈1,000 for sushi's 10 items, against 45,000 stages), so all rounds of a chunk are
refitted *together*: Newton with the information I = diag(cᵀP) − Pᵀ diag(c) P on (B, U, n)
arrays, batched linear solves, warm start at the full-data estimate, and a per-round Armijo line
search.  Maximised objective: ℓ(θ) − prec ‖θ‖²/2 (``prec`` = 1e-6 for the MLE, which keeps a
round with an item that is never chosen finite).  The null direction 1 of I is grounded by
adding 11ᵀ (the gradient is orthogonal to 1 once θ is centred, so the step is too), which is
what makes every round converge in a handful of iterations; without it a tiny ``prec`` amplifies
round-off along 1 and Newton never meets its tolerance (issue #12 item 18: 100 iterations per
round, 417 s for 100 rounds on sushi).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

from prefkit.choice._threads import one_blas_thread

_MAX_CHUNK_CELLS = 4_000_000  # rounds × sets × items per batched Newton chunk
_MAX_DRAW_CELLS = 5_000_000  # rounds × records per multinomial draw chunk


@dataclass
class ChoiceSets:
    """Distinct choice sets of a stage table and the record → (set, winner) incidences."""

    n: int
    avail: sparse.csr_matrix  # (U, n) 0/1: item k in set A
    per_set: sparse.csr_matrix  # (N, U): Σ m_s over the stages of record r with set A
    per_winner: sparse.csr_matrix  # (N, n): number of stages of record r won by item i

    @property
    def n_sets(self) -> int:
        return int(self.avail.shape[0])


def choice_sets(st: Any) -> ChoiceSets:
    """Group the stages of :class:`~prefkit.choice.plackett_luce.Stages` by their choice set."""
    n, S = st.n, st.n_stages
    sizes = np.bincount(st.stage, minlength=S)
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    order = np.lexsort((st.member, st.stage))  # entries by stage, members sorted
    pos = np.arange(st.stage.size) - starts[st.stage[order]]
    pad = np.full((S, int(sizes.max())), n, dtype=np.int64)
    pad[st.stage[order], pos] = st.member[order]
    uniq, set_of_stage = np.unique(pad, axis=0, return_inverse=True)
    set_of_stage = np.asarray(set_of_stage).ravel()
    U = uniq.shape[0]
    rows, cols = np.nonzero(uniq < n)
    avail = sparse.csr_matrix(
        (np.ones(rows.size), (rows, uniq[rows, cols])), shape=(U, n)
    )
    N = st.n_records
    per_set = sparse.csr_matrix((st.mult, (st.record, set_of_stage)), shape=(N, U))
    win_entries = np.flatnonzero(st.winner)
    per_winner = sparse.csr_matrix(
        (np.ones(win_entries.size), (st.record[st.stage[win_entries]], st.member[win_entries])),
        shape=(N, n),
    )
    per_set.sum_duplicates()
    per_winner.sum_duplicates()
    return ChoiceSets(n, avail, per_set, per_winner)


def _objective(
    theta: np.ndarray, W: np.ndarray, C: np.ndarray, log_den: np.ndarray, prec: float
) -> np.ndarray:
    return -(np.sum(W * theta, axis=1) - np.sum(C * log_den, axis=1)) + 0.5 * prec * np.sum(
        theta * theta, axis=1
    )


def _strengths(theta: np.ndarray, avail: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(E = e^{θ − max θ} (B, n), den = E availᵀ (B, U), log Σ_{k∈A} e^{θ_k} (B, U))."""
    shift = theta.max(axis=1, keepdims=True)
    E = np.exp(theta - shift)
    den = np.maximum(E @ avail.T, 1e-300)
    return E, den, np.log(den) + shift


def newton_batch(
    theta0: np.ndarray,
    W: np.ndarray,
    C: np.ndarray,
    avail: np.ndarray,
    *,
    prec: float,
    tol: float = 1e-8,
    max_iter: int = 100,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Maximise Σ W θ − Σ_A C_A log Σ_{k∈A} e^{θ_k} − prec‖θ‖²/2 for every row of W, C.

    ``theta0`` (B, n) start, ``W`` (B, n) winner totals, ``C`` (B, U) set totals, ``avail``
    (U, n) dense 0/1.  Returns (θ (B, n) centred, converged (B,), iterations (B,)).
    """
    B, n = W.shape
    theta = theta0 - theta0.mean(axis=1, keepdims=True)
    conv = np.zeros(B, dtype=bool)
    iters = np.zeros(B, dtype=np.int64)
    eye = np.eye(n)
    ground = np.full((n, n), 1.0)
    active = np.arange(B)
    E, den, ld = _strengths(theta, avail)
    for _ in range(max_iter):
        if active.size == 0:
            break
        th, w, c = theta[active], W[active], C[active]
        e, dn, l0 = E[active], den[active], ld[active]
        # stage probabilities P[b, A, k] = 1[k ∈ A] e_k / Σ_{j∈A} e_j
        P = avail[None, :, :] * (e[:, None, :] / dn[:, :, None])
        expected = np.einsum("bu,bun->bn", c, P)
        g = w - expected - prec * th
        info = -np.matmul((P * c[:, :, None]).transpose(0, 2, 1), P)
        info[:, np.arange(n), np.arange(n)] += expected
        d = np.linalg.solve(info + prec * eye + ground, g[:, :, None])[:, :, 0]
        d -= d.mean(axis=1, keepdims=True)
        f0 = _objective(th, w, c, l0, prec)
        slope = np.sum(g * d, axis=1)
        step = np.ones(active.size)
        new_e, new_den, new_ld = np.empty_like(e), np.empty_like(dn), np.empty_like(l0)
        pending = np.ones(active.size, dtype=bool)
        for _ in range(40):  # Armijo backtracking, only for the rounds that still need it
            idx = np.flatnonzero(pending)
            cand = th[idx] + step[idx, None] * d[idx]
            ce, cd, cl = _strengths(cand, avail)
            f1 = _objective(cand, w[idx], c[idx], cl, prec)
            ok = f1 <= f0[idx] - 1e-4 * step[idx] * slope[idx] + 1e-12 * np.abs(f0[idx])
            new_e[idx], new_den[idx], new_ld[idx] = ce, cd, cl
            pending[idx[ok]] = False
            if not pending.any():
                break
            step[pending] *= 0.5
        new = th + step[:, None] * d
        shift = new.mean(axis=1, keepdims=True)  # centring moves log Σ e^θ by the same shift
        theta[active] = new - shift
        E[active], den[active], ld[active] = new_e, new_den, new_ld - shift
        iters[active] += 1
        done = np.abs(step[:, None] * d).max(axis=1) < tol
        conv[active[done]] = True
        active = active[~done]
    return theta, conv, iters


def bootstrap_rankings(
    st: Any,
    theta_hat: np.ndarray,
    n_rounds: int,
    *,
    seed: int | None = 0,
    prec: float = 1e-6,
    tol: float = 1e-8,
    max_iter: int = 100,
) -> tuple[np.ndarray, np.ndarray]:
    """(θ per round (B, n) centred, converged (B,)) for ``n_rounds`` record resamples of ``st``.

    Rounds are drawn in chunks from one generator seeded with ``seed``, so the result depends
    only on ``seed`` and the data.
    """
    cs = choice_sets(st)
    n, U, N = cs.n, cs.n_sets, st.n_records
    rec_w = np.bincount(st.record, st.weight, N) / np.maximum(
        np.bincount(st.record, minlength=N), 1
    )
    rng = np.random.default_rng(seed)
    chunk = int(max(1, min(n_rounds, _MAX_CHUNK_CELLS // max(U * n, 1),
                           _MAX_DRAW_CELLS // max(N, 1))))
    avail = cs.avail.toarray() if U * n <= _MAX_CHUNK_CELLS else None
    out = np.empty((n_rounds, n))
    conv = np.empty(n_rounds, dtype=bool)
    set_T = cs.per_set.T.tocsr()
    win_T = cs.per_winner.T.tocsr()
    # one BLAS thread: the products here are small, and BLAS worker threads busy-waiting on a
    # loaded machine made them ~8x slower (and run times erratic)
    with one_blas_thread():
        _rounds(cs, set_T, win_T, rec_w, theta_hat, rng, chunk, avail, out, conv,
                prec=prec, tol=tol, max_iter=max_iter)
    return out, conv


def _rounds(
    cs: ChoiceSets, set_T: sparse.csr_matrix, win_T: sparse.csr_matrix, rec_w: np.ndarray,
    theta_hat: np.ndarray, rng: np.random.Generator, chunk: int, avail: np.ndarray | None,
    out: np.ndarray, conv: np.ndarray, *, prec: float, tol: float, max_iter: int,
) -> None:
    """Fill ``out``/``conv`` chunk by chunk (see :func:`bootstrap_rankings`)."""
    n_rounds, n = out.shape
    N = rec_w.size
    for s in range(0, n_rounds, chunk):
        e = min(n_rounds, s + chunk)
        draws = rng.multinomial(N, np.full(N, 1.0 / N), size=e - s) * rec_w[None, :]
        C = np.asarray(set_T @ draws.T).T
        W = np.asarray(win_T @ draws.T).T
        start = np.broadcast_to(theta_hat, (e - s, n))
        if avail is not None:
            out[s:e], conv[s:e], _ = newton_batch(
                start, W, C, avail, prec=prec, tol=tol, max_iter=max_iter
            )
        else:  # too many sets × items for dense arrays: one round at a time, sparse sets
            for b in range(e - s):
                out[s + b], conv[s + b] = _newton_sparse(
                    theta_hat, W[b], C[b], cs.avail, prec=prec, tol=tol, max_iter=max_iter
                )


def _newton_sparse(
    theta0: np.ndarray, W: np.ndarray, C: np.ndarray, avail: sparse.csr_matrix, *,
    prec: float, tol: float, max_iter: int,
) -> tuple[np.ndarray, bool]:
    """One round of :func:`newton_batch` with a sparse (U, n) set table."""
    n = avail.shape[1]
    row = np.repeat(np.arange(avail.shape[0]), np.diff(avail.indptr))
    col = avail.indices

    def log_den(th):
        shift = th.max()
        return np.log(np.maximum(avail @ np.exp(th - shift), 1e-300)) + shift

    def obj(th, ld):
        return -(W @ th - C @ ld) + 0.5 * prec * th @ th

    theta = theta0 - theta0.mean()
    for _ in range(max_iter):
        ld = log_den(theta)
        p = np.exp(theta[col] - ld[row])
        P = sparse.csr_matrix((p, col, avail.indptr), shape=avail.shape)
        expected = P.T @ C
        g = W - expected - prec * theta
        info = -(P.T @ sparse.diags(C) @ P).toarray()
        info[np.arange(n), np.arange(n)] += expected
        d = np.linalg.solve(info + prec * np.eye(n) + 1.0, g)
        d -= d.mean()
        f0, step = obj(theta, ld), 1.0
        while step > 1e-10:
            cand = theta + step * d
            if obj(cand, log_den(cand)) <= f0 - 1e-4 * step * (g @ d) + 1e-12 * abs(f0):
                break
            step *= 0.5
        theta = theta + step * d
        theta -= theta.mean()
        if np.abs(step * d).max() < tol:
            return theta, True
    return theta, False
