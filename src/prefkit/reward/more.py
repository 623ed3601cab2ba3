"""MORE: multi-objective reward learning across diverse preference data sets.

Zeng et al. 2023, "On Diversified Preferences of Large Language Model Alignment" (MORE).  Training
one reward model on several preference data sets whose annotators disagree hurts its
*calibration* on the preferences they share.  MORE treats each data set t as an objective and
re-weights the per-data-set Bradley–Terry losses L_t every step toward the direction all of them
agree on — the min-norm point of their gradients (MGDA, Désidéri 2012; Sener & Koltun 2018).
Following the authors' code (as read in the method catalogue):

1. per data set t, the BT loss L_t (mean over its pairs) and its gradient g_t with respect to the
   reward head (here the whole model: a linear head on frozen features, r = w·φ);
2. momentum g̃_t ← (1 − α)·g̃_t + α·g_t, then ĝ_t = g̃_t / ‖g̃_t‖;
3. λ = argmin_{λ ∈ simplex} ‖Σ_t λ_t ĝ_t‖² (:func:`min_norm_weights`, Frank–Wolfe);
4. the step minimises T·Σ_t λ_t·L_t (+ the L2 penalty).

``weighting="uniform"`` fixes λ_t = 1/T (every data set counts equally) and ``"pooled"`` is plain
BT on all pairs together (larger data sets count more) — the baselines.  The groups are a column
(default ``source``).  Calibration is measured with
:func:`prefkit.evaluate.calibration.expected_calibration_error`; ``benchmarks/seeds_more.py``
runs the comparison on simulated diverse groups.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from prefkit.core.persist import register
from prefkit.data.schema import PreferenceDataset
from prefkit.errors import DataError
from prefkit.reward.linear_text import LinearTextReward

WEIGHTINGS = ("mgda", "uniform", "pooled")


def min_norm_weights(grads: np.ndarray, *, max_iter: int = 1000,
                     tol: float = 1e-12) -> np.ndarray:
    """λ on the simplex minimising ‖Σ_t λ_t g_t‖² (rows of ``grads``).

    Two gradients: the closed form.  Up to :data:`EXACT_UP_TO` gradients: exact, by solving the
    KKT system of the problem on every support and keeping the best feasible solution.  More:
    Frank–Wolfe with exact line search (the MGDA solver of Sener & Koltun 2018)."""
    g = np.asarray(grads, dtype=float)
    t = len(g)
    if t == 1:
        return np.ones(1)
    gram = g @ g.T
    if t == 2:
        denom = gram[0, 0] + gram[1, 1] - 2 * gram[0, 1]
        a = 0.5 if denom <= 0 else float(np.clip((gram[1, 1] - gram[0, 1]) / denom, 0.0, 1.0))
        return np.array([a, 1.0 - a])
    if t <= EXACT_UP_TO:
        return _exact_min_norm(gram)
    lam = np.full(t, 1.0 / t)
    for _ in range(max_iter):
        grad = gram @ lam
        k = int(np.argmin(grad))
        # line search between the current point v = Gλ and the vertex e_k
        v_v, v_k, k_k = lam @ gram @ lam, grad[k], gram[k, k]
        denom = v_v - 2 * v_k + k_k
        step = 1.0 if denom <= 0 else float(np.clip((v_v - v_k) / denom, 0.0, 1.0))
        new = (1 - step) * lam
        new[k] += step
        if np.abs(new - lam).sum() < tol:
            lam = new
            break
        lam = new
    return lam


#: number of gradients up to which :func:`min_norm_weights` enumerates supports
EXACT_UP_TO = 10


def _exact_min_norm(gram: np.ndarray) -> np.ndarray:
    """The min-norm point of the simplex under the Gram matrix, over every support S: minimise
    λ_Sᵀ G_SS λ_S subject to Σ λ_S = 1 (a linear KKT system), keep it if λ_S ≥ 0."""
    from itertools import combinations

    t = len(gram)
    best, best_value = np.full(t, 1.0 / t), float(np.full(t, 1.0 / t) @ gram @ np.full(t, 1 / t))
    for k in range(1, t + 1):
        for support in combinations(range(t), k):
            idx = list(support)
            kkt = np.zeros((k + 1, k + 1))
            kkt[:k, :k] = 2 * gram[np.ix_(idx, idx)]
            kkt[:k, k] = kkt[k, :k] = 1.0
            rhs = np.zeros(k + 1)
            rhs[k] = 1.0
            sol = np.linalg.lstsq(kkt, rhs, rcond=None)[0][:k]
            if (sol < -1e-12).any() or abs(sol.sum() - 1.0) > 1e-9:
                continue
            cand = np.zeros(t)
            cand[idx] = np.clip(sol, 0.0, None)
            cand /= cand.sum()
            value = float(cand @ gram @ cand)
            if value < best_value - 1e-15:
                best, best_value = cand, value
    return best


def _bt_loss_grad(w: np.ndarray, z: np.ndarray, s: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean weighted BT loss Σ s·log(1 + e^{−w·z}) / Σ s and its gradient (z = ±(φ_a − φ_b))."""
    m = z @ w
    total = max(float(s.sum()), 1e-12)
    loss = float(s @ np.logaddexp(0.0, -m)) / total
    grad = -(z.T @ (s * 0.5 * (1.0 - np.tanh(0.5 * m)))) / total
    return loss, grad


