"""NDCG@k (seed row 26) against scikit-learn and by hand; top-k mass / entropy (row 24)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import ndcg_score

from prefkit.choice import PlackettLuce
from prefkit.data.simulate import simulate_rankings
from prefkit.errors import DataError
from prefkit.evaluate.ranking_metrics import dcg_at_k, ndcg_at_k, top_k_entropy, top_k_mass


@pytest.mark.parametrize("k", [1, 2, 3, 5, None])
def test_ndcg_equals_sklearn_with_ties(k):
    rng = np.random.default_rng(0)
    relevance = rng.integers(0, 4, (30, 8)).astype(float)
    scores = rng.integers(0, 3, (30, 8)).astype(float)  # many tied scores
    assert ndcg_at_k(relevance, scores, k) == pytest.approx(ndcg_score(relevance, scores, k=k))
    per_query = ndcg_at_k(relevance, scores, k, average=False)
    assert per_query.shape == (30,)


def test_ndcg_by_hand():
    relevance = [3.0, 2.0, 0.0, 1.0]
    scores = [0.1, 0.9, 0.5, 0.3]  # order: rel 2, 0, 1, 3
    dcg = 2 / np.log2(2) + 0 / np.log2(3) + 1 / np.log2(4) + 3 / np.log2(5)
    idcg = 3 / np.log2(2) + 2 / np.log2(3) + 1 / np.log2(4)
    assert dcg_at_k(relevance, scores)[0] == pytest.approx(dcg)
    assert ndcg_at_k(relevance, scores) == pytest.approx(dcg / idcg)
    # k = 2 and exponential gains 2^rel − 1
    dcg2 = (2**2 - 1) / 1 + 0
    idcg2 = (2**3 - 1) / 1 + (2**2 - 1) / np.log2(3)
    assert ndcg_at_k(relevance, scores, 2, gains="exponential") == pytest.approx(dcg2 / idcg2)
    # a perfect ranking scores 1, a query without relevant items 0
    assert ndcg_at_k(relevance, relevance) == pytest.approx(1.0)
    assert ndcg_at_k([0.0, 0.0], [1.0, 2.0]) == 0.0


def test_ndcg_refuses_bad_input():
    with pytest.raises(DataError):
        ndcg_at_k([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(DataError):
        ndcg_at_k([1.0, np.nan], [1.0, 2.0])


def test_top_k_mass_and_entropy_by_hand():
    logits = np.log([0.1, 0.5, 0.2, 0.2])
    assert top_k_mass(logits, 1) == pytest.approx(0.5)
    assert top_k_mass(logits, 2) == pytest.approx(0.7)
    assert top_k_mass(logits, 4) == pytest.approx(1.0)
    q = np.array([0.5, 0.2]) / 0.7
    assert top_k_entropy(logits, 2) == pytest.approx(-(q * np.log(q)).sum())
    assert top_k_entropy(logits, 1) == pytest.approx(0.0)
    # uniform logits: mass k/V and entropy log k; shift invariance; one value per position
    batch = np.stack([np.zeros(10), logits.tolist() + [-np.inf] * 6])
    assert np.allclose(top_k_mass(batch, 3), [0.3, 0.9])
    assert top_k_entropy(np.zeros(10), 3) == pytest.approx(np.log(3))
    assert top_k_mass(logits + 7.0, 2) == pytest.approx(0.7)


def test_sharpening_lowers_top_k_entropy_and_raises_mass():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(5, 50))
    for temperature in (0.5, 0.25):
        assert np.all(top_k_entropy(logits / temperature, 5) < top_k_entropy(logits, 5))
        assert np.all(top_k_mass(logits / temperature, 5) > top_k_mass(logits, 5))


def test_plackett_luce_model_first_choice_probabilities():
    data = simulate_rankings(n_items=6, n_rankings=200, seed=4).dataset
    model = PlackettLuce().fit(data)
    worth = np.exp(model.item_scores())
    p = np.sort(worth / worth.sum())[::-1]
    assert top_k_mass(model, 2) == pytest.approx(p[:2].sum())
    assert top_k_entropy(model, 6) == pytest.approx(-(p * np.log(p)).sum())
