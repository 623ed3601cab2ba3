"""A corpus of malformed and hostile requests against a real server process: each answers the
4xx it should, with one JSON line naming the problem — never a 5xx, never a traceback.

The server (``conftest.server``) serves ``bt`` (Bradley–Terry), ``dav``, ``mix`` (a mixture of
users) and ``rm`` (a reward model); the limits are those of ``serve_models``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from serve_models import MAX_BODY_BYTES, MAX_ITEMS, MAX_TEXT_CHARS

JSON = {"Content-Type": "application/json"}
GOOD_SCORE = json.dumps({"model": "bt", "items": ["item_00"]}).encode()


def case(name: str, path: str, body: bytes | dict[str, Any] | list[Any] | None, status: int,
         says: str, *, method: str = "POST", headers: dict[str, str] | None = None,
         token: str | None = "default", field: str | None = None, raw: bool = False) -> Any:
    """One request; ``raw``: sent byte for byte over a socket (headers httpx would refuse)."""
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    return pytest.param(method, path, data, {**JSON, **(headers or {})}, token, status, says,
                        field, raw, id=name)


CORPUS = [
    # authentication
    case("missing-token", "/v1/score", GOOD_SCORE, 401, "bearer token", token=None),
    case("wrong-token", "/v1/score", GOOD_SCORE, 401, "bearer token", token="not-the-token"),
    case("empty-bearer", "/get_reward", {"query": ["x"]}, 401, "bearer token", token=None,
         headers={"Authorization": "Bearer "}, raw=True),
    case("token-in-basic-scheme", "/v1/models", None, 401, "bearer token", method="GET",
         headers={"Authorization": "Basic dGVzdA=="}, token=None),
    # the body is not (strict) JSON
    case("empty-body", "/get_reward", b"", 422, "the request body is empty"),
    case("truncated-json", "/get_reward", b'{"query": ["a"', 422, "malformed JSON"),
    case("nan", "/get_reward", b'{"query": ["a"], "labels": [NaN]}', 422, "NaN"),
    case("infinity", "/v1/chat/completions",
         b'{"messages": [{"role": "user", "content": "hi"}], "temperature": Infinity}', 422,
         "Infinity"),
    case("overflowing-number", "/v1/chat/completions",
         b'{"messages": [{"role": "user", "content": "hi"}], "top_p": 1e999}', 422,
         "overflows"),
    case("duplicate-keys", "/get_reward", b'{"query": ["a"], "query": ["b"]}', 422,
         "duplicate key 'query'"),
    case("deep-nesting", "/v1/score", b"[" * 100_000 + b"]" * 100_000, 422, "JSON"),
    case("not-utf8", "/get_reward", b'\xff\xfe{"query": ["a"]}', 422, "JSON"),
    case("lone-surrogate", "/v1/score", b'{"model": "rm", "responses": ["\\ud800"]}', 422,
         "surrogate", field="responses[0]"),
    case("wrong-content-type", "/v1/score", GOOD_SCORE, 415, "not JSON",
         headers={"Content-Type": "text/xml"}),
    case("multipart-content-type", "/get_reward", b'{"query": ["a"]}', 415, "not JSON",
         headers={"Content-Type": "multipart/form-data; boundary=x"}),
    # wrong shapes and types
    case("array-not-object", "/v1/score", [{"model": "bt"}], 422, "valid dictionary"),
    case("null-body", "/v1/compare", b"null", 422, "request body"),
    case("query-is-a-string", "/get_reward", {"query": "one text"}, 422, "valid list",
         field="query"),
    case("query-of-numbers", "/get_reward", {"query": [1, 2]}, 422, "valid string",
         field="query[0]"),
    case("query-nested-lists", "/get_reward", {"query": [["a"]]}, 422, "valid string",
         field="query[0]"),
    case("items-is-an-object", "/v1/score", {"model": "bt", "items": {"item_00": 1}}, 422,
         "valid list", field="items"),
    case("model-is-a-number", "/v1/score", {"model": 7, "items": ["item_00"]}, 422,
         "valid string", field="model"),
    case("unknown-field", "/v1/compare", {"model": "bt", "pairs": [], "admin": True}, 422,
         "Extra inputs", field="admin"),
    case("pair-without-b", "/v1/compare", {"model": "bt", "pairs": [{"a": "item_00"}]}, 422,
         "required", field="pairs[0].b"),
    case("prompts-length-mismatch", "/get_reward", {"query": ["a"], "prompts": ["p", "q"]},
         422, "prompts has 2 entries", field="prompts"),
    case("both-items-and-responses", "/v1/score",
         {"model": "bt", "items": ["item_00"], "responses": ["x"]}, 422, "exactly one"),
    # negative and absurd counts (chat fields are validated before a model is picked)
    case("negative-n", "/v1/chat/completions",
         {"messages": [{"role": "user", "content": "hi"}], "n": -1}, 422, "greater than",
         field="n"),
    case("negative-max-tokens", "/v1/chat/completions",
         {"messages": [{"role": "user", "content": "hi"}], "max_tokens": -5}, 422,
         "greater than", field="max_tokens"),
    case("negative-top-logprobs", "/v1/chat/completions",
         {"messages": [{"role": "user", "content": "hi"}], "logprobs": True,
          "top_logprobs": -1}, 422, "greater than", field="top_logprobs"),
    case("chat-without-language-model", "/v1/chat/completions",
         {"messages": [{"role": "user", "content": "hi"}]}, 422, "no language model",
         field="model"),
    # unknown names
    case("unknown-model", "/v1/score", {"model": "gpt-5", "items": ["item_00"]}, 404,
         "unknown model 'gpt-5'", field="model"),
    case("unknown-model-in-query", "/get_reward?model=gpt-5", {"query": ["a"]}, 404,
         "unknown model", field="model"),
    case("unknown-item", "/v1/compare", {"model": "bt", "pairs": [{"a": "item_00",
                                                                   "b": "nobody"}]},
         422, "does not know item 'nobody'"),
    case("user-for-a-model-without-users", "/v1/compare",
         {"model": "bt", "user_id": "stranger", "pairs": [{"a": "item_00", "b": "item_01"}]},
         422, "does not take a user_id", field="user_id"),
    case("user-on-score", "/v1/score", {"model": "mix", "items": ["item_00"], "user_id": "u1"},
         422, "use /v1/compare", field="user_id"),
    case("unknown-route", "/v1/admin", {}, 404, "Not Found"),
    case("wrong-method", "/v1/score", None, 405, "Method Not Allowed", method="GET"),
    # sizes
    case("huge-string", "/v1/score", {"model": "rm", "responses": ["x" * (MAX_TEXT_CHARS + 1)]},
         413, "characters long", field="responses[0]"),
    case("huge-item-name", "/v1/compare",
         {"model": "bt", "pairs": [{"a": "item_00", "b": "i" * (MAX_TEXT_CHARS + 1)}]}, 413,
         "characters long", field="pairs[0].b"),
    case("too-many-items", "/v1/score", {"model": "bt", "items": ["item_00"] * (MAX_ITEMS + 1)},
         413, "more than the limit", field="items"),
    case("body-over-limit", "/get_reward", {"query": ["y" * 1000] * (MAX_BODY_BYTES // 1000)},
         413, "exceeds the limit"),
]


def test_the_corpus_has_at_least_30_payloads():
    assert len(CORPUS) >= 30


@pytest.mark.parametrize(("method", "path", "body", "headers", "token", "status", "says",
                          "field", "raw"), CORPUS)
def test_hostile_request_is_a_clear_4xx(server, method, path, body, headers, token, status,
                                        says, field, raw):
    import httpx

    headers = dict(headers)
    if token is not None:
        headers.setdefault("Authorization",
                           f"Bearer {server.token if token == 'default' else token}")
    if raw:
        reply = _raw(server.url, method, path, body or b"", headers)
    else:
        reply = httpx.request(method, f"{server.url}{path}", content=body, headers=headers,
                              timeout=30)
    assert reply.status_code == status, reply.text[:300]
    assert reply.headers["content-type"].startswith("application/json")
    error = reply.json()
    assert says in error["error"], error
    assert "\n" not in reply.text and "Traceback" not in reply.text
    if field is not None:
        assert error.get("field") == field, error


def _raw(url: str, method: str, path: str, body: bytes, headers: dict[str, str]) -> Any:
    """Send bytes as they are (a wrong Content-Length header included)."""
    import socket
    from types import SimpleNamespace

    host, port = url.removeprefix("http://").split(":")
    head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in headers.items())
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head.encode() + b"\r\n" + body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head_bytes, _, payload = data.partition(b"\r\n\r\n")
    lines = head_bytes.decode("latin-1").split("\r\n")
    response_headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
    return SimpleNamespace(status_code=int(lines[0].split()[1]), headers=response_headers,
                           text=payload.decode(), json=lambda: json.loads(payload))


def test_no_hostile_request_made_a_5xx(server):
    """After the corpus (and everything else so far), the server's own counters hold no 5xx."""
    import httpx

    metrics = httpx.get(f"{server.url}/metrics", timeout=30,
                        headers={"Authorization": f"Bearer {server.token}"}).text
    statuses = [line for line in metrics.splitlines()
                if line.startswith("prefkit_serve_requests_total{") and 'status="5' in line]
    assert statuses == []
