r"""PAL-A: ideal-point preference model with users' ideal points mixed from K prototypes.

Chen, Chen, Rege, Vinayak et al. (2025), "PAL: Sample-efficient personalized reward modeling for
pluralistic alignment", ICLR (code: RamyaLab/pluralistic-alignment, ``src/pal_rm_a``); the ideal
point model goes back to Coombs (1950).  With item embedding e(y) = f(φ(x, y)) (f linear or an
MLP on frozen features φ), K shared prototypes p_1..p_K and user weights on the simplex
w_u = softmax(ω_u):

    a_u = Σ_k w_uk p_k,
    P(y_1 ≻ y_2 | u) = σ( s · ( d(e(y_2), a_u) − d(e(y_1), a_u) ) ),    d = ‖·‖² (or ‖·‖)

with a learned scale s > 0.  A user never seen is given the population's average weights
w̄ = mean_u w_u; :meth:`adapt` fits only ω of new users (f, p and s frozen) — few-shot.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from prefkit.core.persist import register
from prefkit.plural._torch import Batch, FeatureModel, bce_logits, mlp


class _PalA(nn.Module):
    def __init__(self, d: int, hidden: int, dim: int, k: int, n_users: int) -> None:
        super().__init__()
        self.f = mlp(d, hidden, dim)
        self.prototypes = nn.Parameter(torch.randn(k, dim))
        self.omega = nn.Parameter(0.1 * torch.randn(n_users, k))
        self.log_scale = nn.Parameter(torch.zeros(()))


@register("plural.PALA")
class PALA(FeatureModel):
    """PAL-A ideal-point model (see module docstring).

    Args:
        n_prototypes: K.
        dim: dimension of the preference space (e and p).
        hidden: hidden width of f (0 = linear).
        distance: ``"squared"`` (‖·‖², default) or ``"euclidean"`` (‖·‖, as the reference code).
        **kwargs: see :class:`~prefkit.plural._torch.FeatureModel`.
    """

    def __init__(
        self,
        n_prototypes: int = 3,
        *,
        dim: int = 8,
        hidden: int = 0,
        distance: str = "squared",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.n_prototypes = n_prototypes
        self.dim = dim
        self.hidden = hidden
        self.distance = distance

    def _build(self, d: int, dx: int, n_users: int) -> nn.Module:
        return _PalA(d, self.hidden, self.dim, self.n_prototypes, n_users)

    def _user_table(self) -> nn.Parameter:
        return self.module_.omega

    def user_weights(self, codes: torch.Tensor) -> torch.Tensor:
        """(N, K) simplex weights of each code's user (population mean for −1)."""
        w = torch.softmax(self.module_.omega, dim=1)
        pop = w.mean(dim=0, keepdim=True)
        table = torch.cat([w, pop], dim=0)
        return table[torch.where(codes < 0, w.shape[0], codes)]

    def _dist(self, e: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        sq = ((e - a) ** 2).sum(dim=1)
        return sq if self.distance == "squared" else torch.sqrt(sq + 1e-9)

    def _logit(self, batch: Batch) -> torch.Tensor:
        m = self.module_
        a = self.user_weights(batch["u"]) @ m.prototypes
        ea, eb = m.f(batch["fa"]), m.f(batch["fb"])
        return m.log_scale.exp() * (self._dist(eb, a) - self._dist(ea, a))

    def _loss(self, batch: Batch, adapt: bool = False) -> torch.Tensor:
        return bce_logits(self._logit(batch), batch["y"], batch["w"])

    def _proba(self, batch: Batch) -> torch.Tensor:
        return torch.sigmoid(self._logit(batch))

    def ideal_points(self) -> torch.Tensor:
        """(U, dim) ideal point a_u of every known user."""
        with torch.no_grad():
            return torch.softmax(self.module_.omega, 1) @ self.module_.prototypes
