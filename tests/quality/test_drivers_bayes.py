"""Readability, the Bayesian (Laplace) drivers, hierarchical per-group effects, style control."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.special import expit

from prefkit import PreferenceDataset
from prefkit.quality.drivers import drivers_report
from prefkit.quality.hierarchical import fit_hierarchical
from prefkit.quality.properties import flesch_reading_ease, text_properties


def test_flesch_reading_ease_by_hand():
    # 6 one-syllable words, 1 sentence: 206.835 − 1.015·6 − 84.6·1
    assert flesch_reading_ease("The cat sat on the mat.") == pytest.approx(116.145)
    # 5 words, 2 sentences, 11 syllables (read-a-bil-i-ty 5, mat-ters 2, sim-ple 2, 1, 1)
    text = "Readability matters. Simple words help."
    assert flesch_reading_ease(text) == pytest.approx(206.835 - 1.015 * 2.5 - 84.6 * 11 / 5)
    assert flesch_reading_ease("") == 0.0 and flesch_reading_ease("42 + 7") == 0.0
    assert text_properties(text)["readability"] == flesch_reading_ease(text)


def _records(n, seed, *, theta=None, length_effect=1.0, group_count=2):
    """Pairs of responses of models m0…; length grows with the model's strength theta."""
    rng = np.random.default_rng(seed)
    theta = np.zeros(3) if theta is None else np.asarray(theta)
    k = len(theta)
    rows = []
    for i in range(n):
        a, b = rng.choice(k, 2, replace=False)
        la = int(rng.integers(5, 40) + 15 * theta[a] + 20)
        lb = int(rng.integers(5, 40) + 15 * theta[b] + 20)
        z = theta[a] - theta[b] + length_effect * (la - lb) / 15
        won = rng.random() < expit(z)
        rows.append({"a": f"m{a}", "b": f"m{b}", "a_text": "x " * la, "b_text": "y " * lb,
                     "winner": "a" if won else "b", "a_q": float(rng.normal()),
                     "b_q": float(rng.normal()), "group": f"g{i % group_count}"})
    return PreferenceDataset.from_records(rows)


def test_bayes_method_recovers_length_and_drops_collinear_readability():
    report = drivers_report(_records(800, 0), method="bayes", controlled=False)
    eff = report["overall"]["effects"]
    assert report["overall"]["collinear"] == {"readability": "length"}  # one-sentence texts
    assert eff["length"]["prob_positive"] > 0.999 and eff["length"]["coef"] > 0.5
    lo, hi = eff["q"]["interval"]
    assert lo < 0 < hi and 0.05 < eff["q"]["prob_positive"] < 0.95
    assert eff["length"]["se"] > 0


def test_hierarchical_shrinkage_beats_unpooled_fits():
    rng = np.random.default_rng(4)
    mu, tau = np.array([0.0, 1.0]), np.array([0.3, 0.5])
    sizes = np.array([8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 80, 100, 150, 200, 250, 300])
    truth = mu + tau * rng.normal(size=(len(sizes), 2))
    X, y, g = [], [], []
    for j, m in enumerate(sizes):
        x = np.column_stack([np.ones(m), rng.normal(size=m)])
        X.append(x)
        y.append((rng.random(m) < expit(x @ truth[j])).astype(float))
        g += [f"g{j:02d}"] * m
    X, y = np.vstack(X), np.concatenate(y)
    fit = fit_hierarchical(X, y, np.ones(len(y)), np.array(g))
    shrunk = np.array([fit["groups"][f"g{j:02d}"]["mean"] for j in range(len(sizes))])
    unpooled = np.array([fit["groups"][f"g{j:02d}"]["unpooled"] for j in range(len(sizes))])
    assert ((shrunk - truth) ** 2).sum() < 0.7 * ((unpooled - truth) ** 2).sum()
    assert 0.1 < fit["tau"][1] < 1.2 and abs(fit["mu"][1] - 1.0) < 3 * fit["se_mu"][1] + 0.1
    assert np.isfinite(shrunk).all()


def test_drivers_by_group_has_a_hierarchical_block_with_small_groups():
    ds = _records(300, 1, group_count=7)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning on text data
        report = drivers_report(ds, by="group", method="bayes", min_group_size=50)
    hier = report["by"]["hierarchical"]
    assert set(hier["groups"]) == {f"g{j}" for j in range(7)}  # all groups, even small ones
    assert len(report["by"]["groups"]) == 0  # none has 50 records for an independent fit
    pop = hier["population"]["length"]
    assert pop["interval"][0] < pop["coef"] < pop["interval"][1] and pop["tau"] >= 0.01


def test_style_control_removes_the_length_effect_that_is_really_the_model():
    # winners depend on the model only; stronger models also write longer answers
    ds = _records(1500, 2, theta=[1.0, 0.3, -0.2, -1.1], length_effect=0.0)
    report = drivers_report(ds, n_bootstrap=0, method="bayes")
    assert report["overall"]["effects"]["length"]["interval"][0] > 0.1  # confounded
    ctrl = report["controlled"]
    lo, hi = ctrl["properties"]["length"]["interval"]
    assert lo < 0 < hi  # the model held fixed, length does nothing
    ranks = {name: row["controlled_rank"] for name, row in ctrl["items"].items()}
    assert ranks == {"m0": 1, "m1": 2, "m2": 3, "m3": 4}
