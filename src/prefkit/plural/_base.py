"""Plumbing shared by the user-aware models: user ids, outcomes, and the 0.1 file reader.

Saving and loading go through :mod:`prefkit.core.persist` (one format, one registry, tags
``plural.<ClassName>``): ``prefkit.save(model, dir)`` / ``prefkit.load(dir)``.  Directories
written by prefkit 0.1 (``{"format": "prefkit.plural", "class": ...}`` + ``arrays.npz``) are
opened by the classes' ``_from_legacy`` through :func:`read_legacy` — with the size and depth
limits of :mod:`prefkit.core.limits` and no pickle.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np
import pandas as pd

from prefkit.core.persist import read_legacy_layer
from prefkit.errors import DataError


# ---------------------------------------------------------------------------------- users
def user_labels(dataset: Any) -> np.ndarray:
    """Per record, the person behind it: ``user_id``, else ``annotator_id``, else the record.

    Records without a user id each count as a user of their own (``"record:<i>"``).
    """
    n = len(dataset)
    for column in ("user_id", "annotator_id"):
        if dataset.has(column):
            raw = np.asarray(dataset.column(column), dtype=object)
            missing = pd.isna(raw)
            if missing.any():
                raw = raw.copy()
                raw[missing] = [f"record:{i}" for i in np.flatnonzero(missing)]
            return raw.astype(str).astype(object)
    return np.array([f"record:{i}" for i in range(n)], dtype=object)


def encode_users(labels: np.ndarray) -> tuple[list[str], np.ndarray]:
    """(sorted distinct users, code of each record)."""
    codes, uniques = pd.factorize(labels, sort=True)
    return [str(u) for u in uniques], codes.astype(np.int64)


def lookup_users(labels: np.ndarray, users: list[str]) -> np.ndarray:
    """Codes of ``labels`` in ``users`` (−1 for users the model has not seen)."""
    index = pd.Index(users)
    return np.asarray(index.get_indexer(labels.astype(str)), dtype=np.int64)


def pair_targets(dataset: Any) -> tuple[np.ndarray, np.ndarray]:
    """(P(a ≻ b) label per record — ties ½, soft labels as given — and record weights)."""
    if dataset.kind != "pairwise":
        raise DataError(
            f"a pairwise dataset is needed, this one is {dataset.kind}", source=dataset.name
        )
    y = np.asarray(dataset.outcomes(), dtype=float)
    if np.isnan(y).any():
        raise DataError(
            "missing outcome",
            source=dataset.name,
            row=int(np.flatnonzero(np.isnan(y))[0]),
            field="winner",
        )
    return y, np.asarray(dataset.weights(), dtype=float)


def as_pairs(dataset: Any) -> Any:
    """Pairwise view of a dataset (rank breaking / binarization keep ``user_id``)."""
    return dataset if dataset.kind == "pairwise" else dataset.to_pairs()


# ---------------------------------------------------------------------------------- persistence
def read_legacy(
    directory: str | os.PathLike, cls_name: str
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Config and arrays of a prefkit 0.1 plural directory holding a ``cls_name``."""
    return read_legacy_layer(directory, "plural", cls_name)


def load(directory: str | os.PathLike, **kwargs: Any) -> Any:
    """Deprecated: use :func:`prefkit.load` (opens every saved prefkit model)."""
    warnings.warn("prefkit.plural.load is deprecated; use prefkit.load", DeprecationWarning,
                  stacklevel=2)
    from prefkit.core.persist import load as core_load

    return core_load(directory, **kwargs)
