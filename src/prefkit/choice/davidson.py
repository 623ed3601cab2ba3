"""Davidson (1970) Bradley–Terry model with ties.

Davidson, R. R. (1970), "On extending the Bradley–Terry model to accommodate ties in paired
comparison experiments", JASA 65, 317–328:

    P(i ≻ j) = π_i / D,   P(j ≻ i) = π_j / D,   P(tie) = ν √(π_i π_j) / D,
    D = π_i + π_j + ν √(π_i π_j),     π = e^θ,  ν ≥ 0.

A tie is most likely between equals, and ties carry information about the ratings (unlike
"drop").  ``tie_param_`` reports ν.  This is also the pairwise case of the Davidson–Luce model
for tied rankings (Firth, Kosmidis & Turner 2019).  Likelihood derivatives: see
:mod:`prefkit.choice.davidson_family`.
"""

from __future__ import annotations

from typing import Any

from prefkit.choice._pairwise import PairwiseModel
from prefkit.choice.davidson_family import DavidsonFamily
from prefkit.choice.threshold import LogisticLink, ThresholdFamily
from prefkit.core.persist import register


@register("choice.Davidson")
class Davidson(PairwiseModel):
    """Davidson (1970) tie model."""

    ties_allowed = ("model",)
    default_ties = "model"
    link = "logit"

    def _family(self, ties: str) -> Any:
        if ties == "model":
            return DavidsonFamily()
        return ThresholdFamily(LogisticLink, ties=False)

    def _tie_boundary(self) -> float | None:
        return 0.0
