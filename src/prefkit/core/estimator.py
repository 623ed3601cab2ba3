"""The one model contract, on scikit-learn's ``BaseEstimator``.

Every model in prefkit — a choice model, a reward head, a pluralistic model, a DPO policy, an LLM
judge — is a :class:`PreferenceEstimator`:

* **hyper-parameters** are the keyword arguments of ``__init__``, stored unchanged under the same
  names, so ``get_params`` / ``set_params`` / ``sklearn.base.clone`` work from the signature;
* **learned state** lives in attributes whose names end in ``_``;
* ``fit(dataset, **fit_params) -> self`` learns from a :class:`~prefkit.PreferenceDataset`;
* ``predict_proba(dataset)`` → P(a ≻ b) per pairwise record, shape ``(n,)``; models with ties may
  also answer ``predict_outcome_proba(dataset)`` → ``(n, 3)`` = (P(a ≻ b), P(b ≻ a), P(tie));
* ``reward(dataset)`` → ``(n, 2)`` scalar rewards (r_a, r_b) — only models that *have* a scalar
  reward (Bradley–Terry heads, DPO implicit rewards); general-preference models do not pretend;
* ``reward_texts(prompts, responses)`` → ``(n,)`` rewards of free texts, where that applies;
* ``item_scores(items=None)`` → strengths θ of named items (item-level models);
* ``save(dir)`` / ``load(dir)`` — one directory format for all (:mod:`prefkit.core.persist`).

Because they all answer ``predict_proba``, one :func:`prefkit.evaluate.evaluate` scores them all.

``get_params`` / ``set_params`` are scikit-learn's own ``BaseEstimator`` methods, and
``sklearn.base.clone`` works on every model.  They are bound *lazily*: importing
``sklearn.base`` costs about a second (it pulls in scipy.stats and pandas), which every command
line call that fits or loads a choice model would otherwise pay before doing any work.  So the
class does not inherit from ``BaseEstimator`` at definition time; it calls its methods on first
use.  ``isinstance(model, BaseEstimator)`` is therefore False — test for
:class:`PreferenceEstimator` instead.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

from prefkit.errors import ModelFileError, NotFittedError


def _sklearn_base() -> Any:
    from sklearn.base import BaseEstimator

    return BaseEstimator


class PreferenceEstimator:
    """Base class of every prefkit model (see the module notes for the contract)."""

    #: attribute whose presence means "fitted"; None: any public attribute ending in ``_``
    _fitted_attr: ClassVar[str | None] = None

    # ---------------------------------------------------------------- hyper-parameters
    @classmethod
    def _get_param_names(cls) -> list[str]:
        """Names of the ``__init__`` keyword arguments (scikit-learn's rule)."""
        return _sklearn_base()._get_param_names.__func__(cls)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Hyper-parameters by name (``sklearn.base.BaseEstimator.get_params``)."""
        return _sklearn_base().get_params(self, deep)

    def set_params(self, **params: Any) -> PreferenceEstimator:
        """Set hyper-parameters (``sklearn.base.BaseEstimator.set_params``)."""
        return _sklearn_base().set_params(self, **params)

    def __sklearn_clone__(self) -> PreferenceEstimator:
        from sklearn.base import _clone_parametrized

        return _clone_parametrized(self)

    def __repr__(self) -> str:
        import inspect

        signature = inspect.signature(type(self).__init__)
        shown = []
        for name in self._get_param_names():
            value = getattr(self, name, None)
            default = signature.parameters[name].default
            if default is inspect.Parameter.empty or not _same(value, default):
                shown.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(shown)})"

    # ---------------------------------------------------------------- the contract
    def fit(self, dataset: Any, **fit_params: Any) -> PreferenceEstimator:
        raise NotImplementedError

    def predict_proba(self, dataset: Any) -> Any:
        raise NotImplementedError

    # ---------------------------------------------------------------- fitted state
    def __sklearn_is_fitted__(self) -> bool:
        if self._fitted_attr is not None:
            return hasattr(self, self._fitted_attr)
        return any(k.endswith("_") and not k.startswith("_") for k in vars(self))

    def check_fitted(self) -> None:
        """Raise :class:`~prefkit.errors.NotFittedError` unless ``fit`` (or ``load``) ran."""
        if not self.__sklearn_is_fitted__():
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() first")

    # ---------------------------------------------------------------- persistence
    def save(self, directory: str | os.PathLike[str], *, overwrite: bool = True) -> Path:
        """Save to ``directory`` (see :func:`prefkit.core.persist.save`)."""
        from prefkit.core.persist import save

        return save(self, directory, overwrite=overwrite)

    @classmethod
    def load(cls, directory: str | os.PathLike[str], **kwargs: Any) -> Any:
        """Load a model saved by :meth:`save`; it must be an instance of this class."""
        from prefkit.core.persist import load

        model = load(directory, **kwargs)
        if not isinstance(model, cls):
            raise ModelFileError(
                f"{directory}: holds a {type(model).__name__}, not a {cls.__name__}"
            )
        return model


def _same(value: Any, default: Any) -> bool:
    try:
        return bool(value is default or value == default)
    except (TypeError, ValueError):  # arrays and other values without a truth value
        return False
