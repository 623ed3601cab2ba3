"""Unpaired KTO data: single responses labelled desirable or undesirable.

KTO (Ethayarajh et al. 2024, "KTO: Model Alignment as Prospect Theoretic Optimization") needs
only a binary signal per response — no pair.  The layout other tools use (TRL's ``KTOTrainer``:
``{"prompt", "completion", "label": true|false}``) is read by prefkit as *rating* records
(``prompt``, ``text``, ``scores`` = [("label", 1.0 | 0.0)]).  This module turns such records into
one-response lists (:class:`~prefkit.align.lists.TextLists` with K = 1 and label 1 = desirable,
0 = undesirable), so the trainer's list plumbing (one forward pass per micro-batch, the flat
reference cache, process shards) carries them unchanged.

Which score is the flag: the only attribute, or the one called ``label``, ``desirable`` or
``kto_label``; its values must all be 0/1 (booleans are read as 1/0).  Graded ratings are refused
with a one-line error: binarise them first, or pair them (``to_pairs()``) for paired KTO.

The paper's class balance (§4.3 and TRL's check): λ_D·n_D / (λ_U·n_U) should lie in [1, 4/3];
:func:`check_balance` warns outside it.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from prefkit.align.lists import TextLists
from prefkit.errors import DataError

#: score names read as the desirable flag when a record has several attributes
FLAG_NAMES = ("label", "desirable", "kto_label")
#: the paper's recommended range of λ_D·n_D / (λ_U·n_U)
BALANCE_RANGE = (1.0, 4.0 / 3.0)


def _flag_name(maps: Any, source: str | None) -> str:
    names = sorted({k for m in maps if m is not None for k, _ in m})
    if len(names) == 1:
        return names[0]
    for name in FLAG_NAMES:
        if name in names:
            return name
    raise DataError(
        f"unpaired KTO needs one desirable/undesirable label per response; the ratings have "
        f"{len(names)} attributes ({', '.join(names[:5])}) and none is called "
        f"{' / '.join(FLAG_NAMES)}",
        source=source, field="scores",
    )


def unpaired_examples(dataset: Any) -> TextLists:
    """One-response lists (label 1 = desirable, 0 = undesirable) of a rating dataset."""
    if dataset.kind != "rating":
        raise DataError(f"unpaired KTO needs rating records (prompt, completion, label), this "
                        f"dataset is {dataset.kind}", source=dataset.name)
    n = len(dataset)
    texts = dataset.column("text") if dataset.has("text") else None
    if texts is None:
        raise DataError("unpaired KTO needs response texts", source=dataset.name, field="text")
    prompts = dataset.column("prompt") if dataset.has("prompt") else np.full(n, "")
    maps = dataset.column("scores")
    flag = _flag_name(maps, dataset.name)
    weights = np.asarray(dataset.weights(), dtype=float)
    out = TextLists([], [], [], weights)
    for i in range(n):
        value = dict(maps[i] or []).get(flag)
        if value is None or texts[i] is None:
            missing = "label" if value is None else "response text"
            raise DataError(f"record has no {missing}", source=dataset.name, row=i,
                            field=flag if value is None else "text")
        if value not in (0.0, 1.0):
            raise DataError(f"KTO label {value!r} is not desirable (1/true) or undesirable "
                            "(0/false); binarise graded ratings first", source=dataset.name,
                            row=i, field=flag)
        out.prompts.append("" if prompts[i] is None else str(prompts[i]))
        out.responses.append([str(texts[i])])
        out.labels.append(np.array([float(value)]))
    if not out.prompts:
        raise DataError("no records to train on", source=dataset.name)
    return out


def balance(desirable: np.ndarray, weights: np.ndarray, desirable_weight: float = 1.0,
            undesirable_weight: float = 1.0) -> float:
    """λ_D·n_D / (λ_U·n_U) with n counted by record weight (inf without undesirable ones)."""
    d = np.asarray(desirable, dtype=bool)
    w = np.asarray(weights, dtype=float)
    undesired = undesirable_weight * w[~d].sum()
    return float("inf") if undesired == 0 else float(desirable_weight * w[d].sum() / undesired)


def check_balance(desirable: np.ndarray, weights: np.ndarray, desirable_weight: float = 1.0,
                  undesirable_weight: float = 1.0) -> float:
    """:func:`balance`, warning when it is outside the paper's [1, 4/3]."""
    ratio = balance(desirable, weights, desirable_weight, undesirable_weight)
    lo, hi = BALANCE_RANGE
    if not lo <= ratio <= hi:
        d = np.asarray(desirable, dtype=bool)
        warnings.warn(
            f"KTO class balance λ_D·n_D / (λ_U·n_U) = {ratio:.3g} ({int(d.sum())} desirable, "
            f"{int((~d).sum())} undesirable); Ethayarajh et al. recommend 1 to 4/3 — set "
            "loss_params desirable_weight / undesirable_weight (--loss-param)",
            stacklevel=2,
        )
    return ratio
