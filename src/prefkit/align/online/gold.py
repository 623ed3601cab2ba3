"""Synthetic gold rewards a user can read, for the tiny model's vocabulary (demos and tests).

:func:`politeness` counts polite words minus rude words in a completion (the adjectives and
openers of :mod:`prefkit.align.tiny`): "sure ! the cat is kind and calm ." scores 3 − 0 = 3.
:func:`politeness_brevity` subtracts 0.25 per word beyond 8 — a gold reward that a proxy trained
only on short pairs does not know about, so optimising the proxy hard can lower it (the
over-optimisation demo).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from prefkit.align.tiny import _BAD, _BAD_OPENERS, _GOOD, _GOOD_OPENERS

POLITE = frozenset(_GOOD) | {w for o in _GOOD_OPENERS for w in o.split() if w.isalpha()}
RUDE = frozenset(_BAD) | {w for o in _BAD_OPENERS for w in o.split() if w.isalpha()}


def politeness(prompts: Sequence[str], completions: Sequence[str]) -> np.ndarray:
    """(# polite words − # rude words) per completion."""
    out = []
    for text in completions:
        words = str(text).split()
        out.append(sum(w in POLITE for w in words) - sum(w in RUDE for w in words))
    return np.asarray(out, dtype=float)


def politeness_brevity(prompts: Sequence[str], completions: Sequence[str],
                       free_words: int = 8, cost: float = 0.25) -> np.ndarray:
    """Politeness minus ``cost`` per word beyond ``free_words``."""
    lengths = np.array([len(str(t).split()) for t in completions], dtype=float)
    return politeness(prompts, completions) - cost * np.maximum(lengths - free_words, 0.0)
