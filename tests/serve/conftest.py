"""A real ``prefkit serve`` process on 127.0.0.1 for the tests of this folder.

The session fixture fits small models on simulated data, saves them with ``prefkit.save``, starts
``python -m prefkit serve …`` on a free loopback port (bearer token from an environment
variable), waits for ``GET /health`` and terminates the process at the end.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("prometheus_client")
httpx = pytest.importorskip("httpx")

from serve_models import (  # noqa: E402
    MAX_BODY_BYTES,
    MAX_ITEMS,
    MAX_TEXT_CHARS,
    build_models,
    free_port,
)

from helpers.serve_process import TOKEN, TOKEN_ENV, running  # noqa: E402


@dataclass
class Server:
    url: str
    token: str
    dirs: dict[str, Path]
    log: Path
    process: subprocess.Popen

    def client(self, *, token: str | None = "default", timeout: float = 30.0) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token if token == 'default' else token}"} \
            if token is not None else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def async_client(self, *, timeout: float = 30.0) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=timeout,
                                 headers={"Authorization": f"Bearer {self.token}"},
                                 limits=httpx.Limits(max_connections=64))


@pytest.fixture(scope="session")
def serve_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Environment of the server and of the in-process models: a private encoder cache."""
    cache = tmp_path_factory.mktemp("encoder-cache")
    saved = {k: os.environ.get(k) for k in ("PREFKIT_CACHE", "HF_HUB_OFFLINE")}
    os.environ["PREFKIT_CACHE"] = str(cache)
    os.environ["HF_HUB_OFFLINE"] = "1"
    yield {**os.environ, TOKEN_ENV: TOKEN}
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def model_dirs(tmp_path_factory: pytest.TempPathFactory, serve_env: dict[str, str]
               ) -> dict[str, Path]:
    return build_models(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def server(model_dirs: dict[str, Path], serve_env: dict[str, str],
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    command = [
        sys.executable, "-m", "prefkit", "serve", *(str(d) for d in model_dirs.values()),
        "--host", "127.0.0.1", "--port", str(port), "--api-key-env", TOKEN_ENV,
        "--max-wait-ms", "20", "--max-batch", "64", "--max-items", str(MAX_ITEMS),
        "--max-text-chars", str(MAX_TEXT_CHARS), "--max-body-bytes", str(MAX_BODY_BYTES),
        "--log-level", "warning", "--no-access-log",
    ]
    with running(command, serve_env, log, port) as (process, url):
        yield Server(url=url, token=TOKEN, dirs=model_dirs, log=log, process=process)


@pytest.fixture(scope="session")
def local(model_dirs: dict[str, Path]) -> dict[str, object]:
    """The same saved models opened in this process (the reference answers)."""
    import prefkit

    return {name: prefkit.load(path) for name, path in model_dirs.items()}
