"""Judge throughput against a local OpenAI-compatible server answering after a fixed delay.

prefkit's async path (one event loop, ``asyncio.Semaphore(concurrency)``) — the whole
:func:`prefkit.judge.run.run_pairwise` (render, cache, parse, write) and the backend alone —
vs a thread pool of the same size posting with ``httpx.Client`` (what arena-hard-auto and
FastChat do; posts only, requests rendered beforehand), then cached re-runs of the same
judgments: into a fresh output file (every answer from the cache) and into the complete output
(nothing to do).  Each measurement is repeated ``--repeat`` times; medians are printed, with the
share of the physical limit (concurrency ÷ delay) and client CPU time per judgment.

    .venv/bin/python benchmarks/judge_http.py [--pairs 2000] [--concurrency 64] [--delay 0.05]
        [--repeat 3] [--server lean|fastapi]

``--server lean`` (default) is ``benchmarks/fixed_delay_server.py``, a plain-asyncio server that
spends tens of microseconds per request; ``fastapi`` is the test server
(``tests/judge/fake_openai_server.py``), which needs about a millisecond of CPU per request and
shares the machine's cores with the client.
"""

from __future__ import annotations

import argparse
import json
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(fn: Callable[[], int]) -> tuple[int, float, float]:
    """(judgments, wall seconds, client CPU seconds) of one call."""
    start, c0 = time.perf_counter(), cpu()
    n = fn()
    return n, time.perf_counter() - start, cpu() - c0


def summarise(runs: list[tuple[int, float, float]], limit: float) -> dict[str, Any]:
    n = runs[0][0]
    wall = statistics.median(r[1] for r in runs)
    used = statistics.median(r[2] for r in runs)
    return {"judgments": n, "wall_s": round(wall, 4), "per_s": round(n / wall, 1),
            "of_limit": round(n / wall / limit, 3),
            "cpu_ms_per_judgment": round(1e3 * used / max(n, 1), 3),
            "wall_s_all": [round(r[1], 4) for r in runs]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--delay", type=float, default=0.05)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--server", choices=("lean", "fastapi"), default="lean")
    args = parser.parse_args()
    from prefkit.judge.backends.base import JudgeRequest
    from prefkit.judge.backends.openai_http import OpenAIChatBackend
    from prefkit.judge.cache import JudgeCache
    from prefkit.judge.run import PairsToJudge, run_pairwise
    from prefkit.judge.templates import load_template

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    if args.server == "lean":
        command = [sys.executable, str(ROOT / "benchmarks/fixed_delay_server.py"), str(port),
                   str(args.delay)]
    else:
        command = [sys.executable, str(ROOT / "tests/judge/fake_openai_server.py"), str(port)]
    server = subprocess.Popen(command)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                httpx.get(f"{url}/stats").raise_for_status()
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        if args.server == "fastapi":
            httpx.post(f"{url}/control", json={"delay": args.delay})
        n = args.pairs
        pairs = PairsToJudge("bench", {
            "pair_id": [str(i) for i in range(n)], "prompt": [f"q{i}" for i in range(n)],
            "a": ["m1"] * n, "b": ["m2"] * n, "a_text": ["x" * (i % 50) for i in range(n)],
            "b_text": ["y" * 25] * n}, None)
        template = load_template()
        limit = args.concurrency / args.delay
        bodies = []
        for i in range(n):
            for first, second in ((pairs.columns["a_text"][i], "y" * 25),
                                  ("y" * 25, pairs.columns["a_text"][i])):
                msgs = template.render(question=f"q{i}", answer_a=first, answer_b=second)
                bodies.append({"model": "judge-test", "messages": list(msgs),
                               "temperature": 0.0})
        requests = [JudgeRequest(str(i), "ab", tuple(b["messages"]))
                    for i, b in enumerate(bodies)]
        runs: dict[str, list[tuple[int, float, float]]] = {
            k: [] for k in ("run_pairwise", "backend_only", "thread_pool", "cached_rerun",
                            "rerun_complete_output")}
        requests_during_cached: list[int] = []
        with tempfile.TemporaryDirectory() as tmp:
            for r in range(args.repeat):
                backend = OpenAIChatBackend(url, "judge-test", api_key_env=None,
                                            concurrency=args.concurrency)
                cache_path, out = Path(tmp) / f"c{r}.sqlite", Path(tmp) / f"j{r}.jsonl"

                def ask_all(cache_path: Path = cache_path, out: Path = out,
                            backend: Any = backend) -> int:
                    with JudgeCache(cache_path) as cache:
                        return run_pairwise(pairs, backend, out, template=template,
                                            cache=cache).written

                runs["run_pairwise"].append(timed(ask_all))

                def backend_only(backend: Any = backend) -> int:
                    return sum(x.text is not None for x in backend.complete(requests))

                runs["backend_only"].append(timed(backend_only))

                def thread_pool() -> int:
                    client = httpx.Client(limits=httpx.Limits(
                        max_connections=args.concurrency,
                        max_keepalive_connections=args.concurrency))

                    def post(body: dict) -> str:
                        return client.post(f"{url}/v1/chat/completions", json=body,
                                           timeout=60).json()["choices"][0]["message"]["content"]

                    with ThreadPoolExecutor(args.concurrency) as pool, client:
                        return len(list(pool.map(post, bodies)))

                runs["thread_pool"].append(timed(thread_pool))
                before = httpx.get(f"{url}/stats").json()["chat"]
                fresh = Path(tmp) / f"fresh{r}.jsonl"

                def cached(cache_path: Path = cache_path, fresh: Path = fresh,
                           backend: Any = backend) -> int:
                    with JudgeCache(cache_path) as cache:
                        return run_pairwise(pairs, backend, fresh, template=template,
                                            cache=cache).cached

                runs["cached_rerun"].append(timed(cached))

                def complete(cache_path: Path = cache_path, out: Path = out,
                             backend: Any = backend) -> int:
                    with JudgeCache(cache_path) as cache:
                        return run_pairwise(pairs, backend, out, template=template,
                                            cache=cache).already_done

                runs["rerun_complete_output"].append(timed(complete))
                requests_during_cached.append(httpx.get(f"{url}/stats").json()["chat"] - before)
        results = {name: summarise(value, limit) for name, value in runs.items()}
        ask = results["run_pairwise"]["wall_s"]
        for name in ("cached_rerun", "rerun_complete_output"):
            results[name]["speedup_vs_asking"] = round(ask / results[name]["wall_s"], 1)
            results[name]["requests"] = max(requests_during_cached)
        results["async_vs_threads"] = {
            "throughput_ratio": round(results["run_pairwise"]["per_s"]
                                      / results["thread_pool"]["per_s"], 2),
            "cpu_per_judgment_ratio": round(results["run_pairwise"]["cpu_ms_per_judgment"]
                                            / results["thread_pool"]["cpu_ms_per_judgment"], 2)}
        print(json.dumps({"server": args.server, "pairs": n, "judgments": 2 * n,
                          "concurrency": args.concurrency,
                          "delay_s": args.delay, "repeat": args.repeat,
                          "physical_limit_per_s": limit, **results}, indent=1))
    finally:
        server.terminate()
        server.wait(timeout=5)


if __name__ == "__main__":
    main()
