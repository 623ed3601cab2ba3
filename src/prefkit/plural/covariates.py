r"""Bradley–Terry with user (subject) covariates: item strengths that depend on who compares.

    P(i ≻ j | x_u) = σ( (θ_i + x_u·β_i) − (θ_j + x_u·β_j) )

x_u are the covariates of the person who made the comparison (gender, age, answers to a
questionnaire …; numeric columns z-scored, categorical ones one-hot with the first level as
reference).  This is the model behind the subject-covariate analyses of the Topmodel2007 and CEMS
data (Dittrich, Hatzinger & Katzenbeisser 1998, "Modelling the effect of subject-specific
covariates in paired comparison studies with an application to university rankings", JRSS C 47;
Strobl, Wickelmaier & Zeileis 2011, "Accounting for individual differences in Bradley–Terry
models by means of recursive partitioning", JEBS 36 — psychotree's ``bttree``).

Fitted by penalized maximum likelihood (L-BFGS, analytic gradient)::

    max  Σ_r [ w_r⁺ log σ(η_r) + w_r⁻ log σ(−η_r) ] − λ/2 ‖B‖² − ε/2 ‖θ‖²

(a tie is half a win for each side; the ridge λ on B (n × p) also fixes the per-covariate shift
that leaves η unchanged).  ``covariates=[]`` gives the plain Bradley–Terry model, so the two can be
compared by held-out log-likelihood or by AIC / BIC (``aic_``, ``bic_``; p = (n − 1)(1 + q)).
A person never seen before is predicted from his covariates; a missing covariate column counts as
the average person.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import minimize

from prefkit.choice._data import pair_records
from prefkit.core.estimator import PreferenceEstimator
from prefkit.core.mathfn import log_sigmoid, sigmoid
from prefkit.core.persist import config_value, expect_array, register, saved_params
from prefkit.data.schema import known_fields
from prefkit.errors import DataError, ModelFileError
from prefkit.plural._base import as_pairs, read_legacy, user_labels


def user_covariate_columns(dataset: Any) -> list[str]:
    """Columns that look like person-level covariates: extra columns constant within each user."""
    standard = set(known_fields(dataset.kind))
    labels = user_labels(dataset)
    frame = dataset.table.to_pandas()
    out = []
    for name in dataset.columns:
        if name in standard or name.startswith(("a_", "b_")) or name.endswith(("_a", "_b")):
            continue
        if name in ("pair_id", "instance_id", "instance_index", "timestamp", "datetime", "date"):
            continue
        col = frame[name]
        if col.isna().all():
            continue
        if (col.groupby(labels).nunique(dropna=True) <= 1).all():
            out.append(name)
    return out


def _spec(frame: pd.DataFrame, names: list[str], source: str | None) -> list[dict[str, Any]]:
    """How to turn each covariate into numbers (learned on the training data)."""
    spec = []
    for name in names:
        if name not in frame.columns:
            raise DataError("covariate column not found", source=source, field=name)
        col = frame[name]
        numeric = pd.to_numeric(col, errors="coerce")
        if numeric.notna().sum() == col.notna().sum() and col.notna().any():
            mean, std = float(numeric.mean()), float(numeric.std(ddof=0))
            spec.append({"name": name, "type": "numeric", "mean": mean, "std": std or 1.0})
        else:
            levels = sorted(str(v) for v in col.dropna().unique())
            if len(levels) < 2:
                continue
            spec.append({"name": name, "type": "categorical", "levels": levels})
    return spec


def design(frame: pd.DataFrame, spec: list[dict[str, Any]]) -> tuple[np.ndarray, list[str]]:
    """(N, q) covariate matrix and its column names; absent columns/values → 0 (average)."""
    cols, names = [], []
    n = len(frame)
    for s in spec:
        present = s["name"] in frame.columns
        if s["type"] == "numeric":
            v = pd.to_numeric(frame[s["name"]], errors="coerce") if present else None
            x = np.zeros(n) if v is None else ((v.to_numpy(float) - s["mean"]) / s["std"])
            cols.append(np.nan_to_num(x, nan=0.0))
            names.append(s["name"])
        else:
            raw = frame[s["name"]].astype(object) if present else pd.Series([None] * n)
            values = raw.where(raw.isna(), raw.astype(str)).to_numpy(object)
            for level in s["levels"][1:]:
                cols.append((values == level).astype(float))
                names.append(f"{s['name']}={level}")
    X = np.column_stack(cols) if cols else np.zeros((n, 0))
    return X, names


#: ridge values tried by ``l2="cv"``
L2_GRID = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0)


def _eta_of(params: np.ndarray, D: Any, X: np.ndarray) -> np.ndarray:
    n, q = D.shape[1], X.shape[1]
    theta, B = params[:n], params[n:].reshape(n, q)
    return D @ theta + ((D @ B) * X).sum(axis=1)


def _log_likelihood(params: np.ndarray, D: Any, X: np.ndarray, wa: np.ndarray,
                    wb: np.ndarray) -> float:
    eta = _eta_of(params, D, X)
    return float((wa * log_sigmoid(eta) + wb * log_sigmoid(-eta)).sum())


def _solve(D: Any, X: np.ndarray, wa: np.ndarray, wb: np.ndarray, lam: float, eps: float,
           max_iter: int) -> Any:
    """Penalized maximum likelihood (module docstring) by L-BFGS with the analytic gradient."""
    n, q = D.shape[1], X.shape[1]

    def fun(params: np.ndarray) -> tuple[float, np.ndarray]:
        theta, B = params[:n], params[n:].reshape(n, q)
        eta = D @ theta + ((D @ B) * X).sum(axis=1)
        ll = wa * log_sigmoid(eta) + wb * log_sigmoid(-eta)
        s = sigmoid(eta)
        g = wa * (1.0 - s) - wb * s
        f = -ll.sum() + 0.5 * lam * (B * B).sum() + 0.5 * eps * theta @ theta
        grad_t = -(D.T @ g) + eps * theta
        grad_b = -(D.T @ (g[:, None] * X)) + lam * B
        return float(f), np.concatenate([grad_t, np.asarray(grad_b).ravel()])

    return minimize(fun, np.zeros(n * (1 + q)), jac=True, method="L-BFGS-B",
                    options={"maxiter": max_iter, "gtol": 1e-8})


@register("plural.CovariateBradleyTerry")
class CovariateBradleyTerry(PreferenceEstimator):
    """Bradley–Terry whose item strengths depend linearly on user covariates.

    Args:
        covariates: person-level columns to use; ``None`` finds them (columns other than the
            standard ones that are constant within each user); ``[]`` is plain Bradley–Terry.
        l2: ridge λ on the covariate effects B, or ``"cv"``: the value of :data:`L2_GRID` with
            the best held-out log-likelihood over ``cv_folds`` folds of people (``l2_`` and
            ``cv_log_likelihood_`` after fitting).
        cv_folds: folds for ``l2="cv"``.
        theta_l2: tiny ridge ε on θ (identifiability only).
        max_iter: L-BFGS iteration cap.
    """

    _fitted_attr: ClassVar[str] = "ratings_"

    def __init__(
        self,
        covariates: list[str] | None = None,
        *,
        l2: float | str = "cv",
        theta_l2: float = 1e-4,
        max_iter: int = 500,
        cv_folds: int = 5,
    ) -> None:
        self.covariates = covariates
        self.l2 = l2
        self.theta_l2 = theta_l2
        self.max_iter = max_iter
        self.cv_folds = cv_folds

    def _arrays(self, dataset: Any) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray]:
        rec = pair_records(dataset)
        wa, wb = rec.wi + 0.5 * rec.t, rec.wj + 0.5 * rec.t
        return rec, wa, wb, np.zeros(0)

    def fit(self, dataset: Any) -> CovariateBradleyTerry:
        dataset = as_pairs(dataset)
        rec, wa, wb, _ = self._arrays(dataset)
        names = (
            user_covariate_columns(dataset) if self.covariates is None else list(self.covariates)
        )
        frame = dataset.table.select(
            [c for c in names if c in dataset.columns]
        ).to_pandas() if names else pd.DataFrame(index=range(len(dataset)))
        spec = _spec(frame, names, dataset.name)
        X, xnames = design(frame, spec)
        n, q = len(rec.items), X.shape[1]
        N = len(dataset)
        rows = np.r_[np.arange(N), np.arange(N)]
        D = sparse.csr_matrix(
            (np.r_[np.ones(N), -np.ones(N)], (rows, np.r_[rec.ia, rec.ib])), shape=(N, n)
        )
        lam = self._choose_l2(D, X, wa, wb, user_labels(dataset))
        res = _solve(D, X, wa, wb, lam, float(self.theta_l2), int(self.max_iter))
        theta, B = res.x[:n], res.x[n:].reshape(n, q)
        shift = theta.mean()
        self.items_ = list(rec.items)
        self.ratings_ = theta - shift
        self.coef_ = B - B.mean(axis=0, keepdims=True)
        self.covariate_spec_ = spec
        self.covariate_names_ = xnames
        self.users_ = sorted(set(user_labels(dataset)))
        self.log_likelihood_ = _log_likelihood(
            np.r_[self.ratings_, self.coef_.ravel()], D, X, wa, wb)
        self.n_obs_ = float((wa + wb).sum())
        self.converged_ = bool(res.success)
        p = self.n_parameters
        self.aic_ = -2.0 * self.log_likelihood_ + 2.0 * p
        self.bic_ = -2.0 * self.log_likelihood_ + p * np.log(max(self.n_obs_, 2.0))
        return self

    def _choose_l2(self, D: Any, X: np.ndarray, wa: np.ndarray, wb: np.ndarray,
                   users: np.ndarray) -> float:
        """λ itself, or for ``l2="cv"`` the grid value with the best held-out log-likelihood
        over ``cv_folds`` folds of *people* (a held-out person is predicted from covariates)."""
        if self.l2 != "cv":
            try:
                lam = float(self.l2)
            except (TypeError, ValueError):
                lam = float("nan")
            if not lam >= 0:
                raise DataError(f"l2 must be ≥ 0 or 'cv', got {self.l2!r}", field="l2")
            self.l2_ = lam
            return lam
        if X.shape[1] == 0:
            self.l2_, self.cv_log_likelihood_ = 0.0, {}
            return 0.0
        people, person = np.unique(users.astype(str), return_inverse=True)
        folds = min(int(self.cv_folds), len(people))
        if folds < 2:
            raise DataError(
                f"l2='cv' chooses the ridge by held-out people and needs records from at least "
                f"2 people, the data have {len(people)}; give a number (l2=10)", field="l2"
            )
        fold_of = np.random.default_rng(0).permutation(len(people)) % folds
        record_fold = fold_of[person]
        scores = {}
        for lam in L2_GRID:
            total = 0.0
            for k in range(folds):
                train, test = record_fold != k, record_fold == k
                fit = _solve(D[train], X[train], wa[train], wb[train], lam,
                             float(self.theta_l2), int(self.max_iter))
                total += _log_likelihood(fit.x, D[test], X[test], wa[test], wb[test])
            scores[lam] = total
        self.cv_log_likelihood_ = scores
        self.l2_ = max(scores, key=scores.get)
        return self.l2_

    @property
    def n_parameters(self) -> int:
        self.check_fitted()
        n, q = self.coef_.shape
        return int((n - 1) * (1 + q))

    def _eta(self, dataset: Any) -> np.ndarray:
        self.check_fitted()
        dataset = as_pairs(dataset)
        rec = pair_records(dataset)
        pos = {name: k for k, name in enumerate(self.items_)}
        lk = np.array([pos.get(nm, -1) for nm in rec.items], dtype=np.int64)
        theta = np.append(self.ratings_, 0.0)
        B = np.vstack([self.coef_, np.zeros((1, self.coef_.shape[1]))])
        names = [s["name"] for s in self.covariate_spec_ if s["name"] in dataset.columns]
        frame = (
            dataset.table.select(names).to_pandas()
            if names else pd.DataFrame(index=range(len(dataset)))
        )
        X, _ = design(frame, self.covariate_spec_)
        a, b = lk[rec.ia], lk[rec.ib]
        return theta[a] - theta[b] + ((B[a] - B[b]) * X).sum(axis=1)

    def predict_proba(self, dataset: Any) -> np.ndarray:
        """P(a ≻ b | the record's user covariates) per pairwise record."""
        return sigmoid(self._eta(dataset))

    def log_likelihood(self, dataset: Any) -> float:
        """Log-likelihood of a pairwise dataset (ties as half wins)."""
        dataset = as_pairs(dataset)
        _, wa, wb, _ = self._arrays(dataset)
        eta = self._eta(dataset)
        return float((wa * log_sigmoid(eta) + wb * log_sigmoid(-eta)).sum())

    def user_scores(self, covariates: dict[str, Any]) -> dict[str, float]:
        """Item strengths θ + x·B for one person described by ``covariates``."""
        self.check_fitted()
        frame = pd.DataFrame([covariates])
        X, _ = design(frame, self.covariate_spec_)
        s = self.ratings_ + self.coef_ @ X[0]
        return dict(zip(self.items_, (s - s.mean()).tolist(), strict=True))

    # ------------------------------------------------------------------ persistence
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        self.check_fitted()
        config = {
            "params": self.get_params(),
            "items": list(self.items_),
            "users": list(self.users_),
            "covariate_spec": self.covariate_spec_,
            "covariate_names": list(self.covariate_names_),
            "scalars": {
                "log_likelihood": self.log_likelihood_,
                "n_obs": self.n_obs_,
                "converged": self.converged_,
                "aic": self.aic_,
                "bic": self.bic_,
                "l2": self.l2_,
            },
        }
        return config, {"ratings": self.ratings_, "coef": self.coef_}

    @classmethod
    def _from_state(
        cls, config: dict[str, Any], arrays: dict[str, np.ndarray], directory: Path, **_: Any
    ) -> CovariateBradleyTerry:
        """Rebuild a saved model; array shapes are checked against the config."""
        where = Path(directory) / "config.json"
        params = saved_params(cls, config, where)
        items = config_value(config, "items", list, where)
        names = config_value(config, "covariate_names", list, where)
        spec = config_value(config, "covariate_spec", list, where)
        if not all(isinstance(v, str) for v in items + names):
            raise ModelFileError(f"{where}: 'items' and 'covariate_names' must hold strings")
        if not all(isinstance(s, dict) and isinstance(s.get("name"), str) for s in spec):
            raise ModelFileError(f"{where}: malformed 'covariate_spec'")
        sc = config_value(config, "scalars", dict, where)
        model = cls(**params)
        model.items_ = list(items)
        model.users_ = [str(u) for u in config_value(config, "users", list, where)]
        model.covariate_spec_ = list(spec)
        model.covariate_names_ = list(names)
        model.ratings_ = expect_array(arrays, "ratings", (len(items),), where=where, kind="f")
        coef = expect_array(arrays, "coef", None, where=where, kind="f")
        if coef.size != len(items) * len(names):
            raise ModelFileError(f"{where}: array 'coef' has {coef.size} values, expected "
                                 f"{len(items)} × {len(names)}")
        model.coef_ = coef.reshape(len(items), len(names))
        model.log_likelihood_ = float(sc["log_likelihood"])
        model.n_obs_ = float(sc["n_obs"])
        model.converged_ = bool(sc["converged"])
        model.aic_ = float(sc["aic"])
        model.bic_ = float(sc["bic"])
        model.l2_ = sc.get("l2", model.l2)
        return model

    @classmethod
    def _from_legacy(cls, directory: Path, **kwargs: Any) -> CovariateBradleyTerry:
        """A prefkit 0.1 directory (``format: prefkit.plural`` + ``arrays.npz``)."""
        config, arrays = read_legacy(directory, cls.__name__)
        return cls._from_state(config, arrays, directory, **kwargs)
