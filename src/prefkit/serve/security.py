"""The gate every request passes: bearer tokens, body size, request metrics.

- **Authentication** (when tokens are configured): ``Authorization: Bearer TOKEN`` on every path
  but ``GET /health``; the token is compared with :func:`hmac.compare_digest` against *every*
  configured token (constant time, no early exit), 401 with ``WWW-Authenticate: Bearer``.
- **Body size**: a ``Content-Length`` above the limit is refused before reading; a body without
  one (chunked) is read up to the limit and refused as soon as it exceeds it — 413 either way.
- **Metrics**: count and latency by route template and status (:mod:`prefkit.serve.metrics`).
- **Strict JSON** (``strict_json=True``, what ``prefkit serve`` uses): a POST body must be JSON
  (Content-Type ``application/json``, ``application/*+json``, none, or curl's default
  ``application/x-www-form-urlencoded``; anything else is 415), and RFC 8259 JSON: duplicate
  keys in one object and the non-standard ``NaN`` / ``Infinity`` that Python's parser accepts
  are 422, as is nesting deeper than the parser's recursion limit.

Errors are one-line JSON documents ``{"error": "…"}``.  Nothing here logs a body or a header.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from prefkit.serve.metrics import ServeMetrics

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: paths answered without a token (load balancers and the test fixture poll it)
OPEN_PATHS = frozenset({"/health"})


def token_ok(header: str | None, tokens: Iterable[str]) -> bool:
    """Whether an ``Authorization`` header carries one of ``tokens`` (constant-time compare)."""
    if not header:
        return False
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer":
        return False
    given_bytes = given.strip().encode("utf-8", "surrogateescape")
    ok = False
    for token in tokens:  # no early exit: time does not depend on which token matched
        ok |= hmac.compare_digest(given_bytes, token.encode("utf-8", "surrogateescape"))
    return ok


def json_error_body(message: str, **extra: Any) -> bytes:
    return json.dumps({"error": " ".join(str(message).split()), **extra}).encode()


async def send_json_error(send: Send, status: int, message: str,
                          headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json_error_body(message)
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


class Gate:
    """ASGI middleware: metrics around everything, then authentication, then the body limit."""

    def __init__(self, app: ASGIApp, *, tokens: tuple[str, ...], max_body_bytes: int,
                 metrics: ServeMetrics, routes: frozenset[str], strict_json: bool = False
                 ) -> None:
        self.app = app
        self.strict_json = strict_json
        self.tokens = tokens
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        route = path if path in self.routes else "other"
        status_seen = [500]
        start = time.perf_counter()

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_seen[0] = int(message["status"])
            await send(message)

        try:
            await self._gate(scope, receive, counting_send, path)
        finally:
            self.metrics.requests.labels(route, scope.get("method", ""), str(status_seen[0])).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - start)

    async def _gate(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        if scope.get("method") == "POST" and not headers.get(b"content-type", b"").startswith(
                b"application/json"):  # every POST body is JSON (curl -d sends a form type)
            scope = {**scope, "headers": [(k, v) for k, v in scope.get("headers", [])
                                          if k.lower() != b"content-type"]
                     + [(b"content-type", b"application/json")]}
        if self.tokens and path not in OPEN_PATHS:
            raw = headers.get(b"authorization")
            if not token_ok(raw.decode("latin-1") if raw else None, self.tokens):
                await send_json_error(send, 401, "missing or invalid bearer token",
                                      [(b"www-authenticate", b"Bearer")])
                return
        if self.strict_json and scope.get("method") == "POST" and not _json_type(
                headers.get(b"content-type", b"")):
            kind = headers.get(b"content-type", b"").decode("latin-1").split(";")[0].strip()
            await send_json_error(send, 415, f"Content-Type {kind!r} is not JSON: send the "
                                  "body as application/json")
            return
        length = headers.get(b"content-length")
        if length is not None:
            try:
                too_big = int(length) > self.max_body_bytes
            except ValueError:
                await send_json_error(send, 400, "invalid Content-Length header")
                return
            if too_big:
                await send_json_error(
                    send, 413, f"request body of {int(length)} bytes exceeds the limit of "
                    f"{self.max_body_bytes} bytes")
                return
            if not (self.strict_json and scope.get("method") == "POST"):
                await self.app(scope, receive, send)
                return
        if scope.get("method") in ("POST", "PUT", "PATCH"):
            body = bytearray()
            more = True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                body += message.get("body", b"")
                more = bool(message.get("more_body"))
                if len(body) > self.max_body_bytes:
                    await send_json_error(
                        send, 413, f"request body exceeds the limit of {self.max_body_bytes} "
                        "bytes")
                    return
            if self.strict_json:
                if not bytes(body).strip():
                    problem: str | None = "the request body is empty (send a JSON object)"
                elif len(body) < 2**20:
                    problem = json_problem(bytes(body))
                else:
                    problem = await asyncio.to_thread(json_problem, bytes(body))
                if problem is not None:
                    await send_json_error(send, 422, f"malformed JSON: {problem}")
                    return
            replayed = False

            async def replay() -> Message:
                nonlocal replayed
                if not replayed:
                    replayed = True
                    return {"type": "http.request", "body": bytes(body), "more_body": False}
                return await receive()

            await self.app(scope, replay, send)
            return
        await self.app(scope, receive, send)


def _json_type(content_type: bytes) -> bool:
    kind = content_type.split(b";")[0].strip().lower()
    return kind in (b"", b"application/json", b"application/x-www-form-urlencoded") or (
        kind.startswith(b"application/") and kind.endswith(b"+json"))


class _NotStrictJSON(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _NotStrictJSON(f"duplicate key {key!r} in one object")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise _NotStrictJSON(f"{name} is not a JSON number (send finite numbers)")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _NotStrictJSON(f"{text[:20]} overflows a double (send finite numbers)")
    return value


def json_problem(body: bytes) -> str | None:
    """What makes ``body`` not strict JSON (duplicate keys, NaN/Infinity or numbers that overflow
    to them, nesting too deep), or None — a body that does not parse at all is left to the app,
    which names the position."""
    try:
        json.loads(body, object_pairs_hook=_no_duplicates, parse_constant=_no_constant,
                   parse_float=_finite_float)
    except _NotStrictJSON as err:
        return str(err)
    except RecursionError:
        return "nested too deeply"
    except (ValueError, UnicodeDecodeError):
        return None
    return None
