r"""What to label next for a leaderboard: the pairs that most reduce the uncertainty of the ranking.

Bradley–Terry strengths θ are fitted by MAP (ridge λ, Newton) and their posterior approximated by
Laplace: Σ = (H + λI)⁻¹, H = Σ_r p_r(1 − p_r) e_r e_rᵀ, e_r = e_i − e_j.  One more comparison of
(i, j) adds Fisher information I_ij = p_ij(1 − p_ij) along e = e_i − e_j, and by the
Sherman–Morrison formula shrinks the total posterior variance by

    gain(i, j) = I_ij ‖Σ e‖² / (1 + I_ij eᵀ Σ e)                (A-optimal design)

— large for close pairs (p ≈ ½) whose strengths are still uncertain.  A batch of K pairs is chosen
greedily, updating Σ after each pick so the batch does not repeat itself.  (Expected information
gain for paired comparisons in this form: Glickman & Jensen 2005, "Adaptive paired comparison
design", J. Stat. Plan. Inference 127; Chen et al. 2013 use the same idea for Crowd-BT.)
"""

from __future__ import annotations

from typing import Any

import numpy as np

# the design itself lives in prefkit.choice.active (one copy; quality imports choice)
from prefkit.choice.active import fit_bt_map, next_pairs
from prefkit.choice.active import information_matrix as _information  # noqa: F401
from prefkit.core.mathfn import sigmoid
from prefkit.errors import DataError


def propose(dataset: Any, k: int = 10, lam: float = 0.1) -> list[dict[str, Any]]:
    """The ``k`` item pairs to label next for ``dataset`` (pairwise; ties as half wins)."""
    if dataset.kind != "pairwise":
        dataset = dataset.to_pairs()
    items, ia, ib = dataset.item_codes()
    if ((ia < 0) | (ib < 0)).any():
        raise DataError("missing candidate", source=dataset.name, field="a/b")
    y = np.asarray(dataset.outcomes(), dtype=float)
    ok = ~np.isnan(y)
    theta, cov = fit_bt_map(len(items), ia[ok], ib[ok], y[ok], lam)
    out = []
    for i, j, gain in next_pairs(theta, cov, k):
        out.append({"a": items[i], "b": items[j],
                    "p_a": float(sigmoid(theta[i] - theta[j])),
                    "sd_diff": float(np.sqrt(max(cov[i, i] + cov[j, j] - 2 * cov[i, j], 0.0))),
                    "gain": gain})
    return out


def labels_to_reach_tau(active: bool, seed: int, *, n_items: int = 12, spread: float = 3.0,
                        target: float = 0.9, start: int = 12, batch: int = 6,
                        cap: int = 1500) -> int:
    """Simulation: labels until Kendall τ(θ̂, θ) ≥ ``target``, choosing pairs actively or at
    random (true θ evenly spaced on [−spread, spread], BT outcomes); ``cap`` if never."""
    from scipy.stats import kendalltau

    rng = np.random.default_rng(seed)
    theta = np.linspace(-spread, spread, n_items)
    rng.shuffle(theta)

    def label(i: np.ndarray, j: np.ndarray) -> np.ndarray:
        return (rng.random(len(i)) < sigmoid(theta[i] - theta[j])).astype(float)

    ia = rng.integers(0, n_items, start)
    ib = (ia + rng.integers(1, n_items, start)) % n_items
    ya = label(ia, ib)
    while len(ia) < cap:
        est, cov = fit_bt_map(n_items, ia, ib, ya)
        if kendalltau(est, theta)[0] >= target:
            return len(ia)
        if active:
            picked = next_pairs(est, cov, batch)
            i = np.array([p[0] for p in picked])
            j = np.array([p[1] for p in picked])
        else:
            i = rng.integers(0, n_items, batch)
            j = (i + rng.integers(1, n_items, batch)) % n_items
        ia, ib, ya = np.r_[ia, i], np.r_[ib, j], np.r_[ya, label(i, j)]
    return cap
