"""Shared fixtures: where the real data lives (``../shared/data`` beside the repository)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real-data folder; tests that need it are skipped cleanly when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent")
    return SHARED_DATA


@pytest.fixture
def real_file() -> Callable[[str], Path]:
    """``real_file("llm-pairwise/x.json")`` (a glob): the path, or skip when it is absent."""

    def locate(rel: str) -> Path:
        matches = sorted(SHARED_DATA.glob(rel))
        if not matches:
            pytest.skip(f"real data not available: {SHARED_DATA / rel} (expected ../shared/data)")
        return matches[0]

    return locate
