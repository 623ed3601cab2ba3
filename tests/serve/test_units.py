"""The pieces without a server: batcher, query splitting, token comparison, settings."""

from __future__ import annotations

import asyncio

import pytest

from prefkit.serve.batcher import MicroBatcher, Overloaded
from prefkit.serve.openrlhf import split_queries
from prefkit.serve.security import token_ok
from prefkit.serve.settings import ServeConfigError, ServeSettings


def run_batcher(fn, jobs, **kw):
    calls: list[int] = []

    async def main():
        batcher = MicroBatcher({"op": fn}, on_batch=lambda op, n, s: calls.append(n),
                               **{"max_batch": 8, "max_wait_ms": 20, "max_queue": 100, **kw})
        batcher.start()
        try:
            return await asyncio.gather(*(batcher.submit("op", j) for j in jobs),
                                        return_exceptions=True)
        finally:
            await batcher.stop()

    return asyncio.run(main()), calls


def test_batcher_fans_results_back_in_order_and_respects_max_batch():
    jobs = [[k, k + 100] for k in range(10)]
    out, calls = run_batcher(lambda xs: [2 * x for x in xs], jobs)
    assert out == [[2 * k, 2 * k + 200] for k in range(10)]
    assert sum(calls) == 20 and max(calls) <= 8 and len(calls) < 10


def test_one_bad_job_fails_alone():
    def fn(xs):
        if "bad" in xs:
            raise ValueError("bad input")
        return [x.upper() for x in xs]

    out, _ = run_batcher(fn, [["a"], ["bad"], ["c"]])
    assert out[0] == ["A"] and out[2] == ["C"]
    assert isinstance(out[1], ValueError)


def test_full_queue_is_overloaded():
    async def main():
        batcher = MicroBatcher({"op": lambda xs: xs}, max_batch=4, max_wait_ms=0, max_queue=2)
        # no worker started: the queue fills up
        waiting = [asyncio.ensure_future(batcher.submit("op", [k])) for k in range(2)]
        await asyncio.sleep(0)
        with pytest.raises(Overloaded):
            await batcher.submit("op", [99])
        await batcher.stop()  # fails the waiting jobs instead of leaving them hanging
        return await asyncio.gather(*waiting, return_exceptions=True)

    assert all(isinstance(r, Overloaded) for r in asyncio.run(main()))


def test_split_queries_follows_openrlhf():
    prompts, responses = split_queries(["<u>hi<a> hello", "other text"], ["<u>hi<a>", "<u>x<a>"])
    assert prompts == ["<u>hi<a>", "<u>x<a>"]
    assert responses == [" hello", "other text"]  # no prefix match: the whole query
    assert split_queries(["q"], None) == ([None], ["q"])


def test_token_ok():
    assert token_ok("Bearer abc", ("zzz", "abc"))
    assert token_ok("bearer abc", ("abc",))
    assert not token_ok("Bearer abd", ("abc",))
    assert not token_ok("Basic abc", ("abc",))
    assert not token_ok(None, ("abc",))
    assert not token_ok("Bearer ", ("abc",))


def test_settings_refuse_nonsense():
    with pytest.raises(ServeConfigError, match="max_batch"):
        ServeSettings(max_batch=0)
    with pytest.raises(ServeConfigError, match="max_wait_ms"):
        ServeSettings(max_wait_ms=float("nan"))


def test_an_exception_as_output_fails_only_its_job():
    def fn(xs):
        return [ValueError(f"no {x}") if x == "bad" else x.upper() for x in xs]

    out, calls = run_batcher(fn, [["a"], ["bad"], ["c"]])
    assert out[0] == ["A"] and out[2] == ["C"] and str(out[1]) == "no bad"
    assert calls == [3]  # one call: nobody was retried


def test_strict_json_problems():
    from prefkit.serve.security import json_problem

    assert json_problem(b'{"a": [1.5, {"b": -2e10}], "c": null}') is None
    assert json_problem(b"{broken") is None  # left to the app, which names the position
    assert json_problem(b'{"a": 1, "b": {"a": 2}}') is None  # same key, different objects
    assert json_problem(b'{"a": 1, "a": 2}') == "duplicate key 'a' in one object"
    assert json_problem(b'{"t": NaN}').startswith("NaN is not a JSON number")
    assert json_problem(b"[-Infinity]").startswith("-Infinity is not a JSON number")
    assert json_problem(b"[2e400]").startswith("2e400 overflows")
    assert json_problem(b"[" * 200_000 + b"]" * 200_000) == "nested too deeply"
