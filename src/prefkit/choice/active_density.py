r"""Density-weighted A-optimal choice of the next pairs (rule ``density`` of
:mod:`prefkit.choice.active`).

Under the Laplace posterior θ ~ N(θ̂, Σ) of a Bradley–Terry model the difference of items k, l
is N(d_kl, v_kl), d_kl = θ̂_k − θ̂_l, v_kl = (e_k − e_l)ᵀΣ(e_k − e_l).  The pairs whose order is
still open are those whose difference has posterior mass near zero; the weight of a pair is the
posterior density of its difference at zero,

    w_kl = φ(d_kl / s_kl) / s_kl,        s_kl = √v_kl,

which is ≈ 1/s for a pair whose fitted order is a coin flip and vanishes (as e^{−z²/2}) for a
pair whose order is already z standard deviations clear.  The rule minimises the weighted sum of
the variances of *all* differences, Σ_{k<l} w_kl v_kl = tr(M Σ) with M = Σ w_kl e_kl e_klᵀ (a
weighted graph Laplacian): one comparison of c = (i, j), Fisher information I_c = p(1 − p),
lowers it by (Sherman–Morrison)

    gain_c = I_c · e_cᵀ Σ M Σ e_c / (1 + I_c v_c),

so one O(n³) product scores every pair.  This is the weighted A-optimality (L-optimality) of
optimal design (Fedorov 1972, "Theory of optimal experiments", §2.9; for paired comparisons
Glickman & Jensen 2005, "Adaptive paired comparison design", who use the unweighted trace) with
weights that put the design on the differences that decide the ranking.  The weights are computed
once per call (from the fit) and kept for the batch: a batch of K pairs is chosen greedily,
updating Σ after each pick, so a batch does not repeat a pair.

Why not a one-vote knowledge gradient (the expected drop of the number of misordered pairs from
one more vote, with the preposterior move of the mean): one vote shrinks a variance by δ ≪ v, and
the expected drop is then only non-negligible for pairs with |d| ≲ √δ — the rule pours votes into
near-exact ties that no budget resolves.  It measured no better than uniform (docs/arena.md).
"""

from __future__ import annotations

import numpy as np


def density_weights(theta: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """w_kl = φ(d_kl/s_kl)/s_kl for every pair k < l (``np.triu_indices`` order)."""
    from prefkit.choice.active import _difference_var, _pairs

    iu, ju = _pairs(len(theta))
    sd = np.sqrt(np.maximum(_difference_var(cov, iu, ju), 1e-24))
    z = np.abs(theta[iu] - theta[ju]) / sd
    return np.exp(-0.5 * z * z) / (np.sqrt(2 * np.pi) * sd)


def density_pairs(theta: np.ndarray, cov: np.ndarray, k: int) -> list[tuple[int, int, float]]:
    """Greedy batch of ``k`` pairs (i, j, gain) by the drop of Σ w_kl v_kl (module notes)."""
    from prefkit.choice.active import _difference_var, _pair_information, _pairs, _update

    n = len(theta)
    iu, ju = _pairs(n)
    info = _pair_information(theta, iu, ju)
    laplacian = np.zeros((n, n))
    laplacian[iu, ju] = -density_weights(theta, cov)
    laplacian = laplacian + laplacian.T
    laplacian[np.diag_indices(n)] = -laplacian.sum(axis=1)
    cov = cov.copy()
    picked: list[tuple[int, int, float]] = []
    taken = np.zeros(len(iu), dtype=bool)
    for _ in range(min(int(k), len(iu))):
        var = _difference_var(cov, iu, ju)
        g = cov @ laplacian @ cov
        quad = g[iu, iu] + g[ju, ju] - 2 * g[iu, ju]
        gain = np.where(taken, -np.inf, info * quad / (1 + info * var))
        best = int(np.argmax(gain))
        taken[best] = True
        i, j = int(iu[best]), int(ju[best])
        picked.append((i, j, float(gain[best])))
        cov = _update(cov, i, j, float(info[best]))
    return picked
