"""Leaderboards: fit a choice model, attach intervals and ranks, render as JSON/Markdown/CSV/plots.

``leaderboard(dataset, model="bt", ...)`` reproduces LMArena's recipe by default (Bradley–Terry
MLE, ties as half wins, optional Elo scale with base 1000 / scale 400, bootstrap or sandwich
intervals, rank = 1 + number of items significantly better, optional style control and anchor).
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from prefkit.choice.bradley_terry import BradleyTerry
from prefkit.choice.davidson import Davidson
from prefkit.choice.persist import atomic_write_text
from prefkit.choice.plackett_luce import PlackettLuce
from prefkit.choice.rao_kupper import RaoKupper
from prefkit.choice.scales import affine, parse_anchor
from prefkit.choice.thurstone import Thurstone
from prefkit.choice.uncertainty import bootstrap as run_bootstrap
from prefkit.choice.uncertainty import rank_intervals, sandwich_intervals
from prefkit.data.io import save_figure
from prefkit.errors import DataError

MODELS = ("bt", "thurstone", "davidson", "rao-kupper", "pl")
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
        return json.dumps(self.to_dict(), indent=2)

    def to_markdown(self, digits: int = 2) -> str:
        lines = [
            f"| rank | name | rating | {self.details.get('level', 0.95):.0%} interval |",
            "|---:|---|---:|---|",
        ]
        for r in self.rows:
            lines.append(
                f"| {r['rank']} | {r['name']} | {r['rating']:.{digits}f} | "
                f"[{r['ci_low']:.{digits}f}, {r['ci_high']:.{digits}f}] |"
            )
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

        names = [r["name"] for r in self.rows][::-1]
        rating = np.array([r["rating"] for r in self.rows])[::-1]
        lo = np.array([r["ci_low"] for r in self.rows])[::-1]
        hi = np.array([r["ci_high"] for r in self.rows])[::-1]
        fig, ax = plt.subplots(figsize=(7, 0.3 * len(names) + 1.2))
        ax.errorbar(rating, np.arange(len(names)), xerr=[rating - lo, hi - rating], fmt="o",
                    capsize=3)
        ax.set_yticks(np.arange(len(names)), names)
        ax.set_xlabel(f"rating ({self.details.get('scale', 'logit')})")
        ax.set_title(f"{self.model}: ratings with {self.details.get('level', 0.95):.0%} intervals")
        fig.tight_layout()
        if path is not None:
            save_figure(fig, path)
        return fig

    def plot_win_matrix(self, path: str | os.PathLike | None = None) -> Any:
        """Heat map of predicted P(row ≻ column), items ordered by rating."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        names = [r["name"] for r in self.rows]
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
            save_figure(fig, path)
        return fig

    def write(self, directory: str | os.PathLike, plots: bool = True) -> list[Path]:
        """Write leaderboard.{json,md,csv} (and PNG plots) atomically into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        out = []
        for name, text in (
            ("leaderboard.json", self.to_json() + "\n"),
            ("leaderboard.md", self.to_markdown()),
            ("leaderboard.csv", self.to_csv()),
        ):
            atomic_write_text(directory / name, text)
            out.append(directory / name)
        if plots:
            import matplotlib.pyplot as plt

            for name, fn in (("ratings.png", self.plot_ratings),
                             ("win_matrix.png", self.plot_win_matrix)):
                fig = fn(directory / name)
                plt.close(fig)
                out.append(directory / name)
        return out


def make_model(
    model: str, ties: str | None, *, style_control: list[str] | None = None,
    home_advantage: bool | str = False, prior_var: float | None = None,
) -> Any:
    """Estimator for a model name and tie convention (``bt`` + ``model`` ties → Davidson)."""
    name = model.lower().replace("_", "-")
    if name not in MODELS and name not in ("plackett-luce", "bradley-terry"):
        raise DataError(f"unknown model {model!r} (expected one of {', '.join(MODELS)})")
    if ties is not None and ties not in TIES:
        raise DataError(f"unknown ties convention {ties!r} (expected drop, half or model)")
    if name in ("pl", "plackett-luce"):
        return PlackettLuce(prior_var=prior_var)
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


def leaderboard(
    dataset: Any,
    model: str | Any = "bt",
    *,
    ties: str | None = None,
    scale: str = "logit",
    anchor: str | tuple[str, float] | None = None,
    bootstrap: int = 0,
    ci: str | None = None,
    style_control: list[str] | None = None,
    home_advantage: bool | str = False,
    prior_var: float | None = None,
    seed: int | None = 0,
    level: float = 0.95,
) -> Leaderboard:
    """Fit ``model`` on ``dataset`` and build a :class:`Leaderboard`.

    Args:
        model: ``"bt"``, ``"thurstone"``, ``"davidson"``, ``"rao-kupper"``, ``"pl"`` or an
            unfitted estimator.  Ranking datasets are fitted with Plackett–Luce.
        ties: ``"drop"``, ``"half"`` (default) or ``"model"`` (Davidson for ``bt``, Glenn–David
            for ``thurstone``).
        scale: ``"logit"`` or ``"elo"`` (1000 + 400·log10(e)·θ).
        anchor: ``"NAME=VALUE"``: shift so that NAME is rated VALUE.
        bootstrap: number of bootstrap rounds (0: none).
        ci: ``"sandwich"`` or ``"bootstrap"`` (default: bootstrap when ``bootstrap > 0``).
        style_control: covariate names (``len`` → ``len_a − len_b``), z-scored, L2-penalised.
    """
    if ci is None:
        ci = "bootstrap" if bootstrap and bootstrap > 0 else "sandwich"
    if ci not in ("sandwich", "bootstrap"):
        raise DataError(f"unknown interval method {ci!r} (expected sandwich or bootstrap)")
    if ci == "bootstrap" and (not bootstrap or bootstrap <= 0):
        bootstrap = 1000
    kind = getattr(dataset, "kind", None)
    if isinstance(model, str):
        if kind == "ranking" and model.lower() in ("bt", "pl", "plackett-luce"):
            model = "pl"
        elif kind == "ranking":
            raise DataError(f"model {model!r} needs pairwise data; use --model bt for rankings")
        est = make_model(model, ties, style_control=style_control,
                         home_advantage=home_advantage, prior_var=prior_var)
        label = {"pl": "plackett-luce"}.get(model.lower(), model.lower())
        if label == "bt" and ties == "model":
            label = "davidson"
    else:
        est, label = model, type(model).__name__
    if kind not in ("pairwise", "ranking"):
        raise DataError(f"a leaderboard needs pairwise or ranking data, not {kind}")
    est.fit(dataset)
    items = list(est.items_)
    anc = parse_anchor(anchor)
    c, A = affine(items, scale, anc)
    rating = c + A @ est.ratings_
    if ci == "bootstrap":
        res = run_bootstrap(est, int(bootstrap), seed=seed)
        scaled = c + res.ratings @ A.T
        a = (1.0 - level) / 2.0
        lo, hi = np.quantile(scaled, a, axis=0), np.quantile(scaled, 1 - a, axis=0)
    else:
        _, lo, hi = sandwich_intervals(est, level, A=A)
        lo, hi = lo + c, hi + c
    ranks = rank_intervals(lo, hi)
    order = np.argsort(-rating, kind="stable")
    rows = [
        {
            "name": items[k],
            "rating": float(rating[k]),
            "ci_low": float(lo[k]),
            "ci_high": float(hi[k]),
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
    }
    n = round(est.n_obs_)
    return Leaderboard(label, rows, float(est.log_likelihood_), n, details, est)
