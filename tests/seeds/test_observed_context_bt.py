"""Context-aware Bradley–Terry with an observed per-record context (seed row 19).

The observed-context case P(a ≻ b | z) = σ((θ_a + z·β_a) − (θ_b + z·β_b)) is what
:class:`prefkit.plural.CovariateBradleyTerry` fits when the covariate column varies per record
(its ``x_u`` need not be constant within a person).  This pins that: recovery of θ and β from
records whose context is drawn afresh for every comparison, and the predicted probability.
"""

from __future__ import annotations

import numpy as np

from prefkit import PreferenceDataset
from prefkit.plural import CovariateBradleyTerry

THETA = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
BETA = np.array([1.0, -1.0, 0.5, 0.0, -0.5])


def _data(n_records: int, seed: int) -> PreferenceDataset:
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n_records):
        i, j = rng.choice(len(THETA), 2, replace=False)
        z = float(rng.normal())
        eta = THETA[i] - THETA[j] + z * (BETA[i] - BETA[j])
        won = rng.random() < 1.0 / (1.0 + np.exp(-eta))
        rows.append({"a": f"i{i}", "b": f"i{j}", "winner": "a" if won else "b", "ctx": z})
    return PreferenceDataset.from_records(rows)


def test_per_record_context_recovers_item_effects():
    data = _data(6000, 0)
    model = CovariateBradleyTerry(["ctx"], l2=0.1).fit(data)
    order = [int(name[1:]) for name in model.items_]
    spec = model.covariate_spec_[0]
    # the fit centres and scales z: θ at the mean context, β per standard deviation
    theta_at_mean = THETA + spec["mean"] * BETA
    assert np.abs(model.ratings_ - (theta_at_mean - theta_at_mean.mean())[order]).max() < 0.1
    beta_std = (BETA - BETA.mean()) * spec["std"]
    assert np.abs(model.coef_.ravel() - beta_std[order]).max() < 0.1
    # the prediction uses each record's own context
    test = _data(200, 1)
    z = np.asarray(test.column("ctx"), dtype=float)
    a = np.array([int(x[1:]) for x in test.column("a")])
    b = np.array([int(x[1:]) for x in test.column("b")])
    truth = 1.0 / (1.0 + np.exp(-(THETA[a] - THETA[b] + z * (BETA[a] - BETA[b]))))
    assert np.abs(model.predict_proba(test) - truth).max() < 0.06
