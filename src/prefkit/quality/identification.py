r"""How well annotator reliabilities η are identified by a dataset's design.

η_k is learned from how often annotator k agrees with the fitted truth of the comparisons k
labelled.  That truth is pinned down by

* **other annotators of the same comparison** (the strong source: agreement between people), and
* **the item model** σ(θ_i − θ_j) of Crowd-BT, fitted from *all* comparisons of the two items.

When every comparison has one label, only the second source is left: η_k then measures how often
k sides with the overall item ranking, and it is confounded with how lopsided k's comparisons are
(close items give η near ½ for a perfect annotator).  With one annotator, η is the global share
of labels that agree with the ranking fitted on them — the flip-rate question of
:mod:`prefkit.quality.noisy_labels`, not a comparison between people.  An annotator with one or
two labels keeps the Beta prior's pull toward its mean (finite, flagged ``uncertain``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from prefkit.quality._comparisons import NONE, Comparisons

#: below this share of comparisons with two or more labels, η is called weakly identified
SHARED_MIN = 0.1


def identification(c: Comparisons) -> dict[str, Any]:
    """Counts that say how well η is identified, and the warnings they call for."""
    voted = c.label != NONE
    per_comp = np.bincount(c.comp[voted], minlength=c.n_comparisons)
    n_ann = len(c.annotators)
    per_ann = np.bincount(c.ann[voted & (c.ann >= 0)], minlength=n_ann)
    shared = per_comp >= 2
    # annotators with at least one label on a comparison someone else also labelled
    overlap = np.zeros(n_ann, dtype=bool)
    rows = voted & shared[c.comp] & (c.ann >= 0)
    overlap[np.unique(c.ann[rows])] = True
    out: dict[str, Any] = {
        "comparisons": int(c.n_comparisons),
        "shared_comparisons": int(shared.sum()),
        "labels_per_comparison": float(per_comp.mean()) if c.n_comparisons else 0.0,
        "annotators": n_ann,
        "annotators_with_one_label": int((per_ann == 1).sum()),
        "annotators_without_overlap": int((~overlap & (per_ann > 0)).sum()),
    }
    warnings = []
    if n_ann == 1:
        warnings.append("one annotator: its η is the share of labels that agree with the "
                        "ranking fitted on them (use 'prefkit quality flips' for that question)")
    elif not shared.any():
        warnings.append("every comparison has one label: η is identified only through the item "
                        "ranking (weakly; close items pull η toward ½)")
    else:
        if shared.mean() < SHARED_MIN:
            warnings.append(f"only {shared.sum():,} of {c.n_comparisons:,} comparisons "
                            f"({shared.mean():.1%}) have two or more labels: η rests mostly on "
                            "the item ranking (weakly identified)")
        if out["annotators_without_overlap"]:
            warnings.append(f"{out['annotators_without_overlap']} of {n_ann} annotators share "
                            "no comparison with another annotator: their η rests on the item "
                            "ranking only")
    if out["annotators_with_one_label"]:
        warnings.append(f"{out['annotators_with_one_label']} annotators have a single label: "
                        "their η is mostly the prior (flagged uncertain)")
    out["warnings"] = warnings
    return out
