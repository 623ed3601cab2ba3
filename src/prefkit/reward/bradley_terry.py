r"""Bradley–Terry reward heads on embeddings: linear and MLP.

Model (Bradley & Terry 1952; the reward-model loss of Stiennon et al. 2020 and Ouyang et al.
2022, "Training language models to follow instructions with human feedback")::

    r(x) = w·x + b                         (hidden = 0: linear)
    r(x) = MLP(x)                          (hidden > 0: ``layers`` GELU layers of ``hidden`` units)
    P(a ≻ b) = σ(r_a − r_b − m·(2y − 1))   m: margin from the data (Touvron et al. 2023, Llama 2),
                                            applied on the side of the preferred response
    loss = Σ_i w_i · BCE(ỹ_i, P_i) / Σ_i w_i + λ_c · mean(r²)

* soft labels: y = P(a ≻ b) from the data (``p_a``; a tie is y = ½);
* label smoothing ε: ỹ = (1 − ε) y + ε / 2;
* reward centring λ_c (Eisenstein et al. 2023, "Helping or herding?"; TRL
  ``center_rewards_coefficient``): a penalty on the mean squared reward;
* ties (``ties=True``, Davidson 1970, "On extending the Bradley–Terry model to accommodate ties")::

      P(a ≻ b) = e^{d/2} / Z,   P(b ≻ a) = e^{−d/2} / Z,   P(tie) = ν / Z,
      Z = e^{d/2} + e^{−d/2} + ν

  with d = r_a − r_b and ν = e^{log ν} learned; records labelled ``tie`` score log P(tie).

The module holds K *members* in one stacked tensor (K = 1 here; see
:mod:`prefkit.reward.ensemble`), so that an ensemble trains in one loop: the loss is the sum of
the members' losses, and since Adam is element-wise each member trains exactly as it would alone.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from prefkit.reward._train import PairFeatures, TrainOptions, pick
from prefkit.reward.base import FeatureHead


class StackedScalar(nn.Module):
    """K scalar reward functions r_k(x), linear or MLP, evaluated together: ``(n, d) → (n, K)``."""

    def __init__(self, dim: int, members: int = 1, hidden: int = 0, layers: int = 1) -> None:
        super().__init__()
        widths = [dim] + [hidden] * (layers if hidden > 0 else 0) + [1]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in itertools.pairwise(widths):
            bound = 1 / math.sqrt(fan_in)
            self.weights.append(nn.Parameter(torch.empty(members, fan_in, fan_out)))
            self.biases.append(nn.Parameter(torch.empty(members, fan_out)))
            nn.init.uniform_(self.weights[-1], -bound, bound)
            nn.init.uniform_(self.biases[-1], -bound, bound)
        self.log_nu = nn.Parameter(torch.full((members,), -1.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        last = len(self.weights) - 1
        if last == 0:  # linear: one matmul for all members
            return x @ self.weights[0][:, :, 0].T + self.biases[0][:, 0]
        h = torch.einsum("nd,kdh->knh", x, self.weights[0]) + self.biases[0][:, None, :]
        h = nn.functional.gelu(h)
        for j in range(1, last + 1):
            h = torch.bmm(h, self.weights[j]) + self.biases[j][:, None, :]
            if j < last:
                h = nn.functional.gelu(h)
        return h[..., 0].T


def pairwise_loss(
    ra: torch.Tensor,
    rb: torch.Tensor,
    y: torch.Tensor,
    w: torch.Tensor,
    *,
    margin: torch.Tensor | None = None,
    tie: torch.Tensor | None = None,
    log_nu: torch.Tensor | None = None,
    label_smoothing: float = 0.0,
    center: float = 0.0,
) -> torch.Tensor:
    """The loss of the module docstring for K stacked members.

    ``ra``, ``rb``: ``(n, K)`` rewards; ``y``: ``(n,)`` targets; ``w``: ``(n,)`` or ``(n, K)``
    weights (per-member bootstrap counts); ``log_nu``: ``(K,)`` when fitting Davidson ties.
    Returns the sum over members of each member's weighted mean loss.
    """
    if w.dim() == 1:
        w = w[:, None].expand_as(ra)
    d = ra - rb
    y2 = y[:, None]
    if margin is not None:
        d = d - (margin * (2 * y - 1))[:, None]
    target = y2 * (1 - label_smoothing) + label_smoothing / 2
    if log_nu is None:
        per = nn.functional.binary_cross_entropy_with_logits(
            d, target.expand_as(d), reduction="none"
        )
    else:
        s = d / 2
        log_z = torch.logsumexp(torch.stack([s, -s, log_nu.expand_as(s)], dim=-1), dim=-1)
        per = -(target * (s - log_z) + (1 - target) * (-s - log_z))
        if tie is not None and bool(tie.any()):
            per = torch.where(tie[:, None], log_z - log_nu.expand_as(s), per)
    loss = ((per * w).sum(0) / w.sum(0).clamp_min(1e-12)).sum()
    if center > 0:
        loss = loss + center * torch.cat([ra, rb]).pow(2).mean(0).sum()
    return loss


class BradleyTerryHead(FeatureHead):
    """Linear (``hidden=0``) or MLP Bradley–Terry reward head (formulas in the module docstring).

    Args:
        hidden, layers: MLP width and depth (``hidden=0``: linear).
        margin: use the data's ``margin`` column in the loss.
        label_smoothing: ε; center: λ_c; ties: fit a Davidson tie parameter ν.
        **options: the Adam settings of :class:`~prefkit.reward._train.TrainOptions`
            (``epochs``, ``batch_size``, ``lr``, ``weight_decay``, ``seed``, ``tol``), and any
            options of a subclass (kept in ``params``).
    """

    name: ClassVar[str] = "bt"
    train_options: ClassVar[bool] = True
    members = 1

    def __init__(
        self,
        *,
        hidden: int = 0,
        layers: int = 1,
        margin: bool = False,
        label_smoothing: float = 0.0,
        center: float = 0.0,
        ties: bool = False,
        **options: Any,
    ) -> None:
        train, extra = TrainOptions.split(options)
        super().__init__(
            hidden=hidden,
            layers=layers,
            margin=margin,
            label_smoothing=label_smoothing,
            center=center,
            ties=ties,
            **train,
            **extra,
        )

    def build(self, dim: int) -> nn.Module:
        torch.manual_seed(self.params["seed"])
        return StackedScalar(dim, self.members, self.params["hidden"], self.params["layers"])

    def sample_weights(self, n: int) -> torch.Tensor | None:
        """Per-member record weights ``(n, K)`` (bootstrap counts in ensembles); ``None``: all 1."""
        return None

    def fit(self, feats: PairFeatures) -> BradleyTerryHead:
        feats.check_labels()
        p = self.params
        t = feats.tensors()
        self.dim_ = feats.dim
        self.module_ = self.build(self.dim_)
        boot = self.sample_weights(len(feats))
        use_margin = p["margin"] and feats.margin is not None

        n = len(feats)
        # both sides in one forward pass: rows 0..n−1 are the a candidates, n..2n−1 the b ones
        xab = torch.cat([t["xa"], t["xb"]])
        del t["xa"], t["xb"]

        def loss_fn(idx: torch.Tensor | None) -> torch.Tensor:
            w = pick(t["w"], idx)
            if boot is not None:
                w = w[:, None] * pick(boot, idx)
            r = self.module_(xab if idx is None else xab[torch.cat([idx, idx + n])])
            m = len(r) // 2
            return pairwise_loss(
                r[:m],
                r[m:],
                pick(t["y"], idx),
                w,
                margin=pick(t["m"], idx) if use_margin else None,
                tie=pick(t["tie"], idx) if p["ties"] else None,
                log_nu=self.module_.log_nu if p["ties"] else None,
                label_smoothing=p["label_smoothing"],
                center=p["center"],
            )

        params = [q for name, q in self.module_.named_parameters() if name != "log_nu" or p["ties"]]
        width = max(p["hidden"], 1) * self.members
        self.loss_curve_ = TrainOptions.of(p).fit(
            params, loss_fn, len(feats), work=2.0 * len(feats) * feats.dim * width
        )
        self.module_.eval()
        return self

    # ------------------------------------------------------------------ rewards
    def member_rewards(self, x: np.ndarray | torch.Tensor) -> torch.Tensor:
        """``(n, K)`` rewards of every member."""
        self.check()
        with torch.no_grad():
            return self.module_(torch.as_tensor(np.asarray(x), dtype=torch.float32))

    def aggregate(self, r: torch.Tensor) -> torch.Tensor:
        """Members' rewards ``(n, K)`` → one reward per row (a single member: itself)."""
        return r[:, 0]

    def reward(self, x: np.ndarray, prompt: np.ndarray | None = None) -> np.ndarray:
        """r(x) per row of embeddings ``x``."""
        return self.aggregate(self.member_rewards(x)).double().numpy()

    def logit(self, feats: PairFeatures) -> torch.Tensor:
        return self.aggregate(self.member_rewards(feats.xa)) - self.aggregate(
            self.member_rewards(feats.xb)
        )

    def log_nu(self) -> torch.Tensor:
        return self.module_.log_nu.detach().mean()
