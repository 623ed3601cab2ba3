"""OpenAI-compatible chat completions over HTTP (vLLM, llama.cpp server, Ollama, SGLang, OpenAI).

``POST {base}/chat/completions`` with ``{"model", "messages", **params}``; the reply text is
``choices[0].message.content`` and ``usage`` is summed into :attr:`OpenAIChatBackend.usage`.

* **Bounded concurrency**: one ``asyncio.Semaphore(concurrency)`` around every attempt (back-off
  sleeps are outside it), spread over ``ceil(concurrency / 8)`` connection pools of 8 — httpx's
  own transport (``httpcore``) called directly, which halves the client CPU per request; with a
  proxy in the environment (``HTTP(S)_PROXY``, ``ALL_PROXY``) ``httpx.AsyncClient`` pools, which
  honour it (``transport="httpx"`` forces them).  The first attempt of a request runs without
  tenacity's machinery; only a failed one enters the retry loop.
* **Requests per minute**: a token bucket (``rpm``) — request starts are spaced ``60/rpm`` s.
* **Retries** (``tenacity``): 429 (``Retry-After`` honoured, seconds or HTTP date), 5xx,
  time-outs, connection errors and truncated / invalid JSON bodies are retried with exponential
  back-off and full jitter (AWS "Exponential Backoff and Jitter", 2015) up to ``max_attempts``;
  other 4xx are not retried.  A request that still fails gives ``JudgeReply(None, error=…)`` —
  never a verdict.
* **Pre-flight**: :meth:`preflight` reads ``GET {base}/models`` once, before any work, and turns an
  unreachable endpoint, a 401/403 or an unknown model name into one :class:`JudgeBackendError`.
* The API key is read from an environment variable at construction and only ever placed in the
  ``Authorization`` header: never logged, cached or part of a cache key.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import os
import random
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import certifi
import httpx
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt

from prefkit.errors import PrefkitError
from prefkit.judge.backends.base import JudgeReply, JudgeRequest


class JudgeBackendError(PrefkitError, RuntimeError):
    """The judge endpoint cannot be used (unreachable, unauthorised, unknown model)."""


_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _body_bytes(body: dict[str, Any]) -> bytes:
    return _dumps(body).encode("utf-8")


class RetryableError(Exception):
    """A failed attempt worth retrying; ``retry_after``: the server's requested wait (s)."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def api_base(url: str) -> str:
    """``http://host:8000`` and ``http://host:8000/v1/`` both give ``http://host:8000/v1``."""
    url = url.rstrip("/")
    return url if url.endswith("/v1") else url + "/v1"


class _RateLimiter:
    """At most ``rpm`` request starts per minute, evenly spaced (a one-token bucket)."""

    def __init__(self, rpm: float | None) -> None:
        self.interval = 60.0 / rpm if rpm else 0.0
        self.next_start = 0.0
        self.lock = asyncio.Lock()

    async def wait(self) -> None:
        if not self.interval:
            return
        async with self.lock:
            now = time.monotonic()
            start = max(now, self.next_start)
            self.next_start = start + self.interval
        if start > now:
            await asyncio.sleep(start - now)


_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                    "all_proxy")


def proxies_configured() -> bool:
    """Whether the environment names a proxy (then requests go through httpx, which reads it)."""
    return any(os.environ.get(name) for name in _PROXY_VARIABLES)


class _CoreResponse:
    """The parts of an ``httpx.Response`` the backend reads, over an ``httpcore`` response."""

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], content: bytes) -> None:
        self.status_code = status
        self._headers = headers
        self.content = content

    @property
    def headers(self) -> dict[str, str]:
        return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in self._headers}

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)


