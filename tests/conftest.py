"""Shared fixtures: where the real data lives (``../shared/data`` beside the repository)."""

from __future__ import annotations

import os
import shutil
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


def needs_component(available: bool, reason: str) -> None:
    """Skip a test whose real component (a browser, a database server) is not running.

    Under ``.ci/run`` (``PREFKIT_CI=1``), which installs and starts every component, a missing
    one is a failure instead: CI never skips them.
    """
    if available:
        return
    if os.environ.get("PREFKIT_CI") == "1":
        pytest.fail(f"CI must provide this component: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A real PostgreSQL server's SQLAlchemy URL (``PREFKIT_TEST_POSTGRES_URL``, set by .ci/run)."""
    url = os.environ.get("PREFKIT_TEST_POSTGRES_URL", "")
    needs_component(bool(url), "PostgreSQL is not running (PREFKIT_TEST_POSTGRES_URL is unset)")
    return url


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """The system Chromium for Playwright (``PREFKIT_TEST_CHROMIUM`` or ``/usr/bin/chromium``)."""
    path = os.environ.get("PREFKIT_TEST_CHROMIUM") or shutil.which("chromium") or ""
    needs_component(bool(path) and os.access(path, os.X_OK), "headless Chromium is not installed")
    return path
