"""Scorers shared by the RewardBench-style runner tests."""

from __future__ import annotations

import numpy as np


class LengthScorer:
    """Reward = length of the text (a scalar scorer with ``score``)."""

    def score(self, ds):
        return (
            np.array([len(t) for t in ds.column("a_text")], dtype=float),
            np.array([len(t) for t in ds.column("b_text")], dtype=float),
        )


class ProbaOnly:
    """No scalar reward: P(a ≻ b) from lengths (like the general preference model)."""

    def score(self, ds):
        raise NotImplementedError

    def predict_proba(self, ds):
        ra, rb = LengthScorer().score(ds)
        return np.where(ra > rb, 0.9, np.where(ra < rb, 0.1, 0.5))