class _CoreClient:
    """POSTs to the chat URL straight through an ``httpcore`` connection pool — httpx's own
    transport, without the client layers (URL merging, cookies, auth and redirect hooks) that
    cost about as much CPU as the request itself at high concurrency.  Used unless a proxy is
    configured."""

    def __init__(self, url: httpx.URL, headers: dict[str, str], connections: int,
                 timeout: float, ssl_context: ssl.SSLContext | None) -> None:
        import httpcore

        self.httpcore = httpcore
        self.url = str(url).encode("ascii")
        host = f"[{url.host}]" if ":" in url.host else url.host  # an IPv6 literal
        host += f":{url.port}" if url.port else ""
        self.headers = [(b"Host", host.encode("ascii")), (b"Accept", b"application/json"),
                        (b"User-Agent", b"prefkit-judge")]
        self.headers += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        self.timeout = {"timeout": {"connect": timeout, "read": timeout, "write": timeout,
                                    "pool": timeout}}
        self.pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context, max_connections=connections,
            max_keepalive_connections=connections)

    async def post(self, content: bytes) -> _CoreResponse:
        core = self.httpcore
        headers = [*self.headers, (b"Content-Length", str(len(content)).encode("ascii"))]
        try:
            response = await self.pool.request(b"POST", self.url, headers=headers,
                                               content=content, extensions=self.timeout)
        except core.TimeoutException:
            raise RetryableError("time-out") from None
        except (core.NetworkError, core.ProtocolError, core.ProxyError,
                core.UnsupportedProtocol) as err:
            raise RetryableError(f"transport error ({type(err).__name__})") from None
        return _CoreResponse(response.status, response.headers, response.content)

    async def __aenter__(self) -> _CoreClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.pool.aclose()


#: connections per ``httpx.AsyncClient``: httpcore's pool scans every connection per request
#: (``has_expired`` → a socket readability check), so a 64-connection pool costs ~5× the CPU of
#: eight 8-connection pools; requests are spread over ``ceil(concurrency / 8)`` clients.
CONNECTIONS_PER_CLIENT = 8


class _Slots:
    """``concurrency`` request slots (the semaphore) over a free-list of clients, each client
    listed once per connection it has, so a request never waits inside a client's pool."""

    def __init__(self, concurrency: int, clients: list[Any]) -> None:
        self.semaphore = asyncio.Semaphore(concurrency)
        self.clients: asyncio.Queue[Any] = asyncio.Queue()
        for i in range(concurrency):
            self.clients.put_nowait(clients[i % len(clients)])


