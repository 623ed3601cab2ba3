"""Base class of the feature-level (torch) plural models: data → tensors, training, adapt, save.

A subclass says how to build its ``torch.nn.Module`` (``_build``), its training loss
(``_loss``), its prediction P(a ≻ b | user) (``_proba``; user code −1 = unknown user, predicted
by the population fallback), and which parameters a new user owns (``_user_table``: one row per
user, fitted alone by :meth:`FeatureModel.adapt`).  Everything else — z-scoring, user ids — lives
here, on the reward layer's one framework for torch heads over pair features: features and
attribute columns from :mod:`prefkit.reward.features`, the Adam loop and the weight format from
:mod:`prefkit.reward._train`, the directory format from :mod:`prefkit.core.persist`.
"""

from __future__ import annotations

import copy
import inspect
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from prefkit.core.estimator import PreferenceEstimator
from prefkit.core.persist import config_value, expect_array, saved_params
from prefkit.errors import DataError, ModelFileError
from prefkit.plural._base import (
    as_pairs,
    encode_users,
    lookup_users,
    pair_targets,
    read_legacy,
    user_labels,
)
from prefkit.reward._train import adam_fit, build_checked, module_arrays
from prefkit.reward.features import pair_features

Batch = dict[str, Any]


def mlp(d_in: int, hidden: int, d_out: int, layers: int = 1) -> nn.Module:
    """Linear map (``hidden=0``) or an MLP with ``layers`` hidden GELU layers."""
    if hidden <= 0:
        return nn.Linear(d_in, d_out)
    mods: list[nn.Module] = []
    width = d_in
    for _ in range(layers):
        mods += [nn.Linear(width, hidden), nn.GELU()]
        width = hidden
    mods.append(nn.Linear(width, d_out))
    return nn.Sequential(*mods)


