"""The live leaderboard: refitted in a background thread, read by the pages without waiting.

A :class:`LiveBoard` thread polls the store for votes newer than the last refit (every
``interval`` seconds); when there are some, it reads only those, adds them to the battles it
holds, and refits:

* the leaderboard with :func:`prefkit.choice.leaderboard.leaderboard` (Bradley–Terry MLE, ties as
  half wins, sandwich 95 % intervals, rank = 1 + items significantly better), with Newton
  warm-started from the previous fit's ratings (``BradleyTerry.fit(init=…)``), so a refit after a
  few new votes takes one or two Newton steps; the fixed point is the batch MLE of all the votes,
  so the final board equals a batch fit of ``prefkit arena export`` (checked by the tests and
  ``benchmarks/arena_soak.py``);
* when every voted task has response texts, a style-controlled board beside it: the same
  Bradley–Terry fit with LMArena's style covariates (response length in characters and the
  markdown header, list and bold counts, measured by
  :func:`prefkit.judge.style_control.answer_style`; z-scored a − b differences, L2-penalised
  coefficients; :func:`prefkit.choice.leaderboard.leaderboard` with ``style_control``), also
  warm-started; each row carries ``style_rank`` and ``style_rating`` beside the raw ones;
* the pair weights of the selection rule (:mod:`prefkit.arena.choose`).

The result is published as one immutable snapshot (a reference swap): the voting path never
takes a lock, never waits for a fit, and a failed fit keeps the previous snapshot (its error is
shown on the page).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np

from prefkit.arena.choose import PairWeights, pair_weights

log = logging.getLogger("prefkit.arena")
#: ids re-read at each poll, for votes committed after a vote with a larger id
LOOKBACK = 1000


@dataclass(frozen=True)
class Snapshot:
    """One published state of the leaderboard."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    votes: int = 0
    last_vote_id: int = 0
    updated_at: str | None = None
    fit_seconds: float = 0.0
    refits: int = 0
    scale: str = "elo"
    level: float = 0.95
    #: bootstrap rounds of the intervals (0: sandwich intervals)
    bootstrap: int = 0
    note: str | None = None
    weights: PairWeights = field(default_factory=PairWeights.uniform)
    #: the battles of the fit (a PreferenceDataset), for the pages' heat maps
    dataset: Any = None
    #: ``{"columns", "coef"}`` of the style-controlled fit, None without one
    style: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"items": [dict(r) for r in self.rows], "votes": self.votes,
                "last_vote_id": self.last_vote_id, "updated_at": self.updated_at,
                "fit_seconds": round(self.fit_seconds, 6), "refits": self.refits,
                "scale": self.scale, "level": self.level, "bootstrap": self.bootstrap,
                "note": self.note,
                "style": self.style}


#: LMArena's style features, measured on each response text (dataset columns NAME_a, NAME_b)
STYLE_FEATURES = ("len", "header_count", "list_count", "bold_count")


def warm_bradley_terry(previous: Any, style: list[str] | None = None) -> Any:
    """An unfitted ``BradleyTerry(ties="half")`` (with ``style`` covariates) whose ``fit``
    starts from ``previous`` (ratings and, when the covariates are the same, coefficients)."""
    from prefkit.choice.bradley_terry import BradleyTerry

    est = BradleyTerry(ties="half", covariates=style or None)
    if previous is not None:  # leaderboard() calls est.fit(dataset): start from the last ratings
        est.fit = functools.partial(BradleyTerry.fit, est, init=previous)
    return est


def task_style(a_text: str | None, b_text: str | None) -> dict[str, tuple[float, float]] | None:
    """``{feature: (value of a, value of b)}`` of a task's two responses; None for a task
    without texts (one missing text, beside a present one, is an empty response: the store
    keeps blank texts as NULL)."""
    from prefkit.judge.style_control import answer_style

    if a_text is None and b_text is None:
        return None
    a_text, b_text = a_text or "", b_text or ""
    sa, sb = answer_style(a_text).vector(), answer_style(b_text).vector()
    return {name: (float(sa[k]), float(sb[k])) for k, name in enumerate(STYLE_FEATURES)}


def battles_dataset(a: list[str], b: list[str], winner: list[str],
                    style: dict[str, tuple[list[float], list[float]]] | None = None) -> Any:
    """The battles as a pairwise :class:`~prefkit.data.PreferenceDataset` (a, b, winner and the
    style columns ``NAME_a``, ``NAME_b``)."""
    import pyarrow as pa

    from prefkit.data import PreferenceDataset

    columns = {"a": pa.array(a, pa.string()), "b": pa.array(b, pa.string()),
               "winner": pa.array(winner, pa.string())}
    for name, (va, vb) in (style or {}).items():
        columns[f"{name}_a"] = pa.array(va, pa.float64())
        columns[f"{name}_b"] = pa.array(vb, pa.float64())
    return PreferenceDataset(pa.table(columns), "pairwise", name="arena", validate=False)


