"""Preference-free text scorers: a reward r(x, y) computed, not learned, answering the prediction
half of the model contract.

A :class:`TextScorer` implements :meth:`TextScorer.reward_texts`; from it come

* ``reward(ds)`` → ``(n, 2)`` rewards (r_a, r_b) of a pairwise dataset,
* ``predict_proba(ds)`` → P(a ≻ b) = σ((r_a − r_b)/``temperature``) (Bradley–Terry on the scores),
* ``scorer(prompt, texts)`` → a list of rewards: the :data:`prefkit.align.sampling.Scorer`
  signature used by best-of-N and rejection sampling (``__call__``).

There is nothing to fit: ``fit(ds)`` returns the scorer unchanged, so the scorers drop into
:func:`prefkit.evaluate.evaluate` next to trained reward models.  Scorers on language models
(:mod:`~prefkit.reward.flr`, :mod:`~prefkit.reward.density_ratio`) hold the model in memory and
are not saved with ``prefkit.save``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from prefkit.errors import DataError


def pairwise_texts(ds: Any) -> tuple[list[str | None], list[str], list[str]]:
    """(prompts, a texts, b texts) of a pairwise dataset; a missing text is a DataError."""
    if ds.kind != "pairwise":
        raise DataError(f"a text scorer needs pairwise data, this is {ds.kind}", source=ds.name)
    n = len(ds)
    prompts = list(ds.column("prompt")) if ds.has("prompt") else [None] * n
    sides = []
    for col in ("a_text", "b_text"):
        if not ds.has(col):
            raise DataError("a text scorer needs response texts", source=ds.name, field=col)
        texts = ds.column(col)
        for i, t in enumerate(texts):
            if t is None:
                raise DataError("missing response text", source=ds.name, row=i, field=col)
        sides.append([str(t) for t in texts])
    return prompts, sides[0], sides[1]


class TextScorer:
    """Base class: subclasses implement :meth:`reward_texts` (module docstring)."""

    #: P(a ≻ b) = σ((r_a − r_b) / temperature)
    temperature: float = 1.0

    def reward_texts(self, prompts: Sequence[str | None], responses: Sequence[str]) -> np.ndarray:
        raise NotImplementedError

    def fit(self, ds: Any = None, **_: Any) -> TextScorer:
        """Nothing is learned: the scorer is preference-free."""
        return self

    def check_fitted(self) -> None:
        """Always ready (nothing to fit)."""

    def reward(self, ds: Any) -> np.ndarray:
        """(n, 2): rewards of the two responses of each pairwise record."""
        prompts, a, b = pairwise_texts(ds)
        r = np.asarray(self.reward_texts(prompts + prompts, a + b), dtype=float)
        return np.column_stack([r[:len(a)], r[len(a):]])

    def predict_proba(self, ds: Any) -> np.ndarray:
        """P(a ≻ b) = σ((r_a − r_b)/temperature) per record."""
        r = self.reward(ds)
        z = (r[:, 0] - r[:, 1]) / float(self.temperature)
        return 1.0 / (1.0 + np.exp(-z))

    def __call__(self, prompt: str, texts: Sequence[str]) -> list[float]:
        """Rewards of ``texts`` as answers to one ``prompt`` (the best-of-N scorer signature)."""
        return [float(v) for v in self.reward_texts([prompt] * len(texts), list(texts))]
