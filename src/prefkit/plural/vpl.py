r"""VPL: variational preference learning — a user latent z inferred from a few labelled pairs.

Poddar, Wan, Ivison, Gupta & Jaques (2024), "Personalizing reinforcement learning from human
feedback with variational preference learning", NeurIPS (code: WEIRDLabUW/vpl_llm,
``hidden_context/vae_utils.py``).  A permutation-invariant encoder maps a user's context set
C_u = {(y_j^w, y_j^l)} (chosen, rejected features) to a diagonal Gaussian,

    h_j = g([φ(y_j^w), φ(y_j^l)]),   q(z | C_u) = N(μ(h̄), diag σ²(h̄)),   h̄ = mean_j h_j,

and the reward is conditioned on z, r(y, z) = MLP([φ(y), z]).  Training maximizes the ELBO

    E_{z∼q(z|C_u)} [ Σ_n log σ( ±(r(y_a, z) − r(y_b, z)) ) ] − β · KL( q(z | C_u) ‖ N(0, I) )

with a fresh random context of 1..``n_context`` of the user's pairs at every step (so the
encoder works from few pairs).  After fitting, each known user keeps z_u = μ(all his pairs); an
unknown user is predicted at the prior mean z = 0; :meth:`VPL.adapt` encodes a new user's pairs —
no gradient step is needed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from prefkit.core.persist import expect_array, register
from prefkit.plural._base import as_pairs, lookup_users, user_labels
from prefkit.plural._torch import Batch, FeatureModel, bce_logits, mlp, user_sums
from prefkit.reward._train import adam_fit


class _VPL(nn.Module):
    def __init__(self, d: int, hidden: int, latent: int) -> None:
        super().__init__()
        self.pair = nn.Sequential(nn.Linear(2 * d, hidden), nn.GELU(), nn.Linear(hidden, hidden),
                                  nn.GELU())
        self.mu = nn.Linear(hidden, latent)
        self.logvar = nn.Linear(hidden, latent)
        self.reward = mlp(d + latent, hidden, 1)

    def r(self, f: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.reward(torch.cat([f, z], dim=1))[:, 0]


@register("plural.VPL")
class VPL(FeatureModel):
    """Variational preference learning (see module docstring).

    Args:
        latent_dim: dimension of z.
        hidden: width of the encoder and reward MLPs.
        n_context: largest context set sampled per user during training.
        beta: KL weight β.
        **kwargs: see :class:`~prefkit.plural._torch.FeatureModel`.
    """

    def __init__(
        self,
        *,
        latent_dim: int = 8,
        hidden: int = 64,
        n_context: int = 16,
        beta: float = 0.01,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("lr", 0.005)
        kwargs.setdefault("epochs", 400)
        super().__init__(**kwargs)
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.n_context = n_context
        self.beta = beta

    def _build(self, d: int, dx: int, n_users: int) -> nn.Module:
        return _VPL(d, self.hidden, self.latent_dim)

    def _pair_codes(self, batch: Batch) -> torch.Tensor:
        """Per-record encoder input [φ(chosen), φ(rejected)]."""
        win = (batch["y"] >= 0.5)[:, None]
        chosen = torch.where(win, batch["fa"], batch["fb"])
        rejected = torch.where(win, batch["fb"], batch["fa"])
        return torch.cat([chosen, rejected], dim=1)

    def _encode_users(self, batch: Batch, n_users: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(μ, log σ²) of every user from all his records in ``batch``."""
        h = self.module_.pair(self._pair_codes(batch))
        counts = torch.bincount(batch["u"], minlength=n_users).clamp_min(1)[:, None]
        hbar = user_sums(h, batch["u"], n_users) / counts
        return self.module_.mu(hbar), self.module_.logvar(hbar)

    def _fit_module(self, batch: Batch) -> None:
        m = self.module_
        u = batch["u"]
        n_users = len(self.users_)
        order = torch.argsort(u, stable=True)
        counts = torch.bincount(u, minlength=n_users)
        starts = torch.cumsum(counts, 0) - counts
        codes_all = self._pair_codes(batch)
        c_max = int(self.n_context)

        def elbo_loss(_idx: torch.Tensor | None) -> torch.Tensor:
            """Negative ELBO on all records, with a fresh random context set per user."""
            size = torch.randint(1, c_max + 1, (n_users,))
            size = torch.minimum(size, counts.clamp_min(1))
            pick = (torch.rand(n_users, c_max) * counts[:, None]).long()
            idx = order[(starts[:, None] + pick).clamp_max(len(order) - 1)]
            mask = (torch.arange(c_max)[None, :] < size[:, None]).float()
            h = m.pair(codes_all[idx])  # (U, C, hidden)
            hbar = (h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
            mu, logvar = m.mu(hbar), m.logvar(hbar)
            z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
            zn = z[u]
            logit = m.r(batch["fa"], zn) - m.r(batch["fb"], zn)
            kl = 0.5 * (mu**2 + logvar.exp() - logvar - 1.0).sum(1).mean()
            return bce_logits(logit, batch["y"], batch["w"]) + self.beta * kl

        m.train()
        # the shared Adam loop, full batch (the context sampling is the loss's own randomness)
        adam_fit(list(m.parameters()), elbo_loss, len(u), epochs=int(self.epochs),
                 batch_size=None, lr=self.lr, weight_decay=self.weight_decay, seed=int(self.seed),
                 tol=0.0, auto_batch=False)
        m.eval()
        with torch.no_grad():
            mu, _ = self._encode_users(batch, n_users)
        self.user_latent_ = mu.numpy()

    def _z_for(self, codes: torch.Tensor) -> torch.Tensor:
        table = torch.as_tensor(
            np.vstack([self.user_latent_, np.zeros((1, self.latent_dim))]), dtype=torch.float32
        )
        return table[torch.where(codes < 0, table.shape[0] - 1, codes)]

    def _proba(self, batch: Batch) -> torch.Tensor:
        z = self._z_for(batch["u"])
        m = self.module_
        return torch.sigmoid(m.r(batch["fa"], z) - m.r(batch["fb"], z))

    def adapt(self, dataset: Any, *, features: Any = None) -> VPL:
        """A copy that knows the users of ``dataset``: z_u = μ(their labelled pairs)."""
        self.check_fitted()
        dataset = as_pairs(dataset)
        labels = user_labels(dataset)
        model = self._copy()
        new = sorted(set(labels.tolist()) - set(self.users_))
        model.users_ = list(self.users_) + new
        codes = lookup_users(labels, model.users_)
        batch = model._batch(dataset, features, codes)
        with torch.no_grad():
            mu, _ = model._encode_users(batch, len(model.users_))
        table = np.vstack([self.user_latent_, np.zeros((len(new), self.latent_dim))])
        touched = np.unique(codes)
        table[touched] = mu.numpy()[touched]
        model.user_latent_ = table.astype(np.float32)
        return model

    def _extra_arrays(self) -> dict[str, np.ndarray]:
        return {"user_latent": self.user_latent_}

    def _load_extra(self, arrays: dict[str, np.ndarray]) -> None:
        shape = (len(self.users_), int(self.latent_dim))
        self.user_latent_ = expect_array(arrays, "user_latent", shape, where="extra")
