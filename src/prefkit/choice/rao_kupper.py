"""Rao–Kupper tie model (logit link with a tie threshold).

Rao, P. V. & Kupper, L. L. (1967), "Ties in paired-comparison experiments: a generalization of
the Bradley–Terry model", JASA 62, 194–204:

    P(i ≻ j) = π_i / (π_i + θ π_j) = σ(η − α),
    P(j ≻ i) = π_j / (π_j + θ π_i) = σ(−η − α),
    P(tie)   = 1 − P(i ≻ j) − P(j ≻ i),          θ = e^α ≥ 1,  η = log π_i − log π_j.

``tie_param_`` reports Rao and Kupper's θ (1 = no ties).  Fitted by Newton on (ratings, log α).
"""

from __future__ import annotations

from typing import Any

from prefkit.choice._pairwise import PairwiseModel
from prefkit.choice.threshold import LogisticLink, ThresholdFamily
from prefkit.core.persist import register


@register("choice.RaoKupper")
class RaoKupper(PairwiseModel):
    """Rao–Kupper (1967) Bradley–Terry model with ties."""

    ties_allowed = ("model",)
    default_ties = "model"
    link = "logit"

    def _family(self, ties: str) -> Any:
        return ThresholdFamily(LogisticLink, ties=ties == "model")

    def _tie_boundary(self) -> float | None:
        return 1.0
