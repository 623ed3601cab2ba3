r"""Datapoint difficulty for DPO and the idealized ranking accuracy (numpy, no model needed).

Chen et al. (2024), "Preference Learning Algorithms Do Not Learn Preference Rankings", NeurIPS.
From sequence log-probabilities of the reference model on the chosen (y_w) and rejected (y_l)
responses:

* reference margin  m = log π_ref(y_w|x) − log π_ref(y_l|x); the difficulty
  c = −m = log π_ref(y_l|x) − log π_ref(y_w|x).  A datapoint is *hard* when c > 0: the
  reference model already prefers the loser.
* With the DPO margin h_θ = β[(log π_θ(y_w) − log π_ref(y_w)) − (log π_θ(y_l) − log π_ref(y_l))],
  π_θ ranks the pair correctly (log π_θ(y_w) > log π_θ(y_l)) iff h_θ > β·c, i.e. iff the
  per-pair DPO loss has fallen below

      L_DPO = −log σ(h_θ)  <  −log σ(β·c)          (:func:`dpo_loss_threshold`)

  so the harder the pair, the further its loss must fall before the ranking flips.
* Idealized ranking accuracy: the exact optimum π* ∝ π_ref·exp(r*/β) with BT preference
  probability p = P(y_w ≻ y_l) ranks the pair correctly iff m + logit(p)/β > 0; the share of such
  pairs (ties counted half) is :func:`idealized_ranking_accuracy`, the same number as
  :func:`prefkit.align.diagnostics.idealized_ranking_accuracy`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import log_expit, logit

from prefkit.errors import DataError


def _pair(ref_chosen: Any, ref_rejected: Any) -> tuple[np.ndarray, np.ndarray]:
    c = np.asarray(ref_chosen, dtype=float)
    r = np.asarray(ref_rejected, dtype=float)
    if c.shape != r.shape:
        raise DataError(f"chosen {c.shape} and rejected {r.shape} log-probs differ in shape")
    if not (np.all(np.isfinite(c)) and np.all(np.isfinite(r))):
        raise DataError("sequence log-probs must be finite")
    return c, r


def reference_margin(ref_chosen: Any, ref_rejected: Any) -> np.ndarray:
    """m = log π_ref(y_w|x) − log π_ref(y_l|x) per pair."""
    c, r = _pair(ref_chosen, ref_rejected)
    return c - r


def difficulty(ref_chosen: Any, ref_rejected: Any) -> np.ndarray:
    """c = log π_ref(y_l|x) − log π_ref(y_w|x); positive = the reference prefers the loser."""
    return -reference_margin(ref_chosen, ref_rejected)


def is_hard(ref_chosen: Any, ref_rejected: Any) -> np.ndarray:
    """True where the reference model ranks the pair wrongly (c > 0)."""
    return difficulty(ref_chosen, ref_rejected) > 0


def dpo_loss_threshold(difficulty_c: Any, beta: float) -> np.ndarray:
    """−log σ(β·c): the per-pair DPO loss below which π_θ ranks the pair correctly."""
    if not beta > 0:
        raise ValueError(f"beta must be positive, got {beta}")
    return -log_expit(beta * np.asarray(difficulty_c, dtype=float))


def idealized_correct(ref_chosen: Any, ref_rejected: Any, p: Any, beta: float) -> np.ndarray:
    """1 where the optimum ranks the pair correctly (m + logit(p)/β > 0), ½ on a tie, else 0."""
    if not beta > 0:
        raise ValueError(f"beta must be positive, got {beta}")
    z = reference_margin(ref_chosen, ref_rejected) + logit(
        np.clip(np.asarray(p, dtype=float), 0.0, 1.0)) / beta
    return (z > 0) + 0.5 * (z == 0)


def idealized_ranking_accuracy(ref_chosen: Any, ref_rejected: Any, p: Any, beta: float) -> float:
    """Share of pairs the exact DPO/RLHF optimum ranks correctly (Chen et al. 2024)."""
    return float(np.mean(idealized_correct(ref_chosen, ref_rejected, p, beta)))
