"""Moved: curriculum ordering is data ordering, not a loss — see :mod:`prefkit.align.curriculum`.

This module re-exports it for one release (``from prefkit.align.losses.curriculum import …``).
"""

from __future__ import annotations

from prefkit.align.curriculum import curriculum_order, curriculum_pairs, curriculum_stages

__all__ = ["curriculum_order", "curriculum_pairs", "curriculum_stages"]
