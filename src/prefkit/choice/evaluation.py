"""Deprecated: time-ordered evaluation moved.

* the general tool (any dated data, any time column): :mod:`prefkit.choice.forward` and the
  command ``prefkit evaluate-forward``;
* the FiveThirtyEight NFL comparison: ``benchmarks/choice_forward_nfl.py`` in the repository
  (it reads ``../shared/data``, which an installed package does not have).
"""

from __future__ import annotations

from prefkit.choice.forward import ForwardPredictions, forward_predictions

__all__ = ["ForwardPredictions", "forward_predictions"]
