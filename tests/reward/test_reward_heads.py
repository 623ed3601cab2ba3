"""Reward heads on frozen embeddings: recovery of a known reward, cycles, ties, ensembles,
multi-objective gating, persistence."""

from __future__ import annotations

import numpy as np
import pytest

from prefkit import PreferenceDataset
from prefkit.data.simulate import simulate_cycles
from prefkit.errors import DataError, ModelFileError, NotFittedError

torch = pytest.importorskip("torch")
from prefkit.evaluate import evaluate  # noqa: E402
from prefkit.reward import EnsembleHead, PairFeatures, RewardModel  # noqa: E402

SEP = "\n\n"


class TableEncoder:
    """A stand-in encoder: each candidate text (after the packing separator) maps to a vector."""

    def __init__(self, vectors: dict[str, np.ndarray]) -> None:
        self.vectors = vectors
        self.id = "table"
        self.calls = 0

    @property
    def dim(self) -> int:
        return len(next(iter(self.vectors.values())))

    def encode(self, texts):
        self.calls += 1
        return np.stack([self.vectors[t.split(SEP)[-1]] for t in texts]).astype(np.float32)


def _linear_world(n_items=60, dim=12, n_pairs=4000, seed=0, tie_band=0.0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_items, dim))
    w = rng.normal(size=dim)
    reward = x @ w
    a = rng.integers(0, n_items, n_pairs)
    b = (a + rng.integers(1, n_items, n_pairs)) % n_items
    gap = reward[a] - reward[b]
    win = rng.random(n_pairs) < 1 / (1 + np.exp(-gap))
    tie = rng.random(n_pairs) < tie_band
    names = [f"r{i}" for i in range(n_items)]
    ds = PreferenceDataset.from_records(
        [
            {"a": names[i], "b": names[j], "winner": "tie" if t else ("a" if v else "b")}
            for i, j, v, t in zip(a, b, win, tie, strict=True)
        ]
    )
    return ds, TableEncoder(dict(zip(names, x, strict=True))), reward, names


def _probe(names):
    return PreferenceDataset.from_records(
        [{"a": n, "b": names[0], "winner": "a"} for n in names[1:]]
    )


def test_linear_head_recovers_a_known_reward():
    ds, enc, reward, names = _linear_world()
    train, test = ds.split(test_size=0.25, seed=1)
    model = RewardModel(enc, "linear", epochs=300).fit(train)
    assert model.loss_curve_[-1] < model.loss_curve_[0]
    codes = {n: k for k, n in enumerate(names)}
    ia = [codes[n] for n in test.column("a")]
    ib = [codes[n] for n in test.column("b")]
    true_p = 1 / (1 + np.exp(-(reward[ia] - reward[ib])))
    assert np.corrcoef(model.predict_proba(test), true_p)[0, 1] > 0.98
    ra = model.reward(_probe(names))[:, 0]
    assert np.corrcoef(ra, reward[1:])[0, 1] > 0.98
    # the fitted rewards are on the true scale (BT is identified up to a constant)
    slope = np.polyfit(reward[1:], ra, 1)[0]
    assert 0.8 < slope < 1.2


def test_fits_are_deterministic_with_a_seed():
    ds, enc, _, _ = _linear_world(n_pairs=600)
    p1 = RewardModel(enc, "mlp", hidden=16, epochs=40, seed=3).fit(ds).predict_proba(ds)
    p2 = RewardModel(enc, "mlp", hidden=16, epochs=40, seed=3).fit(ds).predict_proba(ds)
    p3 = RewardModel(enc, "mlp", hidden=16, epochs=40, seed=4).fit(ds).predict_proba(ds)
    np.testing.assert_array_equal(p1, p2)
    assert not np.allclose(p1, p3)


def test_minibatch_training_matches_full_batch_quality():
    ds, enc, reward, names = _linear_world(n_pairs=3000)
    model = RewardModel(enc, "linear", epochs=20, batch_size=256, lr=0.02).fit(ds)
    ra = model.reward(_probe(names))[:, 0]
    assert np.corrcoef(ra, reward[1:])[0, 1] > 0.97


