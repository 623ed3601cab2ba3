r"""The Arena-style controlled comparison: item strengths with the response properties held fixed.

Two Bayesian logistic regressions (Laplace, :mod:`prefkit.quality.bayes_logistic`) on the same
records, items i (the models behind ``a``/``b``)::

    raw:         P(a ≻ b) = σ(β_0 + θ_a − θ_b)
    controlled:  P(a ≻ b) = σ(β_0 + θ_a − θ_b + Σ_p γ_p Δz_p)

Δz_p are the standardized differences of the *text (style) properties* of
:mod:`prefkit.quality.properties` — length, markdown, refusal / hedging phrases, readability,
prompt overlap — never the numeric ``a_<x>``/``b_<x>`` columns, which may be judgments of the
substance itself (Tulu-1's ``acceptable``) that a style control must not absorb.  γ_p is the
effect of a property with the others *and the items* held fixed (a longer answer from the same
model); θ under control is an item's strength once its style is accounted for — the style
control of Chatbot Arena (Li et al. 2024, "Does style matter? Disentangling style and substance
in Chatbot Arena", LMSYS blog).  Priors: N(0, 10²) on β_0 and every θ (which centres the θ),
N(0, 2.5²) on γ.  Beside each θ: the item's raw win rate (ties ½), the simplest baseline.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from prefkit.quality.bayes_logistic import fit_laplace

MAX_ITEMS = 300
ITEM_PRIOR_SD = 10.0
Z95 = 1.959963984540054


def _ranks(values: np.ndarray) -> np.ndarray:
    return np.argsort(np.argsort(-values)) + 1


def controlled_comparison(dataset: Any, diffs: pd.DataFrame) -> dict[str, Any]:
    """``{"items": {name: {raw, controlled, raw_rank, controlled_rank, win_rate, n}},
    "properties": {name: {coef, interval}}}`` or ``{"skipped": why}``."""
    from prefkit.quality.drivers import PRIOR_SD, design

    for side in ("a", "b"):
        if not dataset.has(side) or dataset.table.column(side).null_count > 0:
            return {"skipped": "the controlled comparison needs item ids in 'a' and 'b'"}
    from prefkit.quality.properties import text_properties

    style = [c for c in diffs.columns if c in text_properties("", prompt="")]
    if not style:
        return {"skipped": "no text (style) properties to control for: the records have no "
                           "a_text/b_text"}
    d = design(dataset, diffs[style])
    if not d["names"]:
        return {"skipped": "no style property differs in enough records to control for"}
    items, ia, ib = dataset.item_codes()
    ia, ib = ia[d["ok"]], ib[d["ok"]]
    k = len(items)
    if not 2 <= k <= MAX_ITEMS:
        return {"skipped": f"{k} items (the controlled comparison handles 2–{MAX_ITEMS})"}
    if len(items) > 0.5 * len(ia):
        return {"skipped": f"{k} items for {len(ia)} records: item ids look like per-record "
                           "ids, not models"}
    n = len(ia)
    E = np.zeros((n, k))
    E[np.arange(n), ia] += 1.0
    E[np.arange(n), ib] -= 1.0
    y, w = d["y"], d["w"]
    base = np.full(1 + k, ITEM_PRIOR_SD ** -2)
    raw = fit_laplace(np.column_stack([np.ones(n), E]), y, weights=w, prior_precision=base)
    p = len(d["names"])
    ctrl = fit_laplace(np.column_stack([np.ones(n), E, d["Z"]]), y, weights=w,
                       prior_precision=np.r_[base, np.full(p, PRIOR_SD ** -2)])
    theta_raw = raw.mean[1:k + 1] - raw.mean[1:k + 1].mean()
    theta_ctrl = ctrl.mean[1:k + 1] - ctrl.mean[1:k + 1].mean()
    wins = np.bincount(ia, y, k) + np.bincount(ib, 1 - y, k)
    games = np.bincount(ia, minlength=k) + np.bincount(ib, minlength=k)
    rr, rc = _ranks(theta_raw), _ranks(theta_ctrl)
    gamma, se = ctrl.mean[k + 1:], ctrl.sd[k + 1:]
    return {
        "records": n,
        "items": {str(items[i]): {"raw": float(theta_raw[i]), "controlled": float(theta_ctrl[i]),
                                  "raw_rank": int(rr[i]), "controlled_rank": int(rc[i]),
                                  "win_rate": float(wins[i] / games[i]) if games[i] else None,
                                  "n": int(games[i])} for i in range(k)},
        "properties": {name: {"coef": float(gamma[j]),
                              "interval": [float(gamma[j] - Z95 * se[j]),
                                           float(gamma[j] + Z95 * se[j])]}
                       for j, name in enumerate(d["names"])},
        "rank_changes": int((rr != rc).sum()),
    }
