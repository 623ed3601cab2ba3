r"""Choosing the next pair to compare: uniform, Arena-style and information-gain rules.

All rules work on a Bradley–Terry posterior: strengths θ fitted by MAP (ridge λ, Newton) and the
Laplace covariance Σ = (H + λI)⁻¹, H = Σ_r p_r(1 − p_r) e_r e_rᵀ, e_r = e_i − e_j.  For a pair
(i, j) write e = e_i − e_j, d = θ_i − θ_j, v = eᵀΣe (the variance of the difference) and
I = p(1 − p), p = σ(d), the Fisher information of one more comparison.  One more comparison
updates Σ by Sherman–Morrison: Σ' = Σ − I Σe eᵀΣ / (1 + I v).

``uniform``
    every unordered pair equally likely (the baseline).
``arena``
    Chatbot Arena's active sampling (Chiang et al. 2024, "Chatbot Arena: an open platform for
    evaluating LLMs by human preference", §5): sample a pair with probability proportional to the
    reduction of its interval width from one more vote, w ∝ √(σ²/n) − √(σ²/(n + 1)), with
    σ² = n·v the per-vote variance of the pair's difference and n its votes so far (an unseen
    pair gets w = √v).  Pairs are *sampled* (not the arg-max), so every pair keeps a chance.
``a-optimal``
    the pair that most reduces the total posterior variance tr Σ (A-optimal design; Glickman &
    Jensen 2005, "Adaptive paired comparison design"):  gain = I ‖Σe‖² / (1 + I v).
``rank``
    information gain for rank recovery: the pair that most reduces the expected number of
    wrongly ordered pairs.  Under the Laplace posterior, the chance that the fitted order of
    (k, l) is wrong is Φ(−|d_kl| / sd_kl), so the expected number of discordant pairs is
    D = Σ_{k<l} Φ(−|d_kl|/sd_kl) and Kendall's τ with the truth is about 1 − 4D / (n(n − 1)).
    One comparison of c = (i, j) shrinks every v_kl to v_kl − I_c u_kl² / (1 + I_c v_c),
    u_kl = (Σe_c)_k − (Σe_c)_l; the rule picks c maximising the drop of D.

``density``
    density-weighted A-optimal design: the pair that most reduces Σ_{k<l} w_kl v_kl, the variances
    of all differences weighted by the posterior density of each difference at zero,
    w = φ(d/sd)/sd (:mod:`prefkit.choice.active_density`); votes to reach Kendall τ ≥ 0.9 per
    rule and setting are in docs/arena.md.

Batches of K pairs (``a-optimal``, ``rank``, ``density``) are chosen greedily, updating Σ after
each pick so a batch does not repeat itself.  :func:`votes_to_reach_tau` measures a rule on the
simulator (docs/arena.md, ``benchmarks/arena_active.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.special import ndtr

from prefkit.core.mathfn import log_sigmoid, sigmoid
from prefkit.errors import DataError

STRATEGIES = ("uniform", "arena", "a-optimal", "rank", "density")
#: most candidate pairs the ``rank`` rule scores per pick (the likeliest misordered ones)
MAX_CANDIDATES = 120


def information_matrix(n: int, ia: np.ndarray, ib: np.ndarray, v: np.ndarray) -> np.ndarray:
    """H = Σ_r v_r (e_a − e_b)(e_a − e_b)ᵀ for comparisons (a_r, b_r) with weights v_r."""
    H = np.zeros((n, n))
    np.add.at(H, (ia, ia), v)
    np.add.at(H, (ib, ib), v)
    np.add.at(H, (ia, ib), -v)
    np.add.at(H, (ib, ia), -v)
    return H


def fit_bt_map(n_items: int, ia: np.ndarray, ib: np.ndarray, ya: np.ndarray, lam: float = 0.1,
               iters: int = 50, theta0: np.ndarray | None = None,
               weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(θ, Σ): MAP Bradley–Terry by Newton and its Laplace covariance.  ``ya`` = P(a won).

    Newton steps are halved until the penalised log-likelihood does not decrease (pure Newton
    can overshoot and diverge when a few early votes separate the items).  ``theta0``
    warm-starts Newton (e.g. from the ratings before the latest votes); ``weights``
    count each row that many times (aggregated votes: one row per pair, ``ya`` its win share).
    """
    theta = np.zeros(n_items) if theta0 is None else np.array(theta0, dtype=float)
    if not np.all(np.isfinite(theta)):
        theta = np.zeros(n_items)
    w = np.ones(len(ia)) if weights is None else np.asarray(weights, dtype=float)
    eye = lam * np.eye(n_items)

    def objective(t: np.ndarray) -> float:  # penalised log-likelihood
        d = t[ia] - t[ib]
        return float(np.sum(w * (ya * log_sigmoid(d) + (1 - ya) * log_sigmoid(-d)))
                     - 0.5 * lam * t @ t)

    current = objective(theta)
    for _ in range(iters):
        p = sigmoid(theta[ia] - theta[ib])
        g = w * (ya - p)
        grad = np.bincount(ia, g, n_items) - np.bincount(ib, g, n_items) - lam * theta
        H = information_matrix(n_items, ia, ib, w * p * (1 - p)) + eye
        step = np.linalg.solve(H, grad)
        for _ in range(40):  # step halving: Newton alone can overshoot on separable data
            trial = objective(theta + step)
            if trial >= current - 1e-12 * abs(current):
                break
            step = step / 2
        theta, current = theta + step, trial
        if np.abs(step).max() < 1e-8:
            break
    p = sigmoid(theta[ia] - theta[ib])
    return theta, np.linalg.inv(information_matrix(n_items, ia, ib, w * p * (1 - p)) + eye)


