"""Sigmoid helpers, from scipy (no hand-written ``1 / (1 + exp(-x))``).

* ``sigmoid(x) = 1 / (1 + e^{−x})`` — :func:`scipy.special.expit`;
* ``log_sigmoid(x) = −log(1 + e^{−x})`` — :func:`scipy.special.log_expit` (accurate for
  large |x|);
* ``logit(p) = log(p / (1 − p))`` — :func:`scipy.special.logit`.
"""

from __future__ import annotations

from scipy.special import expit as sigmoid
from scipy.special import log_expit as log_sigmoid
from scipy.special import logit

__all__ = ["log_sigmoid", "logit", "sigmoid"]
