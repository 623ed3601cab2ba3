"""Reward-side seed methods on frozen features (seed rows 2, 6, 9, 15, 16, 17): the regression
reward model and scaled BT (parity with scikit-learn), MORE's min-norm weights (closed form and a
generic solver), HERON labels, reward-augmented relabelling, conditional-training tags and the
R³ relevance reward."""

from __future__ import annotations

import numpy as np
import pytest

from prefkit import PreferenceDataset
from prefkit.errors import DataError
from prefkit.reward import (
    MORERewardModel,
    RegressionRewardModel,
    RelevanceReward,
    conditional_records,
    goal_prompt,
    heron_compare,
    heron_labels,
    min_norm_weights,
    reward_augmented_pairs,
    scaled_bt_pairs,
)
from prefkit.reward.relevance_reward import repetition_rate


class WordVectors:
    """A stand-in encoder: the sum of fixed random vectors of the words of a text."""

    id = "word-vectors"

    def __init__(self, dim: int = 8, seed: int = 0) -> None:
        self.dim, self.seed, self.table = dim, seed, {}

    def vector(self, word: str) -> np.ndarray:
        if word not in self.table:
            rng = np.random.default_rng([self.seed, sum(map(ord, word)), len(word)])
            self.table[word] = rng.normal(size=self.dim)
        return self.table[word]

    def encode(self, texts: list[str]) -> np.ndarray:
        return np.stack([sum((self.vector(w) for w in t.split()), np.zeros(self.dim))
                         for t in texts]).astype(np.float32)


WORDS = [f"w{i}" for i in range(8)]


