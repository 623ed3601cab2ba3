r"""Per-token estimators of KL(π_θ ‖ π_ref) on samples y ~ π_θ (Schulman 2020, "Approximating KL
Divergence"), with ρ_t = log π_ref(y_t | ·) − log π_θ(y_t | ·):

    k1 = −ρ_t = log π_θ − log π_ref        (unbiased, can be negative per token)
    k3 = e^{ρ_t} − ρ_t − 1                 (unbiased, always ≥ 0, lower variance)

Summed over a completion's tokens, either is an unbiased estimate of the sequence KL.  RLOO
(Ahmadian et al. 2024) subtracts β·Σ_t k1 from the reward; GRPO (Shao et al. 2024) adds β·k3 to
the per-token loss.  Both placements are offered for both estimators.
"""

from __future__ import annotations

import torch

ESTIMATORS = ("k1", "k3")
PLACEMENTS = ("reward", "loss")


def kl_per_token(logps: torch.Tensor, ref_logps: torch.Tensor, estimator: str = "k3"
                 ) -> torch.Tensor:
    """Per-token KL estimate (same shape as the inputs)."""
    if estimator == "k1":
        return logps - ref_logps
    if estimator == "k3":
        rho = ref_logps - logps
        return torch.exp(rho) - rho - 1
    raise ValueError(f"unknown KL estimator {estimator!r} (expected k1 or k3)")
