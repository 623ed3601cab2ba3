"""Prompt–response features (``RewardModel(inputs=...)``): a head on [E(x), E(p) ⊙ E(x)]
(``relevance``) or on [E(pack(p, x)), cos(E(p), E(x))] (``packed+cosine``, the default) learns
which response answers its prompt; a head on packed-text embeddings of an additive encoder cannot
(the prompt cancels in the difference)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from prefkit import PreferenceDataset
from prefkit.encode.relevance import (
    INPUTS,
    candidate_features,
    prompt_cosine,
    relevance_features,
)
from prefkit.errors import DataError

torch = pytest.importorskip("torch")
from prefkit.evaluate import evaluate  # noqa: E402
from prefkit.reward import RewardModel  # noqa: E402


class BagOfWords:
    """E(text) = Σ of its whitespace tokens' vectors: additive, so for a packed text
    E(p + x) = E(p) + E(x), and E(p + a) − E(p + b) = E(a) − E(b) does not depend on p."""

    id = "bag-of-words"

    def __init__(self, vectors: dict[str, np.ndarray]) -> None:
        self.vectors = vectors
        self.dim = len(next(iter(vectors.values())))
        self.calls = 0

    def encode(self, texts):
        self.calls += 1
        return np.stack(
            [np.sum([self.vectors[w] for w in t.split()], axis=0) for t in texts]
        ).astype(np.float32)


def _relevance_world(n_topics=6, per_topic=12, dim=16, n_pairs=3000, seed=0):
    """Each response is on one topic; a pair holds responses on two topics and a prompt on one of
    them, and the on-topic response wins (P = 0.95).  Every response wins about half its pairs, so
    no reward of the response alone beats chance."""
    rng = np.random.default_rng(seed)
    topics, _ = np.linalg.qr(rng.normal(size=(dim, n_topics)))
    vectors = {"please": rng.normal(size=dim) * 0.3}
    topic_of = {}
    for k in range(n_topics):
        vectors[f"topic{k}"] = topics[:, k] * 2
        for j in range(per_topic):
            name = f"resp{k}_{j}"
            vectors[name] = topics[:, k] * 2 + rng.normal(size=dim) * 0.3
            topic_of[name] = k
    names = sorted(topic_of)
    rows = []
    for _ in range(n_pairs):
        a, b = rng.choice(names, 2, replace=False)
        while topic_of[a] == topic_of[b]:
            b = rng.choice(names)
        k = topic_of[a] if rng.random() < 0.5 else topic_of[b]
        on_topic_a = topic_of[a] == k
        a_wins = on_topic_a if rng.random() < 0.95 else not on_topic_a
        rows.append({"prompt": f"topic{k} please", "a_text": str(a), "b_text": str(b),
                     "winner": "a" if a_wins else "b"})
    return PreferenceDataset.from_records(rows), BagOfWords(vectors)


def test_relevance_head_learns_what_packed_differences_cannot():
    ds, enc = _relevance_world()
    train, test = ds.split(test_size=0.3, seed=1)
    acc = {}
    for inputs in INPUTS:
        model = RewardModel(enc, "linear", inputs=inputs, epochs=300).fit(train)
        acc[inputs] = evaluate(model, test)["accuracy"]
    assert acc["relevance"] >= 0.85
    assert acc["packed+relevance"] >= 0.85
    assert acc["packed+cosine"] >= 0.85
    assert acc["packed"] <= 0.6  # the prompt cancels: chance
    # the same responses swap rank when the prompt changes
    for inputs in ("relevance", "packed+cosine"):
        rel = RewardModel(enc, "linear", inputs=inputs, epochs=300).fit(train)
        r = rel.reward_texts(["topic0 please", "topic1 please"], ["resp0_0", "resp0_0"])
        r_other = rel.reward_texts(["topic0 please", "topic1 please"], ["resp1_0", "resp1_0"])
        assert r[0] > r_other[0] and r[1] < r_other[1]


def test_cosine_head_puts_a_positive_weight_on_the_cosine():
    ds, enc = _relevance_world(n_pairs=1000)
    model = RewardModel(enc, "linear", inputs="packed+cosine", epochs=300).fit(ds)
    weights = model.head.state()["weights.0"].numpy().ravel()
    assert weights[-1] > 0.5 * np.abs(weights[:-1]).max()  # the last feature is the cosine


def test_prompt_cosine_formula():
    p = np.array([[1.0, 0.0], [0.0, 0.0], [3.0, 4.0]], dtype=np.float32)
    x = np.array([[1.0, 1.0], [2.0, 2.0], [-3.0, -4.0]], dtype=np.float32)
    np.testing.assert_allclose(prompt_cosine(p, x)[:, 0], [1 / np.sqrt(2), 0.0, -1.0], atol=1e-6)
    assert prompt_cosine(None, x).shape == (3, 1) and not prompt_cosine(None, x).any()
    with pytest.raises(DataError):
        prompt_cosine(p[:1], x)
    enc = BagOfWords({"q": np.array([1.0, 0.0]), "y": np.array([2.0, 3.0])})
    phi = candidate_features(enc, ["q", None, ""], ["y", "y", "y"], "packed+cosine")
    # packed (q + y), then cos(q, y); no prompt (None or empty): 0
    np.testing.assert_allclose(phi[:, -1], [2 / np.sqrt(13), 0.0, 0.0], atol=1e-6)
    np.testing.assert_array_equal(phi[0, :2], [3, 3])
    np.testing.assert_array_equal(phi[1, :2], [2, 3])


def test_relevance_features_formula():
    p = np.array([[1.0, 2.0], [0.5, -1.0]], dtype=np.float32)
    x = np.array([[3.0, 4.0], [2.0, 2.0]], dtype=np.float32)
    np.testing.assert_array_equal(
        relevance_features(p, x), [[3, 4, 3, 8], [2, 2, 1, -2]]
    )
    np.testing.assert_array_equal(relevance_features(None, x)[:, 2:], 0)
    with pytest.raises(DataError):
        relevance_features(p[:1], x)
    enc = BagOfWords({"q": np.array([1.0, 0.0]), "y": np.array([2.0, 3.0])})
    phi = candidate_features(enc, ["q", None, ""], ["y", "y", "y"], "packed+relevance")
    # packed (q + y), then y, then q ⊙ y; no prompt (None or empty): the product block is 0
    np.testing.assert_array_equal(phi[0], [3, 3, 2, 3, 2, 0])
    np.testing.assert_array_equal(phi[1], [2, 3, 2, 3, 0, 0])
    np.testing.assert_array_equal(phi[2], phi[1])
    with pytest.raises(DataError):
        candidate_features(enc, ["q"], ["y"], "bag")
    with pytest.raises(DataError):
        RewardModel(enc, inputs="bag")


def test_default_inputs_add_the_cosine_and_relevance_doubles_the_features():
    ds, enc = _relevance_world(n_pairs=300)
    model = RewardModel(enc, "linear", epochs=30)
    assert model.inputs == "packed+cosine" and model.features(ds).dim == enc.dim + 1
    assert RewardModel(enc, inputs="packed").features(ds).dim == enc.dim
    assert RewardModel(enc, inputs="relevance").features(ds).dim == 2 * enc.dim
    assert RewardModel(enc, inputs="packed+relevance").features(ds).dim == 3 * enc.dim


def test_cosine_without_prompts_is_zero_and_encodes_nothing_more():
    ds, enc = _relevance_world(n_pairs=50)
    ds = ds.replace(ds.table.drop_columns(["prompt"]))
    enc.calls = 0
    feats = RewardModel(enc).features(ds)
    assert enc.calls == 1  # the packed texts only
    assert not feats.xa[:, -1].any() and not feats.xb[:, -1].any()
    np.testing.assert_array_equal(
        feats.xa[:, :-1], RewardModel(enc, inputs="packed").features(ds).xa
    )


def test_inputs_survive_save_and_old_files_load_as_packed(tmp_path):
    ds, enc = _relevance_world(n_pairs=300)
    model = RewardModel(enc, "linear", inputs="relevance", epochs=30).fit(ds)
    model.save(tmp_path / "m")
    again = RewardModel.load(tmp_path / "m", encoder=enc)
    assert again.inputs == "relevance"
    np.testing.assert_array_equal(again.predict_proba(ds), model.predict_proba(ds))
    packed = RewardModel(enc, "linear", inputs="packed", epochs=30).fit(ds)
    old_dir = tmp_path / "p"  # a 0.1 directory written before the option existed
    old_dir.mkdir()
    from safetensors.torch import save_file

    save_file(packed.head.state(), str(old_dir / "head.safetensors"))
    config = {"type": "RewardModel", "format": 2, "head": "linear",
              "head_config": packed.head.config(), "encoder": {"id": enc.id, "path": None}}
    (old_dir / "config.json").write_text(json.dumps(config))
    old = RewardModel.load(old_dir, encoder=enc)
    assert old.inputs == "packed"
    np.testing.assert_array_equal(old.predict_proba(ds), packed.predict_proba(ds))
