"""Forward (time-ordered) evaluation: fit on the past, predict the future — for any dated data.

The records are ordered by a time column (numbers, dates or ISO date strings); those at or before
``train_until`` are the past, the rest the future.  Each future record gets an out-of-sample
P(a ≻ b):

* a batch model (Bradley–Terry, Thurstone, Davidson, Rao–Kupper) is fitted once on the past and
  predicts every future record from that fit (items first seen in the future get the average
  rating); a tie model's prediction is the expected score P(a ≻ b) + ½ P(tie);
* Elo (Elo 1978) runs over the past and then *on through the future*, each future game predicted
  from the ratings just before it (its pre-game probability) — the way online ratings are used.

Scoring (log-loss, Brier, accuracy, calibration) is done by the caller with
:func:`prefkit.evaluate.pairwise_metrics` — the choice layer does not import the metrics layer.
This is the general form of the FiveThirtyEight NFL comparison (now
``benchmarks/choice_forward_nfl.py``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from prefkit.choice._data import pair_records
from prefkit.errors import DataError

FORWARD_MODELS = ("bt", "thurstone", "davidson", "rao-kupper", "elo")


@dataclass
class ForwardPredictions:
    """Out-of-sample predictions of one model on the future part of a dated dataset."""

    model: str
    n_train: int
    test_index: np.ndarray  # record positions (in the dataset) of the future records, time order
    proba: np.ndarray  # P(a ≻ b) of each future record
    outcome: np.ndarray  # 1 (a won), 0 (b won), ½ (tie), soft labels as given
    weight: np.ndarray  # record weights of the future records
    unseen_items: list[str] = field(default_factory=list)


def time_values(dataset: Any, column: str) -> np.ndarray:
    """The values of ``column`` as a sortable array: float64 or datetime64[ns]."""
    if column not in getattr(dataset, "columns", []):
        raise DataError(f"time column {column!r} not found", source=dataset.name, field=column)
    raw = dataset.column(column)
    values = np.asarray(raw.to_numpy(zero_copy_only=False) if hasattr(raw, "to_numpy") else raw)
    return _as_time(values, column, dataset.name)


def _as_time(values: np.ndarray, column: str, source: str | None = None) -> np.ndarray:
    if values.dtype.kind in "iuf":
        out = values.astype(float)
        bad = np.isnan(out)
    elif values.dtype.kind == "M":
        out = values.astype("datetime64[ns]")
        bad = np.isnat(out)
    else:
        try:
            text = np.where(values == None, "NaT", values).astype(str)  # noqa: E711
            out = text.astype("datetime64[ns]")
        except ValueError:
            try:
                out = np.asarray(values, dtype=float)
            except (TypeError, ValueError):
                raise DataError(
                    "time values must be numbers or ISO dates (YYYY-MM-DD[THH:MM:SS])",
                    source=source, field=column,
                ) from None
        bad = np.isnat(out) if out.dtype.kind == "M" else np.isnan(out)
    if bad.any():
        raise DataError("missing time value", source=source, row=int(np.flatnonzero(bad)[0]),
                        field=column)
    return out


def parse_cutoff(value: Any, like: np.ndarray, column: str) -> Any:
    """``train_until`` in the same kind as the time values (number or date)."""
    try:
        if like.dtype.kind == "M":
            return np.datetime64(str(value)).astype("datetime64[ns]")
        return float(value)
    except (TypeError, ValueError):
        kind = "a date (YYYY-MM-DD)" if like.dtype.kind == "M" else "a number"
        raise DataError(f"--train-until {value!r}: expected {kind} like the values of "
                        f"{column!r}") from None


def forward_predictions(
    dataset: Any,
    *,
    time_column: str,
    train_until: Any,
    model: str = "bt",
    ties: str | None = None,
    elo_k: float | None = None,
    prior_var: float | None = None,
    train_from: Any = None,
    home: str | None = None,
) -> ForwardPredictions:
    """Fit ``model`` on the records with time ≤ ``train_until``; predict the later ones.

    ``train_from``: also drop records before this time from the past (a training window).
    ``home``: column of +1/0/−1 (first candidate at home / neutral / away) for a home effect
    (batch models estimate it; Elo adds 65 points, FiveThirtyEight's NFL value, scaled by it).
    """
    from prefkit.choice.elo import Elo
    from prefkit.choice.leaderboard import make_model

    if getattr(dataset, "kind", None) != "pairwise":
        raise DataError("forward evaluation needs pairwise records", source=dataset.name)
    name = model.lower().replace("_", "-")
    if name not in FORWARD_MODELS:
        raise DataError(f"unknown model {model!r} (expected one of {', '.join(FORWARD_MODELS)})")
    t = time_values(dataset, time_column)
    cutoff = parse_cutoff(train_until, t, time_column)
    order = np.argsort(t, kind="stable")
    past = order[t[order] <= cutoff]
    if train_from is not None:
        past = past[t[past] >= parse_cutoff(train_from, t, time_column)]
    future = order[t[order] > cutoff]
    if past.size == 0:
        raise DataError(f"no record at or before {train_until} in {time_column!r}: nothing to "
                        "fit on", source=dataset.name, field=time_column)
    if future.size == 0:
        raise DataError(f"no record after {train_until} in {time_column!r}: nothing to score",
                        source=dataset.name, field=time_column)
    rec = pair_records(dataset)
    total = rec.wi + rec.wj + rec.t
    outcome = np.where(total > 0, (rec.wi + 0.5 * rec.t) / np.maximum(total, 1e-300), 0.5)
    items = np.asarray(rec.items, dtype=object)
    seen = set(items[rec.ia[past]]) | set(items[rec.ib[past]])
    unseen = sorted((set(items[rec.ia[future]]) | set(items[rec.ib[future]])) - seen)
    est = make_model(name, ties, prior_var=prior_var, elo_k=elo_k,
                     home_advantage=home if home and name != "elo" else False)
    if isinstance(est, Elo):
        if home:
            est.set_params(home_column=home, home_advantage=65.0)
        if train_from is not None:  # Elo starts from the window too
            order = np.r_[past, future]
        est.fit(dataset.take(order))  # past then future, in time order
        proba = np.asarray(est.pregame_proba_)[past.size:]
    else:
        est.fit(dataset.take(past))
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="items not seen in training")
            # expected score P(a ≻ b) + ½ P(tie): the probability a tie model gives the
            # outcome y (ties count y = ½), equal to P(a ≻ b) for models without ties
            outcome_p = est.predict_outcome_proba(dataset.take(future))
            proba = outcome_p[:, 0] + 0.5 * outcome_p[:, 2]
    return ForwardPredictions(
        model=name,
        n_train=int(past.size),
        test_index=future,
        proba=np.asarray(proba, dtype=float),
        outcome=outcome[future],
        weight=np.where(total[future] > 0, total[future], 0.0),
        unseen_items=[str(x) for x in unseen],
    )