def fit_board(a: list[str], b: list[str], winner: list[str], *, previous: Any = None,
              scale: str = "elo", level: float = 0.95,
              bootstrap: int = 0) -> tuple[list[dict[str, Any]], Any]:
    """(rows, fitted estimator) of the Bradley–Terry leaderboard of these battles: sandwich
    intervals, or percentile intervals of ``bootstrap`` resamples (seed 0; asymmetric)."""
    from prefkit.choice.leaderboard import leaderboard

    dataset = battles_dataset(a, b, winner)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a note on the board, not a warning in the server log
        board = leaderboard(dataset, warm_bradley_terry(previous), scale=scale, level=level,
                            bootstrap=bootstrap, ci="bootstrap" if bootstrap else None, seed=0)
    votes: dict[str, int] = {}
    for name in (*a, *b):
        votes[name] = votes.get(name, 0) + 1
    rows = [{"rank": r["rank"], "name": r["name"], "rating": r["rating"], "ci_low": r["ci_low"],
             "ci_high": r["ci_high"], "votes": votes.get(r["name"], 0)} for r in board.rows]
    return rows, board.estimator


def fit_style_board(dataset: Any, columns: list[str], *, previous: Any = None,
                    scale: str = "elo", level: float = 0.95) -> tuple[dict[str, dict[str, Any]],
                                                                       dict[str, float], Any]:
    """({name: {"style_rank", "style_rating"}}, coefficients, estimator) of the
    style-controlled Bradley–Terry leaderboard of ``dataset`` (columns ``NAME_a``/``NAME_b``)."""
    from prefkit.choice.leaderboard import leaderboard

    if previous is not None and list(getattr(previous, "covariate_names_", [])) != columns:
        previous = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        board = leaderboard(dataset, warm_bradley_terry(previous, columns), scale=scale,
                            level=level)
    ranks = {r["name"]: {"style_rank": r["rank"], "style_rating": r["rating"]}
             for r in board.rows}
    return ranks, dict(board.details.get("covariates") or {}), board.estimator


