"""CRM: two reward models that pick clean preference pairs for each other (co-teaching).

"Two Minds Are Better Than One: Collaborative Reward Modeling" (CRM, 2025), building on
co-teaching (Han et al. 2018).  Noisy preference pairs show large, fluctuating losses, so a model
can spot them — but a model that selects its own training data confirms its own mistakes.  CRM
trains two reward models A and B and lets each choose the data of the *other*:

    at step t, with τ_t = τ·min(t / T_ramp, 1):
        S_A = the (1 − τ_t) share of pairs with the smallest BT loss under A
        S_B = likewise under B
        update A on S_B and B on S_A

τ (``noise_rate``) is the expected share of wrong labels and the ramp lets both models learn the
easy patterns first (the curriculum that keeps them at similar capability).  Here the two models
are linear Bradley–Terry heads on frozen text features (:mod:`~prefkit.reward.linear_text`),
started from different random points, trained full-batch with Adam; the fitted reward is the
mean of the two (``weights_``; each is kept as ``weights_a_`` / ``weights_b_``).  With τ = 0 both
see every pair and CRM is plain BT.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from prefkit.core.persist import register
from prefkit.data.schema import PreferenceDataset
from prefkit.errors import DataError
from prefkit.reward.linear_text import LinearTextReward


def _adam_step(w, grad, state, lr, step):
    m1, m2 = state
    m1[:] = 0.9 * m1 + 0.1 * grad
    m2[:] = 0.999 * m2 + 0.001 * grad**2
    return w - lr * (m1 / (1 - 0.9**step)) / (np.sqrt(m2 / (1 - 0.999**step)) + 1e-8)


def _losses_and_grad(w: np.ndarray, z: np.ndarray, keep: np.ndarray,
                     l2: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-pair BT losses log(1 + e^{−w·z}), and the gradient of the mean loss on ``keep``."""
    m = z @ w
    losses = np.logaddexp(0.0, -m)
    sel = z[keep]
    grad = -(sel.T @ (0.5 * (1.0 - np.tanh(0.5 * m[keep])))) / max(len(sel), 1) + l2 * w
    return losses, grad


@register("reward.CRMRewardModel")
class CRMRewardModel(LinearTextReward):
    """Two linear BT heads trained by co-teaching (module docstring).

    Args:
        encoder, inputs: the frozen text features.
        noise_rate: τ, the share of pairs each head drops for the other at full ramp.
        ramp: T_ramp, the steps over which the dropped share grows from 0 to τ.
        epochs, lr, l2, seed: full-batch Adam steps, step size, L2 penalty, initial points.
    """

    def __init__(self, encoder: Any = None, *, inputs: str = "packed", noise_rate: float = 0.2,
                 ramp: int = 50, epochs: int = 300, lr: float = 0.05, l2: float = 1e-3,
                 seed: int = 0) -> None:
        super().__init__(encoder, inputs=inputs)
        self.noise_rate, self.ramp = noise_rate, ramp
        self.epochs, self.lr, self.l2, self.seed = epochs, lr, l2, seed

    def fit(self, ds: PreferenceDataset, **_: Any) -> CRMRewardModel:
        if not 0.0 <= self.noise_rate < 1.0:
            raise DataError(f"noise_rate must lie in [0, 1), not {self.noise_rate}",
                            field="noise_rate")
        y = ds.outcomes()
        decided = y != 0.5
        z = self.pair_difference(ds)[decided] * np.where(y[decided] > 0.5, 1.0, -1.0)[:, None]
        n, dim = z.shape
        rng = np.random.default_rng(self.seed)
        heads = [rng.normal(scale=0.01, size=dim) for _ in range(2)]
        states = [(np.zeros(dim), np.zeros(dim)) for _ in range(2)]
        everyone = np.ones(n, dtype=bool)
        for step in range(1, self.epochs + 1):
            tau = self.noise_rate * min(step / max(self.ramp, 1), 1.0)
            n_keep = max(round((1.0 - tau) * n), 1)
            picks = []
            for w in heads:  # each head's small-loss selection, for the other head
                losses, _ = _losses_and_grad(w, z, everyone, self.l2)
                keep = np.zeros(n, dtype=bool)
                keep[np.argsort(losses, kind="stable")[:n_keep]] = True
                picks.append(keep)
            for k in range(2):
                _, grad = _losses_and_grad(heads[k], z, picks[1 - k], self.l2)
                heads[k] = _adam_step(heads[k], grad, states[k], self.lr, step)
        self.weights_a_, self.weights_b_ = heads
        self.weights_ = (heads[0] + heads[1]) / 2
        self.intercept_, self.scale_ = 0.0, 1.0
        self.dropped_ = (~(picks[0] & picks[1])).nonzero()[0]
        return self

    def _extra_state(self) -> dict[str, Any]:
        return {"weights_a": [float(v) for v in self.weights_a_],
                "weights_b": [float(v) for v in self.weights_b_]}

    def _restore_extra(self, config: dict[str, Any], where: Any) -> None:
        self.weights_a_ = np.asarray(config["weights_a"], dtype=float)
        self.weights_b_ = np.asarray(config["weights_b"], dtype=float)
