r"""Does repairing the labels help?  Held-out reward-model accuracy before and after repair.

For each of ``splits`` random splits *by prompt* (one fold of five held out, ≈ 20 %):

1. flips are detected on the training part only (:func:`prefkit.quality.rm_flips.detect_flips_rm`,
   itself cross-fitted inside the training part);
2. the training labels are repaired — ``none`` (as given), ``drop`` (records with P(flip) > ½
   removed), ``flip`` (those records' labels swapped) or ``soft`` (every label replaced by
   (1 − P(flip)) y + P(flip) (1 − y));
3. one linear Bradley–Terry reward head (the same embeddings, seed and weight decay for every
   repair) is fitted on each repaired training part and scored on the held-out part's decisive
   records: accuracy against the held-out labels as given (the only truth real data has) and,
   when ``clean`` labels are known (the simulator), against them.

The held-out labels are noisy too, so a repair that helps the model is seen through the noise:
with flip rate ε, accuracy against noisy labels = ε + (1 − 2ε) · accuracy against clean ones.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from prefkit.quality.rm_flips import _subset, detect_flips_rm, pair_features_of, prompt_folds

REPAIRS = ("none", "drop", "flip", "soft")


def repaired_labels(y: np.ndarray, flip_prob: np.ndarray, how: str,
                    threshold: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """(rows kept, their labels) after a repair (module notes)."""
    flagged = flip_prob > threshold
    rows = np.arange(len(y))
    if how == "none":
        return rows, y
    if how == "drop":
        return rows[~flagged], y[~flagged]
    if how == "flip":
        return rows, np.where(flagged, 1.0 - y, y)
    if how == "soft":
        return rows, (1 - flip_prob) * y + flip_prob * (1 - y)
    from prefkit.errors import DataError

    raise DataError(f"unknown repair {how!r} (expected {', '.join(REPAIRS)})", field="--repair")


def heldout_repair_accuracy(dataset: Any, *, features: Any = None, encoder: Any = None,
                            splits: int = 3, members: int = 5, weight_decay: float = 1e-3,
                            epochs: int = 300, clean: np.ndarray | None = None,
                            extras: str = "none", seed: int = 0) -> dict[str, Any]:
    """``{"repairs": {how: {"accuracy", "accuracy_sd", ["clean_accuracy"]}}, "flip_rate",
    "flagged_share", "splits", "test_records"}`` averaged over the splits."""
    from prefkit.reward import BradleyTerryHead

    if dataset.kind != "pairwise":
        dataset = dataset.to_pairs()
    feats = pair_features_of(dataset, encoder, extras=extras) if features is None else features
    y = np.asarray(dataset.outcomes(), dtype=float)
    decisive = np.abs(y - 0.5) > 1e-9
    acc: dict[str, list[float]] = {h: [] for h in REPAIRS}
    clean_acc: dict[str, list[float]] = {h: [] for h in REPAIRS}
    eps, flagged, n_test = [], [], []
    for s in range(splits):
        fold = prompt_folds(dataset, 5, seed + 1000 + s)
        test, train = np.flatnonzero((fold == 0) & decisive), np.flatnonzero(fold != 0)
        sub = dataset.filter(fold != 0)
        train_feats = _subset(feats, train, y)
        rep = detect_flips_rm(sub, features=train_feats, members=members,
                              weight_decay=weight_decay, epochs=epochs, seed=seed + s)
        eps.append(rep.flip_rate)
        flagged.append(float(rep.flagged().mean()))
        n_test.append(len(test))
        test_feats = _subset(feats, test, y)
        for how in REPAIRS:
            rows, labels = repaired_labels(y[train], rep.flip_prob, how)
            yy = np.zeros(len(y))
            yy[train[rows]] = labels
            part = _subset(feats, train[rows], yy)
            part.tie = None
            head = BradleyTerryHead(hidden=0, seed=seed + s, epochs=epochs,
                                    weight_decay=weight_decay).fit(part)
            p = head.predict_proba(test_feats)
            acc[how].append(float(((p > 0.5) == (y[test] > 0.5)).mean()))
            if clean is not None:
                clean_acc[how].append(float(((p > 0.5) == (clean[test] > 0.5)).mean()))
    out: dict[str, Any] = {"splits": splits, "test_records": float(np.mean(n_test)),
                           "flip_rate": float(np.mean(eps)),
                           "flagged_share": float(np.mean(flagged)), "repairs": {}}
    for how in REPAIRS:
        row = {"accuracy": float(np.mean(acc[how])), "accuracy_sd": float(np.std(acc[how]))}
        if clean is not None:
            row["clean_accuracy"] = float(np.mean(clean_acc[how]))
        out["repairs"][how] = row
    return out
