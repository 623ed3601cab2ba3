"""Shared fixtures: where the real data lives (``../shared/data`` beside the repository)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# tests/ on sys.path under every import mode, so the shared ``helpers`` package (tests/helpers)
# imports from any folder, in any order, with or without pytest-xdist.
if str(REPO / "tests") not in sys.path:
    sys.path.insert(0, str(REPO / "tests"))
SHARED_DATA = REPO.parent / "shared" / "data"
FAKE_JUDGE = Path(__file__).resolve().parent / "judge" / "fake_openai_server.py"


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


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _fake_judge_process(timeout: float = 30.0) -> Iterator[tuple[str, subprocess.Popen]]:
    """``tests/judge/fake_openai_server.py`` as a real process on a free loopback port:
    ``(base URL, process)`` once ``/stats`` answers; stopped (SIGTERM, then kill) on exit."""
    httpx = pytest.importorskip("httpx")
    pytest.importorskip("uvicorn")
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(FAKE_JUDGE), str(port)],
                            cwd=FAKE_JUDGE.parent, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(f"{url}/stats", timeout=1).raise_for_status()
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail(f"fake judge server did not start: {proc.stderr.read()[-500:]!r}")
            time.sleep(0.1)
    try:
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="session")
def fake_judge() -> Callable[..., contextlib.AbstractContextManager]:
    """Starts the fake OpenAI-compatible judge (answers ``[[A]]`` when the answer shown first
    is longer): ``with fake_judge() as (url, proc): …`` — usable from fixtures of any scope."""
    return _fake_judge_process
