"""Start a ``prefkit serve`` process on loopback and stop it (shared by the fixtures)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

TOKEN_ENV = "PREFKIT_SERVE_TEST_TOKEN"
TOKEN = "test-token-0123456789"
START_TIMEOUT_S = 90.0


@contextmanager
def running(command: list[str], env: dict[str, str], log: Path, port: int
            ) -> Iterator[tuple[subprocess.Popen, str]]:
    """Start ``command`` (a ``prefkit serve`` on ``port``), wait for /health, stop it after."""
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"prefkit serve exited with {process.returncode}:\n"
                            f"{log.read_text(errors='replace')[-3000:]}")
            try:
                if httpx.get(f"{url}/health", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"prefkit serve did not answer /health in {START_TIMEOUT_S} s:\n"
                            f"{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.2)
        yield process, url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
