"""Covariate Bradley–Terry with the ridge chosen by cross-validation over people."""

from __future__ import annotations

import numpy as np
import pytest

from prefkit import PreferenceDataset
from prefkit.errors import DataError
from prefkit.plural import CovariateBradleyTerry
from prefkit.plural.covariates import L2_GRID


def _survey(effect: float, people: int = 120, per_person: int = 20, seed: int = 0):
    """Each person u has a covariate x_u; P(i ≻ j) = σ(θ_i − θ_j + x_u (β_i − β_j))."""
    rng = np.random.default_rng(seed)
    theta = np.linspace(-1, 1, 6)
    beta = effect * np.array([1.5, -1.5, 1.0, -1.0, 0.5, -0.5])
    rows = []
    for u in range(people):
        x = float(rng.normal())
        for _ in range(per_person):
            i, j = rng.choice(6, size=2, replace=False)
            p = 1 / (1 + np.exp(-(theta[i] - theta[j] + x * (beta[i] - beta[j]))))
            rows.append({"a": f"i{i}", "b": f"i{j}", "winner": "a" if rng.random() < p else "b",
                         "user_id": f"u{u}", "x": x})
    return PreferenceDataset.from_records(rows)


def test_cv_picks_a_weak_ridge_for_real_effects_and_a_strong_one_for_noise() -> None:
    strong = CovariateBradleyTerry(["x"]).fit(_survey(effect=1.0))
    noise = CovariateBradleyTerry(["x"]).fit(_survey(effect=0.0))
    assert strong.l2_ in L2_GRID and noise.l2_ in L2_GRID
    assert set(strong.cv_log_likelihood_) == set(L2_GRID)
    assert strong.l2_ <= 3.0
    assert noise.l2_ >= 30.0
    # the chosen ridge predicts new people at least as well as the weakest one on noise
    test = _survey(effect=0.0, seed=1)
    weak = CovariateBradleyTerry(["x"], l2=0.3).fit(_survey(effect=0.0))
    assert noise.log_likelihood(test) >= weak.log_likelihood(test)


def test_fixed_ridge_and_bad_values() -> None:
    ds = _survey(effect=1.0, people=20)
    assert CovariateBradleyTerry(["x"], l2=2.5).fit(ds).l2_ == 2.5
    for bad in (-1.0, "often", float("nan")):
        with pytest.raises(DataError, match="l2"):
            CovariateBradleyTerry(["x"], l2=bad).fit(ds)
    one_person = ds.filter(np.asarray(ds.column("user_id")) == "u0")
    with pytest.raises(DataError, match="2 people"):
        CovariateBradleyTerry(["x"]).fit(one_person)
