"""Bradley–Terry model (logit link) on aggregated win counts.

    P(i ≻ j) = π_i / (π_i + π_j) = σ(θ_i − θ_j [+ h·home + β·z]),   π = e^θ,

Bradley, R. A. & Terry, M. E. (1952), "Rank analysis of incomplete block designs I",
Biometrika 39, 324–345 (Zermelo 1929).  Log-likelihood on counts (w_ij = wins of i over j):

    ℓ(θ) = Σ_{i,j} w_ij log σ(θ_i − θ_j).

Ties: ``ties="half"`` counts a tie as half a win for each side (LMArena's convention, identical to
duplicating the battle with each side winning once at weight ½); ``ties="drop"`` ignores them.
For a tie *model* use :class:`~prefkit.choice.davidson.Davidson` or
:class:`~prefkit.choice.rao_kupper.RaoKupper`.

Home/order advantage (Agresti 2002 §10.1.3): ``home_advantage=True`` adds h to η when the first
candidate is at home.  Style control (LMArena, Li et al. 2024 "Does style matter?"):
``covariates=["len", ...]`` adds β·z with z-scored feature differences and an L2 penalty on β.

Solved by Newton/IRLS on the count table (:mod:`prefkit.choice.newton`); MLE with Σθ = 0, or MAP
with a Gaussian prior (``prior_var``).
"""

from __future__ import annotations

from typing import Any

from prefkit.choice._pairwise import PairwiseModel
from prefkit.choice.threshold import LogisticLink, ThresholdFamily
from prefkit.core.persist import register


@register("choice.BradleyTerry")
class BradleyTerry(PairwiseModel):
    """Bradley–Terry (logit) paired-comparison model; ties dropped or counted as half."""

    ties_allowed = ("drop", "half")
    link = "logit"

    def _family(self, ties: str) -> Any:
        return ThresholdFamily(LogisticLink, ties=False)
