"""Time-ordered evaluation: the general forward split, the CLI, and the NFL benchmark."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from choice_helpers import data_file, pairwise
from typer.testing import CliRunner

from prefkit.choice import Elo
from prefkit.choice.forward import forward_predictions
from prefkit.errors import DataError

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _nfl_benchmark():
    if not (BENCHMARKS / "choice_forward_nfl.py").is_file():
        pytest.skip("benchmarks/ not available (installed package)")
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import choice_forward_nfl
    finally:
        sys.path.remove(str(BENCHMARKS))
    return choice_forward_nfl


def _dated(n: int = 400, seed: int = 0):
    rng = np.random.default_rng(seed)
    theta = np.array([1.0, 0.3, -0.3, -1.0])
    names = np.array(["w", "x", "y", "z"], dtype=object)
    a = rng.integers(0, 4, n)
    b = (a + rng.integers(1, 4, n)) % 4
    win = rng.random(n) < 1 / (1 + np.exp(-(theta[a] - theta[b])))
    days = np.sort(rng.integers(0, 1000, n))
    dates = (np.datetime64("2020-01-01") + days.astype("timedelta64[D]")).astype(str)
    return pairwise({"a": names[a].tolist(), "b": names[b].tolist(),
                     "winner": np.where(win, "a", "b").tolist(), "date": dates.tolist(),
                     "round": days.astype(float)})


def test_metrics_on_known_values() -> None:
    bench = _nfl_benchmark()
    m = bench.metrics(np.array([0.8, 0.3, 0.5]), np.array([1.0, 0.0, 0.5]))
    assert m["accuracy"] == 1.0
    expected = -(np.log(0.8) + np.log(0.7) + np.log(0.5)) / 3
    assert m["log_loss"] == pytest.approx(expected)


def test_forward_split_uses_only_the_past() -> None:
    ds = _dated()
    dates = np.asarray(ds.column("date")).astype("datetime64[D]")
    fp = forward_predictions(ds, time_column="date", train_until="2021-06-30", model="bt")
    past = dates <= np.datetime64("2021-06-30")
    assert fp.n_train == int(past.sum()) and len(fp.proba) == int((~past).sum())
    assert np.all(dates[fp.test_index] > np.datetime64("2021-06-30"))
    # the batch model's predictions equal a BT fit on the past alone
    from prefkit.choice import BradleyTerry

    ref = BradleyTerry().fit(ds.filter(past)).predict_proba(ds.filter(~past))
    np.testing.assert_allclose(fp.proba, ref)
    # Elo: the pre-game probabilities of one sequential run over past then future
    elo = forward_predictions(ds, time_column="round", train_until=547, model="elo", elo_k=20)
    run = Elo(k=20).fit(ds)  # records are already in time order
    np.testing.assert_allclose(elo.proba, run.pregame_proba_[elo.n_train:])
    with pytest.raises(DataError, match="nothing to fit"):
        forward_predictions(ds, time_column="date", train_until="1999-01-01")
    with pytest.raises(DataError, match="not found"):
        forward_predictions(ds, time_column="when", train_until="2021-01-01")


def test_cli_evaluate_forward_json(tmp_path) -> None:
    from prefkit.cli.app import app

    ds = _dated(600, seed=1)
    path = tmp_path / "games.jsonl"
    with path.open("w") as fh:
        for a, b, w, d in zip(ds.column("a"), ds.column("b"), ds.column("winner"),
                              ds.column("date"), strict=True):
            fh.write(json.dumps({"a": a, "b": b, "winner": w, "date": d}) + "\n")
    res = CliRunner().invoke(app, ["evaluate-forward", str(path), "--time", "date",
                                   "--train-until", "2021-06-30", "--model", "bt", "--model",
                                   "elo", "--k", "16", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert set(doc["models"]) == {"bt", "elo"}
    for m in doc["models"].values():
        assert m["log_loss"] < np.log(2)  # the true strengths differ a lot: better than a coin
        assert 0 <= m["ece"] <= 1 and len(m["calibration"]["counts"]) == 10
    bad = CliRunner().invoke(app, ["evaluate-forward", str(path), "--time", "date",
                                   "--train-until", "soon"])
    assert bad.exit_code == 2 and "train-until" in bad.output


def test_nfl_sequential_elo_and_time_weighted_bt() -> None:
    bench = _nfl_benchmark()
    path = data_file("sports/fivethirtyeight_nfl-elo-game__data_nfl_games.csv")
    res = bench.evaluate_nfl(path, start_season=2012)
    assert res["n_games"] > 2000
    coin = np.log(2)
    for key in ("fivethirtyeight_elo", "prefkit_elo", "prefkit_bt_time_weighted"):
        assert res[key]["log_loss"] < coin - 0.02, (key, res[key])
        assert res[key]["accuracy"] > 0.58
    # 538's model has a margin-of-victory multiplier and QB adjustments we do not: we should be
    # close to it, not better by much
    for key in ("prefkit_elo", "prefkit_bt_time_weighted"):
        assert abs(res[key]["log_loss"] - res["fivethirtyeight_elo"]["log_loss"]) < 0.03


def test_forward_tie_model_scores_the_expected_outcome() -> None:
    rng = np.random.default_rng(3)
    ds = _dated(500, seed=2)
    winner = np.asarray(ds.column("winner"), dtype=object)
    winner[rng.random(winner.size) < 0.3] = "tie"
    ds = pairwise({"a": ds.column("a"), "b": ds.column("b"), "winner": winner.tolist(),
                   "round": ds.column("round")})
    fp = forward_predictions(ds, time_column="round", train_until=500, model="davidson")
    from prefkit.choice import Davidson

    past = np.asarray(ds.column("round")) <= 500
    P = Davidson().fit(ds.filter(past)).predict_outcome_proba(ds.filter(~past))
    np.testing.assert_allclose(fp.proba, P[:, 0] + 0.5 * P[:, 2])
    assert np.all(P[:, 2] > 0.05)  # ties are predicted, so the correction matters