@register("reward.MORERewardModel")
class MORERewardModel(LinearTextReward):
    """Linear BT reward model trained with MORE's min-norm data-set weighting (module docstring).

    Args:
        encoder, inputs: the frozen text features.
        group: the column naming each record's data set (default ``source``).
        weighting: ``"mgda"`` (MORE), ``"uniform"`` or ``"pooled"``.
        momentum: α of the gradient momentum (α = 1: no memory).
        epochs, lr, l2: full-batch Adam steps, step size and L2 penalty (λ/2)‖w‖².
    """

    def __init__(self, encoder: Any = None, *, inputs: str = "packed", group: str = "source",
                 weighting: str = "mgda", momentum: float = 0.99, epochs: int = 300,
                 lr: float = 0.05, l2: float = 1e-3) -> None:
        super().__init__(encoder, inputs=inputs)
        self.group, self.weighting, self.momentum = group, weighting, momentum
        self.epochs, self.lr, self.l2 = epochs, lr, l2

    def fit(self, ds: PreferenceDataset, **_: Any) -> MORERewardModel:
        if self.weighting not in WEIGHTINGS:
            raise DataError(f"unknown weighting {self.weighting!r} (expected one of "
                            f"{', '.join(WEIGHTINGS)})", field="weighting")
        if not 0.0 < self.momentum <= 1.0:
            raise DataError(f"momentum must lie in (0, 1], not {self.momentum}", field="momentum")
        if self.weighting != "pooled" and not ds.has(self.group):
            raise DataError("MORE needs a data-set column to weight", source=ds.name,
                            field=self.group)
        y, s = ds.outcomes(), ds.weights()
        keep = y != 0.5
        z = self.pair_difference(ds)[keep] * np.where(y[keep] > 0.5, 1.0, -1.0)[:, None]
        s = s[keep]
        labels = (np.asarray(ds.column(self.group), dtype=object)[keep]
                  if ds.has(self.group) else np.zeros(int(keep.sum()), dtype=object))
        names = sorted({str(g) for g in labels})
        members = [np.flatnonzero(np.array([str(g) for g in labels]) == n) for n in names]
        w = np.zeros(z.shape[1])
        m1, m2 = np.zeros_like(w), np.zeros_like(w)
        smooth = np.zeros((len(names), len(w)))
        history = []
        for step in range(1, self.epochs + 1):
            if self.weighting == "pooled":
                loss, grad = _bt_loss_grad(w, z, s)
                lam = np.ones(1)
            else:
                parts = [_bt_loss_grad(w, z[idx], s[idx]) for idx in members]
                losses = np.array([p[0] for p in parts])
                grads = np.stack([p[1] for p in parts])
                if self.weighting == "mgda":
                    smooth = grads if step == 1 else (
                        (1 - self.momentum) * smooth + self.momentum * grads)
                    norms = np.linalg.norm(smooth, axis=1, keepdims=True)
                    lam = min_norm_weights(smooth / np.maximum(norms, 1e-12))
                else:
                    lam = np.full(len(names), 1.0 / len(names))
                t = len(names)
                loss, grad = float(t * lam @ losses), t * (lam @ grads)
            grad = grad + self.l2 * w
            m1 = 0.9 * m1 + 0.1 * grad
            m2 = 0.999 * m2 + 0.001 * grad**2
            w = w - self.lr * (m1 / (1 - 0.9**step)) / (np.sqrt(m2 / (1 - 0.999**step)) + 1e-8)
            history.append(loss)
        self.weights_, self.intercept_, self.scale_ = w, 0.0, 1.0
        self.groups_ = names
        self.group_weights_ = np.asarray(lam, dtype=float)
        self.loss_curve_ = history
        return self

    def _extra_state(self) -> dict[str, Any]:
        return {"groups": list(getattr(self, "groups_", [])),
                "group_weights": [float(v) for v in getattr(self, "group_weights_", [])]}

    def _restore_extra(self, config: dict[str, Any], where: Any) -> None:
        self.groups_ = [str(g) for g in config.get("groups", [])]
        self.group_weights_ = np.asarray(config.get("group_weights", []), dtype=float)
