r"""WIMHF — What's In My Human Feedback: a sparse autoencoder over the embedding differences of
preference pairs, then which of its learned features predict the preference.

Movva et al. 2025, "What's In My Human Feedback? Learning interpretable descriptions of
preference data".  For a pair (y_A, y_B) with sentence embeddings e(·)::

    Δ = e(y_A) − e(y_B)

1. **TopK sparse autoencoder** (Gao et al. 2024, "Scaling and evaluating sparse autoencoders")
   on the Δ of the data set, ``m`` latents, ``k`` active per input::

       z(Δ) = TopK_k(ReLU(W_enc (Δ − b_dec) + b_enc)),    Δ̂ = W_decᵀ z + b_dec,
       loss  = ‖Δ − Δ̂‖²                                  (decoder rows kept at unit norm)

   or, with ``sparsity="l1"``, z = ReLU(…) and loss ‖Δ − Δ̂‖² + λ‖z‖₁ (the classic SAE).
   The SAE is trained on Δ *and* −Δ, so its dictionary does not depend on which response was
   shown as A.  A pair's value of feature j is the antisymmetric

       f_j = z_j(Δ) − z_j(−Δ)

   ("how much more of feature j A has than B"): swapping the two responses flips its sign.
2. **Measurable** features: f_j ≠ 0 in at least ``min_active`` of the pairs (the differences
   the data set can measure at all).  Of two features with opposite decoder directions
   (cos < −0.9: the same direction learnt once per sign) the more active one is kept.
3. **Expressed** preferences: Bayesian logistic regression (Laplace posterior,
   :mod:`prefkit.quality.bayes_logistic`) of the label on the standardised f of the measurable
   features, with an intercept for the first position::

       P(A ≻ B) = σ(γ + Σ_j β_j f_j / sd(f_j))

   with β_j's 95 % interval and P(β_j > 0); per feature also the *win rate* of the side with
   more of it (decisive pairs where f_j ≠ 0) with a Wilson interval.
4. **Signal**: cross-validated AUC (folds by pair: repeated labels of one pair share a fold)
   of the regression on all measurable features, on the top ``top_m`` features (by |β|/sd) and
   of a black-box logistic regression on Δ itself; the paper's "share of the black-box signal"
   is (AUC_top − ½)/(AUC_black-box − ½).
5. **Descriptions**: each feature's top-activating pairs (largest |f_j|) with the text of the
   side that has more of it and of the other; the decoder row is the feature's direction in
   embedding space.  Naming features with an LLM (the paper's last step) is left to the reader
   of the examples.

Embeddings are of the responses alone (default: the bundled MiniLM, cached).  Not done here:
the paper's annotator-specific weights (personalisation, β_u = β + δ_u) and its relabelling
experiment; the SAE has no AuxK loss for dead latents (dead ones are reported as not measurable).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.stats import rankdata

from prefkit.errors import DataError
from prefkit.quality.bayes_logistic import fit_laplace

SPARSITY = ("topk", "l1")


@dataclass
class SparseAutoencoder:
    """A trained SAE (numpy weights): ``encode(X)`` → latents, ``decode(Z)`` → inputs.

    ``W_enc`` (m, d), ``b_enc`` (m,), ``W_dec`` (m, d) with unit-norm rows, ``b_dec`` (d,);
    inputs are divided by ``scale`` (their RMS norm in training) before encoding."""

    W_enc: np.ndarray
    b_enc: np.ndarray
    W_dec: np.ndarray
    b_dec: np.ndarray
    k: int | None
    scale: float = 1.0
    history: list[float] = field(default_factory=list)

    @property
    def n_features(self) -> int:
        return int(self.W_enc.shape[0])

    def encode(self, X: np.ndarray) -> np.ndarray:
        pre = (np.asarray(X, dtype=float) / self.scale - self.b_dec) @ self.W_enc.T + self.b_enc
        return np.where(_topk_mask(pre, self.k), pre, 0.0)

    def decode(self, Z: np.ndarray) -> np.ndarray:
        return (np.asarray(Z, dtype=float) @ self.W_dec + self.b_dec) * self.scale


def _topk_mask(pre: np.ndarray, k: int | None) -> np.ndarray:
    """Where z = TopK(ReLU(pre)) is non-zero."""
    mask = pre > 0
    if k is not None and k < pre.shape[1]:
        keep = np.zeros_like(mask)
        np.put_along_axis(keep, np.argpartition(-pre, k - 1, axis=1)[:, :k], True, axis=1)
        mask &= keep
    return mask


def train_sae(X: np.ndarray, *, n_features: int = 32, k: int | None = 4,
              sparsity: str = "topk", l1: float = 1e-2, epochs: int = 300,
              batch_size: int = 128, lr: float = 1e-2, seed: int = 0) -> SparseAutoencoder:
    """Train a TopK (or L1) sparse autoencoder on the rows of ``X`` (module notes, step 1).

    Mini-batch Adam on the exact gradients (step size constant for the first half of the
    epochs, then linearly to 0), in numpy: an SAE of this size needs no autograd,
    and importing torch would cost more than the training (``history``: loss per epoch).
    Latents that never fire in an epoch are restarted at poorly reconstructed inputs after 1/8,
    2/8 and 3/8 of the epochs.  Decoder rows are renormalised after each step; the encoder
    starts as the decoder's transpose, ``b_dec`` at the data mean."""
    if sparsity not in SPARSITY:
        raise DataError(f"sparsity must be one of {', '.join(SPARSITY)}, not {sparsity!r}")
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or len(X) < 2 or not np.isfinite(X).all():
        raise DataError("the SAE needs a finite (n, d) matrix with at least two rows")
    if n_features < 1 or (sparsity == "topk" and not (k and 1 <= k <= n_features)):
        raise DataError(f"need n_features ≥ 1 and 1 ≤ k ≤ n_features (got {n_features}, {k})")
    scale = float(np.sqrt((X**2).sum(1).mean())) or 1.0
    data = X / scale
    d = data.shape[1]
    rng = np.random.default_rng(seed)
    W_dec = rng.normal(size=(n_features, d))
    W_dec /= np.linalg.norm(W_dec, axis=1, keepdims=True)
    params = {"W_enc": W_dec.copy(), "b_enc": np.zeros(n_features), "W_dec": W_dec,
              "b_dec": data.mean(0)}
    moments = {name: (np.zeros_like(v), np.zeros_like(v)) for name, v in params.items()}
    top = k if sparsity == "topk" else None
    with _one_blas_thread():
        history = _adam(data, params, moments, top, l1, epochs, batch_size, lr, rng)
    return SparseAutoencoder(params["W_enc"], params["b_enc"], params["W_dec"], params["b_dec"],
                             top, scale, history)


