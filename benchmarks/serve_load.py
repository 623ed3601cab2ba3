"""``prefkit serve`` under load on loopback: micro-batching vs one model call per request,
overload, and the server's overhead against scoring the same texts in-process.

    .venv/bin/python benchmarks/serve_load.py [--model DIR] [--clients 64] [--seconds 20]

Without ``--model`` a small reward model (linear head on the bundled all-MiniLM-L6-v2) is
fitted on simulated texts into a temporary folder.  For each configuration a real server
process is started on 127.0.0.1 (``python -m prefkit serve``), ``--clients`` asyncio httpx
clients post OpenRLHF ``/get_reward`` requests (one query each, every text distinct and
numbered, so the embedding cache never answers) for ``--seconds`` seconds, and the server is
stopped.  Configurations: ``--max-batch 1`` (one forward pass per request — what OpenRLHF's
``serve_rm.py`` does for one-query requests) and ``--max-batch 64`` (micro-batching).

Reported per configuration: requests sent and answered, status codes (5xx must be 0), whether
every request was answered exactly once (each numbered request got one answer, and the server's
own ``prefkit_serve_requests_total`` counts exactly the answers the clients saw), a spot check of
20 answers against the model scored in this process (each answer is its own request's reward),
throughput, p50/p99 latency, model calls and mean batch size (``/metrics``).

Overload (``--overload-clients`` ≫ capacity against ``--max-queue 16``): the share of 503s and
that each carries ``Retry-After``, no other 5xx, the server's resident memory (``/proc``) before,
peak and after, then recovery: a few clients afterwards all get 200.

Overhead (the issue's goal ≤ 10 % at batch 32): ``--repeats`` times, 32 fresh texts are scored
in this process (``reward_texts``, the model's own forward time) and the same 32 texts through
the server (one ``/get_reward`` request, one client), alternately; the median of
(request − in-process) / in-process is the overhead; also from the fastest run of each (timing
minima are the least disturbed by other work on a shared machine).  Beside it, the request
against the server's own model-call time (``prefkit_serve_model_seconds``, means): the time
the server spends outside the model on each request, whatever the load does to the forward.
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


def fresh_text() -> tuple[int, str, str]:
    k = next(COUNTER)
    return k, f"Question {k}: how much is {k} plus {k + 1}?", f" It is {2 * k + 1}, id {k}."


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


def start(model: Path, max_batch: int, max_wait_ms: float, max_queue: int = 4096
          ) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "prefkit", "serve", str(model), "--port", str(port),
         "--max-batch", str(max_batch), "--max-wait-ms", str(max_wait_ms),
         "--max-queue", str(max_queue), "--no-access-log", "--log-level", "warning"],
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


def series_sum(url: str, pattern: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    return sum(float(v) for v in re.findall(pattern + r" (\S+)", text))


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def load(url: str, clients: int, seconds: float) -> dict[str, object]:
    """``clients`` loops posting one numbered query each until ``seconds`` have passed."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    sent: list[int] = []
    answers: dict[int, list[float]] = {}
    texts: dict[int, tuple[str, str]] = {}
    errors: list[str] = []
    stop_at = time.perf_counter() + seconds

    async def client_loop(client: httpx.AsyncClient) -> None:
        while time.perf_counter() < stop_at:
            k, prompt, response = fresh_text()
            texts[k] = (prompt, response)
            sent.append(k)
            start_t = time.perf_counter()
            try:
                reply = await client.post("/get_reward", json={
                    "query": [prompt + response], "prompts": [prompt], "labels": [""]})
            except httpx.TransportError as err:
                errors.append(type(err).__name__)
                continue
            latencies.append(time.perf_counter() - start_t)
            statuses[reply.status_code] = statuses.get(reply.status_code, 0) + 1
            if reply.status_code == 200:
                answers.setdefault(k, []).extend(reply.json()["rewards"])

    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, timeout=seconds + 60,
                                 limits=httpx.Limits(max_connections=clients)) as client:
        await asyncio.gather(*(client_loop(client) for _ in range(clients)))
    elapsed = time.perf_counter() - started
    p50, p99 = np.percentile(latencies, [50, 99])
    return {"sent": len(sent), "requests": len(latencies), "statuses": statuses,
            "errors": len(errors), "answers": answers, "texts": texts, "seconds": elapsed,
            "rps": len(latencies) / elapsed, "p50_ms": 1000 * p50, "p99_ms": 1000 * p99}


