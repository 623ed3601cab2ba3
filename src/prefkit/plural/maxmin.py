r"""MaxMin-RLHF: an EM mixture of Bradley–Terry reward heads over users, and max-min aggregation.

Chakraborty, Qiu, Yuan, Koppel, Huang, Manocha, Bedi & Wang (2024), "MaxMin-RLHF: Alignment with
diverse human preferences", ICML (code: josephxu1234/MaxMinRLHF).  K reward heads r_k (linear or
an MLP on frozen features φ(x, y)); user u has comparisons D_u; Δ_k = r_k(x, y_a) − r_k(x, y_b):

* E-step  γ_uk ∝ π_k Π_{n ∈ D_u} σ(Δ_k)^{y_n} σ(−Δ_k)^{1−y_n}   (``assignment="soft"``), or the
  paper's hard assignment γ_u = onehot(argmax_k ·) (``assignment="hard"``);
* M-step  π_k = mean_u γ_uk;  each head is trained (``m_steps`` Adam steps, warm start) on the
  γ-weighted Bradley–Terry log-likelihood  Σ_u Σ_k γ_uk Σ_{n∈D_u} log σ(±Δ_k).

Prediction: P(a ≻ b | u) = Σ_k γ_uk σ(Δ_k) (π_k for an unknown user).  Aggregation across groups
(the paper's egalitarian objective max_π min_k E[r_k]): with each head's rewards standardised over
the training responses (r̃_k = (r_k − m_k)/s_k), the *utilitarian* score is Σ_k π_k r̃_k and the
*egalitarian* (max-min) score is min_k r̃_k; :meth:`MaxMinRLHF.aggregate_proba` turns either into
P(a ≻ b) = σ(score(a) − score(b)) and :meth:`MaxMinRLHF.select` picks the best of N candidates.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from prefkit.core.mathfn import sigmoid
from prefkit.core.persist import expect_array, register
from prefkit.errors import DataError
from prefkit.plural._base import as_pairs, lookup_users, user_labels
from prefkit.plural._torch import Batch, FeatureModel, mlp, user_sums
from prefkit.reward._train import adam_fit


def _pair_loglik(delta: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(N, K) Bernoulli log-likelihood of labels y under logits Δ."""
    ls = nn.functional.logsigmoid
    return y[:, None] * ls(delta) + (1.0 - y[:, None]) * ls(-delta)


