"""Shared machinery of the pairwise choice models (fit on counts, predict, save/load).

A concrete model (Bradley–Terry, Thurstone, Davidson, Rao–Kupper) only says which row
likelihood (*family*) it uses; see those modules for the formulas.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from prefkit.choice import newton
from prefkit.choice._data import covariate_difference, home_indicator, pair_records
from prefkit.choice.counts import PairCounts, count_outcomes, count_pairs
from prefkit.choice.graph import ComparisonGraphWarning, diagnose
from prefkit.choice.persist import read_legacy
from prefkit.core.estimator import PreferenceEstimator
from prefkit.core.persist import malformed
from prefkit.errors import DataError, ModelFileError

TIES = ("drop", "half", "model")


class PairwiseModel(PreferenceEstimator):
    """Base class: ``fit(dataset) -> self``, ``predict_proba``, ``item_scores``, ``save``/``load``.

    Args:
        ties: how tied records are used: ``"drop"`` them, count each as ``"half"`` a win for
            both sides (LMArena's convention), or ``"model"`` them (tie-aware models only).
        home_advantage: ``False``; ``True`` for an order/home effect on the first candidate of
            every record; or a column name whose value is +1 (first at home), 0 (neutral), −1
            (second at home) — a column named ``neutral`` is used as ``1 − neutral``.
        covariates: per-comparison covariates ("style control"): for each name, the feature is
            ``name_a − name_b`` (or the column ``name`` as given), z-scored over the data; an L2
            penalty ``covariate_l2 · ‖β‖² / 2`` is put on their coefficients.
        normalize_covariates: use ``(a − b)/(a + b)`` before z-scoring (as LMArena).
        prior_var: variance of an i.i.d. N(0, prior_var) prior on the ratings (MAP); ``None``
            for maximum likelihood with sum-to-zero ratings.
        fallback_prior_var: prior variance added (with a warning) when the MLE does not exist
            (disconnected comparison graph, undefeated or winless items).
        tol, max_iter: Newton stopping rule (largest parameter step) and iteration cap.
    """

    ties_allowed: tuple[str, ...] = TIES
    default_ties = "half"
    _fitted_attr: ClassVar[str | None] = "ratings_"

    def __init__(
        self,
        *,
        ties: str | None = None,
        home_advantage: bool | str = False,
        covariates: list[str] | tuple[str, ...] | None = None,
        covariate_l2: float = 1.0,
        normalize_covariates: bool = False,
        prior_var: float | None = None,
        fallback_prior_var: float = 10.0,
        tol: float = 1e-10,
        max_iter: int = 100,
    ) -> None:
        self.ties = ties
        self.home_advantage = home_advantage
        self.covariates = covariates
        self.covariate_l2 = covariate_l2
        self.normalize_covariates = normalize_covariates
        self.prior_var = prior_var
        self.fallback_prior_var = fallback_prior_var
        self.tol = tol
        self.max_iter = max_iter

    # ------------------------------------------------------------------ configuration
    def _ties(self) -> str:
        ties = self.ties or self.default_ties
        if ties not in self.ties_allowed:
            raise ValueError(
                f"{type(self).__name__}: ties={ties!r} not supported "
                f"(expected one of {', '.join(self.ties_allowed)})"
            )
        return ties

    def _family(self, ties: str) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _tie_units(self, ties: str) -> tuple[float, float, float] | None:
        return {"drop": None, "half": (0.5, 0.5, 0.0), "model": (0.0, 0.0, 1.0)}[ties]

    # ------------------------------------------------------------------ data -> counts
    def _feature_names(self) -> list[str]:
        names = []
        if self.home_advantage is not False and self.home_advantage is not None:
            names.append("home")
        names += list(self.covariates or [])
        return names

    def _raw_features(self, dataset: Any, *, fitting: bool) -> np.ndarray | None:
        cols = []
        if self.home_advantage is not False and self.home_advantage is not None:
            spec = self.home_advantage
            if fitting or spec is True or str(spec) in dataset.columns:
                cols.append(home_indicator(dataset, self.home_advantage))
            else:
                cols.append(np.zeros(len(dataset)))
        for name in self.covariates or []:
            try:
                x = covariate_difference(dataset, name, self.normalize_covariates)
            except DataError:
                if fitting:
                    raise
                x = None
            if x is None:  # style-neutral prediction when the covariate is absent
                cols.append(np.full(len(dataset), np.nan))
            else:
                cols.append(x)
        return np.column_stack(cols) if cols else None

    def counts(self, dataset: Any) -> PairCounts:
        """Aggregate a pairwise dataset into the count table this model fits on."""
        fast = self._count_hard_outcomes(dataset)
        if fast is not None:
            return fast
        rec = pair_records(dataset)
        if len(rec.ia) and not (rec.wi + rec.wj + rec.t).sum() > 0:
            raise DataError(
                "every record has weight 0: nothing to fit (give some records a positive weight)",
                source=getattr(dataset, "name", None), field="weight",
            )
        Z = self._raw_features(dataset, fitting=True)
        n_home = 1 if self._feature_names()[:1] == ["home"] else 0
        if Z is not None and Z.shape[1] > n_home:
            style = Z[:, n_home:]
            mean = style.mean(axis=0)
            std = style.std(axis=0)
            std[std == 0] = 1.0
            Z = Z.copy()
            Z[:, n_home:] = (style - mean) / std
            self._z_mean, self._z_std = mean, std
        else:
            self._z_mean, self._z_std = np.zeros(0), np.zeros(0)
        return count_pairs(
            len(rec.items), rec.ia, rec.ib, rec.wi, rec.wj, rec.t,
            Z=Z, items=rec.items, z_names=self._feature_names(),
        )

    def _count_hard_outcomes(self, dataset: Any) -> PairCounts | None:
        """Raw battle logs (hard a/b/tie labels, no weights, no features): one integer
        ``bincount`` over dictionary codes (:func:`count_outcomes`), skipping the float weight
        arrays of :func:`pair_records` — about 3× faster on millions of battles."""
        cols = getattr(dataset, "columns", [])
        if (self._feature_names() or "weight" in cols or "p_a" in cols
                or getattr(dataset, "kind", None) != "pairwise"):
            return None
        codes = dataset.outcome_codes()
        if codes.size == 0 or codes.min() < 0:
            return None  # soft labels or missing outcomes: the general path reports them
        items, ia, ib = dataset.item_codes()
        if ia.size and (ia.min() < 0 or ib.min() < 0):
            return None
        self._z_mean, self._z_std = np.zeros(0), np.zeros(0)
        return count_outcomes(len(items), ia, ib, codes, items=list(items))

    # ------------------------------------------------------------------ fitting
    def fit(self, dataset: Any, *, init: Any = None) -> PairwiseModel:
        """Fit on a pairwise :class:`~prefkit.data.schema.PreferenceDataset`; returns ``self``.

        ``init``: warm start from a fitted model (matched by item name) or a rating array.
        """
        counts = self.counts(dataset)
        z_mean, z_std = self._z_mean, self._z_std
        self.fit_counts(counts, init=init)
        self.covariate_mean_, self.covariate_std_ = z_mean, z_std
        return self

    def _weights(self, counts: PairCounts, ties: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if ties == "drop":
            return counts.wi, counts.wj, np.zeros_like(counts.t)
        if ties == "half":
            return counts.wi + 0.5 * counts.t, counts.wj + 0.5 * counts.t, np.zeros_like(counts.t)
        return counts.wi, counts.wj, counts.t

    def _prec(self, n: int, names: list[str], prior_var: float | None, m: int) -> np.ndarray:
        theta = 0.0 if prior_var is None else 1.0 / float(prior_var)
        beta = [0.0 if nm == "home" else float(self.covariate_l2) for nm in names]
        return np.array([theta] * n + beta + [0.0] * m, dtype=float)

    def fit_counts(self, counts: PairCounts, *, init: Any = None) -> PairwiseModel:
        """Fit on an aggregated :class:`~prefkit.choice.counts.PairCounts` table."""
        ties = self._ties()
        if counts.n_items < 2 or counts.n_rows == 0:
            raise DataError("need comparisons between at least two items")
        wi, wj, t = self._weights(counts, ties)
        if ties == "model" and t.sum() <= 0:
            # no tie in the data: the tie parameter sits on its boundary (no ties)
            fam = self._family("half")
            self.tie_param_ = self._tie_boundary()
        else:
            fam = self._family(ties)
            self.tie_param_ = None
        report = diagnose(counts.items, counts.i, counts.j, wi, wj, t)
        self.graph_ = report
        prior_var = self.prior_var
        self.regularized_ = False
        if not report.ok:
            msg = report.message()
            if prior_var is None:
                prior_var = self.fallback_prior_var
                self.regularized_ = True
                msg += f"; adding a N(0, {prior_var:g}) prior on the ratings to keep them finite"
            warnings.warn(msg, ComparisonGraphWarning, stacklevel=3)
        n, q, m = counts.n_items, counts.q, 1 if fam.has_tau else 0
        prec = self._prec(n, counts.z_names, prior_var, m)
        prob = newton.Problem(
            n, counts.i, counts.j, counts.Z, wi[None], wj[None], t[None], fam, prec
        )
        x0 = np.zeros(prob.p)
        x0[:n] = _win_rate_start(n, counts.i, counts.j, wi, wj, t)
        if m:
            total = (wi + wj + t).sum()
            x0[-1] = fam.tau_init(float(t.sum() / max(total, 1e-300)))
        if init is not None:
            x0 = self._init_vector(init, counts, x0)
        sol = newton.newton_solve(prob, x0[None], tol=self.tol, max_iter=self.max_iter)
        x = sol.x[0]
        if not np.all(np.isfinite(x)):  # pragma: no cover - defensive
            raise DataError("fit diverged (non-finite parameters)")
        self.items_ = list(counts.items)
        self.x_ = x
        self.ratings_ = x[:n].copy()
        self.coef_ = x[n : n + q].copy()
        self.covariate_names_ = list(counts.z_names)
        self.home_advantage_ = (
            float(self.coef_[0]) if counts.z_names[:1] == ["home"] else None
        )
        if m:
            self.tie_param_ = fam.tau_public(float(x[-1]))
        self.log_likelihood_ = float(sol.loglik[0])
        self.n_obs_ = float((wi + wj + t).sum())
        self.n_iter_ = int(sol.n_iter)
        self.converged_ = bool(sol.converged[0])
        self.prior_var_ = prior_var
        self.counts_ = counts
        self.ties_ = ties
        self._fam = fam
        self._prob = prob
        self._info = sol.info[0]
        self.covariate_mean_ = getattr(self, "_z_mean", np.zeros(0))
        self.covariate_std_ = getattr(self, "_z_std", np.zeros(0))
        self._cov = None
        return self

    @property
    def cov_(self) -> np.ndarray | None:
        """Sandwich covariance of all parameters (computed on first use; None if p > 3000)."""
        self._check_fitted()
        if self._cov is None and getattr(self, "_prob", None) is not None and self._prob.p <= 3000:
            self._cov = self._sandwich()
        return self._cov

    def _tie_boundary(self) -> float | None:
        return None

    def _init_vector(self, init: Any, counts: PairCounts, x0: np.ndarray) -> np.ndarray:
        """Warm start from a fitted model (matched by item name) or a rating array."""
        n = counts.n_items
        if isinstance(init, PairwiseModel):
            pos = {name: k for k, name in enumerate(init.items_)}
            th = np.array([init.ratings_[pos[nm]] if nm in pos else 0.0 for nm in counts.items])
            x0[:n] = th - th.mean()
            if init.x_.shape[0] == x0.shape[0]:
                x0[n:] = init.x_[n:]
            return x0
        arr = np.asarray(init, dtype=float)
        if arr.shape[0] == x0.shape[0]:
            return arr.copy()
        if arr.shape[0] == n:
            x0[:n] = arr - arr.mean()
            return x0
        raise ValueError(f"init: expected {n} ratings or {x0.shape[0]} parameters")

    # ------------------------------------------------------------------ uncertainty
    def _ground(self, A: np.ndarray) -> np.ndarray:
        n = len(self.items_)
        A = A.copy()
        if self.prior_var_ is None:
            A[:n, :n] += 1.0
        return A

    def _project(self, C: np.ndarray) -> np.ndarray:
        if self.prior_var_ is not None:
            return C
        n, p = len(self.items_), C.shape[0]
        P = np.eye(p)
        P[:n, :n] -= 1.0 / n
        return P @ C @ P.T

    def _sandwich(self) -> np.ndarray:
        """Robust covariance  A⁻¹ J A⁻¹  (Huber 1967; White 1982).

        A = observed information (+ prior precision); J = Σ over battles of score outer products,
        computed per aggregated row and outcome (i won / j won / tie) times its count.
        """
        c = self.counts_
        prob, fam = self._prob, self._fam
        eta, tau = newton.linear_predictor(prob, self.x_[None])
        units = [((1.0, 0.0, 0.0), c.wi), ((0.0, 1.0, 0.0), c.wj)]
        tie_unit = self._tie_units(self.ties_)
        if tie_unit is not None:
            if tie_unit == (0.0, 0.0, 1.0) and not fam.has_tau:
                tie_unit = (0.5, 0.5, 0.0)
            units.append((tie_unit, c.t))
        gee = np.zeros_like(eta)
        get = np.zeros_like(eta) if fam.has_tau else None
        gtt = np.zeros_like(eta) if fam.has_tau else None
        ones = np.ones_like(eta)
        for (a, b, tt), cnt in units:
            tm = fam.terms(eta, tau, a * ones, b * ones, tt * ones)
            gee = gee + cnt * tm.ge**2
            if fam.has_tau:
                get = get + cnt * tm.ge * tm.gt
                gtt = gtt + cnt * tm.gt**2
        J = newton.assemble(prob, gee, get, gtt)[0]
        Ainv = np.linalg.inv(self._ground(self._info))
        return self._project(Ainv @ J @ Ainv)

    def model_cov(self) -> np.ndarray:
        """Inverse-information (model-based) covariance of all parameters."""
        self._check_fitted()
        return self._project(np.linalg.inv(self._ground(self._info)))

    def rating_cov(self, kind: str = "sandwich") -> np.ndarray:
        """Covariance of the ratings: ``"sandwich"`` (robust) or ``"model"`` (inverse info)."""
        self._check_fitted()
        n = len(self.items_)
        if kind == "model":
            return self.model_cov()[:n, :n]
        if self.cov_ is None:
            raise ValueError("sandwich covariance not available (too many parameters)")
        return self.cov_[:n, :n]

    # ------------------------------------------------------------------ prediction
    def _check_fitted(self) -> None:
        self.check_fitted()

    def _eta(self, dataset: Any) -> np.ndarray:
        self._check_fitted()
        rec = pair_records(dataset)
        pos = {name: k for k, name in enumerate(self.items_)}
        lookup = np.array([pos.get(nm, -1) for nm in rec.items], dtype=np.int64)
        unknown = [nm for nm in rec.items if nm not in pos]
        if unknown:
            warnings.warn(
                f"items not seen in training get the average rating: {unknown[:10]}",
                UserWarning,
                stacklevel=3,
            )
        theta = np.append(self.ratings_, 0.0)
        ca, cb = lookup[rec.ia], lookup[rec.ib]
        eta = theta[ca] - theta[cb]
        Z = self._raw_features(dataset, fitting=False)
        if Z is not None:
            Z = Z.copy()
            n_home = 1 if self.covariate_names_[:1] == ["home"] else 0
            if Z.shape[1] > n_home:
                Z[:, n_home:] = (Z[:, n_home:] - self.covariate_mean_) / self.covariate_std_
            Z = np.nan_to_num(Z, nan=0.0)
            eta = eta + Z @ self.coef_
        return eta

    def _tau(self) -> np.ndarray | None:
        return self.x_[-1] if self._fam.has_tau else None

    def predict_outcome_proba(self, dataset: Any) -> np.ndarray:
        """(N, 3) array: P(a ≻ b), P(b ≻ a), P(tie) per record."""
        pi, pj, pt = self._fam.probs(self._eta(dataset), self._tau())
        return np.column_stack([pi, pj, pt])

    def predict_proba(self, dataset: Any) -> np.ndarray:
        """P(a ≻ b) per record (strict win probability for tie models)."""
        return self.predict_outcome_proba(dataset)[:, 0]

    def predict_tie_proba(self, dataset: Any) -> np.ndarray:
        """P(tie) per record (zeros for models without ties)."""
        return self.predict_outcome_proba(dataset)[:, 2]

    def item_scores(self, items: Any = None) -> np.ndarray:
        """Scalar utilities θ (mean zero) of the named items (all items when ``None``)."""
        self._check_fitted()
        return item_scores(self.items_, self.ratings_, items)

    def score(self, items: Any) -> np.ndarray:
        """Deprecated alias of :meth:`item_scores` (kept for one release)."""
        warnings.warn(
            f"{type(self).__name__}.score is deprecated; use item_scores", DeprecationWarning,
            stacklevel=2,
        )
        return self.item_scores(items)

    def win_matrix(self) -> np.ndarray:
        """P(i ≻ j) for every pair of items (neutral venue, style-neutral)."""
        self._check_fitted()
        eta = self.ratings_[:, None] - self.ratings_[None, :]
        return self._fam.probs(eta, self._tau())[0]

    def log_likelihood(self, dataset: Any) -> float:
        """Log-likelihood of a pairwise dataset under the fitted model (ties per ``ties``)."""
        probs = self.predict_outcome_proba(dataset)
        rec = pair_records(dataset)
        ties = self.ties_
        if ties == "drop":
            wi, wj, t = rec.wi, rec.wj, np.zeros_like(rec.t)
        elif ties == "half" or not self._fam.has_tau:
            wi, wj, t = rec.wi + 0.5 * rec.t, rec.wj + 0.5 * rec.t, np.zeros_like(rec.t)
        else:
            wi, wj, t = rec.wi, rec.wj, rec.t
        lp = np.log(np.maximum(probs, 1e-300))
        return float((wi * lp[:, 0] + wj * lp[:, 1] + t * lp[:, 2]).sum())

    # ------------------------------------------------------------------ persistence
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """(config, arrays) for :mod:`prefkit.core.persist` (``prefkit.save(model, dir)``)."""
        self._check_fitted()
        config = {
            "params": self.get_params(),
            "items": list(self.items_),
            "covariate_names": list(self.covariate_names_),
            "scalars": {
                "log_likelihood": self.log_likelihood_,
                "n_obs": self.n_obs_,
                "n_iter": self.n_iter_,
                "converged": self.converged_,
                "tie_param": self.tie_param_,
                "prior_var": self.prior_var_,
                "ties": self.ties_,
                "family_has_tau": bool(self._fam.has_tau),
            },
        }
        arrays = {
            "x": self.x_,
            "info": self._info,
            "cov": self.cov_,
            "covariate_mean": self.covariate_mean_,
            "covariate_std": self.covariate_std_,
        }
        return config, arrays

    @classmethod
    def _from_state(
        cls, config: dict[str, Any], arrays: dict[str, np.ndarray], directory: Path, **kw: Any
    ) -> PairwiseModel:
        return cls._from_saved(config, arrays, directory)

    @classmethod
    def _from_legacy(cls, directory: Path, **kw: Any) -> PairwiseModel:
        """A model saved by prefkit 0.1 (``config.json`` + ``arrays.npz``)."""
        config, arrays = read_legacy(directory, cls.__name__)
        return cls._from_saved(config, arrays, directory)

    @classmethod
    def _from_saved(
        cls, config: dict[str, Any], arrays: dict[str, np.ndarray], where: Any = ""
    ) -> PairwiseModel:
        try:
            params = dict(config["params"])
            if params.get("covariates") is not None:
                params["covariates"] = list(params["covariates"])
            model = cls(**params)
            sc = config["scalars"]
            items = [str(x) for x in config["items"]]
            n = len(items)
            names = [str(x) for x in config["covariate_names"]]
            p = n + len(names) + (1 if sc["family_has_tau"] else 0)
            x = np.asarray(arrays["x"], dtype=float)
            info = np.asarray(arrays["info"], dtype=float)
            if x.shape != (p,) or info.shape != (p, p):
                raise ModelFileError(
                    f"{where}: arrays do not match the config ({n} items, {p} parameters)"
                )
            model.items_ = items
            model.x_ = x
            model.ratings_ = x[:n].copy()
            model.covariate_names_ = names
            model.coef_ = x[n : n + len(names)].copy()
            model.home_advantage_ = float(model.coef_[0]) if names[:1] == ["home"] else None
            model.log_likelihood_ = sc["log_likelihood"]
            model.n_obs_ = sc["n_obs"]
            model.n_iter_ = sc["n_iter"]
            model.converged_ = sc["converged"]
            model.tie_param_ = sc["tie_param"]
            model.prior_var_ = sc["prior_var"]
            model.ties_ = sc["ties"]
            model._fam = model._family(sc["ties"] if sc["family_has_tau"] else "half")
            model._info = info
            cov = arrays.get("cov")
            model._cov = None if cov is None else np.asarray(cov, dtype=float)
            model.covariate_mean_ = np.asarray(arrays["covariate_mean"], dtype=float)
            model.covariate_std_ = np.asarray(arrays["covariate_std"], dtype=float)
        except ModelFileError:
            raise
        except (KeyError, TypeError, ValueError) as err:
            raise malformed(where, err) from None
        return model


def item_scores(items_: list[str], values: np.ndarray, items: Any = None) -> np.ndarray:
    """``values`` of the named items (all when ``None``); unknown names: one-line DataError."""
    if items is None:
        return np.asarray(values).copy()
    pos = {name: k for k, name in enumerate(items_)}
    names = [items] if isinstance(items, str) else list(items)
    missing = [nm for nm in names if nm not in pos]
    if missing:
        raise DataError(f"unknown items: {missing[:10]}")
    return np.asarray(values)[[pos[nm] for nm in names]]


def _win_rate_start(
    n: int, i: np.ndarray, j: np.ndarray, wi: np.ndarray, wj: np.ndarray, t: np.ndarray
) -> np.ndarray:
    """Newton's starting point: each item's smoothed log-odds of winning, centred.

    Close to the Bradley–Terry solution when opponents are drawn evenly, it saves Newton a few
    iterations on large tables; the line search keeps the fit safe when it is not close.
    """
    wins = np.bincount(i, wi + 0.5 * t, n) + np.bincount(j, wj + 0.5 * t, n)
    games = np.bincount(i, wi + wj + t, n) + np.bincount(j, wi + wj + t, n)
    rate = (wins + 0.5) / (games + 1.0)
    start = np.log(rate / (1.0 - rate))
    return start - start.mean()
