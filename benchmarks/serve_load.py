"""``prefkit serve`` under load on loopback: micro-batching vs one model call per request, and
the server's overhead against scoring in-process.

    .venv/bin/python benchmarks/serve_load.py [--model DIR] [--clients 64] [--duration 20]

Without ``--model`` a small reward model (linear head on the bundled all-MiniLM-L6-v2) is
fitted on simulated texts into a temporary folder.  For each configuration a real server
process is started on 127.0.0.1 (``python -m prefkit serve``), ``--clients`` asyncio httpx
clients post OpenRLHF ``/get_reward`` requests (one query each, every text distinct, so the
embedding cache never answers) for ``--duration`` seconds, and the server is stopped.
Reported: requests answered, 5xx, throughput, p50/p99 latency, model calls and mean batch size
(from ``/metrics``).  Configurations: ``--max-batch 1`` (one forward pass per request — what
OpenRLHF's ``serve_rm.py`` does for one-query requests) and ``--max-batch 64``.

Overhead: 32 distinct texts per request from one client; the request's wall time against the
server's own model call (``prefkit_serve_model_seconds`` in ``/metrics``), mean of ``--repeats``
(issue #14 goal: ≤ 10 %); the same texts scored in-process are printed beside.
Everything is bounded in time; nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

COUNTER = itertools.count()


def fresh_text() -> tuple[str, str]:
    k = next(COUNTER)
    return f"Question {k}: how much is {k} plus {k + 1}?", f" It is {2 * k + 1}, id {k}."


def fit_model(root: Path) -> Path:
    import prefkit
    from prefkit.data.simulate import simulate_texts
    from prefkit.reward import RewardModel

    data = simulate_texts(n_prompts=6, n_pairs=80, n_groups=2, n_users=8, seed=3).dataset
    return prefkit.save(RewardModel(None, "linear", epochs=20).fit(data), root / "rm")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(model: Path, max_batch: int, max_wait_ms: float) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "prefkit", "serve", str(model), "--port", str(port),
         "--max-batch", str(max_batch), "--max-wait-ms", str(max_wait_ms),
         "--max-queue", "4096", "--no-access-log", "--log-level", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not start in 120 s")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


def batch_metrics(url: str) -> tuple[float, float]:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    count = sum(float(v) for v in re.findall(r"prefkit_serve_batch_size_count\{[^}]*\} (\S+)",
                                             text))
    total = sum(float(v) for v in re.findall(r"prefkit_serve_batch_size_sum\{[^}]*\} (\S+)",
                                             text))
    return count, total


async def load(url: str, clients: int, duration: float) -> dict[str, float]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    stop_at = time.perf_counter() + duration

    async def client_loop(client: httpx.AsyncClient) -> None:
        while time.perf_counter() < stop_at:
            prompt, response = fresh_text()
            start_t = time.perf_counter()
            reply = await client.post("/get_reward", json={
                "query": [prompt + response], "prompts": [prompt], "labels": [""]})
            latencies.append(time.perf_counter() - start_t)
            statuses[reply.status_code] = statuses.get(reply.status_code, 0) + 1

    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, timeout=duration + 60,
                                 limits=httpx.Limits(max_connections=clients)) as client:
        await asyncio.gather(*(client_loop(client) for _ in range(clients)))
    elapsed = time.perf_counter() - started
    p50, p99 = np.percentile(latencies, [50, 99])
    return {"requests": len(latencies), "ok": statuses.get(200, 0),
            "5xx": sum(n for s, n in statuses.items() if s >= 500), "seconds": elapsed,
            "rps": len(latencies) / elapsed, "p50_ms": 1000 * p50, "p99_ms": 1000 * p99}


def run_config(model: Path, max_batch: int, args: argparse.Namespace) -> dict[str, float]:
    proc, url = start(model, max_batch, args.max_wait_ms)
    try:
        result = asyncio.run(load(url, args.clients, args.duration))
        calls, inputs = batch_metrics(url)
        result.update(calls=calls, mean_batch=inputs / calls if calls else 0.0)
        return result
    finally:
        stop(proc)


def model_seconds(url: str) -> tuple[float, float]:
    """(total seconds, calls) of the server's model calls, from /metrics."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    total = sum(float(v) for v in re.findall(
        r"prefkit_serve_model_seconds_sum\{[^}]*\} (\S+)", text))
    calls = sum(float(v) for v in re.findall(
        r"prefkit_serve_model_seconds_count\{[^}]*\} (\S+)", text))
    return total, calls


def overhead(model: Path, repeats: int, batch: int = 32) -> dict[str, float]:
    """Mean seconds for ``batch`` distinct texts: in-process ``reward_texts``, the server's own
    model call (from /metrics) and the whole HTTP request (sequential, one client)."""
    import prefkit
    from prefkit.serve.served import drop_embedding_cache

    local = prefkit.load(model)
    drop_embedding_cache(local)  # as the server does: every text here is new
    local.reward_texts([None], ["warm-up"])
    inproc = []
    for _ in range(repeats):
        texts = [fresh_text() for _ in range(batch)]
        t = time.perf_counter()
        local.reward_texts([p for p, _ in texts], [r for _, r in texts])
        inproc.append(time.perf_counter() - t)
    proc, url = start(model, 64, 0.0)
    served = []
    try:
        with httpx.Client(base_url=url, timeout=120) as client:
            for _ in range(repeats):
                texts = [fresh_text() for _ in range(batch)]
                t = time.perf_counter()
                reply = client.post("/get_reward", json={
                    "query": [p + r for p, r in texts], "prompts": [p for p, _ in texts]})
                served.append(time.perf_counter() - t)
                reply.raise_for_status()
        total, calls = model_seconds(url)
    finally:
        stop(proc)
    return {"inproc": float(np.mean(inproc)), "model": total / calls,
            "request": float(np.mean(served))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="saved reward model directory")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per config")
    parser.add_argument("--max-wait-ms", type=float, default=5.0)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="prefkit-serve-bench-") as tmp:
        os.environ.setdefault("PREFKIT_CACHE", str(Path(tmp) / "cache"))
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        model = args.model or fit_model(Path(tmp))
        rows = {}
        for max_batch in (1, 64):
            r = rows[max_batch] = run_config(model, max_batch, args)
            print(f"--max-batch {max_batch:>2}: {int(r['requests'])} requests "
                  f"({int(r['ok'])} ok, {int(r['5xx'])} 5xx) from {args.clients} clients in "
                  f"{r['seconds']:.1f} s = {r['rps']:.1f} req/s, p50 {r['p50_ms']:.0f} ms, "
                  f"p99 {r['p99_ms']:.0f} ms, {int(r['calls'])} model calls, mean batch "
                  f"{r['mean_batch']:.1f}", flush=True)
        ratio = rows[64]["rps"] / rows[1]["rps"]
        print(f"micro-batching throughput ratio: {ratio:.2f}x (goal >= 3x); p99 "
              f"{rows[64]['p99_ms']:.0f} ms vs {rows[1]['p99_ms']:.0f} ms (goal: no worse)")
        o = overhead(model, args.repeats)
        print(f"32 texts, one client: in-process {1000 * o['inproc']:.1f} ms; through the "
              f"server {1000 * o['request']:.1f} ms per request, of which the model call "
              f"{1000 * o['model']:.1f} ms → server overhead "
              f"{100 * (o['request'] - o['model']) / o['model']:.1f} % of the model's time "
              "(goal <= 10 %)")

if __name__ == "__main__":
    main()
