"""Regression reward model on scalar ratings, and its conversion to a scaled Bradley–Terry model.

Wang et al. 2024, "HelpSteer2-Preference: Complementing Ratings with Preferences".  The paper
compares, on matched data, a *regression* reward model fitted to Likert ratings (HelpSteer2's
0–4 helpfulness) with Bradley–Terry models fitted to pairwise preferences, and gets its best
model by combining them: a *Scaled BT* model (each pair's BT loss multiplied by the annotated
preference strength) initialised from the regression model.

Regression (ridge; features φ from a frozen encoder, :mod:`~prefkit.reward.linear_text`)::

    (w, b) = argmin Σ_i (y_i − w·φ_i − b)² + α‖w‖²

Ratings → scaled-BT pairs (:func:`scaled_bt_pairs`): two responses to the same prompt with
ratings y_1 > y_2 give the record "1 ≻ 2" with strength (``weight``) s = y_1 − y_2 (equal ratings
give no pair, nor do two copies of one text).  The paper's strengths come from annotators (1–3);
the rating gap is the rating-only stand-in and its ``strength=`` transform may be changed.

Scaled BT (:meth:`RegressionRewardModel.refine_scaled_bt`)::

    w* = argmin Σ_pairs s_i·log(1 + exp(−w·(φ_w − φ_l))) + (λ/2)‖w‖²

started from the regression weights (times the probability scale of :meth:`calibrate`), run for
``max_iter`` L-BFGS iterations.  The objective is convex, so run to convergence it reaches the same
optimum from any start (= weighted logistic regression on feature differences); the start matters
when the refinement is short — the paper's point for a neural model, where it is always short.

Probabilities: P(a ≻ b) = σ(s·(r_a − r_b)) with s = ``scale_`` (1 after ``fit``;
:meth:`~RegressionRewardModel.calibrate` fits s by one-parameter logistic regression on pairs).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from prefkit.core.persist import register
from prefkit.data.schema import PreferenceDataset
from prefkit.errors import DataError
from prefkit.reward.linear_text import LinearTextReward, rating_column


def scaled_bt_pairs(ratings: PreferenceDataset, *, attribute: str | None = None,
                    strength: Callable[[float], float] | None = None,
                    min_gap: float = 0.0) -> PreferenceDataset:
    """Pairwise records from ratings of responses to the same prompt (module docstring):
    winner = the higher-rated response, ``weight`` = ``strength(gap)`` (default the gap)."""
    prompts, texts, y = rating_column(ratings, attribute)
    by_prompt: dict[str, list[int]] = {}
    for i, p in enumerate(prompts):
        by_prompt.setdefault("" if p is None else str(p), []).append(i)
    rows = []
    for prompt, idx in by_prompt.items():
        for u, i in enumerate(idx):
            for j in idx[u + 1:]:
                gap = abs(y[i] - y[j])
                if gap <= min_gap or gap == 0 or texts[i] == texts[j]:
                    continue
                rows.append({"prompt": prompt or None, "a_text": texts[i], "b_text": texts[j],
                             "winner": "a" if y[i] > y[j] else "b",
                             "weight": float(strength(gap) if strength else gap),
                             "margin": float(y[i] - y[j])})
    if not rows:
        raise DataError("no two responses to one prompt have different ratings",
                        source=ratings.name)
    return PreferenceDataset.from_records(rows, kind="pairwise",
                                          name=f"{ratings.name or 'ratings'}-scaled-bt")


def _softplus(z: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, z)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def weighted_bt_fit(diff: np.ndarray, labels: np.ndarray, weights: np.ndarray, *, l2: float,
                    init: np.ndarray, max_iter: int) -> np.ndarray:
    """argmin Σ s_i·log(1 + exp(−t_i·w·d_i)) + (l2/2)‖w‖², t_i = ±1, by L-BFGS from ``init``."""
    from scipy.optimize import minimize

    z = diff * np.where(labels > 0.5, 1.0, -1.0)[:, None]

    def objective(w: np.ndarray) -> tuple[float, np.ndarray]:
        m = z @ w
        loss = float(weights @ _softplus(-m) + 0.5 * l2 * w @ w)
        grad = -(z.T @ (weights * _sigmoid(-m))) + l2 * w
        return loss, grad

    if max_iter <= 0:
        return np.asarray(init, dtype=float).copy()
    res = minimize(objective, np.asarray(init, dtype=float), jac=True, method="L-BFGS-B",
                   options={"maxiter": int(max_iter), "gtol": 1e-10, "ftol": 1e-14})
    return np.asarray(res.x, dtype=float)


@register("reward.RegressionRewardModel")
class RegressionRewardModel(LinearTextReward):
    """Ridge regression of a rating on frozen text features; scaled-BT refinement (module
    docstring).

    Args:
        encoder: text encoder (default: the bundled MiniLM).
        inputs: candidate representation (:mod:`prefkit.encode.relevance`), default ``packed``.
        alpha: ridge penalty α.
        attribute: the rating to regress (None: the only one, else ``overall``).
    """

    def __init__(self, encoder: Any = None, *, inputs: str = "packed", alpha: float = 1.0,
                 attribute: str | None = None) -> None:
        super().__init__(encoder, inputs=inputs)
        self.alpha = alpha
        self.attribute = attribute

    def fit(self, ds: PreferenceDataset, **_: Any) -> RegressionRewardModel:
        """Fit on rating records (``text``, optional ``prompt``, ``scores``)."""
        if self.alpha < 0:
            raise DataError(f"alpha must be ≥ 0, not {self.alpha}", field="alpha")
        prompts, texts, y = rating_column(ds, self.attribute)
        x = self.text_features(prompts, texts)
        mean_x, mean_y = x.mean(axis=0), y.mean()
        xc = x - mean_x
        gram = xc.T @ xc + self.alpha * np.eye(x.shape[1])
        self.weights_ = np.linalg.lstsq(gram, xc.T @ (y - mean_y), rcond=None)[0]
        self.intercept_ = float(mean_y - mean_x @ self.weights_)
        self.scale_ = 1.0
        self.objective_ = "regression"
        resid = y - (x @ self.weights_ + self.intercept_)
        self.fit_report_ = {"rmse": float(np.sqrt(np.mean(resid**2))), "n": len(y)}
        return self

    def calibrate(self, pairs: PreferenceDataset) -> RegressionRewardModel:
        """Fit the probability scale s of P(a ≻ b) = σ(s·(r_a − r_b)) on pairwise records."""
        self.check_fitted()
        d = (self.pair_difference(pairs) @ self.weights_)[:, None]
        y, w = pairs.outcomes(), pairs.weights()
        keep = y != 0.5
        self.scale_ = float(weighted_bt_fit(d[keep], y[keep], w[keep], l2=1e-9,
                                            init=np.ones(1), max_iter=200)[0])
        return self

    def refine_scaled_bt(self, pairs: PreferenceDataset, *, l2: float = 1.0,
                         max_iter: int = 100) -> RegressionRewardModel:
        """Scaled BT on ``pairs`` (``weight`` = strength) from the current weights × ``scale_``
        (module docstring); afterwards ``scale_`` = 1 and ``objective_`` = ``"scaled_bt"``."""
        self.check_fitted()
        y, s = pairs.outcomes(), pairs.weights()
        keep = y != 0.5
        diff = self.pair_difference(pairs)[keep]
        self.weights_ = weighted_bt_fit(diff, y[keep], s[keep], l2=l2,
                                        init=self.weights_ * self.scale_, max_iter=max_iter)
        self.intercept_ *= self.scale_
        self.scale_ = 1.0
        self.objective_ = "scaled_bt"
        return self

    def _extra_state(self) -> dict[str, Any]:
        return {"objective": getattr(self, "objective_", "regression")}

    def _restore_extra(self, config: dict[str, Any], where: Any) -> None:
        self.objective_ = str(config.get("objective", "regression"))
