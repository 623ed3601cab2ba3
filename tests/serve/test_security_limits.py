"""Bearer tokens, size limits and malformed requests: 4xx with one JSON line, never 500."""

from __future__ import annotations

import json

import pytest
from serve_models import MAX_BODY_BYTES, MAX_ITEMS, MAX_TEXT_CHARS


@pytest.mark.parametrize("token", [None, "wrong-token", "test-token"])
def test_every_endpoint_but_health_needs_the_token(server, token):
    with server.client(token=token) as client:
        assert client.get("/health").status_code == 200
        for method, path, body in [("GET", "/v1/models", None), ("GET", "/metrics", None),
                                   ("GET", "/docs", None),
                                   ("POST", "/get_reward", {"query": ["x"]}),
                                   ("POST", "/v1/score", {"model": "bt", "items": ["item_00"]})]:
            reply = client.request(method, path, json=body)
            assert reply.status_code == 401, path
            assert reply.headers["www-authenticate"] == "Bearer"
            assert reply.json() == {"error": "missing or invalid bearer token"}


def test_token_scheme_must_be_bearer(server):
    with server.client(token=None) as client:
        reply = client.get("/v1/models", headers={"Authorization": f"Basic {server.token}"})
    assert reply.status_code == 401


def test_too_many_items_is_413(server):
    items = ["item_00"] * (MAX_ITEMS + 1)
    with server.client() as client:
        reply = client.post("/v1/score", json={"model": "bt", "items": items})
        at_limit = client.post("/v1/score", json={"model": "bt", "items": items[:MAX_ITEMS]})
        queries = client.post("/get_reward", json={"query": ["x"] * (MAX_ITEMS + 1)})
    assert reply.status_code == 413 and reply.json()["field"] == "items"
    assert str(MAX_ITEMS) in reply.json()["error"]
    assert at_limit.status_code == 200 and len(at_limit.json()["rewards"]) == MAX_ITEMS
    assert queries.status_code == 413 and queries.json()["field"] == "query"


def test_too_long_text_is_413_naming_the_field(server):
    long_text = "x" * (MAX_TEXT_CHARS + 1)
    with server.client() as client:
        reply = client.post("/v1/score", json={"model": "rm", "prompt": "p",
                                               "responses": ["ok", long_text]})
        pair = client.post("/v1/compare", json={"model": "rm", "pairs": [
            {"a": "ok", "b": "fine", "prompt": long_text}]})
    assert reply.status_code == 413 and reply.json()["field"] == "responses[1]"
    assert pair.status_code == 413 and pair.json()["field"] == "pairs[0].prompt"


def test_oversize_body_is_413_with_or_without_content_length(server):
    body = json.dumps({"query": ["y" * 1000] * (MAX_BODY_BYTES // 1000 + 5)}).encode()
    assert len(body) > MAX_BODY_BYTES

    def chunks():
        for start in range(0, len(body), 4096):
            yield body[start:start + 4096]

    with server.client() as client:
        declared = client.post("/get_reward", content=body)
        chunked = client.post("/get_reward", content=chunks())  # no Content-Length
    for reply in (declared, chunked):
        assert reply.status_code == 413
        assert "exceeds the limit" in reply.json()["error"]


HOSTILE = [
    b"{bad json",
    b"",
    b"null",
    b"[]",
    b'{"query": "not a list"}',
    b'{"query": [1, 2]}',
    b'{"query": [NaN]}',
    b'{"query": [null]}',
    b'{"query": [["nested"]]}',
    b'{"query": ["a"], "prompts": ["p", "q"]}',
    b'{"query": ["a"], "labels": []}',
    b"[" * 50_000 + b"]" * 50_000,
    b'{"query": ["a"]' + b"}" * 3,
    "{\"query\": [\"\udcff\"]}".encode("utf-8", "surrogatepass"),
    b'\xff\xfe{"query": ["a"]}',
    b'{"query": ["\\ud800 lone surrogate"]}',
    b'{"query": ["a"], "prompts": ["\\udfff"]}',
]


@pytest.mark.parametrize("payload", HOSTILE, ids=range(len(HOSTILE)))
def test_malformed_get_reward_is_4xx_one_line(server, payload):
    with server.client() as client:
        reply = client.post("/get_reward", content=payload,
                            headers={"Content-Type": "application/json"})
    assert reply.status_code == 422, reply.text  # the fixed contract: malformed → 422
    assert set(reply.json()) <= {"error", "field"} and "\n" not in reply.text


@pytest.mark.parametrize("body,field", [
    ({"model": "bt"}, None),
    ({"model": "bt", "items": ["item_00"], "responses": ["x"]}, None),
    ({"model": "bt", "items": "item_00"}, "items"),
    ({"model": "bt", "items": ["item_00"], "colour": "red"}, "colour"),
    ({"model": 3, "items": ["item_00"]}, "model"),
])
def test_bad_score_requests_name_the_field(server, body, field):
    with server.client() as client:
        reply = client.post("/v1/score", json=body)
    assert reply.status_code == 422
    assert reply.json().get("field") == field


def test_bad_pair_names_its_index(server):
    with server.client() as client:
        reply = client.post("/v1/compare", json={"model": "bt", "pairs": [
            {"a": "item_00", "b": "item_01"}, {"a": "item_00"}]})
    assert reply.status_code == 422 and reply.json()["field"] == "pairs[1].b"


def test_user_id_for_a_model_without_users_is_422(server):
    with server.client() as client:
        reply = client.post("/v1/compare", json={"model": "bt", "user_id": "u1", "pairs": [
            {"a": "item_00", "b": "item_01"}]})
    assert reply.status_code == 422 and reply.json()["field"] == "user_id"


def test_server_log_holds_no_texts_or_tokens(server):
    secret_text = "a-very-private-response-7f3a"
    with server.client() as client:
        client.post("/v1/score", json={"model": "rm", "responses": [secret_text]})
        client.get("/v1/models", headers={"Authorization": "Bearer leaked-token-9c1"})
    log = server.log.read_text(errors="replace")
    assert secret_text not in log and server.token not in log and "leaked-token-9c1" not in log
