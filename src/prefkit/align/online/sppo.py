r"""SPPO: self-play preference optimisation (Wu et al. 2024, "Self-Play Preference Optimization
for Language Model Alignment", Algorithm 1 and eq. 3.5).

The policy plays against itself under a *general* preference P(y ≻ y′ | x), which may be
intransitive (a GPM, a judge): no scalar reward is assumed.  At iteration t, K samples per prompt
come from π_t, each gets its estimated win rate against π_t

    P̂(y_i ≻ π_t | x) = (1/(K−1)) Σ_{j≠i} P(y_i ≻ y_j | x)

and the policy regresses its log-ratio to the reference π_t on the centred win rate:

    L = mean_i ( log π_θ(y_i|x) − log π_t(y_i|x) − η (P̂(y_i ≻ π_t | x) − ½) )²

whose minimiser is the multiplicative-weights step π_{t+1} ∝ π_t · exp(η P(y ≻ π_t | x)); the
average of these iterates approaches the von Neumann winner (the Nash equilibrium of the
preference game).  π_t is refreshed every ``refresh_every`` steps (each SPPO iteration).
"""

from __future__ import annotations

import torch


def sppo_loss(logps: torch.Tensor, ref_logps: torch.Tensor, win_rates: torch.Tensor, *,
              eta: float = 1.0) -> torch.Tensor:
    """Per-sample squared loss (``logps``/``ref_logps`` summed per sequence)."""
    return (logps - ref_logps - eta * (win_rates - 0.5)) ** 2