class LiveBoard:
    """Background refits of one store's leaderboard (see the module docstring)."""

    def __init__(self, store: Any, *, rule: str = "arena", interval: float = 1.0,
                 scale: str = "elo", level: float = 0.95, bootstrap: int = 0) -> None:
        self.store, self.rule, self.interval = store, rule, float(interval)
        self.scale, self.level, self.bootstrap = scale, level, int(bootstrap)
        self.snapshot = Snapshot(scale=scale, level=level, bootstrap=self.bootstrap)
        self._a: list[str] = []
        self._b: list[str] = []
        self._winner: list[str] = []
        self._task: list[int] = []
        self._styles: dict[int, dict[str, tuple[float, float]] | None] = {}
        self._style_estimator: Any = None
        self._last_id = 0
        self._seen: set[int] = set()
        self._estimator: Any = None
        self._theta: np.ndarray | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._rng = np.random.default_rng()
        self._rng_lock = threading.Lock()

    # ------------------------------------------------------------------ thread
    def start(self) -> None:
        """Start the refit thread (its first fit runs there: start-up does not wait)."""
        self._thread = threading.Thread(target=self._run, name="arena-refit", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        first = True
        while first or not self._stop.wait(self.interval):
            first = False
            try:
                self.refresh()
            except Exception as err:  # keep the last board; say why on the page
                log.exception("leaderboard refit failed")
                self.snapshot = _replace(self.snapshot, note=f"refit failed: {err}"[:300])

    # ------------------------------------------------------------------ refit
    def refresh(self) -> bool:
        """Refit if there are new votes; whether a new snapshot was published.

        Vote ids are not committed in order (PostgreSQL hands out a sequence value at INSERT;
        a transaction may commit after one with a larger id, and a refused vote leaves a gap),
        so each poll re-reads the last :data:`LOOKBACK` ids and skips those it holds, then
        checks that the store has no more battles up to the newest id than it holds — else it
        reads them all again.
        """
        new = [row for row in self.store.battles(after_id=max(0, self._last_id - LOOKBACK))
               if row[0] not in self._seen]
        self._take(new)
        late: list[tuple[int, str, str, str, int]] = []
        if self.store.battle_count(self._last_id) != len(self._seen):  # a late commit
            late = [row for row in self.store.battles() if row[0] not in self._seen]
            self._take(late)
        if not new and not late and self.snapshot.refits:
            return False
        start = time.perf_counter()
        items = self.store.item_names()
        rows, note, style = self.snapshot.rows, None, self.snapshot.style
        if len(set(self._a) | set(self._b)) >= 2:
            try:
                rows, self._estimator = fit_board(self._a, self._b, self._winner,
                                                  previous=self._estimator, scale=self.scale,
                                                  level=self.level, bootstrap=self.bootstrap)
            except Exception as err:  # e.g. a fit that fails: keep the last rows
                note = f"no leaderboard yet: {err}"[:300]
            else:
                rows, style, style_note = self._style_rows(rows)
                note = note or style_note
        else:
            note = "no leaderboard yet: fewer than two items have votes"
        weights, self._theta = self._weights(items)
        self.snapshot = Snapshot(
            rows=rows, votes=len(self._a), last_vote_id=self._last_id,
            updated_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            fit_seconds=time.perf_counter() - start, refits=self.snapshot.refits + 1,
            scale=self.scale, level=self.level, bootstrap=self.bootstrap, note=note,
            weights=weights,
            dataset=battles_dataset(self._a, self._b, self._winner) if rows else None,
            style=style)
        return True

    def _style_columns(self) -> dict[str, tuple[list[float], list[float]]] | None:
        """The style columns of the battles, or None when a voted task lacks a text; features
        whose a − b difference never varies carry no information and are left out."""
        missing = {t for t in self._task if t not in self._styles}
        if missing:
            texts = self.store.task_texts(missing)
            for t in missing:
                self._styles[t] = task_style(*texts.get(t, (None, None)))
        styles = [self._styles[t] for t in self._task]
        if not styles or any(s is None for s in styles):  # some battles compare bare names
            return None
        out = {}
        for name in STYLE_FEATURES:
            va = [s[name][0] for s in styles if s is not None]
            vb = [s[name][1] for s in styles if s is not None]
            if np.ptp(np.subtract(va, vb)) > 0:
                out[name] = (va, vb)
        return out or None

    def _style_rows(self, rows: list[dict[str, Any]]) -> tuple[
            list[dict[str, Any]], dict[str, Any] | None, str | None]:
        """``rows`` with ``style_rank``/``style_rating`` (None without a style fit), the style
        summary and a note when the style fit failed."""
        blank = [{**r, "style_rank": None, "style_rating": None} for r in rows]
        columns = self._style_columns()
        if columns is None:
            return blank, None, None
        try:
            ranks, coef, self._style_estimator = fit_style_board(
                battles_dataset(self._a, self._b, self._winner, columns), list(columns),
                previous=self._style_estimator, scale=self.scale, level=self.level)
        except Exception as err:  # the raw board stands; say why there is no style column
            return blank, None, f"no style-controlled board: {err}"[:300]
        styled = [{**r, **ranks.get(r["name"], {"style_rank": None, "style_rating": None})}
                  for r in rows]
        return styled, {"columns": list(columns), "coef": coef}, None

    def _weights(self, items: list[str]) -> tuple[PairWeights, np.ndarray | None]:
        index = {name: k for k, name in enumerate(items)}
        keep = [k for k in range(len(self._a)) if self._a[k] in index and self._b[k] in index]
        ia = np.array([index[self._a[k]] for k in keep], dtype=np.intp)
        ib = np.array([index[self._b[k]] for k in keep], dtype=np.intp)
        ya = np.array([{"a": 1.0, "b": 0.0}.get(self._winner[k], 0.5) for k in keep])
        return pair_weights(self.rule, items, ia, ib, ya, theta0=self._theta)

    def _take(self, rows: list[tuple[int, str, str, str, int]]) -> None:
        for vote_id, a, b, winner, task_id in rows:
            self._seen.add(vote_id)
            self._a.append(a)
            self._b.append(b)
            self._winner.append(winner)
            self._task.append(task_id)
            self._last_id = max(self._last_id, vote_id)

    # ------------------------------------------------------------------ voting path
    def choose(self, candidates: Any) -> int:
        """The selection rule on the current snapshot (no fit, no lock but the RNG's)."""
        with self._rng_lock:
            return self.snapshot.weights.pick(candidates, self._rng)

    def wait_until(self, vote_id: int, timeout: float = 30.0) -> bool:
        """Block until the published board includes vote ``vote_id`` (tests, soak)."""
        deadline = time.monotonic() + timeout
        while self.snapshot.last_vote_id < vote_id:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True


def _replace(snapshot: Snapshot, **changes: Any) -> Snapshot:
    from dataclasses import replace

    return replace(snapshot, **changes)
