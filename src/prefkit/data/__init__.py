"""Layer 1 — preference data: the schema, readers, validation, conversions, splits, simulator.

The public names are imported on first use, so that ``import prefkit.data.battles`` (the fast
battle-log reader of ``prefkit leaderboard``) does not pay for every reader and pyarrow.compute.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prefkit.data.readers import read, readers, register_reader, sniff_format
    from prefkit.data.schema import KINDS, PreferenceDataset

_LAZY = {
    "read": "prefkit.data.readers",
    "readers": "prefkit.data.readers",
    "register_reader": "prefkit.data.readers",
    "sniff_format": "prefkit.data.readers",
    "KINDS": "prefkit.data.schema",
    "PreferenceDataset": "prefkit.data.schema",
}

__all__ = ["KINDS", "PreferenceDataset", "read", "readers", "register_reader", "sniff_format"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'prefkit.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


class _DataPackage(types.ModuleType):
    """``readers`` names both the function listing the formats and the subpackage defining it;
    as when this package imported it eagerly, ``prefkit.data.readers`` is the function (the
    import system binds the subpackage here once it is loaded: bind its function instead)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "readers" and isinstance(value, types.ModuleType):
            value = value.readers
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _DataPackage
