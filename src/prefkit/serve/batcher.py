"""Micro-batching across concurrent requests: one asyncio queue and one worker per model.

A request becomes a *job* (an operation and its list of inputs) and waits on a future.  The
worker takes the first job, then keeps collecting jobs until the batch holds ``max_batch`` inputs
or ``max_wait_ms`` have passed since the first arrived; it makes **one model call per operation**
in the model's own worker thread (so the event loop keeps accepting requests meanwhile — which
is what fills the next batch), and hands each job its own slice of the results.  A job that
would overflow a non-empty batch is carried to the next one; a single job larger than
``max_batch`` runs alone.

This is the dynamic batching of inference servers (e.g. NVIDIA Triton's dynamic batcher,
Clipper — Crankshaw et al., NSDI 2017): the throughput of batched forward passes without
asking clients to batch.  When a batched call fails, its jobs are retried one by one, so one bad
request never fails its neighbours; a batch function may also answer one input with an exception
(instead of its output), which fails that input's job alone.  The queue is bounded:
:class:`Overloaded` when it is full (the app answers 503 with ``Retry-After``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

#: operation name → batch function: list of inputs → list of per-input outputs
BatchFn = Callable[[list[Any]], Sequence[Any]]


class Overloaded(Exception):
    """The model's queue is full: answer 503 and ask the client to retry."""


@dataclass
class Job:
    op: str
    inputs: list[Any]
    future: asyncio.Future[list[Any]]
    enqueued: float = field(default_factory=time.perf_counter)


class MicroBatcher:
    """Collects jobs for one model and runs them in batches (see the module docstring).

    Args:
        operations: operation name → function from a list of inputs to the list of outputs
            (same length; an ``Exception`` instance as an output fails that input's job only),
            run in a worker thread.
        max_batch: most inputs per model call.
        max_wait_ms: how long a batch waits for more jobs after its first.
        max_queue: most jobs waiting; :meth:`submit` raises :class:`Overloaded` beyond.
        on_batch: called as ``on_batch(op, n_inputs, seconds)`` after each model call.
    """

    def __init__(
        self,
        operations: dict[str, BatchFn],
        *,
        max_batch: int,
        max_wait_ms: float,
        max_queue: int,
        on_batch: Callable[[str, int, float], None] | None = None,
    ) -> None:
        self.operations = operations
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000.0
        self.queue: asyncio.Queue[Job] = asyncio.Queue(maxsize=max_queue)
        self.on_batch = on_batch
        self._carry: Job | None = None
        self._task: asyncio.Task[None] | None = None
        # one thread per model: calls never overlap, and torch always runs on the same thread
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prefkit-model")

    # ------------------------------------------------------------------ life cycle
    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop the worker; jobs still waiting are failed (the server drains requests first)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._executor.shutdown(wait=False)
        pending = [self._carry] if self._carry else []
        while not self.queue.empty():
            pending.append(self.queue.get_nowait())
        for job in pending:
            if not job.future.done():
                job.future.set_exception(Overloaded("the server is shutting down"))

    def depth(self) -> int:
        """Jobs waiting (not counting the batch being computed)."""
        return self.queue.qsize() + (1 if self._carry else 0)

    # ------------------------------------------------------------------ requests
    async def submit(self, op: str, inputs: list[Any]) -> list[Any]:
        """Queue ``inputs`` for operation ``op`` and wait for their outputs (same order)."""
        if op not in self.operations:
            raise KeyError(op)
        if not inputs:
            return []
        job = Job(op, list(inputs), asyncio.get_running_loop().create_future())
        try:
            self.queue.put_nowait(job)
        except asyncio.QueueFull:
            raise Overloaded(f"{self.queue.maxsize} requests are already waiting") from None
        return await job.future

    # ------------------------------------------------------------------ worker
    async def _next_batch(self) -> list[Job]:
        first = self._carry or await self.queue.get()
        self._carry = None
        batch, size = [first], len(first.inputs)
        deadline = asyncio.get_running_loop().time() + self.max_wait
        while size < self.max_batch:
            try:
                job = self.queue.get_nowait()
            except asyncio.QueueEmpty:
                timeout = deadline - asyncio.get_running_loop().time()
                if timeout <= 0:
                    break
                try:
                    job = await asyncio.wait_for(self.queue.get(), timeout)
                except asyncio.TimeoutError:
                    break
            if size + len(job.inputs) > self.max_batch:
                self._carry = job
                break
            batch.append(job)
            size += len(job.inputs)
        return batch

    async def _run(self) -> None:
        while True:
            batch = await self._next_batch()
            by_op: dict[str, list[Job]] = {}
            for job in batch:
                if not job.future.done():  # a client that went away is skipped
                    by_op.setdefault(job.op, []).append(job)
            for op, jobs in by_op.items():
                await self._call(op, jobs)

    async def _call(self, op: str, jobs: list[Job]) -> None:
        fn = self.operations[op]
        inputs = [x for job in jobs for x in job.inputs]
        start = time.perf_counter()
        try:
            outputs = await asyncio.get_running_loop().run_in_executor(
                self._executor, _checked, fn, inputs)
        except Exception as err:
            if len(jobs) > 1:  # find the culprit: each job alone
                for job in jobs:
                    await self._call(op, [job])
                return
            _settle(jobs[0], error=err)
            return
        if self.on_batch is not None:
            self.on_batch(op, len(inputs), time.perf_counter() - start)
        offset = 0
        for job in jobs:
            mine = list(outputs[offset: offset + len(job.inputs)])
            failed = [x for x in mine if isinstance(x, Exception)]
            if failed:  # the batch function answered this input with its own error
                _settle(job, error=failed[0])
            else:
                _settle(job, result=mine)
            offset += len(job.inputs)


def _checked(fn: BatchFn, inputs: list[Any]) -> Sequence[Any]:
    outputs = fn(inputs)
    if len(outputs) != len(inputs):
        raise RuntimeError(f"batch function returned {len(outputs)} outputs for {len(inputs)}")
    return outputs


def _settle(job: Job, *, result: list[Any] | None = None, error: BaseException | None = None
            ) -> None:
    if job.future.done():
        return
    if error is not None:
        job.future.set_exception(error)
    else:
        job.future.set_result(result or [])
