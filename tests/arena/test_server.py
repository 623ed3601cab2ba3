"""The arena server as a real process on 127.0.0.1: authentication, bad input (a clear 4xx and
nothing stored), hostile text escaped on every page, and the live leaderboard moving."""

from __future__ import annotations

import time

import httpx
from arena_helpers import HOSTILE, Arena

PAGES = ("/vote", "/leaderboard", "/signin")


def bearer(arena: Arena, name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {arena.tokens[name]}"}


def test_bad_requests_get_a_clear_4xx_and_store_nothing(arena_server: Arena) -> None:
    url, store = arena_server.url, arena_server.store
    before = store.status()["votes"]
    task = httpx.get(f"{url}/api/next", headers=bearer(arena_server, "bob")).json()["task"]
    ok = {"task_id": task["id"], "winner": "b", "rationale": HOSTILE}
    cases = [
        ({}, ok, 401),  # no token
        ({"Authorization": "Bearer not-a-token"}, ok, 401),
        ({"Authorization": "Basic Ym9iOmJvYg=="}, ok, 401),
        (bearer(arena_server, "bob"), {"task_id": 10_000, "winner": "a"}, 404),
        (bearer(arena_server, "bob"), {"task_id": task["id"], "winner": "A+"}, 422),
        (bearer(arena_server, "bob"), {"task_id": task["id"], "winner": "a", "x": 1}, 422),
        (bearer(arena_server, "bob"), {"task_id": task["id"], "winner": "a",
                                       "rationale": "r" * 6000}, 413),
        (bearer(arena_server, "bob"), {"task_id": task["id"], "winner": "a",
                                       "ratings": {"help": "lots"}}, 422),
    ]
    for headers, body, status in cases:
        response = httpx.post(f"{url}/api/vote", headers=headers, json=body)
        assert response.status_code == status, (body, response.text)
        assert response.json()["error"]  # one readable message
    response = httpx.post(f"{url}/api/vote", headers=bearer(arena_server, "bob"),
                          content=b"{not json", )
    assert response.status_code == 422
    huge = httpx.post(f"{url}/api/vote", headers=bearer(arena_server, "bob"),
                      content=b"x" * 100_000)
    assert huge.status_code == 413
    assert store.status()["votes"] == before  # nothing stored
    first = httpx.post(f"{url}/api/vote", headers=bearer(arena_server, "bob"), json=ok)
    assert first.status_code == 201, first.text
    again = httpx.post(f"{url}/api/vote", headers=bearer(arena_server, "bob"), json=ok)
    assert again.status_code == 409 and "already voted" in again.json()["error"]
    assert store.status()["votes"] == before + 1


def test_cookie_sign_in_and_cross_origin_refusal(arena_server: Arena) -> None:
    url = arena_server.url
    token = arena_server.store.add_annotator("dana")
    with httpx.Client(base_url=url) as client:
        assert client.post("/api/signin", json={"token": "nope"}).status_code == 401
        assert client.get("/vote").status_code == 401  # a sign-in page, not a task
        signed = client.post("/api/signin", json={"token": token})
        assert signed.status_code == 200 and signed.json() == {"annotator": "dana"}
        cookie = signed.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        page = client.get("/vote")
        assert page.status_code == 200 and 'id="task"' in page.text
        task_id = client.get("/api/next").json()["task"]["id"]
        evil = client.post("/api/vote", json={"task_id": task_id, "winner": "a"},
                           headers={"Origin": "http://evil.example"})
        assert evil.status_code == 403
        assert arena_server.store.status()["votes_by_annotator"]["dana"] == 0


def test_hostile_text_is_escaped_on_every_page(arena_server: Arena) -> None:
    url = arena_server.url
    headers = bearer(arena_server, "ann")
    # vote on the task whose prompt is hostile, with a hostile rationale
    response = httpx.post(f"{url}/api/vote", headers=headers,
                          json={"task_id": 1, "winner": "a", "rationale": HOSTILE})
    assert response.status_code in (201, 409)
    for path in PAGES:
        page = httpx.get(f"{url}{path}", headers=headers)
        assert "<script>window" not in page.text and "<img src=x" not in page.text, path
        assert "eps<script>" not in page.text, path  # the hostile model name
        assert "default-src 'self'" in page.headers["content-security-policy"]
    vote_page = httpx.get(f"{url}/vote", headers=headers).text
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in vote_page  # the rationale
    # the board is refitted in the background: wait until a snapshot with items is published,
    # then read the page (snapshots only move forward, so the page has those items too)
    deadline = time.monotonic() + 30
    while not (items := httpx.get(f"{url}/api/leaderboard").json()["items"]):
        assert time.monotonic() < deadline, "the live leaderboard never published the vote"
        time.sleep(0.2)
    board = httpx.get(f"{url}/leaderboard").text
    if any(item["name"] == "eps<script>" for item in items):  # the hostile model has votes
        assert "eps&lt;script&gt;" in board  # shown, as text


def test_votes_move_the_live_leaderboard_without_waiting_for_it(arena_server: Arena) -> None:
    url, headers = arena_server.url, bearer(arena_server, "ann")
    start = httpx.get(f"{url}/api/leaderboard").json()
    votes = 0
    latencies = []
    while votes < 6:
        task = httpx.get(f"{url}/api/next", headers=headers).json()["task"]
        t0 = time.perf_counter()
        response = httpx.post(f"{url}/api/vote", headers=headers,
                              json={"task_id": task["id"], "winner": "a"})
        latencies.append(time.perf_counter() - t0)
        assert response.status_code == 201
        votes += 1
    last = arena_server.store.last_vote_id()
    deadline = time.monotonic() + 10
    board = start
    while board["last_vote_id"] < last and time.monotonic() < deadline:
        time.sleep(0.05)
        board = httpx.get(f"{url}/api/leaderboard").json()
    assert board["last_vote_id"] == last and board["votes"] >= start["votes"] + 6
    assert board["refits"] > start["refits"]
    assert sum(r["votes"] for r in board["items"]) == 2 * board["votes"]
    assert len(board["items"]) >= 2 and all(r["ci_low"] < r["rating"] < r["ci_high"]
                                            for r in board["items"])
    status = httpx.get(f"{url}/api/status").json()
    assert "votes_by_annotator" not in status  # names stay private
    assert max(latencies) < 2.0
