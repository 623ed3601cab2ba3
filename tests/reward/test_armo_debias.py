"""ArmoRM verbosity de-biasing of the multi-objective head on synthetic embeddings.

Candidates x ~ N(0, I); the truth is q = x₀ (independent of length); the response length is
300 + 80 x₁; the "helpfulness" rating is confounded with length (q + 1.5 x₁ + noise) and
"harmless" is unrelated to both (x₂ + noise).  Preferences follow q.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from prefkit import PreferenceDataset
from prefkit.errors import DataError
from prefkit.reward._train import PairFeatures
from prefkit.reward.multi_objective import (
    MultiObjectiveHead,
    add_length_columns,
    decorrelation_penalty,
    spearman,
)

TARGET = 0.03


def _pairs(n: int, seed: int) -> tuple[PairFeatures, np.ndarray]:
    rng = np.random.default_rng(seed)

    def candidates() -> tuple[np.ndarray, ...]:
        x = rng.normal(size=(n, 12))
        length = 300 + 80 * x[:, 1]
        helpful = x[:, 0] + 1.5 * x[:, 1] + 0.3 * rng.normal(size=n)
        harmless = x[:, 2] + 0.3 * rng.normal(size=n)
        return x, length, helpful, harmless

    xa, la, ha, sa = candidates()
    xb, lb, hb, sb = candidates()
    feats = PairFeatures(
        xa, xb, y=(xa[:, 0] > xb[:, 0]).astype(float),
        attributes={"helpfulness": (ha, hb), "harmless": (sa, sb), "length": (la, lb)},
    )
    return feats, np.concatenate([la, lb])


def _accuracy(head: MultiObjectiveHead, feats: PairFeatures) -> float:
    return float(np.mean((head.predict_proba(feats) > 0.5) == (feats.y > 0.5)))


def test_length_debiasing_decorrelates_and_recovers_the_length_free_truth():
    train, _ = _pairs(400, seed=0)
    test, test_length = _pairs(400, seed=1)
    options = {"attributes": ["helpfulness", "harmless"], "hidden": 0, "epochs": 150, "lr": 0.05}
    plain = MultiObjectiveHead(**options).fit(train)
    debiased = MultiObjectiveHead(**options, debias="length", debias_target=TARGET).fit(train)
    assert debiased.params["attributes"] == ["helpfulness", "harmless", "length"]

    # on the reference distribution (the training candidates): ρ_S(z'_help, z_length) ≤ κ
    x_ref = np.vstack([train.xa, train.xb])
    z = debiased.attribute_rewards(x_ref)
    z_raw = debiased.attribute_rewards(x_ref, debiased=False)
    assert spearman(z_raw[:, 0], z_raw[:, 2]) > 0.7  # confounded before
    assert spearman(z[:, 0], z_raw[:, 2]) <= TARGET
    assert spearman(z[:, 1], z_raw[:, 2]) <= TARGET
    np.testing.assert_array_equal(z[:, 2], 0.0)  # the verbosity objective itself is dropped
    assert np.std(z[:, 0]) == pytest.approx(1.0, abs=1e-4)  # rescaled to unit variance
    report = debiased.debias_report_
    assert report["helpfulness"]["lambda"] > 0.5
    assert report["harmless"]["lambda"] == 0.0  # already uncorrelated: left as it was
    np.testing.assert_allclose(z[:, 1], z_raw[:, 1], atol=1e-4)
    # on new candidates, against their true lengths
    x_new = np.vstack([test.xa, test.xb])
    assert abs(spearman(plain.attribute_rewards(x_new)[:, 0], test_length)) > 0.7
    assert abs(spearman(debiased.attribute_rewards(x_new)[:, 0], test_length)) < 0.1

    # accuracy against the length-independent truth improves (0.67 -> 0.97 here)
    acc_plain, acc_debiased = _accuracy(plain, test), _accuracy(debiased, test)
    assert acc_debiased >= acc_plain + 0.15
    assert acc_debiased > 0.9


def test_debiased_head_round_trips_and_rejects_bad_settings():
    train, _ = _pairs(120, seed=2)
    head = MultiObjectiveHead(hidden=0, epochs=30, debias="length").fit(train)
    assert head.params["attributes"] == ["harmless", "helpfulness", "length"]  # from the data
    again = MultiObjectiveHead.restore(head.config(), head.state())
    x = np.vstack([train.xa[:10], train.xb[:10]])
    np.testing.assert_allclose(again.attribute_rewards(x), head.attribute_rewards(x), atol=1e-6)
    np.testing.assert_allclose(again.predict_proba(train), head.predict_proba(train), atol=1e-6)
    with pytest.raises(DataError):
        MultiObjectiveHead(debias="length", debias_target=1.5)
    with pytest.raises(DataError):  # no values for the verbosity attribute
        MultiObjectiveHead(hidden=0, epochs=5, debias="verbosity",
                           attributes=["helpfulness"]).fit(train)
    constant = PairFeatures(train.xa, train.xb, y=train.y, attributes={
        "helpfulness": train.attributes["helpfulness"],
        "length": (np.ones(len(train)), np.ones(len(train))),
    })
    with pytest.raises(DataError, match="constant"):
        MultiObjectiveHead(hidden=0, epochs=5, debias="length").fit(constant)


def test_decorrelation_penalty_on_a_hand_computed_case():
    # v = (0, 1, 2, 3), r = (0, 3, 1, 2): ρ_S(r, v) = 0.4.  r − λv = (0, 3−λ, 1−2λ, 2−3λ): the
    # only order change below λ = 2/3 is 1−2λ passing 0 at λ = ½, after which the ranks are
    # (2, 4, 1, 3) and ρ_S = 1 − 6·10/60 = 0 ≤ 0.03; just below ½ (and at ½, a tie) ρ_S > 0.03.
    v = np.array([0.0, 1.0, 2.0, 3.0])
    r = np.array([0.0, 3.0, 1.0, 2.0])
    assert spearman(r, v) == pytest.approx(0.4)
    lam = decorrelation_penalty(r, v, 0.03)
    assert lam == pytest.approx(0.5, abs=1e-6) and lam > 0.5
    assert spearman(r - lam * v, v) == pytest.approx(0.0)
    assert spearman(r - 0.499 * v, v) == pytest.approx(0.4)
    assert decorrelation_penalty(-r, v, 0.03) == 0.0  # ρ_S = −0.4: nothing to remove


def test_add_length_columns():
    ds = PreferenceDataset.from_records([
        {"a_text": "abc", "b_text": "a much longer answer", "winner": "a"},
        {"a_text": "", "b_text": "xy", "winner": "b"},
    ])
    out = add_length_columns(ds)
    assert out.column("a_length").tolist() == [3.0, 0.0]
    assert out.column("b_length").tolist() == [20.0, 2.0]
    with pytest.raises(DataError):
        add_length_columns(PreferenceDataset.from_records([{"a": "x", "b": "y", "winner": "a"}]))
