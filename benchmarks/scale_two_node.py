"""A two-node Ray cluster simulated on loopback: the score job on it equals the in-process job.

    .venv/bin/python benchmarks/scale_two_node.py [--records 2000] [--port 6391]

Starts ``ray start --head --port PORT --num-cpus 1 --block`` and a second node ``ray start
--address 127.0.0.1:PORT --num-cpus 1 --block`` (each in its own temporary directory), trains a
small reward model whose encoder maps ids to fixed vectors (no text model: the point is the
cluster), scores a file with ``--engine local`` and, in a child process with ``RAY_ADDRESS``
set, with ``--engine ray --workers 2``, and compares the two outputs line by line.  Then it
stops exactly the processes it started (the two ``ray start`` process trees, by pid) — never
``ray stop``, which would stop every Ray process of the machine's user.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
#: a throw-away loopback cluster: no token authentication between its own processes
LOOPBACK_ENV = dict(os.environ, RAY_AUTH_MODE="disabled")

CHILD = r"""
import json, sys, time
from prefkit.data import read
from prefkit.jobs.score import run_score_job
import ray
ray.init(address="auto", include_dashboard=False, log_to_driver=False)
nodes = [n for n in ray.nodes() if n["Alive"]]
print(json.dumps({"nodes": len(nodes), "cpus": ray.cluster_resources().get("CPU")}))
start = time.perf_counter()
run_score_job(sys.argv[1], read(sys.argv[2]), sys.argv[3], engine="ray", workers=2,
              shard_rows=int(sys.argv[4]))
print(json.dumps({"seconds": time.perf_counter() - start}))
"""


def make_model(directory: Path, data: Path, n: int) -> None:
    """A linear-head reward model on a tiny random 1-layer BERT (tests/encode/tiny_encoders.py):
    cheap to load in every actor, saved inside the model directory."""
    import numpy as np

    from prefkit.core.persist import save
    from prefkit.data import read
    from prefkit.reward import RewardModel

    rng = np.random.default_rng(0)
    rows = []
    for k in range(n):
        a = int(rng.integers(0, 50))
        b = (a + 1 + int(rng.integers(0, 49))) % 50
        rows.append({"prompt": f"p{k % 7}", "a_text": f"answer {a}", "b_text": f"answer {b}",
                     "winner": "a" if a > b else "b"})
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "encode"))
    from tiny_encoders import tiny_sentence_encoder

    from prefkit.encode import CachedEncoder, SentenceEncoder

    encoder_dir = tiny_sentence_encoder(directory.parent / "tiny-encoder", seed=0)
    encoder = CachedEncoder(SentenceEncoder(encoder_dir, progress=False),
                            directory.parent / "cache")
    model = RewardModel(encoder, "linear", epochs=50, weight_decay=1e-3).fit(read(data))
    save(model, directory)


def start_node(args: list[str], temp: Path) -> subprocess.Popen:
    log = open(temp / "ray-start.log", "ab")  # noqa: SIM115 - lives as long as the node
    return subprocess.Popen([str(BIN / "ray"), "start", *args, "--node-ip-address",
                             "127.0.0.1", "--block"], env=LOOPBACK_ENV, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)


def stop_tree(process: subprocess.Popen) -> int:
    """Terminate ``process`` and every descendant it started (by pid); returns how many."""
    import psutil

    try:
        parent = psutil.Process(process.pid)
        family = [*parent.children(recursive=True), parent]
    except psutil.NoSuchProcess:
        return 0
    for proc in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.terminate()
    _, alive = psutil.wait_procs(family, timeout=15)
    for proc in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    return len(family)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--shard-rows", type=int, default=250)
    parser.add_argument("--port", type=int, default=6391)
    args = parser.parse_args()
    from prefkit.data import read
    from prefkit.jobs.score import run_score_job

    with tempfile.TemporaryDirectory(prefix="prefkit-2node-") as tmp:
        root = Path(tmp)
        data, model_dir = root / "pairs.jsonl", root / "rm"
        os.environ["PREFKIT_CACHE"] = str(root / "cache-local")  # nothing shared with the
        LOOPBACK_ENV["PREFKIT_CACHE"] = str(root / "cache-ray")  # cluster: it encodes anew
        make_model(model_dir, data, args.records)
        start = time.perf_counter()
        run_score_job(model_dir, read(data), root / "local.jsonl", shard_rows=args.shard_rows)
        local_s = time.perf_counter() - start
        heads = []
        try:
            head_tmp, worker_tmp = root / "head", root / "worker"
            head_tmp.mkdir()
            worker_tmp.mkdir()
            heads.append(start_node(["--head", "--port", str(args.port), "--num-cpus", "1",
                                     "--include-dashboard", "false",
                                     "--temp-dir", str(head_tmp)], head_tmp))
            time.sleep(8)
            heads.append(start_node(["--address", f"127.0.0.1:{args.port}", "--num-cpus", "1"],
                                    worker_tmp))
            time.sleep(8)
            env = dict(LOOPBACK_ENV, RAY_ADDRESS=f"127.0.0.1:{args.port}")
            done = subprocess.run(
                [sys.executable, "-c", CHILD, str(model_dir), str(data),
                 str(root / "ray.jsonl"), str(args.shard_rows)],
                env=env, capture_output=True, text=True, timeout=600)
            if done.returncode != 0:
                print(done.stderr[-3000:])
                raise SystemExit("the Ray job failed")
            info = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        finally:
            stopped = sum(stop_tree(p) for p in reversed(heads))
        local = (root / "local.jsonl").read_text().splitlines()
        remote = (root / "ray.jsonl").read_text().splitlines()
        worst = max(abs(json.loads(x)["p_a"] - json.loads(y)["p_a"])
                    for x, y in zip(local, remote, strict=True))
        same_order = [json.loads(x)["record"] for x in local] == \
            [json.loads(y)["record"] for y in remote]
        print(f"cluster: {info[0]['nodes']} nodes, {info[0]['cpus']:g} CPUs (loopback)")
        print(f"local engine {local_s:6.2f} s; ray engine on 2 nodes, 2 workers "
              f"{info[1]['seconds']:6.2f} s (includes actor start)")
        print(f"{len(local):,} records: same order {same_order}, max |Δp_a| {worst:.2e}")
        print(f"stopped {stopped} processes this script started")


if __name__ == "__main__":
    main()
