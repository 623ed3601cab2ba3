"""Regression tests for issue #12 items 9, 10, 13, 18 and #11 item 2 (choice layer)."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pyarrow as pa
import pytest
from choice_helpers import pairwise, rankings, simulate_bt
from typer.testing import CliRunner

import prefkit
from prefkit.choice import BradleyTerry, Elo, PlackettLuce, leaderboard
from prefkit.choice.pl_bootstrap import bootstrap_rankings
from prefkit.choice.plackett_luce import newton_solve
from prefkit.data.schema import PreferenceDataset
from prefkit.errors import DataError


def _zero_weight_pairs() -> PreferenceDataset:
    return pairwise({"a": ["x", "y", "z"], "b": ["y", "z", "x"], "winner": ["a", "a", "b"],
                     "weight": [0.0, 0.0, 0.0]})


# ------------------------------------------------------------------ item 9: no NaN
@pytest.mark.parametrize("fit", [
    lambda ds: PlackettLuce().fit(ds),
    lambda ds: BradleyTerry().fit(ds),
    lambda ds: Elo().fit(ds),
    lambda ds: leaderboard(ds),
])
def test_all_zero_weight_pairs_are_one_data_error(fit) -> None:
    with pytest.raises(DataError, match="weight 0"):
        fit(_zero_weight_pairs())


def test_all_zero_weight_rankings_are_a_data_error_not_nan() -> None:
    table = pa.table({"ranking": pa.array([["x", "y", "z"], ["y", "z", "x"]],
                                          pa.list_(pa.string())), "weight": [0.0, 0.0]})
    ds = PreferenceDataset(table, "ranking", validate=False)
    with pytest.raises(DataError, match="weight 0"):
        leaderboard(ds)


def test_zero_weight_rankings_are_ignored_like_absent_ones() -> None:
    rows = [["x", "y", "z"], ["y", "x", "z"], ["z", "x", "y"], ["x", "z", "y"], ["z", "y", "x"]]
    table = pa.table({"ranking": pa.array([*rows, ["y", "z", "x"]], pa.list_(pa.string())),
                      "weight": [1.0] * 5 + [0.0]})
    with_zero = PlackettLuce().fit(PreferenceDataset(table, "ranking", validate=False))
    without = PlackettLuce().fit(rankings(rows))
    np.testing.assert_allclose(with_zero.ratings_, without.ratings_, atol=1e-8)


# ------------------------------------------------------------------ item 10: all ties
def _all_ties(n_per_pair: int = 10):
    a = ["x", "y", "x"] * n_per_pair
    b = ["y", "z", "z"] * n_per_pair
    return pairwise({"a": a, "b": b, "winner": ["tie"] * len(a)})


def test_all_ties_half_gives_closed_form_model_intervals_and_a_warning() -> None:
    # ties as half wins, θ = 0: information 0.25 per battle on the K3 Laplacian, so
    # Var(θ_i) = (1 / (10 · 0.25 · 3)) · (1 − 1/3) for 10 battles per pair
    for kw in ({}, {"bootstrap": 50}):
        with pytest.warns(UserWarning, match="every comparison is a tie"):
            lb = leaderboard(_all_ties(), **kw)
        se = math.sqrt((1 / 7.5) * (2 / 3))
        for r in lb.rows:
            assert r["rating"] == pytest.approx(0.0, abs=1e-9)
            assert r["ci_high"] - r["ci_low"] == pytest.approx(2 * 1.959964 * se, rel=1e-4)
        json.loads(lb.to_json())


def test_all_ties_with_a_tie_model_gives_prior_intervals_and_says_so() -> None:
    with pytest.warns(UserWarning, match="prior"):
        lb = leaderboard(_all_ties(), ties="model")
    for r in lb.rows:  # N(0, 10) prior on θ: ±1.96·√10·√(2/3)-ish, in any case wide and finite
        width = r["ci_high"] - r["ci_low"]
        assert 1.0 < width < 2 * 1.96 * math.sqrt(10.0) + 1e-6
    json.loads(lb.to_json())


def test_fully_tied_rankings_bootstrap_is_not_zero_width() -> None:
    ds = rankings([["x", "y", "z"]] * 10, ranks=[[1, 1, 1]] * 10)
    with pytest.warns(UserWarning, match="every comparison is a tie"):
        lb = leaderboard(ds, bootstrap=30)
    assert all(r["ci_high"] - r["ci_low"] > 0.1 for r in lb.rows)


# ------------------------------------------------------------------ item 13: listing, output
def _exact_counts(theta: dict[str, float], pairs: list[tuple[str, str, float]]):
    """Weighted records whose win fractions are exactly σ(θ_a − θ_b) (so the MLE is θ)."""
    a, b, w, win = [], [], [], []
    for x, y, n in pairs:
        p = 1 / (1 + math.exp(-(theta[x] - theta[y])))
        a += [x, x]
        b += [y, y]
        w += [n * p, n * (1 - p)]
        win += ["a", "b"]
    return pairwise({"a": a, "b": b, "winner": win, "weight": w})


def test_listing_is_ordered_by_rank_then_rating() -> None:
    # A is rated above B, but B's interval is so wide that nothing is significantly better than
    # B while C is significantly better than A: rank(A) = 2 > rank(B) = 1
    theta = {"C": 2.0, "A": 1.0, "B": 0.9, "D": 0.0}
    ds = _exact_counts(theta, [("C", "A", 20000), ("A", "D", 20000), ("C", "D", 20000),
                               ("B", "D", 8)])
    lb = leaderboard(ds)
    by_name = {r["name"]: r for r in lb.rows}
    assert by_name["A"]["rating"] > by_name["B"]["rating"]
    assert by_name["A"]["rank"] > by_name["B"]["rank"]
    ranks = [r["rank"] for r in lb.rows]
    assert ranks == sorted(ranks)
    W = np.asarray(lb.details["win_matrix"])  # the win matrix follows the listed order
    names = [r["name"] for r in lb.rows]
    i, j = names.index("C"), names.index("D")
    assert W[i, j] == pytest.approx(1 / (1 + math.exp(-2.0)), abs=1e-6)


def test_write_escapes_dollar_names_and_is_all_or_nothing(tmp_path, monkeypatch) -> None:
    ds = pairwise({"a": ["$\\notacommand$", "b$x$", "c"] * 20, "b": ["b$x$", "c", "$\\notacommand$"]
                   * 20, "winner": ["a", "b", "a"] * 10 + ["b", "a", "b"] * 10})
    lb = leaderboard(ds)
    files = lb.write(tmp_path / "ok")
    assert {p.name for p in files} <= {p.name for p in (tmp_path / "ok").iterdir()}
    # a failing plot leaves nothing behind: neither outputs nor temporary directories
    (tmp_path / "existing").mkdir()
    (tmp_path / "existing" / "mine.txt").write_text("keep")

    def boom(self, path=None):
        raise RuntimeError("plot failed")

    monkeypatch.setattr(type(lb), "plot_win_matrix", boom)
    for target in (tmp_path / "new", tmp_path / "existing"):
        with pytest.raises(RuntimeError):
            lb.write(target)
    assert not (tmp_path / "new").exists()
    assert sorted(p.name for p in (tmp_path / "existing").iterdir()) == ["mine.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing", "ok"]


# ------------------------------------------------------------------ item 15: Elo leaderboard
def test_elo_leaderboard_matches_elo_and_has_no_fake_intervals() -> None:
    ds, _ = simulate_bt(5, 3000, seed=7, spread=1.0)
    lb = leaderboard(ds, model="elo")
    elo = Elo().fit(ds)
    by_name = {r["name"]: r for r in lb.rows}
    for name, value in zip(elo.items_, elo.ratings_, strict=True):
        # Elo points → logit → Elo scale: the same up to the centring shift
        assert by_name[name]["rating"] - 1000 == pytest.approx(
            value - elo.ratings_.mean(), abs=1e-6)
    assert all(r["ci_low"] is None for r in lb.rows)
    assert json.loads(lb.to_json())["items"][0]["ci_low"] is None
    booted = leaderboard(ds, model="elo", bootstrap=20, seed=1)
    assert all(r["ci_low"] < r["ci_high"] for r in booted.rows)
    with pytest.raises(DataError):
        leaderboard(ds, model="elo", ci="sandwich")


# ------------------------------------------------------------------ item 18: PL bootstrap
def test_batched_pl_bootstrap_equals_per_round_newton_and_converges_fast() -> None:
    rng = np.random.default_rng(0)
    items = [f"i{k}" for k in range(6)]
    strength = np.linspace(1.0, -1.0, 6)
    rows = []
    for _ in range(300):
        g = strength + rng.gumbel(size=6)
        rows.append([items[k] for k in np.argsort(-g)])
    model = PlackettLuce().fit(rankings(rows))
    st = model.stages_
    out, conv = bootstrap_rankings(st, model.ratings_, 4, seed=3)
    assert conv.all()
    draws = np.random.default_rng(3).multinomial(300, np.full(300, 1 / 300), size=4)
    for b in range(4):
        ref, _, _, _ = newton_solve(st.with_record_weights(draws[b].astype(float)),
                                    model.ratings_, prec=1e-6, tol=1e-12, max_iter=300)
        np.testing.assert_allclose(out[b], ref - ref.mean(), atol=1e-7)


def test_batched_newton_needs_few_iterations_with_a_tiny_prior() -> None:
    from prefkit.choice.pl_bootstrap import choice_sets, newton_batch

    model = PlackettLuce().fit(rankings([["x", "y", "z"], ["y", "x", "z"], ["z", "y", "x"],
                                         ["x", "z", "y"]] * 25))
    cs = choice_sets(model.stages_)
    w = np.ones((3, model.stages_.n_records))
    C = np.asarray(cs.per_set.T @ w.T).T
    W = np.asarray(cs.per_winner.T @ w.T).T
    _, conv, iters = newton_batch(np.zeros((3, 3)), W, C, cs.avail.toarray(), prec=1e-6)
    assert conv.all() and iters.max() <= 15  # the ungrounded solver hit its 100-step cap


# ------------------------------------------------------------------ #11: --save-model
def test_cli_save_model_opens_with_prefkit_load(tmp_path) -> None:
    from prefkit.cli.app import app

    ds, _ = simulate_bt(4, 400, seed=2)
    path = tmp_path / "battles.jsonl"
    with path.open("w") as fh:
        for a, b, w in zip(ds.column("a"), ds.column("b"), ds.column("winner"), strict=True):
            fh.write(json.dumps({"a": a, "b": b, "winner": w}) + "\n")
    runner = CliRunner()
    for model in ("bt", "elo"):
        target = tmp_path / f"model-{model}"
        res = runner.invoke(app, ["leaderboard", str(path), "--model", model, "--json",
                                  "--save-model", str(target)])
        assert res.exit_code == 0, res.output
        loaded = prefkit.load(target)
        p = loaded.predict_proba(prefkit.read(str(path)))
        assert p.shape == (400,) and np.all((p > 0) & (p < 1))
    again = runner.invoke(app, ["leaderboard", str(path), "--save-model", str(tmp_path /
                                                                             "model-bt")])
    assert again.exit_code == 2 and "--force" in again.output
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert runner.invoke(app, ["leaderboard", str(path), "--save-model",
                                   str(tmp_path / "model-bt"), "--force"]).exit_code == 0


def test_sparse_set_path_equals_the_dense_batched_path(monkeypatch) -> None:
    import prefkit.choice.pl_bootstrap as plb

    rows = [["x", "y", "z", "w"], ["y", "x", "w", "z"], ["z", "w", "x", "y"], ["w", "z", "y", "x"],
            ["x", "z", "y", "w"]] * 8
    model = PlackettLuce().fit(rankings(rows))
    dense, conv_d = bootstrap_rankings(model.stages_, model.ratings_, 5, seed=1)
    monkeypatch.setattr(plb, "_MAX_CHUNK_CELLS", 1)  # force one-round sparse solves
    sparse_out, conv_s = plb.bootstrap_rankings(model.stages_, model.ratings_, 5, seed=1)
    assert conv_d.all() and conv_s.all()
    np.testing.assert_allclose(sparse_out, dense, atol=1e-7)


def test_fast_hard_outcome_counting_equals_the_weighted_path() -> None:
    ds, _ = simulate_bt(7, 5000, seed=9, tie_rate=0.15)
    fast = BradleyTerry().counts(ds)  # winner column only: integer bincount path
    weighted = ds.with_column("weight", np.ones(len(ds)))
    slow = BradleyTerry().counts(weighted)
    for field in ("i", "j", "wi", "wj", "t"):
        np.testing.assert_array_equal(getattr(fast, field), getattr(slow, field))
    a = BradleyTerry().fit(ds)
    b = BradleyTerry().fit(weighted)
    np.testing.assert_allclose(a.ratings_, b.ratings_, atol=1e-12)
    np.testing.assert_allclose(a.rating_cov(), b.rating_cov(), atol=1e-12)


def test_all_ties_elo_bootstrap_reports_no_interval_with_a_warning() -> None:
    with pytest.warns(UserWarning, match="every comparison is a tie"):
        lb = leaderboard(_all_ties(), model="elo", bootstrap=20)
    assert all(r["ci_low"] is None and r["ci_high"] is None for r in lb.rows)
    json.loads(lb.to_json())


def test_plackett_luce_and_elo_roundtrip_through_prefkit_load(tmp_path) -> None:
    ds = rankings([["x", "y", "z"], ["y", "x", "z"], ["x", "z", "y"], ["z", "x", "y"]] * 5)
    pl = PlackettLuce().fit(ds)
    prefkit.save(pl, tmp_path / "pl")
    loaded = prefkit.load(tmp_path / "pl")
    p = loaded.predict_proba(ds)  # rankings: one probability per pair of the rank-broken view
    assert type(loaded) is PlackettLuce and p.shape == (len(ds.to_pairs()),)
    np.testing.assert_allclose(p, pl.predict_proba(ds))
    pairs, _ = simulate_bt(4, 300, seed=6)
    elo = Elo(k=16).fit(pairs)
    prefkit.save(elo, tmp_path / "elo")
    again = prefkit.load(tmp_path / "elo")
    assert again.get_params() == elo.get_params()
    np.testing.assert_allclose(again.predict_proba(pairs), elo.predict_proba(pairs))
