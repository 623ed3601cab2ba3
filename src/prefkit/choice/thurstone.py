"""Thurstone Case V model (probit link) on aggregated win counts.

    P(i ≻ j) = Φ(θ_i − θ_j [+ h·home + β·z])

Thurstone, L. L. (1927), "A law of comparative judgment", Psychological Review 34, 273–286;
Mosteller (1951) for the paired-comparison estimation.  θ is on the scale where the *difference*
of two perceived values has unit variance (multiply by √2 for unit per-item variance).

Ties: ``"drop"``, ``"half"`` (as for Bradley–Terry) or ``"model"``: Glenn & David (1960),
"Ties in paired-comparison experiments using a modified Thurstone–Mosteller model",
Biometrics 16, 86–109:

    P(i ≻ j) = Φ(η − α),  P(j ≻ i) = Φ(−η − α),  P(tie) = Φ(α − η) − Φ(−α − η),  α ≥ 0;

``tie_param_`` reports α.
"""

from __future__ import annotations

from typing import Any

from prefkit.choice._pairwise import PairwiseModel
from prefkit.choice.threshold import NormalLink, ThresholdFamily
from prefkit.core.persist import register


@register("choice.Thurstone")
class Thurstone(PairwiseModel):
    """Thurstone–Mosteller (probit) model; ties dropped, halved or Glenn–David modelled."""

    link = "probit"

    def _family(self, ties: str) -> Any:
        return ThresholdFamily(NormalLink, ties=ties == "model")

    def _tie_boundary(self) -> float | None:
        return 0.0 if self._ties() == "model" else None
