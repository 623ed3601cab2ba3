"""Simulated battles for the batch-job tests."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from prefkit.data import PreferenceDataset


def battles(n: int = 1000, seed: int = 0, n_items: int = 6) -> PreferenceDataset:
    """``n`` battles among ``n_items`` items; item k beats item j more often when k > j."""
    rng = np.random.default_rng(seed)
    items = np.array([f"m{k}" for k in range(n_items)])
    a = rng.integers(0, n_items, n)
    b = (a + rng.integers(1, n_items, n)) % n_items
    winner = np.where(rng.random(n) < 0.5 + 0.08 * (a - b), "a", "b")
    return PreferenceDataset(pa.table({"a": items[a], "b": items[b], "winner": winner}),
                             "pairwise")
