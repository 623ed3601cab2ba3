"""``load_model(directory)``: kept for compatibility — a thin call to :func:`prefkit.load`."""

from __future__ import annotations

import os
from typing import Any


def load_model(directory: str | os.PathLike[str], encoder: Any = None) -> Any:
    """Any saved reward model (and, through :func:`prefkit.load`, any prefkit model)."""
    from prefkit.core.persist import load

    return load(directory, **({"encoder": encoder} if encoder is not None else {}))
