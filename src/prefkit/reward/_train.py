"""Shared plumbing of the embedding heads: pair features, the Adam loop, persistence helpers.

Every head is fitted by Adam on a loss over record indices: full batch when the data fit in one
batch (the default below ``batch_size`` records), shuffled minibatches otherwise.  Seeds fix the
initialisation and the shuffles, so a fit is deterministic on one machine.

Minibatch fits stop early on a training-loss plateau: after pass t when the mean losses of the
last ``PATIENCE`` passes all stay ≥ (1 − tol) · min_{s ≤ t−PATIENCE} L_s (``tol=0`` runs every
pass) — a relative form of the ``tol``/``n_iter_no_change`` rule of scikit-learn's SGD and MLP
estimators, applied to passes over the data.  Full-batch fits always take ``epochs`` steps.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
import torch

from prefkit.errors import DataError


@dataclass
class PairFeatures:
    """What a head learns from: per pairwise record, the embeddings of both candidates.

    ``xa``/``xb``: ``(n, d)`` embeddings of (prompt + response a/b); ``y``: P(a ≻ b) targets
    (1, 0, ½ for a tie, or soft labels); ``w``: weights; ``margin``: optional per-record margins;
    ``tie``: records labelled as ties; ``prompt``: optional ``(n, d)`` prompt embeddings (gating);
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


#: ``batch_size=None``: full batch up to this many records, minibatches of AUTO_BATCH above
AUTO_FULL_BATCH = 16_384
AUTO_BATCH = 4_096
#: minibatch fits stop after this many passes in a row without a ``tol`` relative improvement
PATIENCE = 2
#: the default ``tol`` of the heads (relative improvement of the mean training loss per pass)
DEFAULT_TOL = 1e-3


@contextlib.contextmanager
def threads_for(work: float) -> Iterator[None]:
    """One intra-op thread for small problems (thread hand-offs cost more than they save)."""
    before = torch.get_num_threads()
    if work < 2e7 and before > 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def adam_fit(
    params: list[torch.nn.Parameter],
    loss_fn: Callable[[torch.Tensor | None], torch.Tensor],
    n: int,
    *,
    epochs: int,
    batch_size: int | None,
    lr: float,
    weight_decay: float,
    seed: int,
    work: float | None = None,
    tol: float = DEFAULT_TOL,
) -> list[float]:
    """Minimise ``loss_fn(indices)`` (``None`` = all records) by Adam; return the loss per epoch.

    ``epochs`` counts passes over the data: with ``n ≤ batch_size`` each epoch is one full-batch
    step.  ``batch_size=None`` (auto): full batch up to :data:`AUTO_FULL_BATCH` records; above,
    minibatches of :data:`AUTO_BATCH` and as many passes as give the same number of Adam steps
    (``ceil(epochs · AUTO_BATCH / n)``), so big data cost about what ``epochs`` full steps would.
    Minibatch fits stop earlier on a plateau of the per-pass loss (``tol``, module docstring).
    """
    opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    gen = torch.Generator().manual_seed(seed)
    curve: list[float] = []
    if batch_size is None and n > AUTO_FULL_BATCH:
        batch_size = AUTO_BATCH
        epochs = max(1, -(-epochs * AUTO_BATCH // n))
    full = batch_size is None or n <= batch_size
    # ``work``: multiply-adds of one full-batch step; a minibatch step does batch/n of it
    step_work = work if work is not None else n * 100.0
    if not full:
        step_work *= int(batch_size or n) / n
    with threads_for(step_work):
        for _ in range(epochs):
            if full:
                opt.zero_grad()
                loss = loss_fn(None)
                loss.backward()
                opt.step()
                curve.append(float(loss.detach()))
                continue
            total, perm = 0.0, torch.randperm(n, generator=gen)
            for start in range(0, n, int(batch_size or n)):
                idx = perm[start : start + int(batch_size or n)]
                opt.zero_grad()
                loss = loss_fn(idx)
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
            curve.append(total / n)
            if plateau(curve, tol):
                break
    return curve


def plateau(curve: list[float], tol: float, patience: int = PATIENCE) -> bool:
    """The last ``patience`` losses all failed to improve on the best before them by ``tol``."""
    if tol <= 0 or len(curve) <= patience:
        return False
    best = min(curve[:-patience])
    return all(loss > best * (1 - tol) if best > 0 else loss >= best for loss in curve[-patience:])


@dataclass(frozen=True)
class TrainOptions:
    """The Adam settings every embedding head shares (arguments of :func:`adam_fit`).

    ``epochs``: full-batch steps, or passes over minibatches of ``batch_size`` records
    (``None``: full batch up to :data:`AUTO_FULL_BATCH` records, automatic minibatches above);
    ``lr``, ``weight_decay``: Adam's; ``seed``: initialisation and shuffles; ``tol``: minibatch
    fits stop on a plateau of the per-pass training loss (0 runs every pass).
    """

    epochs: int = 300
    batch_size: int | None = None
    lr: float = 0.05
    weight_decay: float = 1e-4
    seed: int = 0
    tol: float = DEFAULT_TOL

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def split(cls, options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """(all training options, defaults filled in, in field order; the other options)."""
        names = cls.names()
        train = asdict(cls(**{k: v for k, v in options.items() if k in names}))
        return train, {k: v for k, v in options.items() if k not in names}

    @classmethod
    def of(cls, params: dict[str, Any]) -> TrainOptions:
        """The training options held in a head's ``params``."""
        return cls(**{k: params[k] for k in cls.names() if k in params})

    def fit(
        self,
        params: list[torch.nn.Parameter],
        loss_fn: Callable[[torch.Tensor | None], torch.Tensor],
        n: int,
        *,
        work: float | None = None,
    ) -> list[float]:
        """:func:`adam_fit` with these settings."""
        return adam_fit(params, loss_fn, n, work=work, **asdict(self))


def pick(t: torch.Tensor, idx: torch.Tensor | None) -> torch.Tensor:
    return t if idx is None else t[idx]


def state_to_tensors(state: dict[str, Any]) -> dict[str, torch.Tensor]:
    """A module's ``state_dict`` made contiguous for safetensors."""
    return {k: v.detach().contiguous() for k, v in state.items()}