@register("plural.MaxMinRLHF")
class MaxMinRLHF(FeatureModel):
    """EM mixture of K reward heads (see module docstring).

    Args:
        n_components: K (``1`` = the single population reward model).
        hidden: hidden width of the heads' shared trunk (0 = K linear heads).
        assignment: ``"soft"`` responsibilities or the paper's ``"hard"`` assignment.
        em_iters: EM iterations; m_steps: Adam steps per M-step.
        **kwargs: see :class:`~prefkit.plural._torch.FeatureModel`.
    """

    def __init__(
        self,
        n_components: int = 3,
        *,
        hidden: int = 0,
        assignment: str = "soft",
        em_iters: int = 20,
        m_steps: int = 30,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.n_components = n_components
        self.hidden = hidden
        self.assignment = assignment
        self.em_iters = em_iters
        self.m_steps = m_steps

    def _build(self, d: int, dx: int, n_users: int) -> nn.Module:
        return mlp(d, self.hidden, self.n_components)

    def _delta(self, batch: Batch) -> torch.Tensor:
        return self.module_(batch["fa"]) - self.module_(batch["fb"])

    def _profiles(self, batch: Batch, n_users: int) -> np.ndarray:
        sign = (2.0 * batch["y"] - 1.0)[:, None] * (batch["fa"] - batch["fb"])
        prof = user_sums(sign, batch["u"], n_users).numpy()
        counts = np.bincount(batch["u"].numpy(), minlength=n_users)[:, None]
        return prof / np.sqrt(counts + 1.0)

    def _fit_module(self, batch: Batch) -> None:
        if self.assignment not in ("soft", "hard"):
            raise DataError(f"assignment must be 'soft' or 'hard', not {self.assignment!r}")
        k, n_users = int(self.n_components), len(self.users_)
        if k == 1:
            gamma = np.ones((n_users, 1))
        else:
            from sklearn.cluster import KMeans

            labels = KMeans(k, n_init=4, random_state=self.seed).fit_predict(
                self._profiles(batch, n_users)
            )
            gamma = 0.8 * np.eye(k)[labels] + 0.2 / k
        gamma_t = torch.as_tensor(gamma, dtype=torch.float32)
        opt = torch.optim.Adam(self.module_.parameters(), lr=self.lr,
                               weight_decay=self.weight_decay)
        u, y, w = batch["u"], batch["y"], batch["w"]
        wsum = w.sum()
        for _ in range(int(self.em_iters) if k > 1 else 1):
            steps = self.m_steps if k > 1 else self.epochs

            def m_step_loss(
                _idx: torch.Tensor | None, gamma: torch.Tensor = gamma_t
            ) -> torch.Tensor:
                ll = _pair_loglik(self._delta(batch), y) * w[:, None]
                return -(gamma[u] * ll).sum() / wsum

            # M-step: the shared Adam loop, full batch, moments kept across EM iterations
            adam_fit(list(self.module_.parameters()), m_step_loss, len(u), epochs=int(steps),
                     batch_size=None, lr=self.lr, weight_decay=self.weight_decay,
                     seed=int(self.seed), tol=0.0, auto_batch=False, optimizer=opt)
            with torch.no_grad():
                L = user_sums(_pair_loglik(self._delta(batch), y) * w[:, None], u, n_users)
                pi = gamma_t.mean(dim=0).clamp_min(1e-6)
                joint = torch.log(pi) + L
                gamma_t = torch.softmax(joint, dim=1)
                if self.assignment == "hard":
                    gamma_t = nn.functional.one_hot(gamma_t.argmax(1), k).float()
        self.responsibilities_ = gamma_t.numpy().astype(np.float64)
        self.weights_ = np.maximum(self.responsibilities_.mean(axis=0), 1e-12)
        self.weights_ = self.weights_ / self.weights_.sum()
        with torch.no_grad():
            r = torch.cat([self.module_(batch["fa"]), self.module_(batch["fb"])]).numpy()
        self.reward_mean_ = r.mean(axis=0)
        self.reward_std_ = np.where(r.std(axis=0) > 1e-8, r.std(axis=0), 1.0)

    # ------------------------------------------------------------------ prediction
    def _weights_for(self, codes: np.ndarray) -> np.ndarray:
        w = np.tile(self.weights_, (len(codes), 1))
        known = codes >= 0
        w[known] = self.responsibilities_[codes[known]]
        return w

    def _proba(self, batch: Batch) -> torch.Tensor:
        p = torch.sigmoid(self._delta(batch))
        w = torch.as_tensor(self._weights_for(batch["u"].numpy()), dtype=p.dtype)
        return (w * p).sum(dim=1)

    def predict_component_proba(self, dataset: Any, *, features: Any = None) -> np.ndarray:
        """(N, K) P(a ≻ b) under each head."""
        self.check_fitted()
        dataset = as_pairs(dataset)
        batch = self._batch(dataset, features, np.full(len(dataset), -1))
        with torch.no_grad():
            return torch.sigmoid(self._delta(batch)).double().numpy()

    def rewards(self, dataset: Any, *, features: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """Standardised per-head rewards r̃ of the two sides: ((N, K), (N, K))."""
        self.check_fitted()
        dataset = as_pairs(dataset)
        batch = self._batch(dataset, features, np.full(len(dataset), -1))
        with torch.no_grad():
            ra = self.module_(batch["fa"]).double().numpy()
            rb = self.module_(batch["fb"]).double().numpy()
        return ((ra - self.reward_mean_) / self.reward_std_,
                (rb - self.reward_mean_) / self.reward_std_)

    def aggregate_proba(self, dataset: Any, rule: str = "egalitarian", *,
                        features: Any = None) -> np.ndarray:
        """P(a ≻ b) for the group as a whole: ``"utilitarian"`` (π-weighted mean of standardised
        rewards), ``"egalitarian"`` (their minimum over groups) or ``"mixture"`` (Σ_k π_k σ(Δ_k),
        the predicted share of people who prefer a)."""
        from prefkit.plural.aggregate import aggregate_scores

        if rule == "mixture":
            return self.predict_component_proba(dataset, features=features) @ self.weights_
        ra, rb = self.rewards(dataset, features=features)
        sa = aggregate_scores(ra, rule, self.weights_)
        sb = aggregate_scores(rb, rule, self.weights_)
        return sigmoid(sa - sb)

    def select(self, candidate_features: np.ndarray, rule: str = "egalitarian") -> int:
        """Index of the best candidate (rows: φ(x, y) of each candidate) under ``rule``."""
        from prefkit.plural.aggregate import aggregate_scores

        self.check_fitted()
        f = (np.asarray(candidate_features, np.float32) - self.feature_mean_) / self.feature_std_
        with torch.no_grad():
            r = self.module_(torch.as_tensor(f)).double().numpy()
        r = (r - self.reward_mean_) / self.reward_std_
        return int(np.argmax(aggregate_scores(r, rule, self.weights_)))

    def user_components(self) -> dict[str, int]:
        self.check_fitted()
        lab = self.responsibilities_.argmax(axis=1)
        return {u: int(c) for u, c in zip(self.users_, lab, strict=True)}

    # ------------------------------------------------------------------ new users
    def adapt(self, dataset: Any, *, features: Any = None) -> MaxMinRLHF:
        """A copy that knows the users of ``dataset``: their posteriors over the K groups."""
        self.check_fitted()
        dataset = as_pairs(dataset)
        labels = user_labels(dataset)
        model = self._copy()
        new = sorted(set(labels.tolist()) - set(self.users_))
        model.users_ = list(self.users_) + new
        prior = np.vstack([self.responsibilities_, np.tile(self.weights_, (len(new), 1))])
        codes = lookup_users(labels, model.users_)
        batch = model._batch(dataset, features, codes)
        with torch.no_grad():
            ll = _pair_loglik(model._delta(batch), batch["y"]) * batch["w"][:, None]
            L = user_sums(ll, batch["u"], len(model.users_)).double().numpy()
        joint = np.log(np.maximum(prior, 1e-300)) + L
        touched = np.unique(codes)
        post = prior.copy()
        sub = joint[touched]
        post[touched] = np.exp(sub - sub.max(axis=1, keepdims=True))
        post[touched] /= post[touched].sum(axis=1, keepdims=True)
        model.responsibilities_ = post
        return model

    def _extra_arrays(self) -> dict[str, np.ndarray]:
        return {
            "responsibilities": self.responsibilities_,
            "weights": self.weights_,
            "reward_mean": self.reward_mean_,
            "reward_std": self.reward_std_,
        }

    def _load_extra(self, arrays: dict[str, np.ndarray]) -> None:
        k, n_users = int(self.n_components), len(self.users_)
        for name, shape in (("responsibilities", (n_users, k)), ("weights", (k,)),
                            ("reward_mean", (k,)), ("reward_std", (k,))):
            expect_array(arrays, name, shape, where="extra")
        self.responsibilities_ = arrays["responsibilities"]
        self.weights_ = arrays["weights"]
        self.reward_mean_ = arrays["reward_mean"]
        self.reward_std_ = arrays["reward_std"]