def bce(p: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Weighted Bernoulli negative log-likelihood of probabilities (soft labels allowed)."""
    p = p.clamp(1e-6, 1.0 - 1e-6)
    nll = -(y * torch.log(p) + (1.0 - y) * torch.log1p(-p))
    return (w * nll).sum() / w.sum().clamp_min(1e-12)


def bce_logits(logit: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    nll = nn.functional.binary_cross_entropy_with_logits(logit, y, reduction="none")
    return (w * nll).sum() / w.sum().clamp_min(1e-12)


class FeatureModel(PreferenceEstimator):
    """Shared machinery; see the subclasses for the models and their papers.

    Common args:
        columns: attribute names (``a_<name>``/``b_<name>`` columns) used as features; ``None``
            finds them, unless ``encoder`` or ``features=`` supply the features.
        prompt_columns: numeric columns describing the prompt (routing/prompt features).
        encoder: object with ``encode(texts) -> np.ndarray`` (text data).
        epochs, lr, weight_decay, batch_size: Adam training (``batch_size=None``: full batch).
        adapt_steps, adapt_lr, adapt_l2: fitting a new user's own parameters in :meth:`adapt`.
        seed: torch / numpy seed.
    """

    def __init__(
        self,
        *,
        columns: list[str] | None = None,
        prompt_columns: list[str] | None = None,
        encoder: Any = None,
        epochs: int = 300,
        lr: float = 0.02,
        weight_decay: float = 0.0,
        batch_size: int | None = None,
        adapt_steps: int = 200,
        adapt_lr: float = 0.05,
        adapt_l2: float = 0.01,
        seed: int = 0,
    ) -> None:
        self.columns = None if columns is None else list(columns)
        self.prompt_columns = None if prompt_columns is None else list(prompt_columns)
        self.encoder = encoder
        self.epochs = epochs
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.adapt_steps = adapt_steps
        self.adapt_lr = adapt_lr
        self.adapt_l2 = adapt_l2
        self.seed = seed

    _fitted_attr = "module_"

    # ------------------------------------------------------------------ configuration
    @classmethod
    def _get_param_names(cls) -> list[str]:
        """Hyper-parameters of the class *and* its bases (subclasses pass ``**kwargs`` on), so
        scikit-learn's ``get_params`` / ``set_params`` / ``clone`` see them all."""
        names: list[str] = []
        for klass in cls.__mro__:
            if "__init__" in klass.__dict__ and klass is not object:
                names += [
                    p.name for p in inspect.signature(klass.__init__).parameters.values()
                    if p.kind == p.KEYWORD_ONLY
                    or (p.name != "self" and p.kind == p.POSITIONAL_OR_KEYWORD)
                ]
        return sorted(dict.fromkeys(names))

    def _hyper_parameters(self) -> dict[str, Any]:
        """JSON-able hyper-parameters (the encoder object is not one)."""
        return {k: v for k, v in self.get_params(deep=False).items() if k != "encoder"}

    # ------------------------------------------------------------------ subclass hooks
    def _build(self, d: int, dx: int, n_users: int) -> nn.Module:  # pragma: no cover
        raise NotImplementedError

    def _loss(self, batch: Batch) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def _proba(self, batch: Batch) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def _user_table(self) -> nn.Parameter | None:
        """The (U, ·) parameter holding one row per user (None if users own no parameters)."""
        return None

    def _after_fit(self, batch: Batch) -> None:
        """Hook run after training (e.g. compute posteriors)."""

    # ------------------------------------------------------------------ data
    def _raw_features(self, dataset: Any, features: Any):
        return pair_features(
            dataset,
            columns=getattr(self, "columns_", self.columns),
            prompt_columns=self.prompt_columns,
            encoder=self.encoder,
            features=features,
        )

    def _batch(self, dataset: Any, features: Any, codes: np.ndarray) -> Batch:
        pf, _ = self._raw_features(dataset, features)
        if pf.xa.shape[1] != self.n_features_:
            raise DataError(
                f"features have {pf.xa.shape[1]} dimensions, the model expects {self.n_features_}",
                source=dataset.name, field="features",
            )
        fa = (pf.xa - self.feature_mean_) / self.feature_std_
        fb = (pf.xb - self.feature_mean_) / self.feature_std_
        fx = None
        if self.n_prompt_features_:
            if pf.prompt is None:
                fx = np.zeros((len(fa), self.n_prompt_features_), np.float32)
            else:
                fx = (pf.prompt - self.prompt_mean_) / self.prompt_std_
        y, w = (pair_targets(dataset) if dataset.kind == "pairwise" else (None, None))
        t = torch.as_tensor
        return {
            "fa": t(np.asarray(fa, np.float32)),
            "fb": t(np.asarray(fb, np.float32)),
            "fx": None if fx is None else t(np.asarray(fx, np.float32)),
            "u": t(codes, dtype=torch.long),
            "y": t(np.asarray(y, np.float32)),
            "w": t(np.asarray(w, np.float32)),
        }

    # ------------------------------------------------------------------ fitting
    def fit(self, dataset: Any, *, features: Any = None) -> FeatureModel:
        """Fit on a pairwise dataset (``user_id`` says whose each record is); returns self."""
        dataset = as_pairs(dataset)
        if len(dataset) == 0:
            raise DataError("no records to fit", source=dataset.name)
        pf, cols = self._raw_features(dataset, features)
        self.columns_ = cols
        both = np.vstack([pf.xa, pf.xb]).astype(np.float64)
        self.n_features_ = int(both.shape[1])
        self.feature_mean_ = both.mean(axis=0).astype(np.float32)
        std = both.std(axis=0)
        self.feature_std_ = np.where(std > 1e-8, std, 1.0).astype(np.float32)
        self.n_prompt_features_ = 0 if pf.prompt is None else int(pf.prompt.shape[1])
        if pf.prompt is not None:
            self.prompt_mean_ = pf.prompt.mean(axis=0).astype(np.float32)
            pstd = pf.prompt.std(axis=0)
            self.prompt_std_ = np.where(pstd > 1e-8, pstd, 1.0).astype(np.float32)
        self.users_, codes = encode_users(user_labels(dataset))
        torch.manual_seed(self.seed)
        self._rng = np.random.default_rng(self.seed)
        self.module_ = self._build(self.n_features_, self.n_prompt_features_, len(self.users_))
        batch = self._batch(dataset, features, codes)
        self._fit_module(batch)
        self.module_.eval()
        return self

    def _fit_module(self, batch: Batch) -> None:
        """Train all parameters on the batch (override for EM and other schemes)."""
        self._train(batch, list(self.module_.parameters()), self.epochs, self.lr,
                    self.weight_decay)
        self._after_fit(batch)

    def _train(
        self, batch: Batch, params: list[torch.Tensor], epochs: int, lr: float, wd: float,
        loss_fn: Any = None,
    ) -> list[float]:
        """The shared Adam loop (:func:`prefkit.reward._train.adam_fit`) on this batch:
        ``batch_size=None`` is one full batch; no plateau stop (``tol=0``), as these models'
        ``epochs`` are tuned step counts."""
        loss_fn = loss_fn or self._loss
        n = int(batch["y"].shape[0])
        self.module_.train()
        curve = adam_fit(
            params,
            lambda idx: loss_fn(batch if idx is None else _take(batch, idx)),
            n,
            epochs=int(epochs),
            batch_size=int(self.batch_size) if self.batch_size else None,
            lr=lr,
            weight_decay=wd,
            seed=int(self.seed),
            tol=0.0,
            auto_batch=False,
        )
        self.module_.eval()
        return curve

    # ------------------------------------------------------------------ prediction
    def predict_proba(self, dataset: Any, *, features: Any = None) -> np.ndarray:
        """P(a ≻ b | user) per pairwise record; unknown users get the population prediction."""
        self.check_fitted()
        dataset = as_pairs(dataset)
        codes = lookup_users(user_labels(dataset), self.users_)
        batch = self._batch_for_predict(dataset, features, codes)
        with torch.no_grad():
            return self._proba(batch).double().numpy()

    def _batch_for_predict(self, dataset: Any, features: Any, codes: np.ndarray) -> Batch:
        batch = self._batch(dataset, features, codes)
        return batch

    # ------------------------------------------------------------------ new users
    def adapt(self, dataset: Any, *, features: Any = None) -> FeatureModel:
        """A copy that also knows the users of ``dataset``: only their own parameters are fitted
        (the population parts — features, prototypes, heads — stay frozen)."""
        self.check_fitted()
        dataset = as_pairs(dataset)
        labels = user_labels(dataset)
        new_users = sorted(set(labels.tolist()) - set(self.users_))
        model = self._copy()
        model.users_ = list(self.users_) + new_users
        model._extend_users(len(new_users))
        codes = lookup_users(labels, model.users_)
        batch = model._batch(dataset, features, codes)
        model._adapt(batch)
        return model

    def _copy(self) -> FeatureModel:
        encoder, self.encoder = self.encoder, None
        try:
            model = copy.deepcopy(self)
        finally:
            self.encoder = encoder
        model.encoder = encoder
        return model

    def _extend_users(self, n_new: int) -> None:
        table = self._user_table()
        if table is None or n_new == 0:
            return
        init = self._new_user_rows(n_new)
        table.data = torch.cat([table.data, init], dim=0)

    def _new_user_rows(self, n_new: int) -> torch.Tensor:
        table = self._user_table()
        return table.data.mean(dim=0, keepdim=True).repeat(n_new, 1)

    def _adapt(self, batch: Batch) -> None:
        table = self._user_table()
        if table is None:
            return
        for p in self.module_.parameters():
            p.requires_grad_(False)
        table.requires_grad_(True)
        anchor = self._new_user_rows(1)[0].detach()
        rows = torch.unique(batch["u"])

        def loss_fn(b: Batch) -> torch.Tensor:
            reg = self.adapt_l2 * ((table[rows] - anchor) ** 2).sum() / max(len(rows), 1)
            return self._loss(b, adapt=True) + reg

        self._train(batch, [table], self.adapt_steps, self.adapt_lr, 0.0, loss_fn)
        for p in self.module_.parameters():
            p.requires_grad_(True)

    # ------------------------------------------------------------------ persistence
    def _extra_arrays(self) -> dict[str, np.ndarray]:
        return {}

    def _load_extra(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore what :meth:`_extra_arrays` saved."""

    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Config (hyper-parameters, users, columns, sizes) and arrays (torch weights as
        ``state.*`` in the shared weight format, z-scoring, the subclass's ``extra.*``)."""
        self.check_fitted()
        config = {
            "params": self._hyper_parameters(),
            "users": list(self.users_),
            "columns": self.columns_,
            "uses_encoder": self.encoder is not None,
            "n_features": int(self.n_features_),
            "n_prompt_features": int(self.n_prompt_features_),
        }
        arrays = module_arrays(self.module_)
        arrays["feature_mean"] = self.feature_mean_
        arrays["feature_std"] = self.feature_std_
        if self.n_prompt_features_:
            arrays["prompt_mean"] = self.prompt_mean_
            arrays["prompt_std"] = self.prompt_std_
        arrays.update({f"extra.{k}": np.asarray(v) for k, v in self._extra_arrays().items()})
        return config, arrays

    @classmethod
    def _from_state(
        cls, config: dict[str, Any], arrays: dict[str, np.ndarray], directory: Path,
        *, encoder: Any = None,
    ) -> FeatureModel:
        """Rebuild a saved model; every size is checked against the config before use."""
        where = Path(directory) / "config.json"
        params = saved_params(cls, config, where)
        users = config_value(config, "users", list, where)
        if not all(isinstance(u, str) for u in users):
            raise ModelFileError(f"{where}: 'users' must be a list of strings")
        d = config_value(config, "n_features", int, where)
        dx = config_value(config, "n_prompt_features", int, where)
        if d < 1 or dx < 0:
            raise ModelFileError(f"{where}: impossible feature sizes {d}, {dx}")
        model = cls(**params, encoder=encoder)
        model.users_ = list(users)
        columns = config.get("columns")
        if columns is not None and not (
            isinstance(columns, list) and all(isinstance(c, str) for c in columns)
        ):
            raise ModelFileError(f"{where}: 'columns' must be a list of strings")
        model.columns_ = columns
        model.n_features_, model.n_prompt_features_ = d, dx
        model.feature_mean_ = expect_array(arrays, "feature_mean", (d,), where=where)
        model.feature_std_ = expect_array(arrays, "feature_std", (d,), where=where)
        if dx:
            model.prompt_mean_ = expect_array(arrays, "prompt_mean", (dx,), where=where)
            model.prompt_std_ = expect_array(arrays, "prompt_std", (dx,), where=where)
        model._rng = np.random.default_rng(model.seed)
        model.module_ = build_checked(lambda: model._build(d, dx, len(users)), arrays, "state.",
                                      where)
        model.module_.eval()
        extra = {k[6:]: v for k, v in arrays.items() if k.startswith("extra.")}
        for name, value in extra.items():
            if value.dtype.kind not in "fiub":
                raise ModelFileError(f"{where}: array {name!r} has dtype {value.dtype}")
        model._load_extra(extra)
        if config.get("uses_encoder") and encoder is None:
            raise ModelFileError(
                f"{directory}: this model was trained on encoder features; pass encoder="
            )
        return model

    @classmethod
    def _from_legacy(cls, directory: Path, **kwargs: Any) -> FeatureModel:
        """A prefkit 0.1 directory (``format: prefkit.plural``, ``config.json`` +
        ``arrays.npz``), read with the core's limits."""
        path = Path(directory)
        doc, arrays = read_legacy(path, cls.__name__)
        config = {k: doc[k] for k in ("params", "users", "columns", "uses_encoder",
                                      "n_features", "n_prompt_features") if k in doc}
        return cls._from_state(config, arrays, path, **kwargs)


def _take(batch: Batch, idx: torch.Tensor) -> Batch:
    return {k: (v[idx] if isinstance(v, torch.Tensor) and v.dim() > 0 and v.shape[0] ==
                batch["y"].shape[0] else v) for k, v in batch.items()}


def user_sums(values: torch.Tensor, users: torch.Tensor, n_users: int) -> torch.Tensor:
    """Σ over records of each user: (N, K) → (U, K)."""
    out = torch.zeros((n_users, values.shape[1]), dtype=values.dtype)
    return out.index_add(0, users, values)