@contextlib.contextmanager
def _one_blas_thread() -> Iterator[None]:
    """Small matrix products: BLAS threads only contend (12× slower on a loaded machine)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        yield
        return
    with threadpool_limits(1):
        yield


def _adam(data: np.ndarray, params: dict[str, np.ndarray], moments: dict[str, Any],
          top: int | None, l1: float, epochs: int, batch_size: int, lr: float,
          rng: np.random.Generator) -> list[float]:
    """Mini-batch Adam on the SAE loss (see :func:`train_sae`); returns the loss per epoch."""
    n, n_features = len(data), params["W_enc"].shape[0]
    b1, b2, eps = 0.9, 0.999, 1e-8
    step = 0
    history: list[float] = []
    resample_at = {max(1, epochs * q // 8) for q in (1, 2, 3)}
    for epoch in range(epochs):
        total = 0.0
        rate = lr * min(1.0, 2.0 * (1 - epoch / epochs))  # constant, then linear decay to 0
        order = rng.permutation(n)
        fired = np.zeros(n_features, dtype=bool)
        for start in range(0, n, batch_size):
            x = data[order[start:start + batch_size]]
            m = len(x)
            xc = x - params["b_dec"]
            pre = xc @ params["W_enc"].T + params["b_enc"]
            mask = _topk_mask(pre, top)
            z = np.where(mask, pre, 0.0)
            err = z @ params["W_dec"] + params["b_dec"] - x
            loss = (err**2).sum() / m
            d_err = 2 * err / m
            d_z = d_err @ params["W_dec"].T
            if top is None:
                loss += l1 * z.sum() / m
                d_z = d_z + l1 / m
            d_pre = np.where(mask, d_z, 0.0)
            grads = {"W_dec": z.T @ d_err, "W_enc": d_pre.T @ xc, "b_enc": d_pre.sum(0),
                     "b_dec": d_err.sum(0) - (d_pre @ params["W_enc"]).sum(0)}
            step += 1
            for name, g in grads.items():
                m1, m2 = moments[name]
                m1 *= b1
                m1 += (1 - b1) * g
                m2 *= b2
                m2 += (1 - b2) * g * g
                params[name] -= rate * (m1 / (1 - b1**step)) / (np.sqrt(m2 / (1 - b2**step)) + eps)
            params["W_dec"] /= np.maximum(np.linalg.norm(params["W_dec"], axis=1,
                                                         keepdims=True), 1e-12)
            total += loss * m
            fired |= mask.any(0)
        history.append(total / n)
        if epoch + 1 in resample_at and not fired.all():
            _resample(params, moments, ~fired, data, top, rng)
    return history


def _resample(params: dict[str, np.ndarray], moments: dict[str, Any], dead: np.ndarray,
              data: np.ndarray, top: int | None, rng: np.random.Generator) -> None:
    """Restart latents that never fired in an epoch at the residuals of the worst-reconstructed
    inputs (Bricken et al. 2023, "Towards monosemanticity", neuron resampling)."""
    pre = (data - params["b_dec"]) @ params["W_enc"].T + params["b_enc"]
    z = np.where(_topk_mask(pre, top), pre, 0.0)
    resid = data - (z @ params["W_dec"] + params["b_dec"])
    err = (resid**2).sum(1)
    idx = np.flatnonzero(dead)
    rows = rng.choice(len(data), size=len(idx), replace=len(idx) > len(data),
                      p=err / err.sum() if err.sum() > 0 else None)
    new = resid[rows] / np.maximum(np.linalg.norm(resid[rows], axis=1, keepdims=True), 1e-12)
    params["W_dec"][idx] = new
    params["W_enc"][idx] = new
    params["b_enc"][idx] = 0.0
    for name in ("W_dec", "W_enc", "b_enc"):
        for moment in moments[name]:
            moment[idx] = 0.0


def pair_features(sae: SparseAutoencoder, delta: np.ndarray) -> np.ndarray:
    """f = z(Δ) − z(−Δ) per pair (module notes): antisymmetric in the two sides."""
    delta = np.asarray(delta, dtype=float)
    return sae.encode(delta) - sae.encode(-delta)


def _wilson(wins: float, n: float, z: float = 1.959964) -> tuple[float, float]:
    if n <= 0:
        return (0.0, 1.0)
    p = wins / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (float(max(0.0, centre - half)), float(min(1.0, centre + half)))


def auc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve of ``score`` for binary ``y`` (Mann–Whitney, ties averaged)."""
    y = np.asarray(y) > 0.5
    pos, neg = int(y.sum()), int((~y).sum())
    if pos == 0 or neg == 0:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[y].sum() - pos * (pos + 1) / 2) / (pos * neg))


