"""Micro-batching across concurrent clients, and a bounded loopback load test."""

from __future__ import annotations

import asyncio
import re
import time

import numpy as np
from serve_models import PAIRS, pairs_dataset


def histogram(text: str, name: str, labels: str) -> dict[str, float]:
    """``{"count": …, "sum": …, "le=1.0": …}`` of one Prometheus histogram series."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        m = re.match(rf'{name}_(count|sum)\{{{labels}\}} (\S+)', line)
        if m:
            out[m.group(1)] = float(m.group(2))
        m = re.match(rf'{name}_bucket\{{le="([^"]+)",{labels}\}} (\S+)', line)
        if m:
            out[f"le={m.group(1)}"] = float(m.group(2))
    return out


def batch_stats(server, model: str, op: str) -> dict[str, float]:
    with server.client() as client:
        text = client.get("/metrics").text
    return histogram(text, "prefkit_serve_batch_size", f'model="{model}",op="{op}"')


def test_concurrent_requests_are_batched_and_each_gets_its_own_answer(server, local):
    before = batch_stats(server, "bt", "pairs")
    n_requests = 30

    async def one(client, k):
        a, b = PAIRS[k % len(PAIRS)]
        reply = await client.post("/v1/compare", json={"model": "bt",
                                                       "pairs": [{"a": a, "b": b}]})
        reply.raise_for_status()
        return k, reply.json()["p_a"][0]

    async def burst():
        async with server.async_client() as client:
            return await asyncio.gather(*(one(client, k) for k in range(n_requests)))

    answers = asyncio.run(burst())
    expected = local["bt"].predict_proba(pairs_dataset(PAIRS))
    for k, p in answers:  # each request got the answer to its own pair
        assert abs(p - expected[k % len(PAIRS)]) < 1e-6
    after = batch_stats(server, "bt", "pairs")
    calls = after["count"] - before.get("count", 0)
    inputs = after["sum"] - before.get("sum", 0)
    singles = after["le=1.0"] - before.get("le=1.0", 0)
    assert inputs == n_requests
    assert calls < n_requests and singles < calls, (calls, singles)  # some batch held > 1
    print(f"\n{n_requests} concurrent requests → {int(calls)} model calls "
          f"(mean batch {inputs / calls:.1f})")


def test_loopback_load_200_requests_concurrency_16(server, local):
    """Bounded: 200 OpenRLHF requests (one query each, distinct texts) at concurrency 16."""
    n_requests, concurrency, deadline_s = 200, 16, 45.0
    before = batch_stats(server, "rm", "texts")
    prompts = [f"Question {k}: what is {k} plus {k}?" for k in range(n_requests)]
    latencies: list[float] = []
    results: dict[int, list[float]] = {}

    async def worker(client, queue):
        while not queue.empty():
            k = queue.get_nowait()
            body = {"query": [prompts[k] + f" It is {2 * k}."], "prompts": [prompts[k]],
                    "labels": [""]}
            start = time.perf_counter()
            reply = await client.post("/get_reward", json=body)
            latencies.append(time.perf_counter() - start)
            assert reply.status_code == 200, reply.text
            results[k] = reply.json()["rewards"]

    async def load():
        queue: asyncio.Queue[int] = asyncio.Queue()
        for k in range(n_requests):
            queue.put_nowait(k)
        async with server.async_client(timeout=deadline_s) as client:
            await asyncio.wait_for(
                asyncio.gather(*(worker(client, queue) for _ in range(concurrency))), deadline_s)

    start = time.perf_counter()
    asyncio.run(load())
    elapsed = time.perf_counter() - start
    assert sorted(results) == list(range(n_requests))  # every request answered exactly once
    assert all(len(r) == 1 for r in results.values())
    for k in (0, 57, 199):  # spot checks against the in-process model
        expected = local["rm"].reward_texts([prompts[k]], [f" It is {2 * k}."])
        np.testing.assert_allclose(results[k], expected, rtol=0, atol=1e-6)
    after = batch_stats(server, "rm", "texts")
    calls = after["count"] - before.get("count", 0)
    p50, p99 = np.percentile(latencies, [50, 99])
    print(f"\nload: {n_requests} requests (one response each) at concurrency "
          f"{concurrency} in {elapsed:.2f} s = {n_requests / elapsed:.0f} req/s, "
          f"p50 {1000 * p50:.0f} ms, p99 {1000 * p99:.0f} ms, {int(calls)} model calls "
          f"(mean batch {n_requests / calls:.1f} responses)")
    assert calls < n_requests  # batched across requests