def _pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    if n < 2:
        raise DataError("at least two items are needed to propose a comparison")
    return np.triu_indices(n, 1)


def _pair_information(theta: np.ndarray, iu: np.ndarray, ju: np.ndarray) -> np.ndarray:
    p = sigmoid(theta[iu] - theta[ju])
    return p * (1 - p)


def _difference_var(cov: np.ndarray, iu: np.ndarray, ju: np.ndarray) -> np.ndarray:
    return np.maximum(cov[iu, iu] + cov[ju, ju] - 2 * cov[iu, ju], 0.0)


def _update(cov: np.ndarray, i: int, j: int, info: float) -> np.ndarray:
    """Σ after one more comparison of (i, j) (Sherman–Morrison)."""
    se = cov[:, i] - cov[:, j]
    return cov - info * np.outer(se, se) / (1 + info * (se[i] - se[j]))


def next_pairs(theta: np.ndarray, cov: np.ndarray, k: int) -> list[tuple[int, int, float]]:
    """Greedy batch of ``k`` pairs (i, j, gain) by the A-optimal gain (module notes)."""
    n = len(theta)
    iu, ju = _pairs(n)
    info = _pair_information(theta, iu, ju)
    cov = cov.copy()
    picked: list[tuple[int, int, float]] = []
    taken = np.zeros(len(iu), dtype=bool)
    for _ in range(min(int(k), len(iu))):
        var = _difference_var(cov, iu, ju)
        sq = cov @ cov
        norm2 = sq[iu, iu] + sq[ju, ju] - 2 * sq[iu, ju]
        gain = np.where(taken, -np.inf, info * norm2 / (1 + info * var))
        best = int(np.argmax(gain))
        taken[best] = True
        i, j = int(iu[best]), int(ju[best])
        picked.append((i, j, float(gain[best])))
        cov = _update(cov, i, j, float(info[best]))
    return picked


