"""prefkit — learning from human preferences.

Preference data in, preference models out, every model judged by the same metrics.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from prefkit.data import PreferenceDataset, read
from prefkit.errors import DataError, PrefkitError

__version__ = "0.1.0"

__all__ = ["DataError", "PreferenceDataset", "PrefkitError", "__version__", "load", "read", "save"]


def save(model: Any, directory: str | os.PathLike[str], *, overwrite: bool = True) -> Path:
    """Save any prefkit model to a directory (see :func:`prefkit.core.persist.save`)."""
    from prefkit.core.persist import save as _save

    return _save(model, directory, overwrite=overwrite)


def load(directory: str | os.PathLike[str], **kwargs: Any) -> Any:
    """Open any saved prefkit model directory (see :func:`prefkit.core.persist.load`)."""
    from prefkit.core.persist import load as _load

    return _load(directory, **kwargs)
