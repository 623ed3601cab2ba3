"""Per-annotator reliability summaries shared by the reliability models: intervals and flags.

The interval of η_k is the Beta posterior of "annotator k agrees with the (estimated) truth":
Beta(α + A_k, β + n_k − A_k) with A_k the expected number of agreements under the fitted model
and n_k the annotator's labels (ties count half) — it is conditional on the fitted truth, so it
says how many labels back the number, not how well the truth itself is known (use the bootstrap
option of the models for that).

Flags (``flags`` per annotator):

* ``uncertain`` — fewer than ``min_labels`` labels or an interval wider than 0.4;
* ``adversary`` — the whole interval lies below ½ (reports the opposite of the truth);
* ``coin`` — not uncertain and the interval contains ½ (cannot be told from a coin);
* ``spammer`` — ``coin`` with an interval at most 0.15 wide (known to be close to a coin).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import beta as beta_dist


def beta_interval(agree: np.ndarray, n: np.ndarray, prior: tuple[float, float],
                  level: float) -> tuple[np.ndarray, np.ndarray]:
    """Equal-tailed ``level`` interval of Beta(α + agree, β + n − agree)."""
    a = prior[0] + agree
    b = prior[1] + np.maximum(n - agree, 0.0)
    tail = (1.0 - level) / 2.0
    return beta_dist.ppf(tail, a, b), beta_dist.ppf(1.0 - tail, a, b)


def flags_of(eta_low: float, eta_high: float, n: float, min_labels: int) -> list[str]:
    """The module's flags for one annotator."""
    flags = []
    uncertain = n < min_labels or (eta_high - eta_low) > 0.4
    if uncertain:
        flags.append("uncertain")
    if eta_high < 0.5:
        flags.append("adversary")
    elif not uncertain and eta_low <= 0.5 <= eta_high:
        flags.append("coin")
        if eta_high - eta_low <= 0.15:
            flags.append("spammer")
    return flags


def annotator_table(annotators: list[str], eta: np.ndarray, low: np.ndarray, high: np.ndarray,
                    n: np.ndarray, min_labels: int, **extra: np.ndarray) -> dict[str, Any]:
    """``{annotator: {"reliability", "interval", "n", "flags", …}}`` (JSON-able)."""
    out: dict[str, Any] = {}
    for k, name in enumerate(annotators):
        row: dict[str, Any] = {
            "reliability": float(eta[k]),
            "interval": [float(low[k]), float(high[k])],
            "n": round(float(n[k])),
            "flags": flags_of(float(low[k]), float(high[k]), float(n[k]), min_labels),
        }
        for key, values in extra.items():
            row[key] = float(values[k])
        out[name] = row
    return out