def misorder_probability(theta: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """Φ(−|θ_i − θ_j| / sd_ij) for every pair i < j (``np.triu_indices`` order)."""
    iu, ju = _pairs(len(theta))
    sd = np.sqrt(_difference_var(cov, iu, ju))
    d = np.abs(theta[iu] - theta[ju])
    return ndtr(-d / np.maximum(sd, 1e-12))


def rank_pairs(theta: np.ndarray, cov: np.ndarray, k: int, *,
               max_candidates: int = MAX_CANDIDATES) -> list[tuple[int, int, float]]:
    """Greedy batch of ``k`` pairs (i, j, gain) by the drop of the expected number of misordered
    pairs (module notes, rule ``rank``)."""
    n = len(theta)
    iu, ju = _pairs(n)
    info = _pair_information(theta, iu, ju)
    dist = np.abs(theta[iu] - theta[ju])
    cov = cov.copy()
    picked: list[tuple[int, int, float]] = []
    taken = np.zeros(len(iu), dtype=bool)
    for _ in range(min(int(k), len(iu))):
        var = _difference_var(cov, iu, ju)
        loss = ndtr(-dist / np.sqrt(np.maximum(var, 1e-24)))
        order = np.argsort(-np.where(taken, -1.0, loss), kind="stable")
        cand = order[:max_candidates]
        cand = cand[~taken[cand]]
        se = cov[:, iu[cand]] - cov[:, ju[cand]]  # n × C: Σ e_c
        u = se[iu, :] - se[ju, :]  # P × C
        shrink = info[cand] / (1 + info[cand] * var[cand])
        new_var = np.maximum(var[:, None] - shrink[None, :] * u * u, 1e-24)
        gain = loss.sum() - ndtr(-dist[:, None] / np.sqrt(new_var)).sum(axis=0)
        best_c = int(np.argmax(gain))
        best = int(cand[best_c])
        taken[best] = True
        i, j = int(iu[best]), int(ju[best])
        picked.append((i, j, float(gain[best_c])))
        cov = _update(cov, i, j, float(info[best]))
    return picked


def greedy_rule(strategy: str) -> Callable[..., list[tuple[int, int, float]]]:
    """The greedy batch chooser (theta, cov, k) of ``a-optimal``, ``rank`` or ``density``."""
    if strategy == "density":
        from prefkit.choice.active_density import density_pairs

        return density_pairs
    return next_pairs if strategy == "a-optimal" else rank_pairs


def arena_weights(cov: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Chatbot Arena sampling weights per pair i < j (module notes, rule ``arena``).

    ``counts``: an n × n matrix, ``counts[i, j]`` votes with i first (or i the winner): the
    pair i < j has ``counts[i, j] + counts[j, i]`` votes; None for no votes yet.
    """
    iu, ju = _pairs(len(cov))
    var = _difference_var(cov, iu, ju)
    n_votes = np.zeros(len(iu)) if counts is None else (counts[iu, ju] + counts[ju, iu])
    return np.sqrt(var) * (1.0 - np.sqrt(n_votes / (n_votes + 1.0)))


def choose_pairs(strategy: str, theta: np.ndarray, cov: np.ndarray, k: int, *,
                 counts: np.ndarray | None = None,
                 rng: np.random.Generator | None = None) -> list[tuple[int, int]]:
    """The next ``k`` pairs (item indices i, j) by ``strategy`` (one of :data:`STRATEGIES`)."""
    if strategy not in STRATEGIES:
        raise DataError(f"unknown strategy {strategy!r} (expected {', '.join(STRATEGIES)})")
    if k < 1:
        raise DataError(f"k must be at least 1, got {k}")
    n = len(theta)
    iu, ju = _pairs(n)
    rng = np.random.default_rng() if rng is None else rng
    if strategy == "uniform":
        pick = rng.integers(0, len(iu), int(k))
    elif strategy == "arena":
        w = arena_weights(cov, counts)
        total = w.sum()
        prob = w / total if total > 0 else np.full(len(w), 1.0 / len(w))
        pick = rng.choice(len(iu), size=int(k), replace=len(iu) < k, p=prob)
    else:
        return [(i, j) for i, j, _ in greedy_rule(strategy)(theta, cov, k)]
    return [(int(iu[p]), int(ju[p])) for p in pick]


def propose_pairs(dataset: Any, k: int = 10, *, strategy: str = "rank", lam: float = 0.1,
                  seed: int | None = 0) -> list[dict[str, Any]]:
    """The ``k`` item pairs to compare next for ``dataset`` (pairwise; ties as half wins):
    ``[{"a", "b", "p_a", "sd_diff", "p_misordered"}]``."""
    if dataset.kind != "pairwise":
        dataset = dataset.to_pairs()
    items, ia, ib = dataset.item_codes()
    if ((ia < 0) | (ib < 0)).any():
        raise DataError("missing candidate", source=dataset.name, field="a/b")
    y = np.asarray(dataset.outcomes(), dtype=float)
    ok = ~np.isnan(y)
    n = len(items)
    theta, cov = fit_bt_map(n, ia[ok], ib[ok], y[ok], lam)
    counts = np.zeros((n, n))
    np.add.at(counts, (ia[ok], ib[ok]), 1.0)
    pairs = choose_pairs(strategy, theta, cov, k, counts=counts, rng=np.random.default_rng(seed))
    out = []
    for i, j in pairs:
        var = max(cov[i, i] + cov[j, j] - 2 * cov[i, j], 0.0)
        out.append({"a": items[i], "b": items[j], "p_a": float(sigmoid(theta[i] - theta[j])),
                    "sd_diff": float(np.sqrt(var)),
                    "p_misordered": float(ndtr(-abs(theta[i] - theta[j]) / max(np.sqrt(var),
                                                                               1e-12)))})
    return out


def votes_to_reach_tau(strategy: str, seed: int, *, n_items: int = 20, spread: float = 1.0,
                       target: float = 0.9, start: int | None = None, batch: int = 10,
                       cap: int = 20_000) -> int:
    """Simulation: votes until Kendall τ(θ̂, θ) ≥ ``target`` with pairs chosen by ``strategy``.

    True strengths θ ~ N(0, spread²), centred (the generative model of
    :func:`prefkit.data.simulate.simulate_items`); Bradley–Terry outcomes without ties; a warm
    start of ``start`` uniform votes (default: one per item); then batches of ``batch`` votes,
    refitting (warm-started Newton) after each batch.  Returns ``cap`` if τ never gets there.
    """
    from scipy.stats import kendalltau

    rng = np.random.default_rng(seed)
    truth = rng.normal(0.0, spread, n_items)
    truth -= truth.mean()
    start = n_items if start is None else int(start)

    wins = np.zeros((n_items, n_items))  # wins[i, j]: votes i won against j
    iu, ju = _pairs(n_items)

    def vote(i: np.ndarray, j: np.ndarray) -> None:
        won = rng.random(len(i)) < sigmoid(truth[i] - truth[j])
        np.add.at(wins, (np.where(won, i, j), np.where(won, j, i)), 1.0)

    first = rng.integers(0, n_items, start)
    vote(first, (first + rng.integers(1, n_items, start)) % n_items)
    votes, theta = start, None
    while votes < cap:
        counts = wins + wins.T
        seen = counts[iu, ju] > 0
        a, b = iu[seen], ju[seen]
        n_ab = counts[a, b]
        theta, cov = fit_bt_map(n_items, a, b, wins[a, b] / n_ab, weights=n_ab, theta0=theta)
        if kendalltau(theta, truth)[0] >= target:
            return votes
        picked = choose_pairs(strategy, theta, cov, batch, counts=wins, rng=rng)
        vote(np.array([p[0] for p in picked]), np.array([p[1] for p in picked]))
        votes += len(picked)
    return cap
