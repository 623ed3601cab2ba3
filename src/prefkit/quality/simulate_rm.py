"""A text-free simulator for reward-model label noise: items with known embeddings, a linear true
reward, Bradley–Terry labels swapped at a known rate ε.

Items x_j ~ N(0, I_d) (``d`` dimensions), true reward r(x) = wᵀx with ‖w‖ = ``spread``; record i
compares two items of one random prompt group, clean label a ≻ b with probability
σ(r(a) − r(b)), then swapped with probability ε.  Returned: the dataset (candidate ids ``i<j>``,
``prompt`` = its group, so prompt-grouped folds apply), the :class:`PairFeatures` of the records
and the mask of the swapped labels.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import expit


def simulate_flips(n: int = 1000, *, flip_rate: float = 0.2, dim: int = 8, items: int = 300,
                   spread: float = 3.0, prompts: int = 200, seed: int = 0
                   ) -> tuple[Any, Any, np.ndarray]:
    """(dataset, features, flipped) of the module notes."""
    from prefkit.data.schema import PreferenceDataset
    from prefkit.reward.features import PairFeatures

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(items, dim))
    w = rng.normal(size=dim)
    w *= spread / np.linalg.norm(w)
    a = rng.integers(0, items, n)
    b = (a + rng.integers(1, items, n)) % items
    clean = rng.random(n) < expit(x[a] @ w - x[b] @ w)
    flipped = rng.random(n) < flip_rate
    won = clean ^ flipped
    prompt = rng.integers(0, prompts, n)
    ds = PreferenceDataset.from_records(
        [{"prompt": f"p{prompt[i]}", "a": f"i{a[i]}", "b": f"i{b[i]}",
          "winner": "a" if won[i] else "b"} for i in range(n)])
    feats = PairFeatures(x[a].astype(np.float32), x[b].astype(np.float32))
    return ds, feats, flipped
