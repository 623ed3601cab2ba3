"""Online Elo ratings (Elo 1978), with LMArena's parameters by default.

Elo, A. E. (1978), *The Rating of Chessplayers, Past and Present*.  Before each game

    E_a = 1 / (1 + 10^{(R_b − R_a − H) / s}),      H = home advantage (points) when a is at home,

and after it  R_a ← R_a + K (S_a − E_a),  R_b ← R_b − K (S_a − E_a),  S_a ∈ {1, ½, 0}.
LMArena's ``compute_online_elo`` uses K = 4, s = 400, base 1000 (Chiang et al. 2024).
FiveThirtyEight's NFL model uses K = 20, H = 65 and regresses ratings one third of the way to
the mean between seasons (``season_regression=1/3``, with a ``season`` column).

The update is inherently sequential (each game depends on the ratings after the previous one),
so it is one Python loop over records in the given order; :meth:`Elo.fit` returns the final
ratings and :attr:`Elo.pregame_proba_` the out-of-sample probability of each game before it was
played — the time-ordered evaluation of :mod:`prefkit.choice.forward` (`prefkit evaluate-forward`).
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from prefkit.choice._data import home_indicator, pair_records
from prefkit.choice.persist import read_legacy
from prefkit.core.estimator import PreferenceEstimator
from prefkit.core.mathfn import sigmoid
from prefkit.core.persist import malformed, register
from prefkit.errors import DataError, ModelFileError

LN10 = math.log(10.0)


@register("choice.Elo")
class Elo(PreferenceEstimator):
    """Online Elo.  ``ratings_`` are in Elo points (base ``base``).

    Args:
        k: update step K (LMArena 4; sports sites 20–32, see docs/choice.md).
        base, scale: rating of a new item; points per factor 10 in odds.
        home_advantage: points added to the first candidate when it is at home.
        home_column: ``True`` (first candidate always at home) or a column (+1/0/−1).
        season_column, season_regression: regress ratings this fraction towards ``base``
            whenever the value of ``season_column`` changes.
    """

    _fitted_attr: ClassVar[str | None] = "ratings_"

    def __init__(
        self,
        *,
        k: float = 4.0,
        base: float = 1000.0,
        scale: float = 400.0,
        home_advantage: float = 0.0,
        home_column: str | bool | None = None,
        season_column: str | None = None,
        season_regression: float = 0.0,
    ) -> None:
        self.k = k
        self.base = base
        self.scale = scale
        self.home_advantage = home_advantage
        self.home_column = home_column
        self.season_column = season_column
        self.season_regression = season_regression

    def _home(self, dataset: Any) -> np.ndarray:
        if self.home_column is None or self.home_column is False:
            return np.zeros(len(dataset))
        return home_indicator(dataset, self.home_column)

    def fit(self, dataset: Any) -> Elo:
        """Run the updates over the records in order; ties count ½ (soft labels as given)."""
        ia, ib, y, home, season, n = self._inputs(dataset)
        self.items_ = list(dataset.item_codes()[0])
        self.ratings_, self.pregame_proba_ = self._run(ia, ib, y, home, season, n)
        return self

    def _inputs(self, dataset: Any) -> tuple[np.ndarray, ...]:
        """(ia, ib, y, home, season, n_items) of a pairwise dataset, in record order."""
        rec = pair_records(dataset)
        total = rec.wi + rec.wj + rec.t
        if rec.ia.size and not total.sum() > 0:
            raise DataError(
                "every record has weight 0: nothing to fit (give some records a positive weight)",
                source=getattr(dataset, "name", None), field="weight",
            )
        y = np.where(rec.t > 0, 0.5, rec.wi / np.maximum(rec.wi + rec.wj, 1e-300))
        season = (
            np.asarray(dataset.column(self.season_column))
            if self.season_column is not None
            else None
        )
        return rec.ia, rec.ib, y, self._home(dataset), season, len(rec.items)

    def _run(self, ia, ib, y, home, season, n) -> tuple[np.ndarray, np.ndarray]:
        r = [float(self.base)] * n
        k, s, h = self.k, self.scale, self.home_advantage
        reg, base = self.season_regression, self.base
        pre = np.empty(len(ia))
        ia_l, ib_l, y_l, home_l = ia.tolist(), ib.tolist(), y.tolist(), (h * home).tolist()
        season_l = None if season is None else season.tolist()
        current = None if season_l is None else season_l[0]
        for t in range(len(ia_l)):
            if season_l is not None and season_l[t] != current:
                current = season_l[t]
                if reg:
                    r = [x + reg * (base - x) for x in r]
            a, b = ia_l[t], ib_l[t]
            # scalar logistic in base 10 inside the sequential loop (numpy per call is slower)
            e = 1.0 / (1.0 + 10.0 ** ((r[b] - r[a] - home_l[t]) / s))
            pre[t] = e
            delta = k * (y_l[t] - e)
            r[a] += delta
            r[b] -= delta
        return np.asarray(r), pre

    def _check_fitted(self) -> None:
        self.check_fitted()

    def item_scores(self, items: Any = None) -> np.ndarray:
        """Elo ratings of the named items (all when ``None``; unknown items get ``base``)."""
        self._check_fitted()
        if items is None:
            return np.asarray(self.ratings_, dtype=float).copy()
        pos = {nm: k for k, nm in enumerate(self.items_)}
        names = [items] if isinstance(items, str) else list(items)
        return np.array([self.ratings_[pos[nm]] if nm in pos else self.base for nm in names])

    def score(self, items: Any) -> np.ndarray:
        """Deprecated alias of :meth:`item_scores` (kept for one release)."""
        warnings.warn("Elo.score is deprecated; use item_scores", DeprecationWarning, stacklevel=2)
        return self.item_scores(items)

    def predict_proba(self, dataset: Any) -> np.ndarray:
        """P(a ≻ b) from the final ratings (unknown items rated ``base``)."""
        self._check_fitted()
        rec = pair_records(dataset)
        r = self.item_scores(rec.items)
        diff = r[rec.ia] - r[rec.ib] + self.home_advantage * self._home(dataset)
        return sigmoid(diff * LN10 / self.scale)

    def win_matrix(self) -> np.ndarray:
        self._check_fitted()
        d = self.ratings_[:, None] - self.ratings_[None, :]
        return sigmoid(d * LN10 / self.scale)

    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        self._check_fitted()
        return {"params": self.get_params(), "items": list(self.items_)}, {
            "ratings": np.asarray(self.ratings_, dtype=float)
        }

    @classmethod
    def _from_state(
        cls, config: dict[str, Any], arrays: dict[str, np.ndarray], directory: Path, **kw: Any
    ) -> Elo:
        return cls._from_saved(config, arrays, directory)

    @classmethod
    def _from_legacy(cls, directory: Path, **kw: Any) -> Elo:
        config, arrays = read_legacy(directory, "Elo")
        return cls._from_saved(config, arrays, directory)

    @classmethod
    def _from_saved(cls, config: dict[str, Any], arrays: dict[str, np.ndarray], where: Any = ""):
        try:
            model = cls(**config["params"])
            items = [str(x) for x in config["items"]]
            ratings = np.asarray(arrays["ratings"], dtype=float)
            if ratings.shape != (len(items),):
                raise ModelFileError(f"{where}: ratings do not match the {len(items)} items")
            model.items_ = items
            model.ratings_ = ratings
        except ModelFileError:
            raise
        except (KeyError, TypeError, ValueError) as err:
            raise malformed(where, err) from None
        return model


def bootstrap_elo(
    model: Elo, dataset: Any, n_rounds: int, *, seed: int | None = 0
) -> np.ndarray:
    """(B, n) final Elo ratings of ``n_rounds`` runs on records resampled with replacement.

    Each round draws N records with replacement and runs Elo over them *in their original
    order* (the data's time order is kept; LMArena's online-Elo bootstrap shuffles instead).
    Items absent from a round keep the base rating.
    """
    model._check_fitted()
    ia, ib, y, home, season, n = model._inputs(dataset)
    rng = np.random.default_rng(seed)
    N = ia.size
    out = np.empty((n_rounds, n))
    for b in range(n_rounds):
        idx = np.sort(rng.integers(0, N, N))
        out[b] = model._run(
            ia[idx], ib[idx], y[idx], home[idx], None if season is None else season[idx], n
        )[0]
    return out
