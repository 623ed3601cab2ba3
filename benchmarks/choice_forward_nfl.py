"""Benchmark: time-ordered evaluation on FiveThirtyEight's NFL games (online Elo, time-weighted BT).

Every game is predicted only from games played *before* it, then scored by log-loss (ties count
as y = ½), Brier score and accuracy (ties excluded).  Two prefkit predictors are compared with the
FiveThirtyEight Elo probabilities stored in their NFL file (``elo_prob1``):

* online :class:`~prefkit.choice.elo.Elo` with FiveThirtyEight's published settings — K = 20,
  home advantage 65 points, ratings regressed 1/3 towards 1505 between seasons (Silver 2014,
  "Introducing NFL Elo Ratings") but *without* their margin-of-victory multiplier, QB and travel
  adjustments;
* time-weighted Bradley–Terry with home advantage, refitted before every week on all earlier
  games with weights  w = 2^{−Δt / half-life}  (exponential decay by date; cf. Dixon & Coles 1997
  "Modelling association football scores") and a N(0, prior_var) prior, warm-started from the
  previous week's fit.

This file was ``prefkit/choice/evaluation.py`` (issue #11: a library module with a path into
``../shared`` that broke once installed).  The general, installed tool is
``prefkit evaluate-forward`` / :func:`prefkit.choice.forward.forward_predictions`.

Run:  .venv/bin/python benchmarks/choice_forward_nfl.py [--data PATH] [--start-season 2012]
"""

from __future__ import annotations

import argparse
import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from prefkit.choice.bradley_terry import BradleyTerry
from prefkit.choice.counts import count_pairs
from prefkit.core.mathfn import sigmoid
from prefkit.errors import DataError

NFL_FILE = "sports/fivethirtyeight_nfl-elo-game__data_nfl_games.csv"
DATA = Path(os.environ.get("PREFKIT_SHARED_DATA",
                           Path(__file__).resolve().parents[1].parent / "shared" / "data"))


def metrics(p: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Log-loss (y may be ½), Brier score, accuracy on decided games, symmetric ECE
    (:func:`prefkit.evaluate.pairwise_metrics`)."""
    from prefkit.evaluate import pairwise_metrics

    return pairwise_metrics(np.asarray(y, float), np.asarray(p, float))


def online_elo_proba(
    ia: np.ndarray, ib: np.ndarray, y: np.ndarray, home: np.ndarray, season: np.ndarray,
    n_items: int, *, k: float = 20.0, home_points: float = 65.0, base: float = 1505.0,
    regression: float = 1.0 / 3.0,
) -> np.ndarray:
    """Pre-game P(first wins) of a sequential Elo run (see :class:`~prefkit.choice.elo.Elo`)."""
    from prefkit.choice.elo import Elo

    elo = Elo(k=k, base=base, home_advantage=home_points, season_regression=regression)
    _, pre = elo._run(ia, ib, y, home, season, n_items)
    return pre


def time_weighted_bt_proba(
    ia: np.ndarray, ib: np.ndarray, y: np.ndarray, home: np.ndarray, days: np.ndarray,
    period: np.ndarray, eval_mask: np.ndarray, *, half_life: float = 365.0,
    prior_var: float = 1.0, window: float = 6.0,
) -> np.ndarray:
    """Pre-period P(first wins) from a decayed Bradley–Terry fit on all earlier games."""
    out = np.full(ia.size, np.nan)
    periods = np.unique(period[eval_mask])
    prev = None
    for per in periods:
        target = np.flatnonzero((period == per) & eval_mask)
        t0 = days[target].min()
        past = (days < t0) & (days >= t0 - window * half_life)
        if not past.any():
            continue
        w = np.exp2(-(t0 - days[past]) / half_life)
        teams, codes = np.unique(np.r_[ia[past], ib[past]], return_inverse=True)
        ca, cb = codes[: past.sum()], codes[past.sum():]
        yy = y[past]
        counts = count_pairs(
            teams.size, ca, cb, w * yy, w * (1 - yy), np.zeros(ca.size),
            Z=home[past][:, None], items=[str(x) for x in teams], z_names=["home"],
        )
        model = BradleyTerry(home_advantage=True, prior_var=prior_var, tol=1e-8)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit_counts(counts, init=prev)
        prev = model
        pos = np.full(max(ia.max(), ib.max()) + 1, -1)
        pos[teams] = np.arange(teams.size)
        theta = np.append(model.ratings_, 0.0)
        eta = theta[pos[ia[target]]] - theta[pos[ib[target]]] + model.coef_[0] * home[target]
        out[target] = sigmoid(eta)
    return out


def evaluate_nfl(
    path: str | os.PathLike | None = None,
    *,
    start_season: int = 2000,
    half_life: float = 365.0,
    prior_var: float = 1.0,
) -> dict[str, Any]:
    """Sequential evaluation on FiveThirtyEight's NFL games from ``start_season`` on.

    Returns ``{"fivethirtyeight_elo": metrics, "prefkit_elo": metrics,
    "prefkit_bt_time_weighted": metrics, "n_games": int, "seasons": [first, last]}``.
    """
    import pandas as pd

    path = Path(path) if path is not None else DATA / NFL_FILE
    if not path.is_file():
        raise DataError("NFL games file not found", source=str(path))
    df = pd.read_csv(path, parse_dates=["date"]).sort_values("date", kind="stable")
    needed = {"date", "season", "neutral", "team1", "team2", "elo_prob1", "result1"}
    missing = needed - set(df.columns)
    if missing:
        raise DataError(f"missing columns {sorted(missing)}", source=str(path))
    df = df.dropna(subset=["result1"])
    teams, codes = np.unique(np.r_[df.team1.to_numpy(), df.team2.to_numpy()], return_inverse=True)
    n = len(df)
    ia, ib = codes[:n], codes[n:]
    y = df.result1.to_numpy(float)
    home = 1.0 - df.neutral.to_numpy(float)
    season = df.season.to_numpy()
    days = (df.date - df.date.min()).dt.days.to_numpy(float)
    period = (days // 7).astype(np.int64)  # calendar weeks
    mask = season >= start_season
    elo = online_elo_proba(ia, ib, y, home, season, teams.size)
    bt = time_weighted_bt_proba(
        ia, ib, y, home, days, period, mask, half_life=half_life, prior_var=prior_var
    )
    ok = mask & np.isfinite(bt)
    return {
        "fivethirtyeight_elo": metrics(df.elo_prob1.to_numpy()[ok], y[ok]),
        "prefkit_elo": metrics(elo[ok], y[ok]),
        "prefkit_bt_time_weighted": metrics(bt[ok], y[ok]),
        "n_games": int(ok.sum()),
        "seasons": [int(season[ok].min()), int(season[ok].max())],
        "half_life_days": half_life,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None,
                        help=f"the NFL games CSV (default: {DATA / NFL_FILE})")
    parser.add_argument("--start-season", type=int, default=2000)
    args = parser.parse_args()
    print(json.dumps(evaluate_nfl(args.data, start_season=args.start_season), indent=2))


if __name__ == "__main__":
    main()
