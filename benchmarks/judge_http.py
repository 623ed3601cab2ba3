"""Judge throughput against a local OpenAI-compatible server answering after a fixed delay.

prefkit's async backend (one event loop, ``asyncio.Semaphore(concurrency)``) vs a thread pool of
the same size posting with ``httpx.Client`` (what arena-hard-auto and FastChat do), then a cached
re-run of the same judgments through :func:`prefkit.judge.run.run_pairwise`.

    .venv/bin/python benchmarks/judge_http.py [--pairs 1000] [--concurrency 64] [--delay 0.05]
"""

from __future__ import annotations

import argparse
import json
import resource
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "judge"))


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--delay", type=float, default=0.05)
    args = parser.parse_args()
    from prefkit.judge.backends.openai_http import OpenAIChatBackend
    from prefkit.judge.cache import JudgeCache
    from prefkit.judge.run import PairsToJudge, run_pairwise
    from prefkit.judge.templates import load_template

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([sys.executable, str(ROOT / "tests/judge/fake_openai_server.py"),
                               str(port)])
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(f"{url}/stats").raise_for_status()
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        httpx.post(f"{url}/control", json={"delay": args.delay})
        n = args.pairs
        pairs = PairsToJudge("bench", {
            "pair_id": [str(i) for i in range(n)], "prompt": [f"q{i}" for i in range(n)],
            "a": ["m1"] * n, "b": ["m2"] * n, "a_text": ["x" * (i % 50) for i in range(n)],
            "b_text": ["y" * 25] * n}, None)
        template = load_template()
        limit = args.concurrency / args.delay
        results = {}
        with tempfile.TemporaryDirectory() as tmp:
            backend = OpenAIChatBackend(url, "judge-test", api_key_env=None,
                                        concurrency=args.concurrency)
            start, c0 = time.perf_counter(), cpu()
            with JudgeCache(Path(tmp) / "c.sqlite") as cache:
                summary = run_pairwise(pairs, backend, Path(tmp) / "j.jsonl",
                                       template=template, cache=cache)
            wall, used = time.perf_counter() - start, cpu() - c0
            results["async_run_pairwise"] = {"judgments": summary.written, "wall_s": wall,
                                "per_s": summary.written / wall, "of_limit": summary.written
                                / wall / limit, "cpu_ms_per_judgment": 1e3 * used / 2 / n}
            # thread pool of the same size, the same requests (no cache, no output file)
            bodies = []
            for i in range(n):
                for first, second in ((pairs.columns["a_text"][i], "y" * 25),
                                      ("y" * 25, pairs.columns["a_text"][i])):
                    msgs = template.render(question=f"q{i}", answer_a=first, answer_b=second)
                    bodies.append({"model": "judge-test", "messages": list(msgs),
                                   "temperature": 0.0})
            client = httpx.Client(limits=httpx.Limits(max_connections=args.concurrency))

            def post(body: dict) -> str:
                return client.post(f"{url}/v1/chat/completions", json=body,
                                   timeout=60).json()["choices"][0]["message"]["content"]

            # the async backend alone on the same pre-rendered requests (no cache, no file)
            from prefkit.judge.backends.base import JudgeRequest

            requests = [JudgeRequest(str(i), "ab", tuple(b["messages"]))
                        for i, b in enumerate(bodies)]
            start, c0 = time.perf_counter(), cpu()
            replies = backend.complete(requests)
            wall, used = time.perf_counter() - start, cpu() - c0
            results["async_backend_only"] = {
                "judgments": sum(r.text is not None for r in replies), "wall_s": wall,
                "per_s": len(replies) / wall, "of_limit": len(replies) / wall / limit,
                "cpu_ms_per_judgment": 1e3 * used / len(replies)}
            start, c0 = time.perf_counter(), cpu()
            with ThreadPoolExecutor(args.concurrency) as pool:
                done = len(list(pool.map(post, bodies)))
            wall, used = time.perf_counter() - start, cpu() - c0
            results["threads_post_only"] = {"judgments": done, "wall_s": wall, "per_s": done / wall,
                                  "of_limit": done / wall / limit,
                                  "cpu_ms_per_judgment": 1e3 * used / done}
            # cached re-run: new output file, same cache
            before = httpx.get(f"{url}/stats").json()["chat"]
            start = time.perf_counter()
            with JudgeCache(Path(tmp) / "c.sqlite") as cache:
                again = run_pairwise(pairs, backend, Path(tmp) / "j2.jsonl",
                                     template=template, cache=cache)
            wall = time.perf_counter() - start
            results["cached_rerun"] = {"judgments": again.written, "cached": again.cached,
                                       "wall_s": wall, "requests":
                                       httpx.get(f"{url}/stats").json()["chat"] - before,
                                       "speedup": results["async_run_pairwise"]["wall_s"] / wall}
        print(json.dumps({"pairs": n, "concurrency": args.concurrency, "delay_s": args.delay,
                          "physical_limit_per_s": limit, **results}, indent=1))
    finally:
        server.terminate()
        server.wait(timeout=5)


if __name__ == "__main__":
    main()
