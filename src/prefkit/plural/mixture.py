r"""Finite mixtures of Plackett–Luce / Bradley–Terry models over *people*, fitted by EM.

Each user u belongs to one of K latent classes; all of that user's comparisons or rankings share
it (a latent-class or "mixed" Bradley–Terry / Plackett–Luce model: Gormley & Murphy 2008,
"Exploring voting blocs within the Irish electorate: a mixture modeling approach", JASA 103;
Zhao, Piech & Xia 2016, "Learning mixtures of Plackett–Luce models", ICML; the EM of
MaxMin-RLHF, Chakraborty et al. 2024, at item level):

    P(D_u) = Σ_k π_k Π_{s ∈ D_u} Π_stages  γ_{k,i_s} / Σ_{j ∈ R_s} γ_{k,j},      γ_k = e^{θ_k}

(a pairwise comparison is the two-item stage, so a PL mixture on pairs *is* a BT mixture; a tie
counts as half a win for each side).

EM (Dempster, Laird & Rubin 1977):

* E-step  r_uk = π_k P_k(D_u) / Σ_l π_l P_l(D_u)   (responsibilities, per user),
* M-step  π_k = (Σ_u r_uk + α) / (U + Kα);  θ_k = argmax Σ_u r_uk log P_k(D_u) − ‖θ_k‖²/(2 σ²),
  solved by (one or a few) Newton steps of :func:`prefkit.choice.plackett_luce.newton_solve` on
  the stage table with stage weights r_{u(s),k} (a generalized EM; the N(0, σ²) prior keeps a
  component finite when its users never choose some item). The weight-free structure of the
  stage table (:func:`prefkit.choice.plackett_luce.stage_plan`) is built once per fit.

The number of components is fixed (``n_components=K``) or chosen (``n_components="auto"``) by BIC
(−2ℓ + p log N, p = K(n − 1) + K − 1, N records) or by held-out per-user marginal likelihood.
Prediction for a known user uses his posterior r_u, for an unknown user the prior π:

    P(a ≻ b | u) = Σ_k r_uk σ(θ_ka − θ_kb).
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from scipy import sparse
from scipy.special import logsumexp

from prefkit.choice._data import pair_records, ranking_records
from prefkit.choice.plackett_luce import (
    StagePlan,
    Stages,
    dense_log_denominators,
    newton_solve,
    stage_plan,
    stages_from_rankings,
)
from prefkit.core.estimator import PreferenceEstimator
from prefkit.core.mathfn import sigmoid
from prefkit.core.persist import config_value, expect_array, register, saved_params
from prefkit.errors import DataError, ModelFileError
from prefkit.plural._base import encode_users, lookup_users, read_legacy, user_labels


class FewUsersWarning(UserWarning):
    """Fewer users than mixture components: K is reduced to the number of users."""


# ---------------------------------------------------------------------------------- stage tables
def pair_stages(dataset: Any) -> Stages:
    """Pairwise records as two-item choice stages (a tie: half a win for each side)."""
    rec = pair_records(dataset)
    wa, wb = rec.wi + 0.5 * rec.t, rec.wj + 0.5 * rec.t
    ka, kb = np.flatnonzero(wa > 0), np.flatnonzero(wb > 0)
    first = np.concatenate([rec.ia[ka], rec.ib[kb]])
    second = np.concatenate([rec.ib[ka], rec.ia[kb]])
    s = first.size
    if s == 0:
        raise DataError("no comparison with a positive weight", source=dataset.name)
    return Stages(
        len(rec.items),
        list(rec.items),
        np.repeat(np.arange(s), 2),
        np.column_stack([first, second]).ravel(),
        np.tile([True, False], s),
        np.ones(s),
        np.concatenate([ka, kb]),
        np.concatenate([wa[ka], wb[kb]]),
        len(dataset),
    )


def dataset_stages(dataset: Any) -> Stages:
    """Choice stages of a pairwise or ranking dataset (ratings are binarized to pairs first)."""
    if dataset.kind == "rating":
        dataset = dataset.to_pairs()
    if dataset.kind == "pairwise":
        return pair_stages(dataset)
    rec = ranking_records(dataset)
    return stages_from_rankings(
        len(rec.items), rec.rankings, rec.ranks, rec.unranked, rec.weights, rec.items
    )


def _starts(st: Stages) -> np.ndarray:
    return np.flatnonzero(np.r_[True, st.stage[1:] != st.stage[:-1]])


def stage_loglik(st: Stages, theta: np.ndarray, plan: StagePlan | None = None) -> np.ndarray:
    """(K, S) log-probability of each stage under each component's log-strengths θ (K, n).

    log P_k(stage s) = Σ_{g∈G_s} θ_kg − m_s log Σ_{j∈R_s} e^{θ_kj}; with a dense ``plan``
    (:func:`prefkit.choice.plackett_luce.stage_plan` of ``st``) both sums are matrix products.
    """
    log_den = None if plan is None else dense_log_denominators(plan, theta)
    if log_den is not None:
        return theta @ plan.won.T - st.mult * log_den
    starts = _starts(st) if plan is None else plan.starts
    vals = theta[:, st.member]
    mx = np.maximum.reduceat(vals, starts, axis=1)
    den = mx + np.log(np.add.reduceat(np.exp(vals - mx[:, st.stage]), starts, axis=1))
    win = np.add.reduceat(np.where(st.winner, vals, 0.0), starts, axis=1)
    return win - st.mult * den


def _user_matrix(st: Stages, stage_user: np.ndarray, n_users: int) -> sparse.csr_matrix:
    """(U, S) sparse matrix of stage weights, so that  M @ ℓ(S,) = per-user sums."""
    s = st.n_stages
    return sparse.csr_matrix((st.weight, (stage_user, np.arange(s))), shape=(n_users, s))


def _profiles(st: Stages, stage_user: np.ndarray, n_users: int) -> np.ndarray:
    """(U, n) per-user 'excess wins' of each item (chosen − expected by chance), normalised."""
    size = np.bincount(st.stage, minlength=st.n_stages)
    excess = st.winner.astype(float) - (st.mult / size)[st.stage]
    entry_user = stage_user[st.stage]
    w = st.weight[st.stage]
    prof = np.zeros((n_users, st.n))
    np.add.at(prof, (entry_user, st.member), w * excess)
    seen = np.zeros((n_users, st.n))
    np.add.at(seen, (entry_user, st.member), w)
    return prof / np.sqrt(seen + 1.0)


# ---------------------------------------------------------------------------------- the model
@register("plural.PlackettLuceMixture")
class PlackettLuceMixture(PreferenceEstimator):
    """Mixture of K Plackett–Luce (or Bradley–Terry) models over users, fitted by EM.

    Args:
        n_components: number of classes K, or ``"auto"`` (chosen among 1..``max_components``);
            ``components`` in 0.1.
        max_components: largest K tried by ``"auto"``.
        selection: ``"bic"`` or ``"heldout"`` (per-user marginal log-likelihood of a 20% user
            split) for ``"auto"``.
        prior_var: σ², variance of the Gaussian prior on every θ_k (keeps components finite).
        alpha: Dirichlet smoothing α of the mixing weights.
        n_init: EM restarts (the first from k-means on user profiles, others random); the best
            penalized log-likelihood wins.
        max_iter, tol: EM iteration cap and relative stopping rule on the objective.
        newton_steps: Newton steps per M-step.
        seed: random seed of the initialisations.

    A class is a group of *users*, so K is at most the number of users: a fixed K larger than
    that is reduced with a :class:`FewUsersWarning`, and ``"auto"`` tries K = 1..min(U,
    ``max_components``).  Rating records are turned into pairs within each user first.
    """

    _fitted_attr: ClassVar[str] = "components_"

    def __init__(
        self,
        n_components: int | str = 2,
        *,
        max_components: int = 6,
        selection: str = "bic",
        prior_var: float = 10.0,
        alpha: float = 1.0,
        n_init: int = 3,
        max_iter: int = 200,
        tol: float = 1e-7,
        newton_steps: int = 1,
        seed: int = 0,
    ) -> None:
        self.n_components = n_components
        self.max_components = max_components
        self.selection = selection
        self.prior_var = prior_var
        self.alpha = alpha
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.newton_steps = newton_steps
        self.seed = seed

    # ------------------------------------------------------------------ data
    def _prepare(self, dataset: Any) -> Any:
        """Ratings are binarized to pairs here, so that records and user labels stay aligned."""
        return dataset.to_pairs() if dataset.kind == "rating" else dataset

    def _table(self, dataset: Any) -> tuple[Stages, np.ndarray]:
        """(stages, user label of each stage)."""
        dataset = self._prepare(dataset)
        st = dataset_stages(dataset)
        labels = user_labels(dataset)
        return st, labels[st.record]

    # ------------------------------------------------------------------ fitting
    def fit(self, dataset: Any) -> PlackettLuceMixture:
        """Fit on a pairwise, ranking or rating dataset (``user_id`` groups the records)."""
        st, stage_labels = self._table(dataset)
        users, stage_user = encode_users(stage_labels)
        k_spec = self.n_components
        plan = stage_plan(st)
        run = None
        if isinstance(k_spec, str):
            if k_spec != "auto":
                raise DataError(f"n_components must be an integer or 'auto', not {k_spec!r}")
            k_best, self.selection_scores_, run = self._select(st, stage_user, len(users), plan)
        else:
            k_best, self.selection_scores_ = int(k_spec), {}
            if k_best < 1:
                raise DataError("n_components must be at least 1")
            if k_best > len(users):
                warnings.warn(
                    f"{k_best} components asked for but the data have {len(users)} user(s) "
                    f"(a component is a group of users); fitting {len(users)}",
                    FewUsersWarning, stacklevel=2,
                )
                k_best = len(users)
        if run is None:
            run = self._fit_k(st, stage_user, len(users), k_best, plan)
        theta, pi, gamma, obj, ll, n_iter = run
        order = np.argsort(-pi, kind="stable")
        self.items_ = list(st.items)
        self.users_ = users
        self.n_components_ = k_best
        self.components_ = theta[order]
        self.weights_ = pi[order]
        self.responsibilities_ = gamma[:, order]
        self.log_likelihood_ = float(ll)
        self.objective_ = float(obj)
        self.n_iter_ = int(n_iter)
        self.n_obs_ = int(np.unique(st.record).size)
        p = self.n_parameters
        self.aic_ = float(-2.0 * ll + 2.0 * p)
        self.bic_ = float(-2.0 * ll + p * np.log(max(self.n_obs_, 2)))
        return self

    @property
    def n_parameters(self) -> int:
        self.check_fitted()
        k, n = self.components_.shape
        return int(k * (n - 1) + k - 1)

    def _select(
        self, st: Stages, stage_user: np.ndarray, n_users: int, plan: StagePlan | None = None
    ) -> tuple[int, dict, tuple | None]:
        """(chosen K, score by K, the chosen K's fit on all of ``st`` or ``None`` if not run)."""
        kmax = max(1, min(int(self.max_components), n_users))
        scores: dict[int, float] = {}
        if kmax == 1:  # one user (or max_components=1): nothing to choose
            return 1, scores, None
        if self.selection == "bic":
            n_obs = max(np.unique(st.record).size, 2)
            runs = {}
            for k in range(1, kmax + 1):
                runs[k] = self._fit_k(st, stage_user, n_users, k, plan)
                ll = runs[k][4]
                scores[k] = float(-2.0 * ll + (k * (st.n - 1) + k - 1) * np.log(n_obs))
            k_best = min(scores, key=scores.get)
            return k_best, scores, runs[k_best]
        if self.selection != "heldout":
            raise DataError(f"selection must be 'bic' or 'heldout', not {self.selection!r}")
        rng = np.random.default_rng(self.seed)
        test_users = rng.random(n_users) < 0.2
        if test_users.all() or not test_users.any():
            test_users = np.arange(n_users) == 0
        stage_test = test_users[stage_user]
        train = _sub_stages(st, ~stage_test)
        test = _sub_stages(st, stage_test)
        _, tr_user = np.unique(stage_user[~stage_test], return_inverse=True)
        _, te_user = np.unique(stage_user[stage_test], return_inverse=True)
        n_tr, n_te = int(tr_user.max()) + 1, int(te_user.max()) + 1
        for k in range(1, min(kmax, n_tr) + 1):
            theta, pi = self._fit_k(st=train, stage_user=tr_user, n_users=n_tr, k=k)[:2]
            L = _user_matrix(test, te_user, n_te) @ stage_loglik(test, theta).T
            scores[k] = -float(logsumexp(np.log(pi) + L, axis=1).sum())  # lower is better
        return min(scores, key=scores.get), scores, None

    def _fit_k(
        self,
        st: Stages,
        stage_user: np.ndarray,
        n_users: int,
        k: int,
        plan: StagePlan | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float, int]:
        """Best of ``n_init`` EM runs: (θ, π, r, objective, log-likelihood, iterations).

        ``plan`` is :func:`stage_plan` of ``st`` (built here when not given).
        """
        M = _user_matrix(st, stage_user, n_users)
        plan = stage_plan(st) if plan is None else plan
        rng = np.random.default_rng(self.seed)
        starts = [np.ones((n_users, 1))] if k == 1 else []
        if k > 1:
            from sklearn.cluster import KMeans

            prof = _profiles(st, stage_user, n_users)
            if len(np.unique(prof, axis=0)) >= k:  # k-means needs k distinct profiles
                labels = KMeans(k, n_init=4, random_state=self.seed).fit_predict(prof)
                starts.append(0.8 * np.eye(k)[labels] + 0.2 / k)
            else:
                starts.append(rng.dirichlet(np.ones(k), size=n_users))
            starts += [rng.dirichlet(np.ones(k), size=n_users) for _ in range(self.n_init - 1)]
        best = None
        for gamma0 in starts:
            run = self._em(st, M, stage_user, gamma0, plan)
            if best is None or run[3] > best[3]:
                best = run
        return best

    def _em(
        self,
        st: Stages,
        M: sparse.csr_matrix,
        stage_user: np.ndarray,
        gamma: np.ndarray,
        plan: StagePlan | None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float, int]:
        n_users, k = gamma.shape
        prec = 1.0 / float(self.prior_var)
        theta = np.zeros((k, st.n))
        prev = -np.inf
        obj = ll = -np.inf
        it = 0
        for it in range(1, int(self.max_iter) + 1):  # noqa: B007
            pi = (gamma.sum(axis=0) + self.alpha) / (n_users + k * self.alpha)
            for c in range(k):
                stc = replace(st, weight=st.weight * gamma[stage_user, c])
                theta[c] = newton_solve(
                    stc, theta[c], prec=prec, tol=1e-9, max_iter=self.newton_steps, plan=plan,
                    final_info=False,
                )[0]
            L = M @ stage_loglik(st, theta, plan).T  # (U, K)
            joint = np.log(pi) + L
            norm = logsumexp(joint, axis=1)
            gamma = np.exp(joint - norm[:, None])
            ll = float(norm.sum())
            obj = ll - 0.5 * prec * float((theta * theta).sum())
            if abs(obj - prev) <= self.tol * (1.0 + abs(obj)):
                break
            prev = obj
        pi = (gamma.sum(axis=0) + self.alpha) / (n_users + k * self.alpha)
        return theta, pi, gamma, obj, ll, it

    # ------------------------------------------------------------------ inference for new data
    def _theta_for(self, items: list[str]) -> np.ndarray:
        """(K, len(items)) log-strengths aligned to ``items`` (0 for items never seen)."""
        pos = {name: i for i, name in enumerate(self.items_)}
        idx = np.array([pos.get(name, -1) for name in items], dtype=np.int64)
        padded = np.concatenate([self.components_, np.zeros((self.n_components_, 1))], axis=1)
        return padded[:, idx]

    def user_loglik(self, dataset: Any) -> tuple[list[str], np.ndarray]:
        """(users of ``dataset``, (U, K) log-likelihood of each user's records per component)."""
        self.check_fitted()
        st, stage_labels = self._table(dataset)
        users, stage_user = encode_users(stage_labels)
        theta = self._theta_for(st.items)
        return users, _user_matrix(st, stage_user, len(users)) @ stage_loglik(st, theta).T

    def log_likelihood(self, dataset: Any, *, per_user: bool = False) -> float | np.ndarray:
        """Marginal log-likelihood Σ_u log Σ_k π_k P_k(D_u), treating every user as new."""
        _, L = self.user_loglik(dataset)
        per = logsumexp(np.log(self.weights_) + L, axis=1)
        return per if per_user else float(per.sum())

    def posterior(self, dataset: Any) -> tuple[list[str], np.ndarray]:
        """(users, (U, K) responsibilities) of the users in ``dataset`` from their records."""
        users, L = self.user_loglik(dataset)
        joint = np.log(self.weights_) + L
        return users, np.exp(joint - logsumexp(joint, axis=1, keepdims=True))

    def adapt(self, dataset: Any) -> PlackettLuceMixture:
        """A copy that also knows the users of ``dataset``: only their posteriors are fitted.

        A user already known gets his posterior updated with the new records (Bayes' rule).
        """
        users, L = self.user_loglik(dataset)
        known = lookup_users(np.asarray(users, dtype=object), self.users_)
        prior = np.tile(np.log(self.weights_), (len(users), 1))
        old = known >= 0
        prior[old] = np.log(np.maximum(self.responsibilities_[known[old]], 1e-300))
        joint = prior + L
        post = np.exp(joint - logsumexp(joint, axis=1, keepdims=True))
        model = copy.copy(self)
        resp = self.responsibilities_.copy()
        resp[known[old]] = post[old]
        model.users_ = list(self.users_) + [u for u, k in zip(users, known, strict=True) if k < 0]
        model.responsibilities_ = np.concatenate([resp, post[~old]], axis=0)
        return model

    def user_weights(self, dataset: Any) -> np.ndarray:
        """(N, K) component weights of each record's user (π for unknown users)."""
        self.check_fitted()
        codes = lookup_users(user_labels(dataset), self.users_)
        w = np.tile(self.weights_, (len(codes), 1))
        known = codes >= 0
        w[known] = self.responsibilities_[codes[known]]
        return w

    def predict_proba(self, dataset: Any) -> np.ndarray:
        """P(a ≻ b | user) = Σ_k r_uk σ(θ_ka − θ_kb) per pairwise record."""
        self.check_fitted()
        if dataset.kind != "pairwise":
            dataset = dataset.to_pairs()
        rec = pair_records(dataset)
        theta = self._theta_for(rec.items)
        p = sigmoid(theta[:, rec.ia] - theta[:, rec.ib])  # (K, N)
        return np.einsum("nk,kn->n", self.user_weights(dataset), p)

    def predict_component_proba(self, dataset: Any) -> np.ndarray:
        """(N, K) P(a ≻ b) under each component."""
        self.check_fitted()
        rec = pair_records(dataset if dataset.kind == "pairwise" else dataset.to_pairs())
        theta = self._theta_for(rec.items)
        return sigmoid(theta[:, rec.ia] - theta[:, rec.ib]).T

    def user_components(self) -> dict[str, int]:
        """Most probable component of every known user."""
        self.check_fitted()
        labels = self.responsibilities_.argmax(axis=1)
        return {u: int(c) for u, c in zip(self.users_, labels, strict=True)}

    def component_scores(self, items: list[str] | None = None) -> np.ndarray:
        """(K, n) log-strengths (mean zero per component) of ``items`` (default: all)."""
        self.check_fitted()
        theta = self.components_ if items is None else self._theta_for(list(items))
        return theta - theta.mean(axis=1, keepdims=True)

    # ------------------------------------------------------------------ persistence
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        self.check_fitted()
        config = {
            "params": self.get_params(),
            "items": list(self.items_),
            "users": list(self.users_),
            "scalars": {
                "log_likelihood": self.log_likelihood_,
                "objective": self.objective_,
                "n_iter": self.n_iter_,
                "n_obs": self.n_obs_,
                "aic": self.aic_,
                "bic": self.bic_,
                "selection_scores": {str(k): v for k, v in self.selection_scores_.items()},
            },
        }
        arrays = {
            "components": self.components_,
            "weights": self.weights_,
            "responsibilities": self.responsibilities_,
        }
        return config, arrays

    @classmethod
    def _from_state(
        cls, config: dict[str, Any], arrays: dict[str, np.ndarray], directory: Path, **_: Any
    ) -> PlackettLuceMixture:
        """Rebuild a saved mixture; every array's shape is checked against the config."""
        where = Path(directory) / "config.json"
        params = saved_params(cls, config, where, renamed={"components": "n_components"})  # 0.1
        items = _names(config_value(config, "items", list, where), "items", where)
        users = _names(config_value(config, "users", list, where), "users", where)
        sc = config_value(config, "scalars", dict, where)
        components = expect_array(arrays, "components", (None, len(items)), where=where,
                                  kind="f")
        k = components.shape[0]
        model = cls(**params)
        model.items_, model.users_ = items, users
        model.components_ = components
        model.weights_ = expect_array(arrays, "weights", (k,), where=where, kind="f")
        model.responsibilities_ = expect_array(arrays, "responsibilities", (len(users), k),
                                               where=where, kind="f")
        model.n_components_ = int(k)
        model.log_likelihood_ = float(sc["log_likelihood"])
        model.objective_ = float(sc["objective"])
        model.n_iter_ = int(sc["n_iter"])
        model.n_obs_ = int(sc["n_obs"])
        model.aic_ = float(sc["aic"])
        model.bic_ = float(sc["bic"])
        model.selection_scores_ = {int(key): float(v)
                                   for key, v in dict(sc["selection_scores"]).items()}
        return model

    @classmethod
    def _from_legacy(cls, directory: Path, **kwargs: Any) -> PlackettLuceMixture:
        """A prefkit 0.1 directory (``format: prefkit.plural`` + ``arrays.npz``)."""
        config, arrays = read_legacy(directory, cls.__name__)
        return cls._from_state(config, arrays, directory, **kwargs)


def _names(values: list[Any], what: str, where: Path) -> list[str]:
    if not all(isinstance(v, str) for v in values):
        raise ModelFileError(f"{where}: {what!r} must be a list of strings")
    return list(values)


@register("plural.BradleyTerryMixture")
class BradleyTerryMixture(PlackettLuceMixture):
    """Mixture of K Bradley–Terry models over users (rankings are broken into pairs first)."""

    def _prepare(self, dataset: Any) -> Any:
        return dataset if dataset.kind == "pairwise" else dataset.to_pairs()


def _sub_stages(st: Stages, keep_stage: np.ndarray) -> Stages:
    """The stages where ``keep_stage`` is true (entries follow; stage ids renumbered)."""
    new_id = np.cumsum(keep_stage) - 1
    entry_keep = keep_stage[st.stage]
    return Stages(
        st.n,
        st.items,
        new_id[st.stage[entry_keep]],
        st.member[entry_keep],
        st.winner[entry_keep],
        st.mult[keep_stage],
        st.record[keep_stage],
        st.weight[keep_stage],
        st.n_records,
    )
