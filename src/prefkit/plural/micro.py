r"""MiCRo: a mixture of K reward heads with context-aware (prompt- and user-) routing.

Shen, Chen, Wang, Zhang et al. (2025), "MiCRo: Mixture modeling and context-aware routing for
personalized preference learning", arXiv 2505.24846 (code: MaxwellJryao/MiCRo).  Stage 1 fits a
mixture of Bradley–Terry heads whose weights depend on the context:

    P(y_a ≻ y_b | x, u) = Σ_k w_k(x, u) σ(r_k(x, y_a) − r_k(x, y_b)),
    w(x, u) = softmax( g(φ(x)) + b_u )

with r_k linear heads (or heads on a shared MLP trunk) over φ(x, y), a router g on prompt features
(when given) and a per-user routing bias b_u (the context a user brings); the loss is the mixture
negative log-likelihood plus a load-balancing term λ·K·Σ_k w̄_k² (w̄ = mean routing weights; 1 at
perfect balance) and a small L2 on b.  Stage 2 (online routing adaptation) is :meth:`MiCRo.adapt`:
only b_u of new users is fitted, the heads and router frozen.  Unknown users get b = mean_u b_u.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from prefkit.core.persist import register
from prefkit.plural._torch import Batch, FeatureModel, bce, mlp


class _MiCRo(nn.Module):
    def __init__(self, d: int, dx: int, hidden: int, k: int, n_users: int) -> None:
        super().__init__()
        self.heads = mlp(d, hidden, k)
        self.router = nn.Linear(dx, k) if dx else None
        self.user_bias = nn.Parameter(0.1 * torch.randn(n_users, k))


@register("plural.MiCRo")
class MiCRo(FeatureModel):
    """Mixture of reward heads with context-aware routing (see module docstring).

    Args:
        n_heads: K.
        hidden: width of a shared trunk under the heads (0 = linear heads).
        balance: load-balancing weight λ.
        bias_l2: L2 penalty on the user routing biases.
        **kwargs: see :class:`~prefkit.plural._torch.FeatureModel`.
    """

    def __init__(
        self,
        n_heads: int = 4,
        *,
        hidden: int = 0,
        balance: float = 0.05,
        bias_l2: float = 1e-3,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.n_heads = n_heads
        self.hidden = hidden
        self.balance = balance
        self.bias_l2 = bias_l2

    def _build(self, d: int, dx: int, n_users: int) -> nn.Module:
        return _MiCRo(d, dx, self.hidden, self.n_heads, n_users)

    def _user_table(self) -> nn.Parameter:
        return self.module_.user_bias

    def routing(self, batch: Batch) -> torch.Tensor:
        """(N, K) routing weights w(x, u)."""
        m = self.module_
        b = m.user_bias
        table = torch.cat([b, b.mean(dim=0, keepdim=True)], dim=0)
        logits = table[torch.where(batch["u"] < 0, b.shape[0], batch["u"])]
        if m.router is not None and batch["fx"] is not None:
            logits = logits + m.router(batch["fx"])
        return torch.softmax(logits, dim=1)

    def _mix(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        m = self.module_
        p = torch.sigmoid(m.heads(batch["fa"]) - m.heads(batch["fb"]))
        w = self.routing(batch)
        return (w * p).sum(dim=1), w

    def _loss(self, batch: Batch, adapt: bool = False) -> torch.Tensor:
        p, w = self._mix(batch)
        loss = bce(p, batch["y"], batch["w"])
        if not adapt:
            wbar = w.mean(dim=0)
            loss = loss + self.balance * self.n_heads * (wbar**2).sum()
            loss = loss + self.bias_l2 * (self.module_.user_bias**2).mean()
        return loss

    def _proba(self, batch: Batch) -> torch.Tensor:
        return self._mix(batch)[0]