def run_config(model: Path, local: object, max_batch: int, args: argparse.Namespace
               ) -> dict[str, object]:
    proc, url = start(model, max_batch, args.max_wait_ms)
    try:
        before = series_sum(url, r'prefkit_serve_requests_total\{[^}]*route="/get_reward"'
                                 r'[^}]*status="200"\}')
        result = asyncio.run(load(url, args.clients, args.seconds))
        served_200 = series_sum(url, r'prefkit_serve_requests_total\{[^}]*route="/get_reward"'
                                     r'[^}]*status="200"\}') - before
        calls = series_sum(url, r"prefkit_serve_batch_size_count\{[^}]*\}")
        inputs = series_sum(url, r"prefkit_serve_batch_size_sum\{[^}]*\}")
    finally:
        stop(proc)
    answers: dict[int, list[float]] = result["answers"]  # type: ignore[assignment]
    ok = result["statuses"].get(200, 0)  # type: ignore[union-attr]
    once = (all(len(v) == 1 for v in answers.values()) and len(answers) == ok
            == result["sent"] and served_200 == ok)
    rng = np.random.default_rng(0)
    ids = rng.choice(sorted(answers), size=min(20, len(answers)), replace=False)
    texts = result["texts"]
    expected = local.reward_texts([texts[k][0] for k in ids],  # type: ignore[attr-defined]
                                  [texts[k][1] for k in ids])
    got = np.array([answers[k][0] for k in ids])
    result.update(calls=calls, mean_batch=inputs / calls if calls else 0.0, exactly_once=once,
                  served_200=served_200, spot_error=float(np.max(np.abs(got - expected))))
    return result


async def storm(url: str, clients: int, seconds: float, pid: int) -> dict[str, object]:
    """Far more clients than the queue holds; samples the server's memory meanwhile."""
    statuses: dict[int, int] = {}
    retry_after: set[str | None] = set()
    peak = [rss_mib(pid)]
    stop_at = time.perf_counter() + seconds

    async def client_loop(client: httpx.AsyncClient) -> None:
        while time.perf_counter() < stop_at:
            _, prompt, response = fresh_text()
            reply = await client.post("/get_reward", json={"query": [prompt + response],
                                                           "prompts": [prompt]})
            statuses[reply.status_code] = statuses.get(reply.status_code, 0) + 1
            if reply.status_code == 503:
                retry_after.add(reply.headers.get("retry-after"))
                await asyncio.sleep(0.05)  # a client that backs off a little

    async def sampler() -> None:
        while time.perf_counter() < stop_at:
            peak.append(rss_mib(pid))
            await asyncio.sleep(0.25)

    async with httpx.AsyncClient(base_url=url, timeout=seconds + 60,
                                 limits=httpx.Limits(max_connections=clients)) as client:
        await asyncio.gather(sampler(), *(client_loop(client) for _ in range(clients)))
    return {"statuses": statuses, "retry_after": retry_after, "peak_mib": max(peak)}


def overload(model: Path, args: argparse.Namespace) -> dict[str, object]:
    proc, url = start(model, 64, args.max_wait_ms, max_queue=16)
    try:
        base = rss_mib(proc.pid)
        out = asyncio.run(storm(url, args.overload_clients, args.overload_seconds, proc.pid))
        after_storm = asyncio.run(load(url, 4, 3.0))  # load drops: everyone answered again
        out.update(base_mib=base, after_mib=rss_mib(proc.pid),
                   recovery=after_storm["statuses"], recovery_p99=after_storm["p99_ms"])
        return out
    finally:
        stop(proc)


def overhead(model: Path, local: object, repeats: int, batch: int = 32) -> dict[str, float]:
    """Median seconds for ``batch`` fresh texts in-process and through the server (alternating,
    the same texts), and the median relative overhead."""
    from concurrent.futures import ThreadPoolExecutor

    proc, url = start(model, 64, 0.0)
    inproc, served, rel = [], [], []
    thread = ThreadPoolExecutor(max_workers=1)
    try:
        with httpx.Client(base_url=url, timeout=120) as client:
            for k in range(5):  # warm both paths (the first calls of a process are slow)
                warm = [f"warm-up text number {k}, {j}" for j in range(batch)]
                client.post("/get_reward", json={"query": warm, "prompts": warm}
                            ).raise_for_status()
                thread.submit(local.reward_texts, warm, warm).result()  # type: ignore
            calls0 = series_sum(url, r"prefkit_serve_model_seconds_count\{[^}]*\}")
            secs0 = series_sum(url, r"prefkit_serve_model_seconds_sum\{[^}]*\}")
            for r in range(repeats):
                texts = [fresh_text() for _ in range(batch)]
                prompts = [p for _, p, _ in texts]
                body = {"query": [p + x for _, p, x in texts], "prompts": prompts}

                def in_process(texts=texts, prompts=prompts) -> float:
                    # in one model thread, as the server runs it
                    return thread.submit(_timed, local.reward_texts,  # type: ignore
                                         prompts, [x for _, _, x in texts]).result()

                def through_server(body=body) -> float:
                    t = time.perf_counter()
                    client.post("/get_reward", json=body).raise_for_status()
                    return time.perf_counter() - t

                first, second = (in_process, through_server) if r % 2 == 0 else \
                    (through_server, in_process)
                a, b = first(), second()
                i, s = (a, b) if r % 2 == 0 else (b, a)
                inproc.append(i)
                served.append(s)
                rel.append((s - i) / i)
            calls = series_sum(url, r"prefkit_serve_model_seconds_count\{[^}]*\}") - calls0
            secs = series_sum(url, r"prefkit_serve_model_seconds_sum\{[^}]*\}") - secs0
    finally:
        stop(proc)
        thread.shutdown()
    return {"inproc": float(np.median(inproc)), "request": float(np.median(served)),
            "model": secs / calls, "overhead": float(np.median(rel)),
            "overhead_q": tuple(np.percentile(rel, [25, 75])),
            "server_overhead": (float(np.mean(served)) - secs / calls) / (secs / calls),
            "min_overhead": (min(served) - min(inproc)) / min(inproc),
            "min_inproc": min(inproc), "min_request": min(served)}


