"""A linear reward on frozen text features, shared by the regression and MORE reward models.

    r(x, y) = w·φ(x, y) + b,        P(a ≻ b) = σ(s·(r(x, a) − r(x, b)))

φ is a candidate representation of :mod:`prefkit.encode.relevance` (``inputs=``, default
``"packed"``) from a frozen encoder; w, b and the probability scale s are the learned state
(``weights_``, ``intercept_``, ``scale_``).  Subclasses implement ``fit``.  Persistence stores the
hyper-parameters (without the encoder), the arrays, and which encoder was used: the bundled one is
rebuilt on load; any other must be passed again (``prefkit.load(dir, encoder=...)``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from prefkit.core.estimator import PreferenceEstimator
from prefkit.core.persist import config_value, malformed, saved_params
from prefkit.encode.relevance import INPUTS, candidate_features
from prefkit.errors import DataError, ModelFileError
from prefkit.reward.scorer import pairwise_texts


def rating_column(ds: Any, attribute: str | None) -> tuple[list[Any], list[str], np.ndarray]:
    """(prompts, texts, scores[attribute]) of a rating dataset; ``attribute=None``: the only
    attribute, else ``overall`` (one-line DataError when ambiguous or missing)."""
    if ds.kind != "rating":
        raise DataError(f"needs rating records (text + scores), this is {ds.kind}",
                        source=ds.name)
    n = len(ds)
    maps = ds.column("scores")
    names = sorted({k for m in maps if m is not None for k, _ in m})
    if attribute is None:
        attribute = names[0] if len(names) == 1 else "overall"
    if attribute not in names:
        raise DataError(f"no score {attribute!r} (have {', '.join(names) or 'none'})",
                        source=ds.name, field="scores")
    y = np.full(n, np.nan)
    for i, m in enumerate(maps):
        for k, v in m or []:
            if k == attribute and v is not None:
                y[i] = float(v)
    if np.isnan(y).any():
        row = int(np.flatnonzero(np.isnan(y))[0])
        raise DataError(f"record has no score {attribute!r}", source=ds.name, row=row,
                        field="scores")
    texts = ds.column("text") if ds.has("text") else ds.column("item")
    prompts = list(ds.column("prompt")) if ds.has("prompt") else [None] * n
    return prompts, [str(t) for t in texts], y


class LinearTextReward(PreferenceEstimator):
    """Base class (module docstring): ``encoder``, ``inputs``; state ``weights_``, ``intercept_``,
    ``scale_``."""

    _fitted_attr = "weights_"

    def __init__(self, encoder: Any = None, *, inputs: str = "packed") -> None:
        self.encoder = encoder
        self.inputs = inputs

    # ------------------------------------------------------------------ features
    def _encoder(self) -> Any:
        if self.encoder is None:
            from prefkit.encode import default_encoder

            self.encoder = default_encoder()
        return self.encoder

    def text_features(self, prompts: list[Any], responses: list[str]) -> np.ndarray:
        """φ(x, y) per candidate, float64."""
        if self.inputs not in INPUTS:
            raise DataError(f"unknown inputs {self.inputs!r} (expected one of "
                            f"{', '.join(INPUTS)})", field="inputs")
        return np.asarray(candidate_features(self._encoder(), list(prompts), list(responses),
                                             self.inputs), dtype=float)

    def pair_difference(self, ds: Any) -> np.ndarray:
        """φ(x, a) − φ(x, b) per pairwise record."""
        prompts, a, b = pairwise_texts(ds)
        x = self.text_features(prompts + prompts, a + b)
        return x[:len(a)] - x[len(a):]

    # ------------------------------------------------------------------ contract
    def reward_texts(self, prompts: list[Any], responses: list[str]) -> np.ndarray:
        self.check_fitted()
        return self.text_features(list(prompts), [str(r) for r in responses]) @ self.weights_ \
            + self.intercept_

    def reward(self, ds: Any) -> np.ndarray:
        """(n, 2): r(x, a), r(x, b) per pairwise record."""
        prompts, a, b = pairwise_texts(ds)
        r = self.reward_texts(prompts + prompts, a + b)
        return np.column_stack([r[:len(a)], r[len(a):]])

    def predict_proba(self, ds: Any) -> np.ndarray:
        """P(a ≻ b) = σ(s·(r_a − r_b))."""
        r = self.reward(ds)
        return 1.0 / (1.0 + np.exp(-self.scale_ * (r[:, 0] - r[:, 1])))

    # ------------------------------------------------------------------ persistence
    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        self.check_fitted()
        from prefkit.encode import CachedEncoder, SentenceEncoder

        enc = self.encoder.encoder if isinstance(self.encoder, CachedEncoder) else self.encoder
        bundled = isinstance(enc, SentenceEncoder) and enc.bundled
        params = {k: v for k, v in self.get_params().items() if k != "encoder"}
        config = {"params": params, "encoder": {"id": getattr(self.encoder, "id", None),
                                                "bundled": bool(bundled)},
                  "intercept": float(self.intercept_), "scale": float(self.scale_),
                  **self._extra_state()}
        return config, {"weights": np.asarray(self.weights_, dtype=np.float64)}

    @classmethod
    def _from_state(cls, config: dict[str, Any], arrays: dict[str, np.ndarray],
                    directory: Path, *, encoder: Any = None) -> LinearTextReward:
        where = Path(directory) / "config.json"
        params = saved_params(cls, config, where)
        record = config_value(config, "encoder", dict, where)
        if encoder is None:
            if record.get("bundled") is not True:
                raise ModelFileError(f"{where}: the model's encoder {record.get('id')!r} is not "
                                     "the bundled one; pass encoder= (--encoder)")
            from prefkit.encode import default_encoder

            encoder = default_encoder()
        try:
            model = cls(encoder, **params)
            model.weights_ = np.asarray(arrays["weights"], dtype=float)
            model.intercept_ = float(config_value(config, "intercept", (int, float), where))
            model.scale_ = float(config_value(config, "scale", (int, float), where))
            model._restore_extra(config, where)
        except (KeyError, TypeError, ValueError) as err:
            raise malformed(where, err) from None
        return model

    def _restore_extra(self, config: dict[str, Any], where: Any) -> None:
        return None
