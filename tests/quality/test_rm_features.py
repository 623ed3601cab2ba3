"""The stronger flip-detection reward model: style and item columns beside the embeddings."""

from __future__ import annotations

import numpy as np
import pytest

from prefkit import PreferenceDataset

pytest.importorskip("torch")
from prefkit.quality.rm_features import augment_features, style_matrix
from prefkit.quality.rm_flips import detect_flips_rm
from prefkit.reward.features import PairFeatures

MODELS = ("m0", "m1", "m2", "m3", "m4", "m5")


def _world(n: int, flip_rate: float, seed: int):
    """Preferences driven by the writing model's strength and the answer's length only;
    the "embedding" is noise, so an embedding-only reward model cannot see either."""
    rng = np.random.default_rng(seed)
    theta = np.linspace(-1.5, 1.5, len(MODELS))
    a, b = rng.integers(0, len(MODELS), n), rng.integers(0, len(MODELS), n)
    b = np.where(a == b, (b + 1) % len(MODELS), b)
    la, lb = rng.integers(2, 60, n), rng.integers(2, 60, n)
    gap = theta[a] - theta[b] + 1.2 * (np.log1p(la) - np.log1p(lb))
    clean = rng.random(n) < 1 / (1 + np.exp(-3 * gap))
    flipped = rng.random(n) < flip_rate
    winner = np.where(clean ^ flipped, "a", "b")
    records = [{"pair_id": str(i), "prompt": f"q{i % 97}", "a": MODELS[a[i]], "b": MODELS[b[i]],
                "a_text": " ".join(["word"] * int(la[i])), "b_text": " ".join(["x"] * int(lb[i])),
                "winner": str(winner[i])} for i in range(n)]
    ds = PreferenceDataset.from_records(records)
    feats = PairFeatures(rng.normal(size=(n, 4)).astype(np.float32),
                         rng.normal(size=(n, 4)).astype(np.float32))
    return ds, feats, flipped


def test_item_and_style_columns_are_built_as_documented():
    ds, feats, _ = _world(120, 0.0, seed=0)
    aug = augment_features(ds, feats)
    style = style_matrix(list(ds.column("a_text")), list(ds.column("prompt")))
    assert aug.xa.shape[1] == 4 + style.shape[1] + len(MODELS)
    np.testing.assert_allclose(aug.xa[:, :4], feats.xa)
    onehot = aug.xa[:, -len(MODELS):]
    assert (onehot.sum(axis=1) == 1).all()
    assert [MODELS[k] for k in onehot.argmax(axis=1)] == [str(v) for v in ds.column("a")]
    both = np.vstack([aug.xa[:, 4:-len(MODELS)], aug.xb[:, 4:-len(MODELS)]])
    used = both.std(axis=0) > 0
    np.testing.assert_allclose(both.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(both.std(axis=0)[used], 1.0, rtol=1e-4)
    # the length column is log1p(tokens), standardized: it orders the answers by length
    lengths = np.array([len(t.split()) for t in ds.column("a_text")])
    assert np.corrcoef(aug.xa[:, 4], np.log1p(lengths))[0, 1] > 0.999
    # no usable ids (ids equal to the texts), no texts: those parts are left out
    same = PreferenceDataset.from_records([{"a": "u v", "b": "w", "a_text": "u v", "b_text": "w",
                                            "winner": "a"}] * 3)
    assert augment_features(same, PairFeatures(np.zeros((3, 2)), np.zeros((3, 2))),
                            style=False).xa.shape == (3, 2)


def test_style_and_items_make_the_flip_detector_see_what_the_embedding_misses():
    ds, feats, flipped = _world(400, 0.15, seed=2)
    weak = detect_flips_rm(ds, features=feats, n_folds=3, members=2, epochs=100, seed=0)
    strong = detect_flips_rm(ds, features=augment_features(ds, feats), n_folds=3, members=2,
                             epochs=100, seed=0)
    assert weak.crossfit_accuracy < 0.55 and strong.crossfit_accuracy > 0.65
    flagged = strong.flagged()
    precision = (flagged & flipped).sum() / max(flagged.sum(), 1)
    assert precision > 0.5 and flagged.sum() > 0.3 * flipped.sum()  # chance precision 0.15
    lo, hi = strong.flip_rate_interval
    assert lo - 0.03 <= flipped.mean() <= hi + 0.03
