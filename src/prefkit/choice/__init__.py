"""Item-level choice models on aggregated counts, their uncertainty, and leaderboards.

Models (one module each, formula and source paper in the docstring):

* :class:`BradleyTerry` (logit), :class:`Thurstone` (probit, Glenn–David ties),
  :class:`Davidson` and :class:`RaoKupper` (tie models) — fitted by Newton/IRLS on the win/tie
  count table, with home/order advantage and per-comparison covariates (style control);
* :class:`PlackettLuce` for rankings and top-1 choices (MM of Hunter 2004, or Newton);
* :class:`Elo` online ratings (LMArena parameters by default).

Uncertainty (:mod:`prefkit.choice.uncertainty`): batched multinomial bootstrap and sandwich
intervals, ranks with intervals.  Scales (:mod:`prefkit.choice.scales`): logit, Elo, anchoring,
win rate against a baseline.  :func:`leaderboard` ties it all together;
:func:`forward_predictions` fits on the past of dated data and predicts the future.
Save and load with ``prefkit.save(model, dir)`` / ``prefkit.load(dir)``.
"""

from __future__ import annotations

import importlib
from typing import Any

# ``leaderboard`` is both a sub-module and a function: bound eagerly, so that importing the
# sub-module (which sets the package attribute) cannot shadow the function.
from prefkit.choice.leaderboard import Leaderboard, leaderboard

#: Public name → module that defines it.  Imported on first use (PEP 562), so that
#: ``prefkit leaderboard`` loads the Bradley–Terry path alone and not, say, the per-item-variance
#: Thurstone model's scipy.optimize (~65 ms).
_EXPORTS = {
    "BradleyTerry": "bradley_terry",
    "ComparisonGraphWarning": "graph",
    "Davidson": "davidson",
    "Elo": "elo",
    "PairCounts": "counts",
    "PlackettLuce": "plackett_luce",
    "RaoKupper": "rao_kupper",
    "Thurstone": "thurstone",
    "ThurstoneVariances": "thurstone_variances",
    "bootstrap": "uncertainty",
    "count_outcomes": "counts",
    "count_pairs": "counts",
    "counts_from_matrix": "counts",
    "forward_predictions": "forward",
    "load_model": "persist",
    "rank_intervals": "uncertainty",
    "sandwich_intervals": "uncertainty",
    "to_scale": "scales",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'prefkit.choice' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"prefkit.choice.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__all__ = [
    "BradleyTerry",
    "ComparisonGraphWarning",
    "Davidson",
    "Elo",
    "Leaderboard",
    "PairCounts",
    "PlackettLuce",
    "RaoKupper",
    "Thurstone",
    "ThurstoneVariances",
    "bootstrap",
    "count_outcomes",
    "count_pairs",
    "counts_from_matrix",
    "forward_predictions",
    "leaderboard",
    "load_model",
    "rank_intervals",
    "sandwich_intervals",
    "to_scale",
]