def _ratings(n: int, seed: int, w: np.ndarray, noise: float = 0.1) -> PreferenceDataset:
    """Texts of one word each with rating w·E(word) + noise, four responses per prompt."""
    rng = np.random.default_rng(seed)
    enc = WordVectors()
    rows = []
    for k in range(n // 4):
        for word in rng.choice(WORDS, 4, replace=False):
            y = float(enc.vector(str(word)) @ w + noise * rng.normal())
            rows.append({"prompt": f"p{k}", "text": str(word), "scores": {"overall": y}})
    return PreferenceDataset.from_records(rows)


def test_regression_is_ridge_and_scaled_bt_is_weighted_logistic_regression() -> None:
    from sklearn.linear_model import LogisticRegression, Ridge

    w_true = np.random.default_rng(1).normal(size=8)
    ratings = _ratings(200, 0, w_true)
    model = RegressionRewardModel(WordVectors(), alpha=0.5).fit(ratings)
    x = model.text_features(list(ratings.column("prompt")), list(ratings.column("text")))
    y = np.array([dict(m)["overall"] for m in ratings.column("scores")])
    ridge = Ridge(alpha=0.5).fit(x, y)
    np.testing.assert_allclose(model.weights_, ridge.coef_, atol=1e-8)
    assert model.intercept_ == pytest.approx(ridge.intercept_, abs=1e-8)

    pairs = scaled_bt_pairs(ratings)
    rec = pairs.to_records()[0]
    first = [i for i, p in enumerate(ratings.column("prompt")) if p == rec["prompt"]][:2]
    gap = y[first[0]] - y[first[1]]
    assert rec["weight"] == pytest.approx(abs(gap)) and rec["winner"] == ("a" if gap > 0 else "b")

    model.calibrate(pairs)
    assert model.scale_ > 0
    start = model.weights_ * model.scale_
    short = RegressionRewardModel(WordVectors(), alpha=0.5).fit(ratings).calibrate(pairs)
    short.refine_scaled_bt(pairs, max_iter=0)  # no steps: the regression solution, rescaled
    np.testing.assert_allclose(short.weights_, start, atol=1e-12)
    model.refine_scaled_bt(pairs, l2=2.0, max_iter=500)
    assert model.objective_ == "scaled_bt" and model.scale_ == 1.0
    d = model.pair_difference(pairs)
    flip = np.arange(len(d)) % 2 == 1
    labels = np.where(flip, 0, 1)
    target = np.where(pairs.outcomes() > 0.5, 1.0, -1.0)
    xs = d * target[:, None] * np.where(flip, -1.0, 1.0)[:, None]
    lr = LogisticRegression(C=1 / 2.0, fit_intercept=False, tol=1e-12, max_iter=10_000)
    lr.fit(xs, labels, sample_weight=pairs.weights())
    np.testing.assert_allclose(model.weights_, lr.coef_[0], atol=2e-4)
    held_out = scaled_bt_pairs(_ratings(120, 5, w_true))
    p = model.predict_proba(held_out)
    assert float(np.mean((p > 0.5) == (held_out.outcomes() > 0.5))) > 0.9
    with pytest.raises(DataError, match="no score 'helpfulness'"):
        RegressionRewardModel(WordVectors(), attribute="helpfulness").fit(ratings)


def test_min_norm_weights_closed_form_and_generic_solver() -> None:
    from scipy.optimize import minimize

    g = np.array([[1.0, 0.0], [0.0, 2.0]])
    # two gradients: λ = (g2 − g1)·g2 / ‖g1 − g2‖² = 4/5
    np.testing.assert_allclose(min_norm_weights(g), [0.8, 0.2], atol=1e-12)
    np.testing.assert_allclose(min_norm_weights(g[:1]), [1.0])
    rng = np.random.default_rng(3)
    for t in (3, 5):
        grads = rng.normal(size=(t, 4))
        lam = min_norm_weights(grads, max_iter=5000, tol=1e-14)
        assert lam.min() >= 0 and lam.sum() == pytest.approx(1.0)
        res = minimize(lambda v, g=grads: float(np.sum((v @ g) ** 2)), np.full(t, 1 / t),
                       method="SLSQP", bounds=[(0, 1)] * t,
                       constraints=[{"type": "eq", "fun": lambda v: v.sum() - 1}],
                       options={"ftol": 1e-14, "maxiter": 1000})
        assert float(np.sum((lam @ grads) ** 2)) == pytest.approx(res.fun, abs=1e-6)


def _grouped(n: int, seed: int) -> PreferenceDataset:
    """Two sources that agree on w0 and disagree on w1 (both words carry both directions)."""
    rng = np.random.default_rng(seed)
    enc = WordVectors()
    rows = []
    for _ in range(n):
        a, b = rng.choice(WORDS, 2, replace=False)
        src = "s0" if rng.random() < 0.75 else "s1"
        w = np.array([1.0, 1.0 if src == "s0" else -1.0, 0, 0, 0, 0, 0, 0])
        gap = (enc.vector(str(a)) - enc.vector(str(b))) @ w
        won = rng.random() < 1 / (1 + np.exp(-gap))
        rows.append({"a_text": str(a), "b_text": str(b), "winner": "a" if won else "b",
                     "source": src})
    return PreferenceDataset.from_records(rows)


def test_more_with_one_group_is_plain_bt_and_weights_groups() -> None:
    from sklearn.linear_model import LogisticRegression

    data = _grouped(300, 0)
    one = MORERewardModel(WordVectors(), group="none", weighting="pooled", epochs=600, lr=0.05,
                          l2=0.01).fit(data)
    d = one.pair_difference(data)
    y = (data.outcomes() > 0.5).astype(int)
    lr = LogisticRegression(C=1 / (0.01 * len(d)), fit_intercept=False, tol=1e-12,
                            max_iter=10_000).fit(d, y)
    np.testing.assert_allclose(one.weights_, lr.coef_[0], atol=5e-3)
    more = MORERewardModel(WordVectors(), epochs=100).fit(data)
    assert more.groups_ == ["s0", "s1"]
    assert more.group_weights_.sum() == pytest.approx(1.0) and more.group_weights_.min() >= 0
    unsourced = PreferenceDataset.from_records(
        [{k: r[k] for k in ("a_text", "b_text", "winner")} for r in data.to_records()])
    with pytest.raises(DataError, match="source"):
        MORERewardModel(WordVectors()).fit(unsourced)


@pytest.mark.filterwarnings("ignore:items never lost")
def test_heron_compares_the_most_important_factor_first() -> None:
    fa = np.array([[3.0, 0.0], [1.0, 5.0], [1.0, 1.0], [2.0, 2.0]])
    fb = np.array([[1.0, 9.0], [1.05, 1.0], [1.0, 4.0], [2.0, 2.05]])
    np.testing.assert_array_equal(heron_compare(fa, fb, margins=[0.1, 0.1]), [1, 1, -1, 0])
    cost_second = heron_compare(fa, fb, margins=0.1, higher_is_better=[True, False])
    np.testing.assert_array_equal(cost_second, [1, -1, 1, 0])
    # BT on HERON labels of items (f1 coarse, f2 fine) recovers the lexicographic order
    from prefkit.choice import BradleyTerry

    rng = np.random.default_rng(0)
    items = {f"i{k}": (float(k // 3), float(rng.normal())) for k in range(9)}
    names = list(items)
    rows = []
    for _ in range(1500):
        a, b = rng.choice(names, 2, replace=False)
        rows.append({"a": a, "b": b, "a_f1": items[a][0], "b_f1": items[b][0],
                     "a_f2": items[a][1], "b_f2": items[b][1], "winner": "tie"})
    labelled = heron_labels(PreferenceDataset.from_records(rows), ["f1", "f2"], [0.5, 0.0])
    assert set(labelled.column("winner")) == {"a", "b"}
    bt = BradleyTerry().fit(labelled)
    fitted = dict(zip(bt.items_, bt.ratings_, strict=True))
    assert sorted(names, key=fitted.get) == sorted(names, key=items.get)
    with pytest.raises(DataError, match="a_f3"):
        heron_labels(PreferenceDataset.from_records(rows), ["f3"])


def test_reward_augmented_relabelling() -> None:
    rows = [{"prompt": "q1", "a_text": "A", "b_text": "B", "winner": "b", "a_reward": 3.0,
             "b_reward": 8.0},
            {"prompt": "q2", "a_text": "C", "b_text": "D", "winner": "a", "a_reward": 5.0,
             "b_reward": 5.0},
            {"prompt": "q3", "a_text": "E", "b_text": "F", "winner": "tie", "a_reward": 1.0,
             "b_reward": 2.0}]
    out = reward_augmented_pairs(PreferenceDataset.from_records(rows)).to_records()
    got = [(r["prompt"], r["a_text"], r["winner"]) for r in out]
    assert got == [(goal_prompt("q1", 8.0), "A", "b"), (goal_prompt("q1", 3.0), "A", "a"),
                   (goal_prompt("q2", 5.0), "C", "a")]
    assert "8" in goal_prompt("q1", 8.0) and goal_prompt("q1", 8.0).startswith("q1")
    with pytest.raises(DataError, match="a_reward"):
        reward_augmented_pairs(PreferenceDataset.from_records(
            [{"a_text": "A", "b_text": "B", "winner": "a"}]))


def test_conditional_records_tag_by_threshold_or_label() -> None:
    ratings = PreferenceDataset.from_records(
        [{"prompt": "q", "text": t, "scores": {"overall": s}} for t, s in
         (("x", 1.0), ("y", 4.0), ("z", 3.0))])
    tags = [r["tag"] for r in conditional_records(ratings, threshold=3.0)]
    assert tags == ["<|bad|>", "<|good|>", "<|good|>"]
    assert conditional_records(ratings, threshold=3.0)[0]["prompt"] == "<|bad|> q"
    pairs = PreferenceDataset.from_records([{"prompt": "q", "a_text": "x", "b_text": "y",
                                             "winner": "b"}])
    assert [r["tag"] for r in conditional_records(pairs)] == ["<|bad|>", "<|good|>"]


def test_relevance_reward_prefers_on_topic_over_long_off_topic() -> None:
    enc = WordVectors(dim=64)
    bare = RelevanceReward(enc, length_weight=0.0, repetition_weight=0.0)
    from prefkit.encode.relevance import prompt_cosine

    p, y = "cats purr softly", "cats purr"
    expected = prompt_cosine(enc.encode([p]), enc.encode([y]))[0, 0]
    assert bare.reward_texts([p], [y])[0] == pytest.approx(float(expected), abs=1e-6)
    assert repetition_rate("a b a b a b") == pytest.approx(1 - 2 / 5)
    r3 = RelevanceReward(enc, length_weight=0.1, target_length=10, repetition_weight=0.5)
    on_topic = "cats purr softly indeed"
    off_topic = " ".join(f"stock{k} market{k}" for k in range(30))
    looping = "cats purr cats purr cats purr cats purr"
    r = r3.reward_texts([p] * 3, [on_topic, off_topic, looping])
    assert r[0] > r[1] and r[0] > r[2]
    # the length term saturates: doubling a long text (no prompt) changes only the repetition
    doubled = off_topic + " " + off_topic
    change = r3.reward_texts([None], [doubled])[0] - r3.reward_texts([None], [off_topic])[0]
    assert change == pytest.approx(
        -0.5 * (repetition_rate(doubled) - repetition_rate(off_topic)), abs=1e-9)


def _noisy_pairs(n: int, seed: int, flip: float) -> tuple[PreferenceDataset, np.ndarray]:
    """Noise-free linear labels on word vectors, then a share ``flip`` flipped (and which)."""
    rng = np.random.default_rng(seed)
    enc = WordVectors()
    w = np.random.default_rng(99).normal(size=8) * 3.0
    rows, flipped = [], []
    for _ in range(n):
        a, b = (str(v) for v in rng.choice(WORDS, 2, replace=False))
        won = (enc.vector(a) - enc.vector(b)) @ w > 0
        flipped.append(bool(rng.random() < flip))
        won = won != flipped[-1]
        rows.append({"a_text": a, "b_text": b, "winner": "a" if won else "b"})
    return PreferenceDataset.from_records(rows), np.array(flipped)


def test_crm_without_dropping_is_plain_bt_and_co_teaching_drops_flipped_pairs() -> None:
    from prefkit.reward import CRMRewardModel

    clean, _ = _noisy_pairs(400, 1, 0.0)
    plain = MORERewardModel(WordVectors(), group="none", weighting="pooled", epochs=500,
                            lr=0.05, l2=0.05).fit(clean)
    zero = CRMRewardModel(WordVectors(), noise_rate=0.0, epochs=500, l2=0.05, seed=0).fit(clean)
    # τ = 0: both heads see every pair — the same optimum as plain BT, from other starting points
    np.testing.assert_allclose(zero.weights_a_, zero.weights_b_, atol=0.01)
    cos = float(zero.weights_ @ plain.weights_ / np.linalg.norm(zero.weights_)
                / np.linalg.norm(plain.weights_))
    assert cos > 0.999
    noisy, flipped = _noisy_pairs(600, 2, 0.3)
    crm = CRMRewardModel(WordVectors(), noise_rate=0.3, ramp=50, epochs=300).fit(noisy)
    # the pairs the heads drop for each other are mostly the flipped ones (30 % of all pairs)
    assert flipped[crm.dropped_].mean() > 0.8
    test, _ = _noisy_pairs(400, 3, 0.0)
    assert float(np.mean((crm.predict_proba(test) > 0.5) == (test.outcomes() > 0.5))) > 0.9


def test_few_shot_pairs_serialise_the_users_other_pairs() -> None:
    from prefkit.reward import few_shot_pairs, few_shot_prompt

    rows = [{"user_id": u, "prompt": f"q{k}", "a_text": f"A{k}", "b_text": f"B{k}",
             "winner": "a" if k % 2 else "b"} for k, u in enumerate("xxxyy")]
    rows.append({"user_id": "y", "prompt": "q5", "a_text": "A5", "b_text": "B5",
                 "winner": "tie"})
    out = few_shot_pairs(PreferenceDataset.from_records(rows), k=1, seed=0).to_records()
    assert len(out) == 5  # the tie is dropped
    for rec in out:
        k = int(rec["a_text"][1:])
        assert rec["prompt"].endswith(f"q{k}")
        assert f"prompt: q{k} " not in rec["prompt"]  # never its own pair
        assert rec["prompt"].count("[") == 1  # k = 1 example
        same_user = {j for j, u in enumerate("xxxyy") if u == rec["user_id"] and j != k}
        shown = {j for j in range(5) if f"prompt: q{j} " in rec["prompt"]}
        assert shown <= same_user and len(shown) == 1
        j = shown.pop()  # the example's preferred side follows its label
        win, lose = (f"A{j}", f"B{j}") if j % 2 else (f"B{j}", f"A{j}")
        assert f"preferred: {win} / not preferred: {lose}" in rec["prompt"]
    assert few_shot_prompt("q", [{"prompt": "p", "chosen": "B0", "rejected": "A0"}]) == (
        "Preferences of this user:\n[1] prompt: p / preferred: B0 / not preferred: A0\n\n"
        "Now answer:\nq")
    with pytest.raises(DataError, match="user_id"):
        few_shot_pairs(PreferenceDataset.from_records([{k: v for k, v in r.items()
                                                        if k != "user_id"} for r in rows]))
