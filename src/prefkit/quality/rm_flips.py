r"""Noisy-label detection with a cross-fitted reward-model ensemble (text-level).

The records are split into ``n_folds`` folds *by prompt* (records of one ``pair_id`` or one
prompt share a fold, so no record — nor a copy of it labelled by another annotator — is judged by
a model trained on it).  For each fold an ensemble of K Bradley–Terry reward heads
(:class:`~prefkit.reward.EnsembleHead`, bootstrap members, on the frozen MiniLM embeddings of
:class:`~prefkit.reward.RewardModel`) is trained on the other folds, and each held-out record
gets the members' reward gaps towards its label,

    s_ik = y_i' · (r_k(a_i) − r_k(b_i)),    y_i' = +1 if the label says a, −1 if b,

whose mean and standard deviation over k are the *ensemble preference strength* of Secrets of
RLHF II (Wang et al. 2024, "Secrets of RLHF in large language models part II: reward
modeling", §3: mean and std of the reward differences of an ensemble of reward models).

Flip model (the label noise of robust DPO, Chowdhury, Kini & Natarajan 2024, "Provably robust
DPO"): the true preference follows σ(α·s) — the held-out gap on a scale α the heads, trained on
noisy labels, cannot know — and each label is swapped with probability ε::

    P(observed label | s̄_i) = (1 − ε) σ(α s̄_i) + ε σ(−α s̄_i)

α > 0 and ε ∈ [0, ½) by maximum likelihood over the decisive held-out records (ties are never
flagged).  ε is identified by the *ceiling* of the confident records: labels that go against a
gap the ensemble is sure about.  A weak reward model (held-out accuracy near ½) has few confident
records, so ε and α trade off; the profile-likelihood interval of ε says how well it is
pinned down.  Per record, averaged over the members::

    P(flip | y, s) = ε σ(−α s_ik) / ((1 − ε) σ(α s_ik) + ε σ(−α s_ik))

The simplest baseline beside ε: the disagreement rate, the share of decisive records whose
held-out mean gap goes against the label (= 1 − cross-fitted accuracy; it counts the model's own
errors as flips, so it over-estimates ε).  Repairs (drop / flip / soft) are those of
:func:`prefkit.quality.noisy_labels.repair`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import minimize, minimize_scalar
from scipy.special import expit, log_expit

from prefkit.errors import DataError
from prefkit.quality.noisy_labels import FlipReport

EPS_GRID = np.linspace(0.0, 0.49, 99)
CHI2_95 = 3.841458820694124


@dataclass
class RMFlipReport(FlipReport):
    """:class:`FlipReport` plus the reward-model specifics (module notes)."""

    scale: float = 1.0  # α
    flip_rate_interval: tuple[float, float] = (0.0, 0.5)  # 95 % profile-likelihood interval
    disagreement_rate: float = 0.0  # baseline: share of decisive labels against the mean gap
    crossfit_accuracy: float = 0.0  # 1 − disagreement_rate
    folds: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    member_strengths: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))

    def suspicion_order(self) -> np.ndarray:
        """Records from most to least suspect: by P(flip), then by the weakest (most negative)
        mean strength towards the label — so the order stays informative when ε̂ = 0."""
        return np.lexsort((self.strength_mean, -self.flip_prob))

    def summary(self) -> dict[str, Any]:
        decisive = self.flip_prob.size
        return {"flip_rate": self.flip_rate, "flip_rate_interval": list(self.flip_rate_interval),
                "flip_rate_posterior": self.flip_rate_posterior, "scale": self.scale,
                "disagreement_rate": self.disagreement_rate,
                "crossfit_accuracy": self.crossfit_accuracy, "records": int(decisive),
                "flagged": int(self.flagged().sum())}


def _neg_loglik(s: np.ndarray, alpha: float, eps: float) -> float:
    """−Σ log((1 − ε) σ(α s) + ε σ(−α s))."""
    a, b = log_expit(alpha * s), log_expit(-alpha * s)
    if eps <= 0:
        return float(-a.sum())
    return float(-np.logaddexp(np.log1p(-eps) + a, np.log(eps) + b).sum())


def fit_flip_model(s: np.ndarray) -> tuple[float, float, tuple[float, float]]:
    """(α, ε, 95 % profile-likelihood interval of ε) from held-out strengths ``s`` towards the
    labels (decisive records only)."""
    s = np.asarray(s, dtype=float)
    if len(s) == 0:
        return 1.0, 0.0, (0.0, 0.5)

    def fun(x: np.ndarray) -> float:
        return _neg_loglik(s, float(np.exp(x[0])), 0.5 * float(expit(x[1])))

    best = min((minimize(fun, [np.log(a0), e0], method="Nelder-Mead",
                         options={"xatol": 1e-6, "fatol": 1e-9, "maxiter": 2000})
                for a0 in (0.5, 2.0, 8.0) for e0 in (-3.0, -0.5)), key=lambda r: r.fun)
    alpha, eps = float(np.exp(best.x[0])), 0.5 * float(expit(best.x[1]))
    at_zero = minimize_scalar(lambda la: _neg_loglik(s, float(np.exp(la)), 0.0),
                              bounds=(-8, 8), method="bounded")
    if at_zero.fun <= best.fun:
        alpha, eps, nll = float(np.exp(at_zero.x)), 0.0, float(at_zero.fun)
    else:
        nll = float(best.fun)
    profile = np.array([minimize_scalar(lambda la, e=e: _neg_loglik(s, float(np.exp(la)), e),
                                        bounds=(-8, 8), method="bounded").fun
                        for e in EPS_GRID])
    inside = EPS_GRID[2 * (profile - min(nll, profile.min())) <= CHI2_95]
    interval = (float(inside.min()), float(inside.max())) if len(inside) else (eps, eps)
    return alpha, eps, interval


def prompt_folds(dataset: Any, n_folds: int, seed: int) -> np.ndarray:
    """A fold per record; records of one ``pair_id`` (else one prompt) share a fold."""
    n = len(dataset)
    key = "pair_id" if dataset.has("pair_id") else "prompt" if dataset.has("prompt") else None
    rng = np.random.default_rng(seed)
    if key is None:
        return rng.permutation(n) % n_folds
    values = [str(v) if v is not None else f"\0row{i}" for i, v in
              enumerate(dataset.column(key))]
    groups = {v: k for k, v in enumerate(dict.fromkeys(values))}
    order = rng.permutation(len(groups)) % n_folds
    return order[[groups[v] for v in values]]


def _subset(feats: Any, rows: np.ndarray, y: np.ndarray | None = None) -> Any:
    from prefkit.reward.features import PairFeatures

    return PairFeatures(feats.xa[rows], feats.xb[rows],
                        y=(feats.y if y is None else y)[rows],
                        w=None if feats.w is None else np.asarray(feats.w)[rows],
                        tie=None if feats.tie is None else np.asarray(feats.tie)[rows])


EXTRAS = ("none", "style", "items", "style+items")


def pair_features_of(dataset: Any, encoder: Any = None, inputs: str | None = None,
                     extras: str = "none") -> Any:
    """:class:`PairFeatures` (with labels) of a pairwise dataset through a RewardModel's
    encoder and candidate representation (default: bundled MiniLM, cached); ``extras`` appends
    the style and/or item columns of :mod:`prefkit.quality.rm_features` (the stronger model)."""
    from prefkit.reward import RewardModel

    if extras not in EXTRAS:
        raise DataError(f"unknown feature set {extras!r} (expected {', '.join(EXTRAS)})",
                        field="--features")
    options = {} if inputs is None else {"inputs": inputs}
    feats = RewardModel(encoder=encoder, head="linear", weight_decay=1e-3,
                        **options).features(dataset, labels=True)
    if extras == "none":
        return feats
    from prefkit.quality.rm_features import augment_features

    return augment_features(dataset, feats, style="style" in extras, items="items" in extras)


def detect_flips_rm(dataset: Any, *, encoder: Any = None, features: Any = None,
                    inputs: str | None = None, extras: str = "none", n_folds: int = 5,
                    members: int = 5,
                    hidden: int = 0, weight_decay: float | str = 1e-3, epochs: int = 300,
                    seed: int = 0, progress: bool = False) -> RMFlipReport:
    """Cross-fitted reward-model ensemble flip detection (module notes).

    ``features``: precomputed :class:`~prefkit.reward.PairFeatures` (labels are taken from the
    dataset); else the records are encoded by ``encoder`` (default MiniLM), with the style and
    item columns of ``extras`` (:func:`pair_features_of`) appended.  ``weight_decay``:
    a number, or ``"auto"`` (chosen per fold on the training folds only)."""
    from prefkit.core.progress import progress_bar
    from prefkit.reward import EnsembleHead
    from prefkit.reward.regularization import select_weight_decay

    if dataset.kind != "pairwise":
        dataset = dataset.to_pairs()
    y = np.asarray(dataset.outcomes(), dtype=float)
    if np.isnan(y).any():
        raise DataError("missing outcome", source=dataset.name,
                        row=int(np.flatnonzero(np.isnan(y))[0]), field="winner")
    n = len(y)
    if n_folds < 2 or members < 1:
        raise DataError(f"cross-fitting needs at least 2 folds and 1 member, got {n_folds} "
                        f"and {members}", field="--folds")
    folds = prompt_folds(dataset, n_folds, seed)
    if len(np.unique(folds)) < 2 or n < 4 * n_folds:
        raise DataError(f"{n} records ({len(np.unique(folds))} prompt groups) are too few for "
                        f"{n_folds}-fold cross-fitting", source=dataset.name)
    feats = (pair_features_of(dataset, encoder, inputs, extras) if features is None
             else features)
    if len(feats) != n:
        raise DataError(f"features have {len(feats)} rows for {n} records", field="features")
    feats.y = y
    feats.w = np.asarray(dataset.weights(), dtype=float) if feats.w is None else feats.w
    feats.tie = dataset.is_tie() if feats.tie is None else feats.tie
    sign = np.where(y >= 0.5, 1.0, -1.0)
    strengths = np.zeros((n, members))
    prompts = list(dataset.column("prompt")) if dataset.has("prompt") else None
    with progress_bar(progress, n_folds, "cross-fitted reward ensembles", "fold") as advance:
        for k in range(n_folds):
            test, train = np.flatnonzero(folds == k), np.flatnonzero(folds != k)
            sub = _subset(feats, train)
            wd = weight_decay
            if wd == "auto":
                probe = EnsembleHead(members=1, bootstrap=False, hidden=hidden, seed=seed + k,
                                     epochs=epochs, weight_decay=0.0)
                wd, _ = select_weight_decay(
                    probe, sub, groups=None if prompts is None else [prompts[i] for i in train],
                    seed=seed + k)
            head = EnsembleHead(members=members, bootstrap=True, hidden=hidden, seed=seed + k,
                                epochs=epochs, weight_decay=float(wd)).fit(sub)
            gap = (head.member_rewards(feats.xa[test])
                   - head.member_rewards(feats.xb[test])).double().numpy()
            strengths[test] = sign[test, None] * gap
            advance(1)
    decisive = ~dataset.is_tie() & (np.abs(y - 0.5) > 1e-9)
    mean_s, sd_s = strengths.mean(axis=1), strengths.std(axis=1)
    alpha, eps, interval = fit_flip_model(mean_s[decisive])
    if eps > 0:
        num = eps * expit(-alpha * strengths)
        per = num / (num + (1 - eps) * expit(alpha * strengths))
        flip_prob = np.where(decisive, per.mean(axis=1), 0.0)
    else:
        flip_prob = np.zeros(n)
    disagree = float((mean_s[decisive] < 0).mean()) if decisive.any() else 0.0
    return RMFlipReport(
        flip_prob, mean_s, sd_s, eps,
        float(flip_prob[decisive].mean()) if decisive.any() else 0.0,
        scale=alpha, flip_rate_interval=interval, disagreement_rate=disagree,
        crossfit_accuracy=1.0 - disagree, folds=folds, member_strengths=strengths)