def _merge_mirrors(W_dec: np.ndarray, candidates: np.ndarray, active_share: np.ndarray,
                   threshold: float = 0.9) -> tuple[np.ndarray, dict[int, int]]:
    """Keep one of each pair of features with opposite decoder directions (cos < −threshold).

    The SAE sees Δ and −Δ, so a direction is often learnt twice, once per sign; their pair
    values are then f_j' ≈ −f_j and would split one effect between two collinear columns.
    The more active of the two is kept; ``mirrors`` maps it to the other."""
    kept: list[int] = []
    mirrors: dict[int, int] = {}
    for j in sorted(candidates.tolist(), key=lambda j: (-active_share[j], j)):
        twin = next((i for i in kept if W_dec[i] @ W_dec[j] < -threshold), None)
        if twin is None:
            kept.append(j)
        elif twin not in mirrors:
            mirrors[twin] = j
        else:
            continue
    return np.array(sorted(kept), dtype=int), mirrors


def _design(F: np.ndarray) -> np.ndarray:
    return np.column_stack([np.ones(len(F)), F])


def cross_validated_auc(F: np.ndarray, y: np.ndarray, *, folds: int = 5, C: float = 1.0,
                        seed: int = 0, groups: np.ndarray | None = None) -> float:
    """AUC of out-of-fold predictions of an L2 logistic regression (intercept unpenalised);
    records of one group (e.g. one pair labelled by several annotators) share a fold."""
    n = len(y)
    codes = (np.arange(n) if groups is None
             else np.unique(np.asarray(groups), return_inverse=True)[1])
    n_groups = int(codes.max()) + 1 if n else 0
    if n_groups < 2 * folds:
        folds = max(2, n_groups // 2)
    fold = (np.random.default_rng(seed).permutation(n_groups) % folds)[codes]
    score = np.zeros(n)
    for f in range(folds):
        train, test = fold != f, fold == f
        mu, sd = F[train].mean(0), F[train].std(0)
        sd = np.where(sd > 0, sd, 1.0)
        X = _design((F[train] - mu) / sd)
        post = fit_laplace(X, y[train], prior_precision=np.r_[0.0, np.full(F.shape[1], 1 / C)])
        score[test] = _design((F[test] - mu) / sd) @ post.mean
    return auc(y, score)


def wimhf(dataset: Any = None, *, embeddings: tuple[np.ndarray, np.ndarray] | None = None,
          labels: np.ndarray | None = None, encoder: Any = None, n_features: int = 32,
          k: int = 4, sparsity: str = "topk", l1: float = 1e-2, epochs: int = 300,
          batch_size: int = 128, lr: float = 1e-2, min_active: float = 0.01, top_m: int = 5,
          n_examples: int = 3, C: float = 1.0, folds: int = 5,
          seed: int = 0) -> dict[str, Any]:
    """Run WIMHF on a pairwise dataset with response texts (module notes).

    ``embeddings``: precomputed (e(a), e(b)) arrays instead of encoding ``a_text``/``b_text``
    with ``encoder`` (default: the bundled MiniLM, cached); ``labels``: P(A ≻ B) per pair
    instead of the dataset's outcomes.  Returns a JSON-able report: ``features`` (measurable
    ones, most predictive first: coefficient, interval, P(β > 0), win rate, activation share,
    examples), ``signal`` (cross-validated AUCs), ``sae`` (sizes, final loss) and, under the key
    ``"_arrays"``, the SAE weights and the pair features (not JSON; drop before writing).
    """
    a_text = b_text = prompts = None
    if dataset is not None:
        if dataset.kind != "pairwise":
            dataset = dataset.to_pairs()
        if labels is None:
            labels = dataset.outcomes()
        if dataset.has("a_text") and dataset.has("b_text"):
            a_raw, b_raw = list(dataset.column("a_text")), list(dataset.column("b_text"))
            missing = [i for i, (a, b) in enumerate(zip(a_raw, b_raw, strict=True))
                       if a is None or b is None]  # an empty response is a response
            if missing and embeddings is None:
                raise DataError(f"WIMHF: record {missing[0]} has no a_text or b_text")
            a_text = ["" if t is None else str(t) for t in a_raw]
            b_text = ["" if t is None else str(t) for t in b_raw]
        prompts = list(dataset.column("prompt")) if dataset.has("prompt") else None
    if embeddings is None:
        if a_text is None:
            raise DataError("WIMHF needs response texts (a_text and b_text) or embeddings")
        if encoder is None:
            from prefkit.encode import default_encoder

            encoder = default_encoder()
        emb = np.asarray(encoder.encode(a_text + b_text), dtype=float)
        ea, eb = emb[: len(a_text)], emb[len(a_text):]
    else:
        ea, eb = (np.asarray(e, dtype=float) for e in embeddings)
    if labels is None:
        raise DataError("WIMHF needs labels (a dataset with winner / p_a, or labels=)")
    y_all = np.asarray(labels, dtype=float)
    n = len(ea)
    if eb.shape != ea.shape or len(y_all) != n:
        raise DataError(f"WIMHF: {len(ea)} A embeddings, {len(eb)} B, {len(y_all)} labels")
    if n < 20:
        raise DataError(f"WIMHF needs at least 20 pairs; got {n}")
    delta = ea - eb
    sae = train_sae(np.vstack([delta, -delta]), n_features=n_features, k=k, sparsity=sparsity,
                    l1=l1, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed)
    F = pair_features(sae, delta)
    decisive = np.isfinite(y_all) & (y_all != 0.5)
    y = y_all[decisive]
    if decisive.sum() < 10 or len(np.unique(y > 0.5)) < 2:
        raise DataError("WIMHF needs at least 10 decisive pairs won by both sides")
    active_share = (np.abs(F) > 1e-9).mean(0)
    measurable, mirrors = _merge_mirrors(sae.W_dec, np.flatnonzero(active_share >= min_active),
                                         active_share)
    if len(measurable) == 0:
        raise DataError("no SAE feature is active in enough pairs; lower min_active")
    Fm = F[decisive][:, measurable]
    sd = Fm.std(0)
    sd = np.where(sd > 0, sd, 1.0)
    post = fit_laplace(_design(Fm / sd), y,
                       prior_precision=np.r_[0.0, np.full(len(measurable), 1 / C)])
    coef, iv, ppos = post.mean[1:], post.interval()[1:], post.prob_positive()[1:]
    zscore = coef / np.where(post.sd[1:] > 0, post.sd[1:], np.inf)
    order = np.argsort(-np.abs(zscore), kind="stable")
    features = []
    for rank in order:
        j = int(measurable[rank])
        fj = F[decisive][:, j]
        on = np.abs(fj) > 1e-9
        more_a = fj[on] > 0
        wins = float(np.where(more_a, y[on], 1 - y[on]).sum())
        examples: list[dict[str, Any]] = []
        shown: set[bytes] = set()  # one example per distinct pair (annotators repeat pairs)
        for i in np.argsort(-np.abs(F[:, j]), kind="stable"):
            if abs(F[i, j]) <= 1e-9 or len(examples) >= n_examples:
                break
            key = np.round(delta[i] * np.sign(F[i, j]), 6).tobytes()  # A/B order ignored
            if key in shown:
                continue
            shown.add(key)
            more_is_a = F[i, j] > 0
            ex: dict[str, Any] = {"row": int(i), "activation": float(abs(F[i, j])),
                                  "more_side": "a" if more_is_a else "b",
                                  "more_won": (None if not np.isfinite(y_all[i])
                                               or y_all[i] == 0.5 else
                                               bool((y_all[i] > 0.5) == more_is_a))}
            if a_text is not None and b_text is not None:
                ex["more_text"] = a_text[i] if more_is_a else b_text[i]
                ex["less_text"] = b_text[i] if more_is_a else a_text[i]
                if prompts is not None and prompts[i] is not None:
                    ex["prompt"] = str(prompts[i])
            examples.append(ex)
        features.append({
            "feature": j, "coef": float(coef[rank]),
            "interval": [float(iv[rank, 0]), float(iv[rank, 1])],
            "prob_positive": float(ppos[rank]), "z": float(zscore[rank]),
            "active_share": float(active_share[j]), "n_active": int(on.sum()),
            "mirror": mirrors.get(j),
            "win_rate": float(wins / on.sum()) if on.any() else None,
            "win_rate_interval": list(_wilson(wins, float(on.sum()))),
            "examples": examples,
        })
    top = [int(measurable[r]) for r in order[:top_m]]
    Fd, Dd = F[decisive], delta[decisive]
    # one pair labelled several times (annotators) stays in one fold: the same Δ, hence key
    groups = np.unique(np.round(delta[decisive], 6), axis=0, return_inverse=True)[1].ravel()
    cv = {"folds": folds, "C": C, "seed": seed, "groups": groups}
    signal = {
        "auc_all_features": cross_validated_auc(Fd[:, measurable], y, **cv),
        "auc_top_features": cross_validated_auc(Fd[:, top], y, **cv),
        "auc_black_box": cross_validated_auc(Dd, y, **cv),
        "top_m": len(top),
    }
    gap = signal["auc_black_box"] - 0.5
    signal["share_of_black_box"] = (float((signal["auc_top_features"] - 0.5) / gap)
                                    if gap > 0 else None)
    recon = sae.decode(sae.encode(delta))
    explained = 1 - ((delta - recon) ** 2).sum() / max(((delta - delta.mean(0)) ** 2).sum(),
                                                        1e-12)
    return {
        "n_pairs": n, "n_decisive": int(decisive.sum()),
        "first_position": {"coef": float(post.mean[0]),
                           "interval": [float(x) for x in post.interval()[0]]},
        "sae": {"n_features": sae.n_features, "k": sae.k, "sparsity": sparsity,
                "dim": int(delta.shape[1]), "final_loss": float(sae.history[-1]),
                "variance_explained": float(explained), "measurable": len(measurable),
                "dead": int((active_share == 0).sum())},
        "signal": signal, "features": features,
        "_arrays": {"W_enc": sae.W_enc, "b_enc": sae.b_enc, "W_dec": sae.W_dec,
                    "b_dec": sae.b_dec, "scale": np.array([sae.scale]), "pair_features": F},
    }


__all__ = ["SparseAutoencoder", "auc", "cross_validated_auc", "pair_features", "train_sae",
           "wimhf"]
