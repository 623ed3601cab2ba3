"""The numpy sigmoids equal scipy's, and the dense strong-connectivity check equals scipy's
csgraph on random comparison graphs (both are start-up savings, not new maths)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import sparse, special
from scipy.sparse import csgraph

from prefkit.choice.graph import _strongly_connected_dense, diagnose
from prefkit.core.mathfn import log_sigmoid, logit, sigmoid


def test_sigmoids_equal_scipy_over_the_whole_range() -> None:
    x = np.concatenate([np.linspace(-800, 800, 4001), [0.0, -np.inf, np.inf, np.nan]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow / divide warnings, like scipy
        got_s, got_l = sigmoid(x), log_sigmoid(x)
        p = np.concatenate([np.linspace(0, 1, 1001), [-0.5, 1.5, np.nan]])
        got_logit = logit(p)
    np.testing.assert_allclose(got_s, special.expit(x), rtol=1e-13, atol=1e-300)  # subnormals
    np.testing.assert_allclose(got_l, special.log_expit(x), rtol=1e-13, atol=0)
    np.testing.assert_allclose(got_logit, special.logit(p), rtol=1e-12, atol=1e-15)
    assert isinstance(sigmoid(0.0), float) and sigmoid(0.0) == 0.5
    assert sigmoid(np.float32(2.0)).dtype == np.float32


@pytest.mark.parametrize("seed", range(40))
def test_dense_strong_connectivity_equals_csgraph(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 30))
    m = int(rng.integers(1, 3 * n))
    src, dst = rng.integers(0, n, m), rng.integers(0, n, m)
    graph = sparse.csr_matrix((np.ones(m), (src, dst)), shape=(n, n))
    n_strong, _ = csgraph.connected_components(graph, directed=True, connection="strong")
    assert _strongly_connected_dense(n, src, dst) == (n_strong == 1)


def test_diagnose_names_an_undefeated_item_on_either_path() -> None:
    items = ["a", "b", "c"]
    i, j = np.array([0, 1]), np.array([1, 2])  # a beat b, b beat c: a never lost, c never won
    report = diagnose(items, i, j, np.array([1.0, 1.0]), np.zeros(2), np.zeros(2))
    assert not report.strongly_connected and report.undefeated == ["a"]
    assert report.winless == ["c"]
    cycle = diagnose(items, np.array([0, 1, 2]), np.array([1, 2, 0]),
                     np.ones(3), np.zeros(3), np.zeros(3))
    assert cycle.ok and cycle.n_components == 1
