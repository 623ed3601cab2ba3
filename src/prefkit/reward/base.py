"""The head contract shared by every embedding head (used by :class:`~prefkit.reward.RewardModel`).

A *head* learns from :class:`~prefkit.reward._train.PairFeatures` (embeddings of both candidates
of each record) and answers on features, never on texts — encoding is the caller's business::

    head.fit(features) -> head
    head.predict_proba(features)          # P(a ≻ b), shape (n,)
    head.predict_outcome_proba(features)  # (n, 3): P(a ≻ b), P(b ≻ a), P(tie)
    head.reward(x[, prompt])              # scalar heads only: r(x) per row
    head.config(); head.state()           # JSON-able hyper-parameters; tensors for safetensors
    Head.restore(config, state)
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from prefkit.errors import ModelFileError, NotFittedError
from prefkit.reward._train import build_checked
from prefkit.reward.features import PairFeatures


class FeatureHead:
    """Base class: hyper-parameters in ``__init__`` (stored in ``params``), state in ``module_``."""

    name: ClassVar[str] = "head"
    #: the head has a scalar reward r(x) (Bradley–Terry family); GPM does not
    scalar: ClassVar[bool] = True
    #: the head reads prompt embeddings (``PairFeatures.prompt``)
    needs_prompt: ClassVar[bool] = False
    #: the head takes the :class:`~prefkit.reward._train.TrainOptions` as keyword options
    train_options: ClassVar[bool] = False

    def __init__(self, **params: Any) -> None:
        self.params = params

    @property
    def ties(self) -> bool:
        return bool(self.params.get("ties", False))

    # -------------------------------------------------------------------- to implement
    def fit(self, feats: PairFeatures) -> FeatureHead:
        raise NotImplementedError

    def logit(self, feats: PairFeatures) -> torch.Tensor:
        """Preference logit per record (for scalar heads: r(a) − r(b))."""
        raise NotImplementedError

    def build(self, dim: int) -> torch.nn.Module:
        raise NotImplementedError

    # -------------------------------------------------------------------- shared
    def check(self) -> None:
        if not hasattr(self, "module_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit first")

    def predict_outcome_proba(self, feats: PairFeatures) -> np.ndarray:
        """(n, 3): P(a ≻ b), P(b ≻ a), P(tie) (P(tie) = 0 without a ties model)."""
        self.check()
        with torch.no_grad():
            z = torch.as_tensor(self.logit(feats)).double()
            if self.ties:
                log_nu = self.log_nu().double()
                s = z / 2
                logits = torch.stack([s, -s, log_nu.expand_as(s)], dim=-1)
                return torch.softmax(logits, dim=-1).numpy()
            p = torch.sigmoid(z).numpy()
        return np.column_stack([p, 1 - p, np.zeros_like(p)])

    def predict_proba(self, feats: PairFeatures) -> np.ndarray:
        """P(a ≻ b) per record (the strict win probability for a ties model)."""
        return self.predict_outcome_proba(feats)[:, 0]

    def log_nu(self) -> torch.Tensor:
        return torch.zeros(())

    def config(self) -> dict[str, Any]:
        self.check()
        return {"head": self.name, "dim": self.dim_, "params": self.params}

    def state(self) -> dict[str, torch.Tensor]:
        self.check()
        return {k: v.detach().contiguous() for k, v in self.module_.state_dict().items()}

    @classmethod
    def restore(
        cls, config: dict[str, Any], state: dict[str, Any], where: Any = ""
    ) -> FeatureHead:
        """A head from :meth:`config` and its weights (torch tensors or numpy arrays); every
        weight's shape is checked against the module the config builds before it is copied."""
        params, dim = config.get("params"), config.get("dim")
        if not isinstance(params, dict) or isinstance(dim, bool) or not isinstance(dim, int):
            raise ModelFileError(f"{where}: head config needs 'params' (object) and 'dim' (int)")
        if not 0 < dim <= 1 << 20:
            raise ModelFileError(f"{where}: impossible feature dimension {dim}")
        head = cls(**params)
        head.dim_ = dim
        arrays = {k: np.asarray(v.numpy() if hasattr(v, "numpy") else v) for k, v in state.items()}
        head.module_ = build_checked(lambda: head.build(dim), arrays, "", where)
        head.module_.eval()
        return head