def _timed(fn: object, *args: object) -> float:
    start_t = time.perf_counter()
    fn(*args)  # type: ignore[operator]
    return time.perf_counter() - start_t


def report(name: str, r: dict[str, object], clients: int) -> None:
    statuses = r["statuses"]
    fivexx = sum(n for s, n in statuses.items() if s >= 500)  # type: ignore[union-attr]
    print(f"{name}: {r['sent']} requests sent, {r['requests']} answered "
          f"({dict(sorted(statuses.items()))}; {fivexx} 5xx; {r['errors']} connection errors) "  # type: ignore[union-attr]
          f"from {clients} clients in {r['seconds']:.1f} s = {r['rps']:.1f} req/s, "
          f"p50 {r['p50_ms']:.0f} ms, p99 {r['p99_ms']:.0f} ms, {int(r['calls'])} model "  # type: ignore[call-overload]
          f"calls, mean batch {r['mean_batch']:.1f}; exactly once: {r['exactly_once']} "
          f"(server counted {int(r['served_200'])} answers); spot check max |Δ| "  # type: ignore[call-overload]
          f"{r['spot_error']:.1e}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="saved reward model directory")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", "--duration", type=float, default=20.0,
                        help="seconds of load per configuration")
    parser.add_argument("--max-wait-ms", type=float, default=5.0)
    parser.add_argument("--overload-clients", type=int, default=256)
    parser.add_argument("--overload-seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--skip", nargs="*", default=[],
                        choices=["load", "overload", "overhead"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="prefkit-serve-bench-") as tmp:
        os.environ.setdefault("PREFKIT_CACHE", str(Path(tmp) / "cache"))
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import prefkit
        from prefkit.serve.served import drop_embedding_cache

        model = args.model or fit_model(Path(tmp))
        local = prefkit.load(model)
        drop_embedding_cache(local)  # as the server does: every text here is new
        local.reward_texts([None], ["warm-up"])
        if "load" not in args.skip:
            rows = {}
            for max_batch in (1, 64):
                rows[max_batch] = run_config(model, local, max_batch, args)
                report(f"--max-batch {max_batch:>2}", rows[max_batch], args.clients)
            ratio = rows[64]["rps"] / rows[1]["rps"]  # type: ignore[operator]
            print(f"micro-batching throughput ratio: {ratio:.2f}x (goal >= 3x); p99 "
                  f"{rows[64]['p99_ms']:.0f} ms vs {rows[1]['p99_ms']:.0f} ms (goal: no worse)",
                  flush=True)
        if "overload" not in args.skip:
            o = overload(model, args)
            print(f"overload: {args.overload_clients} clients for {args.overload_seconds:.0f} s "
                  f"against --max-queue 16: statuses {dict(sorted(o['statuses'].items()))}, "  # type: ignore[union-attr]
                  f"Retry-After values {sorted(map(str, o['retry_after']))}; server RSS "  # type: ignore[call-overload]
                  f"{o['base_mib']:.0f} MiB before, {o['peak_mib']:.0f} MiB peak, "
                  f"{o['after_mib']:.0f} MiB after; recovery (4 clients, 3 s): "
                  f"{dict(sorted(o['recovery'].items()))}, p99 {o['recovery_p99']:.0f} ms",  # type: ignore[union-attr]
                  flush=True)
        if "overhead" not in args.skip:
            h = overhead(model, local, args.repeats)
            print(f"32 texts, one client, medians of {args.repeats}: in-process forward "
                  f"{1000 * h['inproc']:.1f} ms; through the server {1000 * h['request']:.1f} "
                  f"ms per request (the server's own model call {1000 * h['model']:.1f} ms, "
                  f"mean) → server overhead {100 * h['overhead']:.1f} % of the in-process "
                  f"forward time (quartiles {100 * h['overhead_q'][0]:.1f} – "
                  f"{100 * h['overhead_q'][1]:.1f} %; goal <= 10 %); request vs the server's "
                  f"own model call (means): {100 * h['server_overhead']:.1f} %; fastest of "
                  f"each (the least disturbed run): in-process {1000 * h['min_inproc']:.1f} ms, "
                  f"server {1000 * h['min_request']:.1f} ms → {100 * h['min_overhead']:.1f} %",
                  flush=True)


if __name__ == "__main__":
    main()
