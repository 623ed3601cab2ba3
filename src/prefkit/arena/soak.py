"""A loopback soak of a running arena: simulated annotators vote while the server may be killed.

Used by ``benchmarks/arena_soak.py`` (20 annotators, 10,000 votes) and by the tests (a scaled-down
run).  Every annotator is a thread with its own HTTP connection that repeats
``GET /api/next`` → ``POST /api/vote`` until it has cast its quota.  Votes follow a
Bradley–Terry truth (``P(a wins) = σ(θ_a − θ_b)``, a share of ties).

Accounting, so that "no acknowledged vote is lost" can be checked exactly:

* a ``201`` is an acknowledged vote;
* a request that fails in transport (the server was killed while it was in flight) is retried
  with the same body once the server answers again: ``201`` means it had not been stored, ``409``
  means it had been — either way it is now acknowledged, exactly once;
* a ``409`` on a first attempt would be a double vote the client never cast: counted as an error.

Afterwards :func:`check_store` compares the store with the acknowledged votes: the same
(annotator, task, winner) triples, no more, no fewer, no duplicates.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from prefkit.core.mathfn import sigmoid

START_TIMEOUT_S = 90.0


class ArenaProcess:
    """``python -m prefkit arena serve`` on 127.0.0.1:``port`` (start, SIGKILL, restart)."""

    def __init__(self, store_url: str, port: int, log: Path, *, rule: str = "arena",
                 refit_interval: float = 0.2, extra: list[str] | None = None) -> None:
        self.command = [sys.executable, "-m", "prefkit", "arena", "serve", "--store", store_url,
                        "--port", str(port), "--rule", rule, "--refit-interval",
                        str(refit_interval), "--log-level", "warning", "--no-access-log",
                        *(extra or [])]
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        self.process: subprocess.Popen | None = None
        self.starts: list[float] = []  # seconds from spawn to a healthy /health, per start

    def start(self) -> None:
        import httpx

        spawn = time.monotonic()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen(self.command, stdout=sink, stderr=subprocess.STDOUT,
                                            env=env)
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"arena server exited with {self.process.returncode}:\n"
                                   f"{self.log.read_text(errors='replace')[-3000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() - spawn > START_TIMEOUT_S:
                self.stop()
                raise RuntimeError(f"arena server not healthy in {START_TIMEOUT_S} s")
            time.sleep(0.05)
        self.starts.append(time.monotonic() - spawn)

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, in-flight requests die with the process."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class SoakResult:
    acknowledged: dict[tuple[str, int], str] = field(default_factory=dict)
    recovered: int = 0  # in-flight at a kill, confirmed stored (409) on retry
    retried_201: int = 0  # in-flight at a kill, not stored, stored by the retry
    errors: list[str] = field(default_factory=list)
    transport_failures: int = 0
    kills: int = 0
    seconds: float = 0.0
    vote_latency_ms: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        lat = np.array(self.vote_latency_ms or [0.0])
        return {"acknowledged": len(self.acknowledged), "recovered_after_kill": self.recovered,
                "retried_after_kill": self.retried_201, "errors": len(self.errors),
                "transport_failures": self.transport_failures, "kills": self.kills,
                "seconds": round(self.seconds, 2),
                "votes_per_second": round(len(self.acknowledged) / max(self.seconds, 1e-9), 1),
                "vote_p50_ms": round(float(np.percentile(lat, 50)), 2),
                "vote_p99_ms": round(float(np.percentile(lat, 99)), 2)}


def run_soak(url: str, tokens: dict[str, str], votes_each: int, truth: dict[str, float], *,
             kill_at: list[int] | None = None, on_kill: Callable[[], None] | None = None,
             tie_share: float = 0.1, seed: int = 0, deadline_s: float = 600.0) -> SoakResult:
    """Every annotator of ``tokens`` casts ``votes_each`` votes; ``on_kill`` (SIGKILL and
    restart the server) runs when the acknowledged count first reaches each of ``kill_at``."""
    import httpx

    result = SoakResult()
    lock = threading.Lock()
    kills = sorted(kill_at or [])
    killing = threading.Lock()
    stop_at = time.monotonic() + deadline_s

    def maybe_kill() -> None:
        with lock:
            due = bool(kills) and len(result.acknowledged) >= kills[0]
            if due:
                kills.pop(0)
        if due and on_kill is not None:
            with killing:
                on_kill()
                result.kills += 1

    def request(client: Any, method: str, path: str, **kw: Any) -> Any:
        """The response, retrying transport failures until the server answers again."""
        failed = False
        while time.monotonic() < stop_at:
            try:
                return client.request(method, f"{url}{path}", **kw), failed
            except httpx.TransportError:
                failed = True
                with lock:
                    result.transport_failures += 1
                time.sleep(0.05)
        raise TimeoutError("soak deadline passed")

    def annotator(name: str, token: str, k: int) -> None:
        rng = np.random.default_rng([seed, k])
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(headers=headers, timeout=30.0) as client:
            cast = 0
            while cast < votes_each and time.monotonic() < stop_at:
                response, _ = request(client, "GET", "/api/next")
                task = response.json().get("task") if response.status_code == 200 else None
                if task is None:
                    if response.status_code != 200:
                        with lock:
                            result.errors.append(f"{name}: next {response.status_code}")
                    return
                a, b = task.get("a"), task.get("b")
                p = sigmoid(truth.get(a, 0.0) - truth.get(b, 0.0))
                u = rng.random()
                winner = "tie" if u < tie_share else ("a" if rng.random() < p else "b")
                body = {"task_id": task["id"], "winner": winner}
                start = time.perf_counter()
                response, failed = request(client, "POST", "/api/vote", json=body)
                elapsed = (time.perf_counter() - start) * 1000
                key = (name, int(task["id"]))
                with lock:
                    if response.status_code == 201:
                        result.acknowledged[key] = winner
                        result.retried_201 += failed
                        result.vote_latency_ms.append(elapsed)
                    elif response.status_code == 409 and failed:
                        result.acknowledged[key] = winner  # stored before the kill
                        result.recovered += 1
                    else:
                        result.errors.append(f"{name}: vote {response.status_code} "
                                             f"{response.text[:200]}")
                        return
                cast += 1
                maybe_kill()

    threads = [threading.Thread(target=annotator, args=(name, token, k), daemon=True)
               for k, (name, token) in enumerate(sorted(tokens.items()))]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.monotonic() - start
    return result


def check_store(store: Any, result: SoakResult,
                annotators: set[str] | None = None) -> dict[str, Any]:
    """Compare the store's votes (of ``annotators``, default all) with the acknowledged ones
    (see the module docstring)."""
    stored: dict[tuple[str, int], str] = {}
    duplicates = 0
    for rec in store.export_records(include_skips=True):
        if annotators is not None and rec["annotator_id"] not in annotators:
            continue
        key = (rec["annotator_id"], int(rec["meta"]["task_id"]))
        duplicates += key in stored
        stored[key] = rec["winner"]
    lost = [k for k in result.acknowledged if k not in stored]
    unacknowledged = [k for k in stored if k not in result.acknowledged]
    changed = [k for k, w in result.acknowledged.items() if k in stored and stored[k] != w]
    return {"stored": len(stored), "acknowledged": len(result.acknowledged), "lost": len(lost),
            "unacknowledged": len(unacknowledged), "changed": len(changed),
            "duplicates": duplicates}


def compare_with_batch(board_items: list[dict[str, Any]], dataset: Any,
                       scale: str = "elo") -> float:
    """Largest |rating or interval difference| between a live board and a batch fit of
    ``dataset`` (:func:`prefkit.choice.leaderboard.leaderboard`, Bradley–Terry, ties half);
    infinity if the items or ranks differ."""
    import warnings

    from prefkit.choice.leaderboard import leaderboard

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # as the live board: a prior note is not a failure
        batch = {r["name"]: r for r in leaderboard(dataset, "bt", scale=scale).rows}
    if sorted(batch) != sorted(r["name"] for r in board_items):
        return float("inf")
    worst = 0.0
    for row in board_items:
        ref = batch[row["name"]]
        if row["rank"] != ref["rank"]:
            return float("inf")
        for key in ("rating", "ci_low", "ci_high"):
            worst = max(worst, abs(float(row[key]) - float(ref[key])))
    return worst
