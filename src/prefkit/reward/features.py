"""What a torch head over pair features learns from — shared by :mod:`prefkit.reward` and
:mod:`prefkit.plural`.

:class:`PairFeatures` holds, per pairwise record, the feature vectors of both candidates (``xa``,
``xb``), optional prompt features (``prompt``), and the targets.  It is built from one of

1. arrays computed elsewhere (``features=(xa, xb[, prompt])``);
2. an encoder — any object with ``encode(texts) -> (n, d)``;
3. numeric per-side attribute columns ``a_<name>`` / ``b_<name>`` (:func:`attribute_columns`).

The reward layer's :class:`~prefkit.reward.RewardModel` builds (2) through its packed
prompt+response representation (:mod:`prefkit.encode.relevance`); the plural models use
:func:`pair_features` for all three.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import torch

from prefkit.errors import DataError

#: ``a_<name>`` columns that are never attributes (texts, acceptability flags)
NOT_ATTRIBUTES = frozenset({"text", "acceptable"})


@dataclass
class PairFeatures:
    """Per pairwise record: the features of both candidates, and what to learn.

    ``xa``/``xb``: ``(n, d)`` features of candidate a/b; ``prompt``: optional ``(n, d_p)`` prompt
    features (gating, routing); ``y``: P(a ≻ b) targets (1, 0, ½ for a tie, or soft labels);
    ``w``: weights; ``margin``: optional per-record margins; ``tie``: records labelled as ties;
    ``attributes``: optional ``{name: (values_a, values_b)}`` rating targets (NaN = unknown).
    """

    xa: np.ndarray
    xb: np.ndarray
    y: np.ndarray | None = None
    w: np.ndarray | None = None
    margin: np.ndarray | None = None
    tie: np.ndarray | None = None
    prompt: np.ndarray | None = None
    attributes: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.xa)

    @property
    def dim(self) -> int:
        return int(self.xa.shape[1])

    def tensors(self) -> dict[str, torch.Tensor]:
        n = len(self)
        y = np.full(n, np.nan) if self.y is None else self.y
        return {
            "xa": torch.as_tensor(np.ascontiguousarray(self.xa), dtype=torch.float32),
            "xb": torch.as_tensor(np.ascontiguousarray(self.xb), dtype=torch.float32),
            "y": torch.tensor(np.asarray(y, dtype=np.float32)),
            "w": torch.as_tensor(np.ones(n) if self.w is None else self.w, dtype=torch.float32),
            "m": torch.as_tensor(
                np.zeros(n) if self.margin is None else self.margin, dtype=torch.float32
            ),
            "tie": torch.as_tensor(
                np.zeros(n, dtype=bool) if self.tie is None else self.tie, dtype=torch.bool
            ),
        }

    def check_labels(self) -> None:
        if self.y is None or np.isnan(self.y).any():
            raise DataError("every record needs a winner or p_a to train on", field="winner")


def attribute_columns(dataset: Any) -> list[str]:
    """Names ``x`` with numeric (float, integer or boolean) columns ``a_x`` *and* ``b_x``.

    The one rule for per-side attributes, in the dataset's column order; ``a_text`` and
    ``a_acceptable`` are never attributes.
    """
    schema = dataset.table.schema
    kinds = (pa.types.is_floating, pa.types.is_integer, pa.types.is_boolean)
    numeric = {f.name for f in schema if any(k(f.type) for k in kinds)}
    return [
        name[2:]
        for name in schema.names
        if name.startswith("a_")
        and name[2:] not in NOT_ATTRIBUTES
        and name in numeric
        and f"b_{name[2:]}" in numeric
    ]


def _encode_unique(encoder: Any, texts: np.ndarray) -> np.ndarray:
    codes, uniques = pd.factorize(pd.Series(texts, dtype=object).fillna(""))
    emb = np.asarray(encoder.encode([str(t) for t in uniques]), dtype=np.float32)
    return emb[codes]


def _from_arrays(dataset: Any, features: Any) -> PairFeatures:
    n = len(dataset)
    parts = [np.asarray(f, dtype=np.float32) for f in features]
    if len(parts) not in (2, 3) or any(p.ndim != 2 or p.shape[0] != n for p in parts):
        raise DataError(
            f"features must be (xa, xb[, prompt]) arrays with {n} rows each", field="features"
        )
    return PairFeatures(parts[0], parts[1], prompt=parts[2] if len(parts) == 3 else None)


def _from_encoder(dataset: Any, encoder: Any) -> PairFeatures:
    """Response side ``prompt + "\\n\\n" + response``, prompt alone (each distinct text once)."""
    n = len(dataset)
    if not (dataset.has("a_text") and dataset.has("b_text")):
        raise DataError("an encoder needs 'a_text' and 'b_text'", source=dataset.name,
                        field="a_text")
    prompt = (
        np.asarray(dataset.column("prompt"), dtype=object)
        if dataset.has("prompt") else np.full(n, "", dtype=object)
    )
    prompt = np.where(pd.isna(prompt), "", prompt)
    sides = []
    for side in ("a_text", "b_text"):
        text = np.asarray(dataset.column(side), dtype=object)
        text = np.where(pd.isna(text), "", text)
        joined = np.array(
            [f"{p}\n\n{t}" if p else str(t) for p, t in zip(prompt, text, strict=True)],
            dtype=object,
        )
        sides.append(_encode_unique(encoder, joined))
    fx = _encode_unique(encoder, prompt) if dataset.has("prompt") else None
    return PairFeatures(sides[0], sides[1], prompt=fx)


def _numeric(dataset: Any, col: str, what: str) -> np.ndarray:
    if col not in dataset.columns:
        raise DataError(f"{what} column not found", source=dataset.name, field=col)
    try:
        values = np.asarray(dataset.column(col), dtype=np.float32)
    except (TypeError, ValueError):
        raise DataError(f"{what} column must be numeric", source=dataset.name, field=col) from None
    if np.isnan(values).any():
        raise DataError(f"missing {what} value", source=dataset.name, field=col,
                        row=int(np.flatnonzero(np.isnan(values))[0]))
    return values


def pair_features(
    dataset: Any,
    *,
    columns: list[str] | None = None,
    prompt_columns: list[str] | None = None,
    encoder: Any = None,
    features: Any = None,
) -> tuple[PairFeatures, list[str] | None]:
    """Features of every pairwise record (module docstring, in that order of precedence), and
    the attribute columns used (``None`` unless the features are attribute columns)."""
    if features is not None:
        return _from_arrays(dataset, features), None
    if encoder is not None:
        return _from_encoder(dataset, encoder), None
    names = attribute_columns(dataset) if columns is None else list(columns)
    if not names:
        raise DataError(
            "no features: pass features=(xa, xb), an encoder, or columns a_<name>/b_<name>",
            source=dataset.name,
        )
    xa = np.column_stack([_numeric(dataset, f"a_{name}", "feature") for name in names])
    xb = np.column_stack([_numeric(dataset, f"b_{name}", "feature") for name in names])
    fx = None
    if prompt_columns:
        fx = np.column_stack([_numeric(dataset, c, "prompt feature") for c in prompt_columns])
    return PairFeatures(xa, xb, prompt=fx), names