def test_minibatch_fits_stop_on_a_loss_plateau():
    from prefkit.reward._train import PATIENCE, plateau

    assert plateau([1.0, 0.5, 0.4999, 0.5001], tol=1e-3)  # two passes without a 0.1 % gain
    assert not plateau([1.0, 0.5, 0.49, 0.4999], tol=1e-3)  # 0.49 beat 0.5 by 2 %
    assert not plateau([1.0, 0.5, 0.5, 0.5], tol=0.0)  # tol=0: every pass runs
    assert not plateau([1.0] * PATIENCE, tol=1e-3)  # too short to judge
    ds, enc, reward, names = _linear_world(n_pairs=2000)
    early = RewardModel(enc, "linear", epochs=150, batch_size=250, lr=0.02).fit(ds)
    full = RewardModel(enc, "linear", epochs=150, batch_size=250, lr=0.02, tol=0.0).fit(ds)
    assert len(full.loss_curve_) == 150
    assert len(early.loss_curve_) < 100
    assert early.loss_curve_[-1] < full.loss_curve_[-1] * 1.01  # the plateau was reached
    ra = early.reward(_probe(names))[:, 0]
    assert np.corrcoef(ra, reward[1:])[0, 1] > 0.97


def test_heads_share_one_set_of_training_options():
    from prefkit.reward import TrainOptions, make_head

    for name in ("linear", "mlp", "ensemble", "gpm"):
        head = make_head(name, epochs=7, batch_size=32, seed=3, tol=0.0)
        opts = TrainOptions.of(head.params)
        assert (opts.epochs, opts.batch_size, opts.seed, opts.tol) == (7, 32, 3, 0.0)
        assert list(head.params).count("epochs") == 1
    assert TrainOptions.of(make_head("mlp").params).lr == 0.01  # the MLP's own default
    assert TrainOptions.of(make_head("linear").params) == TrainOptions()
    # a RewardModel chooses the decay from the data by default (regularization.py)
    assert RewardModel(head="linear").head.params["weight_decay"] == "auto"
    with pytest.raises(DataError):
        make_head("linear", epoch=3)  # a misspelt option is still an error


def test_gpm_fits_cycles_that_bradley_terry_cannot():
    sim = simulate_cycles(n_items=9, n_comparisons=4000, strength=3.0, seed=0)
    items = sim.truth["items"]
    enc = TableEncoder({name: np.eye(len(items))[k] for k, name in enumerate(items)})
    P = np.asarray(sim.truth["P"])
    pairs = [
        (i, j)
        for i in range(len(items))
        for j in range(len(items))
        if i < j and abs(P[i, j] - 0.5) > 0.05
    ]
    probe = PreferenceDataset.from_records(
        [{"a": items[i], "b": items[j], "winner": "a"} for i, j in pairs]
    )
    truth = np.array([P[i, j] > 0.5 for i, j in pairs])
    agree = {}
    for head in ("gpm", "linear"):
        options = {"k": 2} if head == "gpm" else {}
        model = RewardModel(enc, head, epochs=400, weight_decay=0.0, **options).fit(sim.dataset)
        agree[head] = np.mean((model.predict_proba(probe) > 0.5) == truth)
    assert agree["gpm"] >= 0.95
    assert agree["linear"] <= 0.65
    with pytest.raises(NotImplementedError):
        model = RewardModel(enc, "gpm", k=2, epochs=5).fit(sim.dataset)
        model.reward(probe)