class OpenAIChatBackend:
    """A judge behind an OpenAI-compatible ``/v1/chat/completions`` endpoint."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key_env: str | None = "OPENAI_API_KEY",
        concurrency: int = 16,
        timeout: float = 60.0,
        rpm: float | None = None,
        max_attempts: int = 6,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        params: dict[str, Any] | None = None,
        name: str | None = None,
        transport: str = "auto",
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be ≥ 1")
        if transport not in ("auto", "httpcore", "httpx"):
            raise ValueError("transport must be auto, httpcore or httpx")
        self.transport = transport
        self.base = api_base(base_url)
        self.model = model
        self.name = name or model
        self.concurrency = concurrency
        self.timeout = timeout
        self.rpm = rpm
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.params = {"temperature": 0.0, **(params or {})}
        self._api_key = os.environ.get(api_key_env) if api_key_env else None
        self.api_key_env = api_key_env
        self.usage: dict[str, int] = {"prompt_tokens": 0, "completion_tokens": 0,
                                      "total_tokens": 0}
        self.requests_sent = 0
        self._ssl_context: ssl.SSLContext | None = None
        self.retries = 0
        self.failures = 0
        self._chat_url = httpx.URL(f"{self.base}/chat/completions")  # parsed once

    def __repr__(self) -> str:  # never shows the key
        return f"OpenAIChatBackend({self.base!r}, {self.model!r})"

    @property
    def cache_identity(self) -> dict[str, Any]:
        """What identifies answers of this backend in a cache (no key, no URL credentials)."""
        return {"backend": "openai-chat", "model": self.model, "params": self.params}

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    def client(self, connections: int | None = None) -> httpx.AsyncClient:
        connections = connections or self.concurrency
        limits = httpx.Limits(max_connections=connections,
                              max_keepalive_connections=connections)
        if self._ssl_context is None:  # one certificate store for all clients (~30 ms each)
            self._ssl_context = ssl.create_default_context(cafile=certifi.where())
        return httpx.AsyncClient(headers=self._headers(), timeout=self.timeout, limits=limits,
                                 verify=self._ssl_context)

    # ------------------------------------------------------------------ pre-flight
    async def apreflight(self, client: httpx.AsyncClient) -> None:
        url = f"{self.base}/models"
        try:
            response = await client.get(url, timeout=min(self.timeout, 10.0))
        except httpx.HTTPError as err:
            raise JudgeBackendError(
                f"cannot reach the judge endpoint {self.base} ({type(err).__name__})"
            ) from None
        if response.status_code in (401, 403):
            hint = f" (API key from ${self.api_key_env})" if self.api_key_env else ""
            raise JudgeBackendError(
                f"{self.base}: {response.status_code} unauthorised{hint}"
            )
        if response.status_code >= 400:
            raise JudgeBackendError(f"{url}: HTTP {response.status_code}")
        try:
            names = [m.get("id") for m in response.json().get("data", [])]
        except (ValueError, AttributeError):
            raise JudgeBackendError(f"{url}: not an OpenAI-compatible model list") from None
        if names and self.model not in names:
            shown = ", ".join(map(str, names[:5])) + (" …" if len(names) > 5 else "")
            raise JudgeBackendError(f"{self.base}: unknown model '{self.model}' (has: {shown})")

    # ------------------------------------------------------------------ one request
    def _delay(self, attempt_number: int, err: BaseException | None) -> float:
        """The wait after failed attempt ``attempt_number``: the server's Retry-After, else
        exponential back-off with full jitter."""
        if isinstance(err, RetryableError) and err.retry_after is not None:
            return min(err.retry_after, self.max_backoff)
        cap = min(self.max_backoff, self.backoff * 2 ** (attempt_number - 1))
        return random.uniform(0, cap)  # full jitter

    def _wait(self, state: Any) -> float:
        """tenacity's wait; its attempt 1 is the request's second (the first ran outside)."""
        err = state.outcome.exception() if state.outcome else None
        return self._delay(state.attempt_number + 1, err)

    async def _attempt(self, client: Any, body: dict[str, Any]) -> JudgeReply:
        self.requests_sent += 1
        content = _body_bytes(body)
        if isinstance(client, _CoreClient):
            response: Any = await client.post(content)
        else:
            try:
                # the client's default headers carry Content-Type: application/json
                response = await client.post(self._chat_url, content=content)
            except httpx.TimeoutException:
                raise RetryableError("time-out") from None
            except httpx.TransportError as err:
                raise RetryableError(f"transport error ({type(err).__name__})") from None
        status = response.status_code
        if status == 429:
            raise RetryableError("429", _retry_after(response.headers.get("retry-after")))
        if status >= 500:
            wait = _retry_after(response.headers.get("retry-after"))
            raise RetryableError(f"HTTP {status}", wait)
        if status >= 400:
            return JudgeReply(None, f"HTTP {status}: {response.text[:200]}")
        try:
            payload = response.json()
            text = payload["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise RetryableError("truncated or invalid JSON reply") from None
        usage = {k: int(v) for k, v in (payload.get("usage") or {}).items()
                 if k in self.usage and isinstance(v, int)}
        for key, value in usage.items():
            self.usage[key] += value
        return JudgeReply(text if isinstance(text, str) else None,
                          None if isinstance(text, str) else "no text", usage)

    async def _once(self, slots: _Slots, body: dict[str, Any], limiter: _RateLimiter
                    ) -> JudgeReply:
        async with slots.semaphore:  # back-off sleeps happen outside the slot
            client = slots.clients.get_nowait()
            try:
                await limiter.wait()
                return await self._attempt(client, body)
            finally:
                slots.clients.put_nowait(client)

    async def acomplete_one(
        self, slots: _Slots, request: JudgeRequest, limiter: _RateLimiter
    ) -> JudgeReply:
        body = {"model": self.model, "messages": list(request.messages),
                **self.params, **request.params}
        try:  # the first attempt without tenacity's machinery (most requests need no retry)
            return await self._once(slots, body, limiter)
        except RetryableError as err:
            first_error = err
        if self.max_attempts < 2:
            self.failures += 1
            return JudgeReply(None, f"gave up after 1 attempt: {first_error}")

        await asyncio.sleep(self._delay(1, first_error))
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.max_attempts - 1),
            wait=self._wait,
            retry=retry_if_exception_type(RetryableError),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    self.retries += 1
                    return await self._once(slots, body, limiter)
        except RetryableError as err:
            self.failures += 1
            return JudgeReply(None, f"gave up after {self.max_attempts} attempts: {err}")
        raise AssertionError("unreachable")  # pragma: no cover

    # ------------------------------------------------------------------ many requests
    @contextlib.asynccontextmanager
    async def session(
        self, *, preflight: bool = True
    ) -> AsyncIterator[Callable[[JudgeRequest], Awaitable[JudgeReply]]]:
        """An ``ask(request) -> reply`` coroutine function sharing the connection pools,
        the semaphore and the rate limiter; the pre-flight check runs on entry."""
        limiter = _RateLimiter(self.rpm)
        n_clients = -(-self.concurrency // CONNECTIONS_PER_CLIENT)
        core = self.transport == "httpcore" or (self.transport == "auto"
                                                 and not proxies_configured())
        async with contextlib.AsyncExitStack() as stack:
            if preflight:
                async with self.client(1) as probe:
                    await self.apreflight(probe)
            if core:
                if self._ssl_context is None and self._chat_url.scheme == "https":
                    self._ssl_context = ssl.create_default_context(cafile=certifi.where())
                clients: list[Any] = [
                    await stack.enter_async_context(_CoreClient(
                        self._chat_url, self._headers(), CONNECTIONS_PER_CLIENT, self.timeout,
                        self._ssl_context))
                    for _ in range(n_clients)]
            else:
                clients = [await stack.enter_async_context(self.client(CONNECTIONS_PER_CLIENT))
                           for _ in range(n_clients)]
            slots = _Slots(self.concurrency, clients)

            async def ask(request: JudgeRequest) -> JudgeReply:
                return await self.acomplete_one(slots, request, limiter)

            yield ask

    async def astream(
        self, requests: Sequence[JudgeRequest], *, preflight: bool = True
    ) -> AsyncIterator[tuple[int, JudgeReply]]:
        """``(index, reply)`` pairs as answers arrive (any order)."""
        async with self.session(preflight=preflight) as ask:

            async def one(i: int) -> tuple[int, JudgeReply]:
                return i, await ask(requests[i])

            tasks = [asyncio.create_task(one(i)) for i in range(len(requests))]
            try:
                for done in asyncio.as_completed(tasks):
                    yield await done
            finally:
                for task in tasks:
                    task.cancel()

    async def acomplete(self, requests: Sequence[JudgeRequest]) -> list[JudgeReply]:
        replies: list[JudgeReply | None] = [None] * len(requests)
        async for i, reply in self.astream(requests):
            replies[i] = reply
        return [r for r in replies if r is not None]

    def complete(self, requests: Sequence[JudgeRequest]) -> list[JudgeReply]:
        """Answers to ``requests`` in order (runs its own event loop)."""
        return asyncio.run(self.acomplete(requests))

    def preflight(self) -> None:
        async def run() -> None:
            async with self.client() as client:
                await self.apreflight(client)

        asyncio.run(run())


