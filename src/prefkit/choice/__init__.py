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

from prefkit.choice.bradley_terry import BradleyTerry
from prefkit.choice.counts import PairCounts, count_outcomes, count_pairs, counts_from_matrix
from prefkit.choice.davidson import Davidson
from prefkit.choice.elo import Elo
from prefkit.choice.forward import forward_predictions
from prefkit.choice.graph import ComparisonGraphWarning
from prefkit.choice.leaderboard import Leaderboard, leaderboard
from prefkit.choice.persist import load_model
from prefkit.choice.plackett_luce import PlackettLuce
from prefkit.choice.rao_kupper import RaoKupper
from prefkit.choice.scales import to_scale
from prefkit.choice.thurstone import Thurstone
from prefkit.choice.thurstone_variances import ThurstoneVariances
from prefkit.choice.uncertainty import bootstrap, rank_intervals, sandwich_intervals

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
