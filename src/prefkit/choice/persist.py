"""Choice models on disk: the one prefkit format, and prefkit 0.1 directories.

Saving and loading go through :mod:`prefkit.core.persist` (``config.json`` + ``arrays.safetensors``,
class tags ``choice.<ClassName>``); ``prefkit.load(dir)`` opens any of them.  This module only
reads the 0.1 layout (``{"format": "prefkit.choice", "class": ...}`` + ``arrays.npz``), for the
models' ``_from_legacy`` — with the size and depth limits of :mod:`prefkit.core.limits`, the npz
read without pickle and with each member's size checked first.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np

from prefkit.core.persist import read_legacy_layer


def read_legacy(
    directory: str | os.PathLike, cls_name: str
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Config and arrays of a prefkit 0.1 choice directory holding a ``cls_name``."""
    return read_legacy_layer(directory, "choice", cls_name)


def load_model(directory: str | os.PathLike) -> Any:
    """Deprecated: use :func:`prefkit.load` (opens every saved prefkit model)."""
    warnings.warn(
        "prefkit.choice.load_model is deprecated; use prefkit.load", DeprecationWarning,
        stacklevel=2,
    )
    from prefkit.core.persist import load

    return load(directory)
