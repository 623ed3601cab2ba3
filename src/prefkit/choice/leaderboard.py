"""Leaderboards: fit a choice model, attach intervals and ranks, render as JSON/Markdown/CSV/plots.

``leaderboard(dataset, model="bt", ...)`` reproduces LMArena's recipe by default (Bradley–Terry
MLE, ties as half wins, optional Elo scale with base 1000 / scale 400, bootstrap or sandwich
intervals, rank = 1 + number of items significantly better, optional style control and anchor).
``model="elo"`` runs online Elo instead (LMArena's K = 4, base 1000, scale 400 by default).

Rows are listed by rank, then by rating (a rank is "one plus the number of items significantly
better", so an item with a wide interval can have a *better* rank than a higher-rated item with a
narrow one; listing by rating alone once showed rank 7 above rank 6).  Intervals that collapse to
zero width (every comparison a tie: the sandwich's score variance and every bootstrap round are
exactly zero) are replaced, with a warning, by model-based (inverse-information) intervals — of
a fit with the fallback prior when a tie model's tie parameter runs to infinity.  No NaN or
infinity ever reaches the output.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np

from prefkit.choice._threads import one_blas_thread
from prefkit.choice.bradley_terry import BradleyTerry
from prefkit.choice.counts import PairCounts
from prefkit.choice.davidson import Davidson
from prefkit.choice.elo import Elo, bootstrap_elo
from prefkit.choice.rao_kupper import RaoKupper
from prefkit.choice.scales import affine, parse_anchor
from prefkit.choice.thurstone import Thurstone
from prefkit.choice.uncertainty import bootstrap as run_bootstrap
from prefkit.choice.uncertainty import rank_intervals, sandwich_intervals
from prefkit.core.atomic import publish_files
from prefkit.errors import DataError, ModelFileError

MODELS = ("bt", "thurstone", "davidson", "rao-kupper", "pl", "elo")
OUTPUT_FILES = ("leaderboard.json", "leaderboard.md", "leaderboard.csv")
PLOT_FILES = ("ratings.png", "win_matrix.png")


def plot_label(name: str) -> str:
    """An item name as literal matplotlib text: ``$`` would start mathtext (and can fail)."""
    return str(name).replace("$", r"\$")


def _fmt(value: float | None, digits: int) -> str:
    return "—" if value is None else f"{value:.{digits}f}"
TIES = ("drop", "half", "model")


@dataclass
class Leaderboard:
    """A fitted leaderboard.  ``rows`` are sorted best first."""

    model: str
    rows: list[dict[str, Any]]
    log_likelihood: float
    n: int
    details: dict[str, Any] = field(default_factory=dict)
    estimator: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "items": [dict(r) for r in self.rows],
            "log_likelihood": float(self.log_likelihood),
            "n": int(self.n),
        }

    def to_json(self) -> str:
        """The JSON document (strict JSON: a NaN or infinity is a bug and raises)."""
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)

    def to_markdown(self, digits: int = 2) -> str:
        lines = [
            f"| rank | name | rating | {self.details.get('level', 0.95):.0%} interval |",
            "|---:|---|---:|---|",
        ]
        for r in self.rows:
            interval = (
                "—" if r["ci_low"] is None
                else f"[{_fmt(r['ci_low'], digits)}, {_fmt(r['ci_high'], digits)}]"
            )
            lines.append(f"| {r['rank']} | {r['name']} | {r['rating']:.{digits}f} | {interval} |")
        return "\n".join(lines) + "\n"

    def to_csv(self) -> str:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=["rank", "name", "rating", "ci_low", "ci_high"],
                           lineterminator="\n")
        w.writeheader()
        for r in self.rows:
            w.writerow({k: r[k] for k in ("rank", "name", "rating", "ci_low", "ci_high")})
        return buf.getvalue()

    # ------------------------------------------------------------------ plots
    def plot_ratings(self, path: str | os.PathLike | None = None) -> Any:
        """Ratings with interval bars, best at the top (matplotlib, Agg backend)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        names = [plot_label(r["name"]) for r in self.rows][::-1]
        rating = np.array([r["rating"] for r in self.rows])[::-1]
        has_ci = all(r["ci_low"] is not None for r in self.rows)
        lo = np.array([r["ci_low"] if has_ci else r["rating"] for r in self.rows])[::-1]
        hi = np.array([r["ci_high"] if has_ci else r["rating"] for r in self.rows])[::-1]
        fig, ax = plt.subplots(figsize=(7, 0.3 * len(names) + 1.2))
        ax.errorbar(rating, np.arange(len(names)), xerr=[rating - lo, hi - rating], fmt="o",
                    capsize=3)
        ax.set_yticks(np.arange(len(names)), names)
        ax.set_xlabel(f"rating ({self.details.get('scale', 'logit')})")
        ax.set_title(f"{self.model}: ratings with {self.details.get('level', 0.95):.0%} intervals")
        fig.tight_layout()
        if path is not None:
            fig.savefig(path, format="png", dpi=120)
        return fig

    def plot_win_matrix(self, path: str | os.PathLike | None = None) -> Any:
        """Heat map of predicted P(row ≻ column), items ordered by rating."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        names = [plot_label(r["name"]) for r in self.rows]
        M = np.asarray(self.details["win_matrix"])
        fig, ax = plt.subplots(figsize=(0.35 * len(names) + 3, 0.35 * len(names) + 2.5))
        im = ax.imshow(M, vmin=0, vmax=1, cmap="RdBu_r")
        ax.set_xticks(np.arange(len(names)), names, rotation=90)
        ax.set_yticks(np.arange(len(names)), names)
        if len(names) <= 20:
            for a in range(len(names)):
                for b in range(len(names)):
                    if a != b:
                        ax.text(b, a, f"{M[a, b]:.2f}", ha="center", va="center", fontsize=7)
        fig.colorbar(im, ax=ax, label="P(row ≻ column)")
        ax.set_title("predicted win probability")
        fig.tight_layout()
        if path is not None:
            fig.savefig(path, format="png", dpi=120)
        return fig

    def write(self, directory: str | os.PathLike, plots: bool = True) -> list[Path]:
        """Write leaderboard.{json,md,csv} (and PNG plots) into ``directory``: all or nothing.

        Every file is rendered into a temporary directory beside the target first; only when all
        of them exist are they moved into place (the whole directory, when it is new), so a
        failure (e.g. while plotting) leaves no file behind.  Other files in ``directory`` are
        never touched.
        """
        names = list(OUTPUT_FILES) + (list(PLOT_FILES) if plots else [])

        def build(tmp: Path) -> None:
            for name, text in zip(
                OUTPUT_FILES, (self.to_json() + "\n", self.to_markdown(), self.to_csv()),
                strict=True,
            ):
                (tmp / name).write_text(text, encoding="utf-8")
            if plots:
                import matplotlib.pyplot as plt

                for name, fn in zip(PLOT_FILES, (self.plot_ratings, self.plot_win_matrix),
                                    strict=True):
                    plt.close(fn(tmp / name))

        try:
            publish_files(build, directory)
        except ModelFileError as err:
            raise DataError(str(err).split(": ", 1)[-1], source=str(directory)) from None
        return [Path(directory) / name for name in names]


def make_model(
    model: str, ties: str | None, *, style_control: list[str] | None = None,
    home_advantage: bool | str = False, prior_var: float | None = None,
    elo_k: float | None = None,
) -> Any:
    """Estimator for a model name and tie convention (``bt`` + ``model`` ties → Davidson)."""
    name = model.lower().replace("_", "-")
    if name not in MODELS and name not in ("plackett-luce", "bradley-terry"):
        raise DataError(f"unknown model {model!r} (expected one of {', '.join(MODELS)})")
    if ties is not None and ties not in TIES:
        raise DataError(f"unknown ties convention {ties!r} (expected drop, half or model)")
    if name in ("pl", "plackett-luce"):  # imported here: it loads scipy.sparse (~100 ms)
        from prefkit.choice.plackett_luce import PlackettLuce

        return PlackettLuce(prior_var=prior_var)
    if name == "elo":
        if ties not in (None, "half"):
            raise DataError("Elo counts a tie as half a win; use --ties half (or leave it out)")
        if style_control:
            raise DataError("Elo has no style control; use --model bt")
        return Elo(k=4.0 if elo_k is None else float(elo_k))
    kw: dict[str, Any] = {
        "covariates": style_control or None,
        "home_advantage": home_advantage,
        "prior_var": prior_var,
    }
    if name in ("davidson", "rao-kupper"):
        if ties not in (None, "model"):
            raise DataError(f"model {model!r} models ties; use --ties model (or leave it out)")
        return Davidson(**kw) if name == "davidson" else RaoKupper(**kw)
    if name == "thurstone":
        return Thurstone(ties=ties or "half", **kw)
    if ties == "model":
        return Davidson(**kw)
    return BradleyTerry(ties=ties or "half", **kw)


def _all_ties(est: Any, dataset: Any) -> bool:
    """True when every comparison the model was fitted on is a tie."""
    if isinstance(est, Elo):
        return bool(np.all(dataset.is_tie()))
    counts = getattr(est, "counts_", None)
    if counts is not None:
        total = float((counts.wi + counts.wj + counts.t).sum())
        return total > 0 and float(counts.t.sum()) >= total * (1 - 1e-12)
    st = getattr(est, "stages_", None)
    if st is not None:  # Plackett–Luce: every stage chooses its whole choice set together
        sizes = np.bincount(st.stage, minlength=st.n_stages)
        return bool(np.all(st.mult == sizes))
    return False


def _model_intervals(
    est: Any, level: float, A: np.ndarray, c: np.ndarray
) -> tuple[np.ndarray, np.ndarray, str]:
    """Model-based (inverse-information) intervals; refit with the fallback prior if needed."""
    z = NormalDist().inv_cdf(0.5 + level / 2.0)
    how = "model-based (inverse-information) intervals"
    cov = est.rating_cov("model")
    if not np.all(np.isfinite(cov)) or np.max(np.diag(cov), initial=0.0) > 1e6:
        # the ratings are not identified (a tie model's tie parameter runs to infinity):
        # the information on θ vanishes; use the fit with the fallback N(0, v) prior instead
        from sklearn.base import clone

        prior = float(getattr(est, "fallback_prior_var", 10.0))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reg = clone(est).set_params(prior_var=prior)
            if hasattr(est, "counts_"):
                reg.fit_counts(est.counts_)
            else:  # Plackett–Luce
                reg.fit_stages(est.stages_)
        cov = reg.rating_cov("model")
        how = (f"model-based intervals of a fit with a N(0, {prior:g}) prior (they show the "
               "prior: these data carry no information on rating differences)")
    se = np.sqrt(np.maximum(np.diag(A @ cov @ A.T), 0.0))
    theta = c + A @ est.ratings_
    return theta - z * se, theta + z * se, how


def _elo_logit(est: Elo) -> np.ndarray:
    """Elo points → mean-zero natural-log odds units (the scale every other model uses)."""
    th = (np.asarray(est.ratings_, dtype=float) - est.base) * math.log(10.0) / est.scale
    return th - th.mean()


def _elo_log_likelihood(est: Elo, dataset: Any) -> float:
    from prefkit.choice._data import pair_records

    rec = pair_records(dataset)
    p = np.clip(est.predict_proba(dataset), 1e-300, 1 - 1e-16)
    wi, wj = rec.wi + 0.5 * rec.t, rec.wj + 0.5 * rec.t
    return float((wi * np.log(p) + wj * np.log1p(-p)).sum())


def leaderboard(
    dataset: Any,
    model: str | Any = "bt",
    *,
    ties: str | None = None,
    scale: str | None = None,
    anchor: str | tuple[str, float] | None = None,
    bootstrap: int = 0,
    ci: str | None = None,
    style_control: list[str] | None = None,
    home_advantage: bool | str = False,
    prior_var: float | None = None,
    seed: int | None = 0,
    level: float = 0.95,
    elo_k: float | None = None,
) -> Leaderboard:
    """Fit ``model`` on ``dataset`` and build a :class:`Leaderboard`.

    ``dataset`` is a :class:`~prefkit.data.schema.PreferenceDataset`, or, for the
    covariate-free pairwise models, its :class:`~prefkit.choice.counts.PairCounts` table (the
    same leaderboard: the likelihood depends on the data only through the counts).

    Args:
        model: ``"bt"``, ``"thurstone"``, ``"davidson"``, ``"rao-kupper"``, ``"pl"``, ``"elo"``
            or an unfitted estimator.  Ranking datasets are fitted with Plackett–Luce.
        ties: ``"drop"``, ``"half"`` (default) or ``"model"`` (Davidson for ``bt``, Glenn–David
            for ``thurstone``).
        scale: ``"logit"`` or ``"elo"`` (1000 + 400·log10(e)·θ); default ``"elo"`` for
            ``model="elo"``, else ``"logit"``.
        anchor: ``"NAME=VALUE"``: shift so that NAME is rated VALUE.
        bootstrap: number of bootstrap rounds (0: none).
        ci: ``"sandwich"``, ``"bootstrap"`` or ``"none"`` (default: bootstrap when
            ``bootstrap > 0``, else sandwich; Elo has no sandwich, so ``"none"``).
        style_control: covariate names (``len`` → ``len_a − len_b``), z-scored, L2-penalised.
        elo_k: Elo's K (default 4, LMArena's; sports ratings use 20–32, see docs/choice.md).
    """
    kind = "pairwise" if isinstance(dataset, PairCounts) else getattr(dataset, "kind", None)
    if isinstance(model, str):
        if kind == "ranking" and model.lower() in ("bt", "pl", "plackett-luce"):
            model = "pl"
        elif kind == "ranking":
            raise DataError(f"model {model!r} needs pairwise data; use --model bt for rankings")
        est = make_model(model, ties, style_control=style_control,
                         home_advantage=home_advantage, prior_var=prior_var, elo_k=elo_k)
        label = {"pl": "plackett-luce"}.get(model.lower(), model.lower())
        if label == "bt" and ties == "model":
            label = "davidson"
    else:
        est, label = model, type(model).__name__
    is_elo = isinstance(est, Elo)
    if isinstance(dataset, PairCounts) and (
        not hasattr(est, "fit_counts") or style_control or home_advantage
    ):  # a count table (many files counted apart) has no battle order and no covariates
        raise DataError("Elo, Plackett–Luce and style control need the battles themselves, "
                        "not their count table")
    if scale is None:
        scale = "elo" if is_elo else "logit"
    if ci is None:
        ci = "bootstrap" if bootstrap and bootstrap > 0 else ("none" if is_elo else "sandwich")
    if ci not in ("sandwich", "bootstrap", "none"):
        raise DataError(f"unknown interval method {ci!r} (expected sandwich, bootstrap or none)")
    if is_elo and ci == "sandwich":
        raise DataError("Elo has no sandwich intervals; use --bootstrap N (or --ci none)")
    if ci == "bootstrap" and (not bootstrap or bootstrap <= 0):
        bootstrap = 1000
    if kind not in ("pairwise", "ranking"):
        raise DataError(f"a leaderboard needs pairwise or ranking data, not {kind}")
    # one BLAS thread: the linear algebra here is small (p ≤ a few thousand), and BLAS worker
    # threads busy-waiting on a loaded machine made 200×200 solves take 0.4 s instead of 1 ms
    with one_blas_thread():
        return _leaderboard(est, label, is_elo, dataset, scale, anchor, ci, bootstrap, seed,
                            level)


def _leaderboard(est: Any, label: str, is_elo: bool, dataset: Any, scale: str, anchor: Any,
                 ci: str, bootstrap: int, seed: int | None, level: float) -> Leaderboard:
    if isinstance(dataset, PairCounts):  # e.g. merged from shards (prefkit.choice.shards)
        est.fit_counts(dataset)
    else:
        est.fit(dataset)
    items = list(est.items_)
    theta = _elo_logit(est) if is_elo else np.asarray(est.ratings_, dtype=float)
    anc = parse_anchor(anchor)
    c, A = affine(items, scale, anc)
    rating = c + A @ theta
    notes: list[str] = []
    lo = hi = None
    if ci == "bootstrap":
        if is_elo:
            samples = bootstrap_elo(est, dataset, int(bootstrap), seed=seed)
            samples = (samples - est.base) * math.log(10.0) / est.scale
            samples -= samples.mean(axis=1, keepdims=True)
        else:
            samples = run_bootstrap(est, int(bootstrap), seed=seed).ratings
        scaled = c + samples @ A.T
        a = (1.0 - level) / 2.0
        lo, hi = np.quantile(scaled, a, axis=0), np.quantile(scaled, 1 - a, axis=0)
    elif ci == "sandwich":
        _, lo, hi = sandwich_intervals(est, level, A=A)
        lo, hi = lo + c, hi + c
    if lo is not None and len(items) > 1:
        width = hi - lo
        # zero width on a free rating (an anchored item is exactly 0 wide by construction)
        free = np.abs(np.diag(A)) > 0
        if np.any(width[free] <= 1e-9 * np.maximum(1.0, np.abs(rating[free]))):
            reason = ("every comparison is a tie, so" if _all_ties(est, dataset)
                      else "the data leave no sampling variation:")
            if is_elo:  # no model-based covariance for online Elo
                lo = hi = None
                notes.append(f"{reason} Elo's bootstrap intervals have zero width; no interval "
                             "is reported (use --model bt for model-based intervals)")
            else:
                lo, hi, how = _model_intervals(est, level, A, c)
                notes.append(f"{reason} the {ci} intervals have zero width; reporting {how} "
                             "instead")
            warnings.warn(notes[-1], UserWarning, stacklevel=3)
    if lo is None:
        ranks = 1 + (rating[None, :] > rating[:, None]).sum(axis=1)
    else:
        ranks = rank_intervals(lo, hi)
    values = [rating] + ([] if lo is None else [lo, hi])
    if not all(np.all(np.isfinite(v)) for v in values):
        raise DataError(
            "the fit gave non-finite ratings (check the weights: are they all zero or huge?)"
        )
    order = np.lexsort((-rating, ranks))  # by rank, then by rating (ranks ascend down the list)
    rows = [
        {
            "name": items[k],
            "rating": float(rating[k]),
            "ci_low": None if lo is None else float(lo[k]),
            "ci_high": None if hi is None else float(hi[k]),
            "rank": int(ranks[k]),
        }
        for k in order
    ]
    W = est.win_matrix()[np.ix_(order, order)]
    details = {
        "scale": scale,
        "anchor": None if anc is None else list(anc),
        "ci": ci,
        "level": level,
        "bootstrap": int(bootstrap or 0),
        "ties": getattr(est, "ties_", None),
        "tie_param": getattr(est, "tie_param_", None),
        "home_advantage": getattr(est, "home_advantage_", None),
        "covariates": dict(zip(getattr(est, "covariate_names_", []),
                               map(float, getattr(est, "coef_", [])), strict=False)),
        "win_matrix": W.tolist(),
        "regularized": bool(getattr(est, "regularized_", False)),
        "notes": notes,
    }
    if is_elo:
        log_lik, n = _elo_log_likelihood(est, dataset), len(dataset)
    else:
        log_lik, n = float(est.log_likelihood_), round(est.n_obs_)
    return Leaderboard(label, rows, log_lik, n, details, est)
