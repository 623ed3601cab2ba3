"""Sigmoid helpers on numpy's numerically stable ``logaddexp``.

* ``sigmoid(x) = 1 / (1 + e^{−x}) = exp(−log(1 + e^{−x}))``;
* ``log_sigmoid(x) = −log(1 + e^{−x})`` = ``−np.logaddexp(0, −x)`` (accurate for large |x|);
* ``logit(p) = log(p / (1 − p))`` = ``log p − log1p(−p)``.

They equal :func:`scipy.special.expit`, ``log_expit`` and ``logit`` to rounding (tests/core
checks it), but importing ``scipy.special`` costs about 150 ms (it loads scipy's array-API layer,
which touches numpy.f2py, numpy.testing and numpy.ma), and every ``prefkit leaderboard`` call
would pay it for three one-line functions.  Like scipy's, they raise no warning at 0, 1 or ±∞.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def log_sigmoid(x: Any) -> Any:
    """``log σ(x) = −log(1 + e^{−x})``, stable for large |x|."""
    with np.errstate(invalid="ignore"):  # NaN in, NaN out, silently (as scipy)
        return -np.logaddexp(0.0, np.negative(x))


def sigmoid(x: Any) -> Any:
    """``σ(x) = 1 / (1 + e^{−x})``, stable for large |x|."""
    return np.exp(log_sigmoid(x))


def logit(p: Any) -> Any:
    """``log(p / (1 − p))``: ±∞ at 1 and 0, NaN outside [0, 1], no warnings."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(p) - np.log1p(np.negative(p))


__all__ = ["log_sigmoid", "logit", "sigmoid"]
