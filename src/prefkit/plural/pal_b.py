r"""PAL-B: K prototype preference functions mixed per user (weights on the simplex).

Chen, Chen, Rege, Vinayak et al. (2025), "PAL: Sample-efficient personalized reward modeling for
pluralistic alignment", ICLR (code: RamyaLab/pluralistic-alignment, ``src/pal_rm_b``).  Item
embedding e(y) = f(φ(x, y)); K prototypes, each prompt-dependent when prompt features φ(x) are
given, p_k(x) = p_k + G_k φ(x); user weights w_u = softmax(ω_u):

    u_i(x) = Σ_k w_ik p_k(x),      r_i(x, y) = s · sim(u_i(x), e(y)),
    P(y_1 ≻ y_2 | x, i) = σ( r_i(x, y_1) − r_i(x, y_2) )

with ``similarity="cos"`` (the reference code's default) or ``"dot"`` (then r_i = Σ_k w_ik r_k is
exactly a convex mixture of K reward functions r_k = s·⟨p_k(x), e(y)⟩).  Unknown users get the
population's mean weights; :meth:`adapt` fits only ω of new users.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from prefkit.core.persist import register
from prefkit.plural._torch import Batch, FeatureModel, bce_logits, mlp


class _PalB(nn.Module):
    def __init__(self, d: int, dx: int, hidden: int, dim: int, k: int, n_users: int) -> None:
        super().__init__()
        self.f = mlp(d, hidden, dim)
        self.prototypes = nn.Parameter(torch.randn(k, dim))
        self.g = nn.Linear(dx, k * dim) if dx else None
        self.omega = nn.Parameter(0.1 * torch.randn(n_users, k))
        self.log_scale = nn.Parameter(torch.tensor(1.0))


@register("plural.PALB")
class PALB(FeatureModel):
    """PAL-B mixture of prototype preferences (see module docstring).

    Args:
        n_prototypes: K.
        dim: dimension of the preference space.
        hidden: hidden width of f (0 = linear).
        similarity: ``"cos"`` or ``"dot"``.
        **kwargs: see :class:`~prefkit.plural._torch.FeatureModel`.
    """

    def __init__(
        self,
        n_prototypes: int = 3,
        *,
        dim: int = 16,
        hidden: int = 0,
        similarity: str = "cos",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.n_prototypes = n_prototypes
        self.dim = dim
        self.hidden = hidden
        self.similarity = similarity

    def _build(self, d: int, dx: int, n_users: int) -> nn.Module:
        return _PalB(d, dx, self.hidden, self.dim, self.n_prototypes, n_users)

    def _user_table(self) -> nn.Parameter:
        return self.module_.omega

    def user_weights(self, codes: torch.Tensor) -> torch.Tensor:
        w = torch.softmax(self.module_.omega, dim=1)
        table = torch.cat([w, w.mean(dim=0, keepdim=True)], dim=0)
        return table[torch.where(codes < 0, w.shape[0], codes)]

    def _ideal(self, batch: Batch) -> torch.Tensor:
        m = self.module_
        w = self.user_weights(batch["u"])  # (N, K)
        if m.g is None or batch["fx"] is None:
            return w @ m.prototypes
        k, dim = m.prototypes.shape
        protos = m.prototypes[None] + m.g(batch["fx"]).view(-1, k, dim)  # (N, K, dim)
        return torch.einsum("nk,nkd->nd", w, protos)

    def _reward(self, u: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        if self.similarity == "cos":
            return nn.functional.cosine_similarity(u, e, dim=1)
        return (u * e).sum(dim=1)

    def _logit(self, batch: Batch) -> torch.Tensor:
        m = self.module_
        u = self._ideal(batch)
        ra, rb = self._reward(u, m.f(batch["fa"])), self._reward(u, m.f(batch["fb"]))
        return m.log_scale.exp() * (ra - rb)

    def _loss(self, batch: Batch, adapt: bool = False) -> torch.Tensor:
        return bce_logits(self._logit(batch), batch["y"], batch["w"])

    def _proba(self, batch: Batch) -> torch.Tensor:
        return torch.sigmoid(self._logit(batch))
