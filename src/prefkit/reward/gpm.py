r"""General preference model (GPM) head: skew-symmetric preference embeddings.

Zhang et al. 2025, "Beyond Bradley–Terry models: a general preference model for language model
alignment" (ICML; code: general-preference/general-preference-model)::

    v(x) = W x ∈ ℝ^{2k}        (``hidden > 0``: v(x) = W₂ GELU(W₁ x))
    s(a, b) = ⟨R v_a, v_b⟩ / τ,   R = diag of k blocks [[0, −1], [1, 0]]  (90° rotations)
    P(a ≻ b) = σ(s(a, b))

s is skew-symmetric (s(a, b) = −s(b, a), s(a, a) = 0), so P(a ≻ b) + P(b ≻ a) = 1, but the
relation need not be transitive: in one 2-d block, items on a circle beat the items less than half
a turn ahead of them, a rock–paper–scissors cycle that no scalar reward r(a) − r(b) can express.
Loss: weighted binary cross-entropy on (soft) labels with label smoothing, as the BT heads; a
record's margin is not used.  A GPM has no scalar reward, so :class:`GPMHead` has no ``reward``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from prefkit.errors import DataError
from prefkit.reward._train import PairFeatures, TrainOptions, pick
from prefkit.reward.base import FeatureHead


class GeneralPreferenceHead(nn.Module):
    """v(x) ∈ ℝ^{2k}; ``score(xa, xb)`` = ⟨R v_a, v_b⟩ / τ."""

    def __init__(self, dim: int, k: int = 4, hidden: int = 0, tau: float = 1.0) -> None:
        super().__init__()
        if hidden > 0:
            self.proj: nn.Module = nn.Sequential(
                nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, 2 * k, bias=False)
            )
        else:
            self.proj = nn.Linear(dim, 2 * k, bias=False)
        self.tau = tau

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)

    def score(self, xa: torch.Tensor, xb: torch.Tensor) -> torch.Tensor:
        va = self.embed(xa).unflatten(-1, (-1, 2))
        vb = self.embed(xb).unflatten(-1, (-1, 2))
        # R v_a = (−v_a[1], v_a[0]) per block, so ⟨R v_a, v_b⟩ = Σ v_a[0] v_b[1] − v_a[1] v_b[0]
        return (va[..., 0] * vb[..., 1] - va[..., 1] * vb[..., 0]).sum(-1) / self.tau


class GPMHead(FeatureHead):
    """GPM head (module docstring). Args: k (half the embedding size), hidden, tau, and the
    Adam settings of :class:`~prefkit.reward.bradley_terry.BradleyTerryHead`."""

    name: ClassVar[str] = "gpm"
    scalar: ClassVar[bool] = False
    train_options: ClassVar[bool] = True

    def __init__(
        self,
        *,
        k: int = 4,
        hidden: int = 0,
        tau: float = 1.0,
        label_smoothing: float = 0.0,
        **options: Any,
    ) -> None:
        if k < 1:
            raise DataError(f"k must be ≥ 1 (the embedding has 2k dimensions), got {k}", field="k")
        train, _ = TrainOptions.split(options)  # other options are ignored, as before
        super().__init__(k=k, hidden=hidden, tau=tau, label_smoothing=label_smoothing, **train)

    def build(self, dim: int) -> nn.Module:
        torch.manual_seed(self.params["seed"])
        p = self.params
        return GeneralPreferenceHead(dim, p["k"], p["hidden"], p["tau"])

    def fit(self, feats: PairFeatures) -> GPMHead:
        feats.check_labels()
        p = self.params
        t = feats.tensors()
        self.dim_ = feats.dim
        self.module_ = self.build(self.dim_)
        eps = p["label_smoothing"]

        def loss_fn(idx: torch.Tensor | None) -> torch.Tensor:
            s = self.module_.score(pick(t["xa"], idx), pick(t["xb"], idx))
            y = pick(t["y"], idx) * (1 - eps) + eps / 2
            w = pick(t["w"], idx)
            per = nn.functional.binary_cross_entropy_with_logits(s, y, reduction="none")
            return (per * w).sum() / w.sum().clamp_min(1e-12)

        self.loss_curve_ = TrainOptions.of(p).fit(
            list(self.module_.parameters()),
            loss_fn,
            len(feats),
            work=2.0 * len(feats) * feats.dim * max(2 * p["k"], p["hidden"]),
        )
        self.module_.eval()
        return self

    def logit(self, feats: PairFeatures) -> torch.Tensor:
        xa = torch.as_tensor(feats.xa, dtype=torch.float32)
        xb = torch.as_tensor(feats.xb, dtype=torch.float32)
        with torch.no_grad():
            return self.module_.score(xa, xb)

    def embed(self, x: Any) -> Any:
        """The 2k-dimensional preference embeddings v(x) (NumPy)."""
        self.check()
        with torch.no_grad():
            return self.module_.embed(torch.as_tensor(x, dtype=torch.float32)).double().numpy()
