"""Synthetic gold rewards a user can read, for the tiny model's vocabulary (demos and tests).

:func:`politeness` counts polite words minus rude words in a completion (the adjectives and
openers of :mod:`prefkit.align.tiny`): "sure ! the cat is kind and calm ." scores 3 − 0 = 3.
:func:`politeness_brevity` subtracts 0.25 per word beyond 8 — a gold reward that a proxy trained
only on short pairs does not know about, so optimising the proxy hard can lower it (the
first over-optimisation attempt; the proxy's length feature saw it, so it did not over-optimise).
:func:`politeness_no_repeats` is the gold reward of the over-optimisation demo: each polite word
counts once, and every repeated word costs 2 ("sure ! the cat is kind and kind and kind ."
scores 2 − 2·2 = −2).  A bag-of-words proxy fitted on base-policy samples — which seldom repeat
a word — learns "+1 per polite word" and cannot represent the repetition cost, so a policy pushed
against it fills its completions with one polite word said again and again.
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


#: words a repetition is not charged for (grammar and punctuation of the tiny model's answers)
FUNCTION_WORDS = frozenset({"the", "and", "is", "of", "to", ".", "!", "?"})


def repeats(text: str) -> int:
    """Occurrences of a word (not a :data:`FUNCTION_WORDS` one) after its first."""
    words = [w for w in str(text).split() if w not in FUNCTION_WORDS]
    return len(words) - len(set(words))


def politeness_no_repeats(prompts: Sequence[str], completions: Sequence[str],
                          cost: float = 2.0) -> np.ndarray:
    """(# distinct polite words − # rude words) − ``cost`` × :func:`repeats`."""
    out = []
    for text in completions:
        words = str(text).split()
        polite = len({w for w in words if w in POLITE})
        out.append(polite - sum(w in RUDE for w in words) - cost * repeats(text))
    return np.asarray(out, dtype=float)


#: the gold rewards the CLI knows by name (``--gold``, ``gold:NAME`` labellers)
GOLD_REWARDS = ("politeness", "politeness_brevity", "politeness_no_repeats")
