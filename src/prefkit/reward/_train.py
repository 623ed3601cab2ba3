"""The one training framework of torch heads over pair features (reward heads *and* the plural
models): the Adam loop with plateau stopping, its options, and the one weight format.

Every head is fitted by Adam on a loss over record indices: full batch when the data fit in one
batch (the default below ``batch_size`` records), shuffled minibatches otherwise.  Seeds fix the
initialisation and the shuffles, so a fit is deterministic on one machine.

Minibatch fits stop early on a training-loss plateau: after pass t when the mean losses of the
last ``PATIENCE`` passes all stay ≥ (1 − tol) · min_{s ≤ t−PATIENCE} L_s (``tol=0`` runs every
pass) — a relative form of the ``tol``/``n_iter_no_change`` rule of scikit-learn's SGD and MLP
estimators, applied to passes over the data.  Full-batch fits always take ``epochs`` steps.

Weights: a module's ``state_dict`` is stored as numpy arrays named ``<prefix><parameter>`` in the
model directory's ``arrays.safetensors`` (:mod:`prefkit.core.persist`);
:func:`load_module_arrays` checks every array's shape against the module built from the config
*before* copying anything in, so a tampered file is one ModelFileError line.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import torch

from prefkit.errors import ModelFileError
from prefkit.reward.features import PairFeatures

__all__ = [
    "PairFeatures",
    "TrainOptions",
    "adam_fit",
    "build_checked",
    "load_module_arrays",
    "module_arrays",
]


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
    auto_batch: bool = True,
    optimizer: torch.optim.Optimizer | None = None,
) -> list[float]:
    """Minimise ``loss_fn(indices)`` (``None`` = all records) by Adam; return the loss per epoch.

    ``epochs`` counts passes over the data: with ``n ≤ batch_size`` each epoch is one full-batch
    step.  ``batch_size=None`` (auto): full batch up to :data:`AUTO_FULL_BATCH` records; above,
    minibatches of :data:`AUTO_BATCH` and as many passes as give the same number of Adam steps
    (``ceil(epochs · AUTO_BATCH / n)``), so big data cost about what ``epochs`` full steps would.
    Minibatch fits stop earlier on a plateau of the per-pass loss (``tol``, module docstring).
    ``auto_batch=False``: ``batch_size=None`` is always one full batch.  ``optimizer``: an Adam
    optimizer to continue (its moments kept across calls, e.g. the M-steps of an EM loop).
    """
    opt = optimizer or torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    gen = torch.Generator().manual_seed(seed)
    curve: list[float] = []
    if auto_batch and batch_size is None and n > AUTO_FULL_BATCH:
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
    weight_decay: float | str = 1e-4
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
        if not isinstance(self.weight_decay, int | float):
            raise ValueError(
                f"weight_decay={self.weight_decay!r} must be resolved to a number before training "
                "(RewardModel chooses 'auto' by cross-validation)"
            )
        return adam_fit(params, loss_fn, n, work=work, **asdict(self))


def pick(t: torch.Tensor, idx: torch.Tensor | None) -> torch.Tensor:
    return t if idx is None else t[idx]


def module_arrays(module: torch.nn.Module, prefix: str = "state.") -> dict[str, np.ndarray]:
    """A module's ``state_dict`` as contiguous numpy arrays named ``prefix + name``."""
    return {
        prefix + k: np.ascontiguousarray(v.detach().cpu().numpy())
        for k, v in module.state_dict().items()
    }


def build_checked(
    build: Callable[[], torch.nn.Module],
    arrays: dict[str, np.ndarray],
    prefix: str = "state.",
    where: Any = "",
) -> torch.nn.Module:
    """``build()`` a module from a (possibly hostile) config and load its weights from ``arrays``.

    The module is first built on torch's ``meta`` device (no memory), so a config that implies
    absurd sizes is refused by the shape check of :func:`load_module_arrays` before anything is
    allocated.
    """
    try:
        with torch.device("meta"):
            shadow = build()
    except (RuntimeError, ValueError, TypeError, OverflowError) as err:
        raise ModelFileError(
            f"{where}: the config does not describe a valid model ({err})"
        ) from None
    _check_arrays(shadow.state_dict(), arrays, prefix, where)
    module = build()
    load_module_arrays(module, arrays, prefix, where)
    return module


def _check_arrays(
    expected: dict[str, torch.Tensor], arrays: dict[str, np.ndarray], prefix: str, where: Any
) -> dict[str, np.ndarray]:
    given = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
    missing = sorted(set(expected) - set(given))
    extra = sorted(set(given) - set(expected))
    if missing or extra:
        what = f"missing {missing[0]!r}" if missing else f"unexpected {extra[0]!r}"
        raise ModelFileError(f"{where}: weights do not match the config ({what})")
    for name, want in expected.items():
        arr = given[name]
        if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "fiub":
            raise ModelFileError(f"{where}: weight {name!r} is not a numeric array")
        if want.dim() == 0 and arr.shape == (1,):  # a scalar comes back from safetensors as (1,)
            given[name] = arr = arr.reshape(())
        if tuple(arr.shape) != tuple(want.shape):
            raise ModelFileError(
                f"{where}: weight {name!r} has shape {tuple(arr.shape)}, the config implies "
                f"{tuple(want.shape)}"
            )
    return given


def load_module_arrays(
    module: torch.nn.Module, arrays: dict[str, np.ndarray], prefix: str = "state.", where: Any = ""
) -> None:
    """Copy ``arrays`` (as written by :func:`module_arrays`) into ``module``.

    Every parameter and buffer must be present, numeric and of the shape the module (built from
    the config) expects; extra arrays under ``prefix`` are refused too.  Checked before copying.
    """
    expected = module.state_dict()
    given = _check_arrays(expected, arrays, prefix, where)
    state = {}
    for name, want in expected.items():
        arr = given[name]
        state[name] = torch.as_tensor(arr.astype(np.float32) if want.is_floating_point()
                                      else arr).to(want.dtype)
    module.load_state_dict(state)