def test_gpm_on_cyclic_random_embeddings():
    """Skew-symmetric ground truth over random embeddings (cycles everywhere): held-out pairs."""
    rng = np.random.default_rng(0)
    n_items, dim = 40, 8
    x = rng.normal(size=(n_items, dim))
    m = rng.normal(size=(dim, dim))
    skew = (m - m.T) * 1.5
    s = x @ skew @ x.T
    a = rng.integers(0, n_items, 6000)
    b = (a + rng.integers(1, n_items, 6000)) % n_items
    win = rng.random(6000) < 1 / (1 + np.exp(-s[a, b]))
    names = [f"i{k}" for k in range(n_items)]
    enc = TableEncoder(dict(zip(names, x, strict=True)))
    ds = PreferenceDataset.from_records(
        [{"a": names[i], "b": names[j], "winner": "a" if v else "b"} for i, j, v in
         zip(a, b, win, strict=True)]
    )
    test = PreferenceDataset.from_records(
        [{"a": names[i], "b": names[j], "winner": "a" if s[i, j] > 0 else "b"}
         for i in range(n_items) for j in range(i + 1, n_items) if abs(s[i, j]) > 0.5]
    )
    gpm = RewardModel(enc, "gpm", k=dim // 2, epochs=500, weight_decay=0.0).fit(ds)
    bt = RewardModel(enc, "linear", epochs=300).fit(ds)
    assert evaluate(gpm, test)["accuracy"] >= 0.95
    assert evaluate(bt, test)["accuracy"] <= 0.65


def test_save_load_round_trip_every_head(tmp_path):
    ds, enc, _, _ = _linear_world(n_pairs=400, tie_band=0.2)
    ds = ds.with_column("a_helpful", np.linspace(0, 1, len(ds)))
    ds = ds.with_column("b_helpful", np.linspace(1, 0, len(ds)))
    for head, options in [
        ("linear", {"ties": True}),
        ("mlp", {"hidden": 8, "layers": 2}),
        ("ensemble", {"members": 3, "hidden": 4, "aggregation": "uwo"}),
        ("multi", {"hidden": 4}),
        ("gpm", {"k": 2, "hidden": 6}),
    ]:
        model = RewardModel(enc, head, epochs=20, **options).fit(ds)
        model.save(tmp_path / head)
        again = RewardModel.load(tmp_path / head, encoder=enc)
        np.testing.assert_array_equal(
            again.predict_outcome_proba(ds), model.predict_outcome_proba(ds)
        )
        if head != "gpm":
            np.testing.assert_array_equal(again.reward(ds), model.reward(ds))
    with pytest.raises(ModelFileError):
        RewardModel.load(tmp_path / "nothing", encoder=enc)
    with pytest.raises(NotFittedError):
        RewardModel(enc).predict_proba(ds)
    with pytest.raises(DataError):
        RewardModel(enc, "linear", k=3)  # an option the head does not have
    assert not any(tmp_path.rglob("*.pkl"))


def test_margin_smoothing_and_centring_change_the_fit():
    ds, enc, _, names = _linear_world(n_pairs=800)
    ds = ds.with_column("margin", np.full(len(ds), 1.0))
    plain = RewardModel(enc, epochs=200).fit(ds)
    p_plain = plain.predict_proba(ds)
    margin = RewardModel(enc, margin=True, epochs=200).fit(ds).predict_proba(ds)
    smooth = RewardModel(enc, label_smoothing=0.4, epochs=200).fit(ds).predict_proba(ds)
    # a margin demands larger reward gaps; smoothing pulls probabilities towards 1/2
    assert np.mean(np.abs(margin - 0.5)) > np.mean(np.abs(p_plain - 0.5))
    assert np.mean(np.abs(smooth - 0.5)) < np.mean(np.abs(p_plain - 0.5))
    # centring: rewards of the training candidates have mean near 0
    shifted = ds  # BT is blind to a constant; without centring the bias drifts freely
    centred = RewardModel(enc, center=0.1, epochs=200).fit(shifted)
    r_all = centred.reward(_probe(names))[:, 0]
    r_plain = plain.reward(_probe(names))[:, 0]
    assert abs(r_all.mean()) < 0.25 * np.abs(r_plain).mean()


def test_soft_labels_are_targets():
    ds, enc, reward, names = _linear_world(n_pairs=500)
    codes = {n: k for k, n in enumerate(names)}
    gap = np.array([reward[codes[a]] - reward[codes[b]] for a, b in
                    zip(ds.column("a"), ds.column("b"), strict=True)])
    p_true = 1 / (1 + np.exp(-gap / 2))
    soft = PreferenceDataset.from_records(
        [{"a": a, "b": b, "p_a": p} for a, b, p in
         zip(ds.column("a"), ds.column("b"), p_true, strict=True)]
    )
    p = RewardModel(enc, epochs=400, weight_decay=0.0).fit(soft).predict_proba(soft)
    assert np.abs(p - p_true).mean() < 0.02  # soft targets are matched, not rounded


def test_davidson_ties():
    ds, enc, _, _ = _linear_world(n_pairs=3000, tie_band=0.3)
    model = RewardModel(enc, "linear", ties=True, epochs=300).fit(ds)
    full = model.predict_outcome_proba(ds)
    np.testing.assert_allclose(full.sum(1), 1.0, atol=1e-9)
    assert abs(full[:, 2].mean() - ds.is_tie().mean()) < 0.05
    report = evaluate(model, ds)
    assert "log_loss_3way" in report
    plain = RewardModel(enc, "linear", epochs=300).fit(ds).predict_outcome_proba(ds)
    assert np.all(plain[:, 2] == 0)


def test_ensemble_aggregation_math():
    ds, enc, _, names = _linear_world(n_pairs=600)
    x = np.stack([enc.vectors[n] for n in names]).astype(np.float32)
    results = {}
    for how in ("mean", "min", "uwo"):
        model = RewardModel(
            enc, "ensemble", inputs="packed", members=4, aggregation=how, lam=0.5, epochs=60,
            seed=1, weight_decay=1e-4,  # a fixed decay: "auto" may choose per aggregation
        ).fit(ds)
        head = model.head
        assert isinstance(head, EnsembleHead)
        r = head.member_rewards(x).numpy().astype(float)
        expected = {
            "mean": r.mean(1),
            "min": r.min(1),
            "uwo": r.mean(1) - 0.5 * r.var(1),
        }[how]
        np.testing.assert_allclose(head.reward(x), expected, rtol=1e-5, atol=1e-6)
        value, spread = head.reward_uncertainty(x)
        np.testing.assert_allclose(value, expected, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(spread, r.std(1), rtol=1e-4, atol=1e-6)
        feats = PairFeatures(x[1:], x[:1].repeat(len(x) - 1, 0))
        p = head.predict_proba(feats)
        np.testing.assert_allclose(p, 1 / (1 + np.exp(-(expected[1:] - expected[0]))), rtol=1e-5)
        results[how] = r
    # members differ (bootstrap + seeds), identical member rewards across aggregations
    assert np.std(results["mean"], axis=1).mean() > 1e-3
    np.testing.assert_array_equal(results["mean"], results["min"])
    u = model.uncertainty(ds)
    assert u.shape == (len(ds),) and (u >= 0).all()


def test_ensemble_members_train_like_single_heads():
    """Training K members together = training each alone (Adam is element-wise)."""
    ds, enc, _, names = _linear_world(n_pairs=300)
    x = np.stack([enc.vectors[n] for n in names]).astype(np.float32)
    ens = RewardModel(
        enc, "ensemble", inputs="packed", members=2, bootstrap=False, epochs=30, seed=5
    ).fit(ds)
    single = RewardModel(enc, "linear", epochs=30, seed=5).fit(ds)
    # member 0 of the stacked init equals a single head's init only in distribution; compare the
    # loss instead: each member reaches the single head's loss
    assert ens.loss_curve_[-1] == pytest.approx(2 * single.loss_curve_[-1], rel=0.05)
    assert ens.head.member_rewards(x).shape == (len(names), 2)


def test_multi_objective_gate_follows_the_prompt():
    rng = np.random.default_rng(0)
    dim, n_resp, n_pairs = 10, 80, 3000
    x = rng.normal(size=(n_resp, dim))
    true_w = rng.normal(size=(2, dim))
    attrs = x @ true_w.T  # two attributes per response
    vectors = {f"y{k}": np.r_[x[k], 0.0, 0.0] for k in range(n_resp)}
    vectors["helpfulness please"] = np.r_[np.zeros(dim), 1.0, 0.0]
    vectors["safety please"] = np.r_[np.zeros(dim), 0.0, 1.0]
    enc = TableEncoder(vectors)
    # the packed text (prompt + response) maps to the response vector, the prompt to its own
    a = rng.integers(0, n_resp, n_pairs)
    b = (a + rng.integers(1, n_resp, n_pairs)) % n_resp
    kind = rng.integers(0, 2, n_pairs)
    gap = attrs[a, kind] - attrs[b, kind]
    win = rng.random(n_pairs) < 1 / (1 + np.exp(-3 * gap))
    prompts = np.array(["helpfulness please", "safety please"])[kind]
    rows = [
        {
            "prompt": p, "a_text": f"y{i}", "b_text": f"y{j}", "winner": "a" if v else "b",
            "a_helpful": attrs[i, 0], "b_helpful": attrs[j, 0],
            "a_safe": attrs[i, 1], "b_safe": attrs[j, 1],
        }
        for p, i, j, v in zip(prompts, a, b, win, strict=True)
    ]
    ds = PreferenceDataset.from_records(rows)
    train, test = ds.split(test_size=0.25, seed=0)
    multi = RewardModel(enc, "multi", inputs="packed", hidden=8, epochs=300, lr=0.05).fit(train)
    linear = RewardModel(enc, "linear", epochs=300).fit(train)
    acc_multi = evaluate(multi, test)["accuracy"]
    acc_linear = evaluate(linear, test)["accuracy"]
    assert acc_multi >= 0.85 and acc_multi > acc_linear + 0.1
    head = multi.head
    assert head.params["attributes"] == ["helpful", "safe"]
    g = head.gating(np.stack([vectors["helpfulness please"], vectors["safety please"]]))
    assert g[0, 0] > 0.8 and g[1, 1] > 0.8
    z = head.attribute_rewards(x_pad := np.c_[x, np.zeros((n_resp, 2))])
    assert np.corrcoef(z[:, 0], attrs[:, 0])[0, 1] > 0.99
    assert x_pad.shape[1] == dim + 2


def test_length_debias_computes_response_lengths_when_the_data_lack_them():
    from prefkit.reward.multi_objective import add_length_columns

    rng = np.random.default_rng(1)
    n_resp, dim = 40, 6
    texts = [" ".join([f"y{k}"] + ["word"] * int(rng.integers(0, 30))) for k in range(n_resp)]
    x = rng.normal(size=(n_resp, dim))
    enc = TableEncoder({**dict(zip(texts, x, strict=True)), "p": np.ones(dim)})
    helpful = x[:, 0] + 0.05 * np.array([len(t) for t in texts])  # confounded with length
    a = rng.integers(0, n_resp, 600)
    b = (a + rng.integers(1, n_resp, 600)) % n_resp
    rows = [{"prompt": "p", "a_text": texts[i], "b_text": texts[j],
             "winner": "a" if x[i, 0] > x[j, 0] else "b",
             "a_helpful": helpful[i], "b_helpful": helpful[j]} for i, j in zip(a, b, strict=True)]
    ds = PreferenceDataset.from_records(rows)
    opts = {"debias": "length", "hidden": 0, "epochs": 50}
    auto = RewardModel(enc, "multi", **opts).fit(ds)
    given = RewardModel(enc, "multi", **opts).fit(add_length_columns(ds))
    assert auto.head.params["attributes"] == given.head.params["attributes"] == [
        "helpful", "length"]
    np.testing.assert_array_equal(auto.predict_proba(ds), given.predict_proba(ds))
