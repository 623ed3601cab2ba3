"""prefkit — learning from human preferences.

Preference data in, preference models out, every model judged by the same metrics.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prefkit.errors import DataError, PrefkitError

if TYPE_CHECKING:
    from prefkit.data import PreferenceDataset, read

__version__ = "0.2.0"

#: Public names imported on first use (``import prefkit`` stays light, so the CLI starts fast).
_LAZY = {"PreferenceDataset": "prefkit.data", "read": "prefkit.data"}


def __getattr__(name: str) -> Any:
    """``prefkit.read`` / ``prefkit.PreferenceDataset``: import :mod:`prefkit.data` on demand."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'prefkit' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))

__all__ = ["DataError", "PreferenceDataset", "PrefkitError", "__version__", "load", "read", "save"]


def save(model: Any, directory: str | os.PathLike[str], *, overwrite: bool = True) -> Path:
    """Save any prefkit model to a directory (see :func:`prefkit.core.persist.save`)."""
    from prefkit.core.persist import save as _save

    return _save(model, directory, overwrite=overwrite)


def load(directory: str | os.PathLike[str], **kwargs: Any) -> Any:
    """Open any saved prefkit model directory (see :func:`prefkit.core.persist.load`)."""
    from prefkit.core.persist import load as _load

    return _load(directory, **kwargs)
