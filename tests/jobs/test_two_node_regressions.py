"""Regressions found by benchmarks/scale_two_node.py on a cluster started with ``ray start``.

Sharded counting with ``engine="ray"`` used to call ``ray.init(num_cpus=…)``, which Ray refuses
when it joins an existing cluster (``RAY_ADDRESS`` set, as ``prefkit leaderboard DIR --engine ray``
is run against a cluster): it failed with "When connecting to an existing cluster, num_cpus and
num_gpus must not be provided".  Here a real 1-CPU head node runs in its own temporary directory,
the counts are taken on it, and the merged table equals the one-process count."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from job_helpers import battles

from prefkit.choice.shards import count_files

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'prefkit[ray]')")
psutil = pytest.importorskip("psutil")


@pytest.fixture
def ray_head() -> Iterator[str]:
    """A 1-CPU ``ray start --head`` node on 127.0.0.1 (its own short temp dir: Ray's socket
    paths are length-limited); its address, and the node stopped by pid afterwards."""
    if ray.is_initialized():  # another module's cluster: this test joins one of its own
        ray.shutdown()
    temp = Path(tempfile.mkdtemp(prefix="pk-ray-"))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = dict(os.environ, RAY_AUTH_MODE="disabled")
    env.pop("RAY_ADDRESS", None)
    node = subprocess.Popen(
        [str(Path(sys.executable).parent / "ray"), "start", "--head", "--port", str(port),
         "--num-cpus", "1", "--include-dashboard", "false", "--node-ip-address", "127.0.0.1",
         "--temp-dir", str(temp), "--block"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not (temp / "ray_current_cluster").exists():  # written once the node is up
            if node.poll() is not None or time.monotonic() > deadline:
                pytest.fail("ray start --head did not come up")
            time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        family = [*psutil.Process(node.pid).children(recursive=True), psutil.Process(node.pid)]
        for proc in family:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.terminate()
        for proc in psutil.wait_procs(family, timeout=3)[1]:  # then kill the stragglers
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
        shutil.rmtree(temp, ignore_errors=True)


def test_ray_counting_joins_a_running_cluster(
    tmp_path: Path, ray_head: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = []
    for k in range(3):
        path = tmp_path / f"day{k}.parquet"
        battles(300 * (k + 1), seed=40 + k, n_items=4 if k == 1 else 6).write(path)
        paths.append(path)
    monkeypatch.setenv("RAY_ADDRESS", ray_head)
    try:
        merged = count_files(paths, engine="ray")
        port = ray.get_runtime_context().gcs_address.rsplit(":", 1)[1]
        assert port == ray_head.rsplit(":", 1)[1]  # joined the head, not a cluster of its own
        assert ray.cluster_resources()["CPU"] == 1.0
    finally:
        ray.shutdown()
    one = count_files(paths, workers=1)
    assert merged.items == one.items == [f"m{k}" for k in range(6)]
    for name in ("i", "j", "wi", "wj", "t"):
        np.testing.assert_array_equal(getattr(merged, name), getattr(one, name))
    assert merged.wi.sum() + merged.wj.sum() + merged.t.sum() == 1800
