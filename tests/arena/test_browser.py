"""The pages in a real headless Chromium (Playwright): a vote cast with the keyboard lands in
the store and moves the leaderboard; the leaderboard page renders one row per item, sorts, is
not blank, and no page logs a console error; hostile text never runs."""

from __future__ import annotations

import io
import time

import httpx
import pytest
from arena_helpers import HOSTILE, Arena

sync_api = pytest.importorskip("playwright.sync_api")

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def board_after(url: str, vote_id: int, timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        board = httpx.get(f"{url}/api/leaderboard").json()
        if board["last_vote_id"] >= vote_id or time.monotonic() > deadline:
            return board
        time.sleep(0.05)


def gap(board: dict, a: str, b: str) -> float:
    rating = {r["name"]: r["rating"] for r in board["items"]}
    return rating.get(a, 0.0) - rating.get(b, 0.0)


def test_keyboard_votes_land_in_the_store_and_move_the_leaderboard(
        arena_server: Arena, chromium_path: str) -> None:
    url, store = arena_server.url, arena_server.store
    token = store.add_annotator("carol")
    carol = store.annotator_for_token(token)
    errors: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, args=ARGS)
        page = browser.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("dialog", lambda d: (errors.append(f"dialog {d.message}"), d.dismiss()))
        page.goto(f"{url}/signin#token={token}")
        page.wait_for_url(f"{url}/vote")
        assert page.locator("#annotator").inner_text() == "carol"

        # 1. press A: the vote is stored, the board moves towards A
        task_id = int(page.locator("#task").get_attribute("data-task-id"))
        task = store.task(task_id)
        before = board_after(url, store.last_vote_id())
        rating = page.locator("select[data-rating='b.helpfulness']")
        rating.select_option("2")
        rating.press("a")  # a key on a focused rating is not a vote
        rating.blur()
        with page.expect_navigation():
            page.keyboard.press("a")
        votes = store.export_records(include_skips=True)
        mine = [v for v in votes if v["annotator_id"] == "carol"]
        assert [(v["meta"]["task_id"], v["winner"]) for v in mine] == [(task_id, "a")]
        assert mine[0]["meta"]["ratings"] == {"b.helpfulness": 2.0}
        after = board_after(url, store.last_vote_id())
        assert after["votes"] == before["votes"] + 1
        assert gap(after, task["a"], task["b"]) > gap(before, task["a"], task["b"])

        # 2. a hostile rationale, then T (keys typed into the rationale do not vote)
        second = int(page.locator("#task").get_attribute("data-task-id"))
        assert second != task_id
        page.locator("#rationale").fill(HOSTILE + " abts")
        page.locator("#rationale").press("t")  # typing, not a vote
        assert store.recent_votes(carol.id, 10)[0]["task_id"] == task_id
        page.locator("#rationale").blur()
        with page.expect_navigation():
            page.keyboard.press("T")
        latest = store.recent_votes(carol.id, 1)[0]
        assert (latest["task_id"], latest["winner"]) == (second, "tie")
        assert latest["rationale"] == HOSTILE + " abtst"
        assert HOSTILE in page.locator("#recent").inner_text()  # shown as text
        assert page.evaluate("window.__pwned === undefined")

        # 3. the leaderboard page
        page.goto(f"{url}/leaderboard")
        board = httpx.get(f"{url}/api/leaderboard").json()
        rows = page.locator("#board tbody tr")
        assert rows.count() == len(board["items"]) >= 2
        names = [r["name"] for r in board["items"]]
        page.locator("#board th", has_text="name").click()
        shown = page.locator("#board tbody tr td:nth-child(2)").all_inner_texts()
        assert shown == sorted(names, key=str.lower)
        page.locator("#board th", has_text="votes").click()  # ascending, then descending
        page.locator("#board th", has_text="votes").click()
        counts = [int(v.replace(",", "")) for v in
                  page.locator("#board tbody tr td:nth-child(7)").all_inner_texts()]
        assert counts == sorted(counts, reverse=True)
        figures = page.locator("#live-board figure")
        assert figures.count() == 3  # interval plot, win fractions, battle counts
        assert figures.nth(0).locator("circle").count() == len(names)
        assert figures.nth(1).locator("rect").count() > 0
        assert figures.nth(2).locator("rect").count() > 0
        shot = page.screenshot(full_page=True)
        browser.close()
    assert not errors, errors
    from PIL import Image

    image = Image.open(io.BytesIO(shot)).convert("L")
    low, high = image.getextrema()
    assert high - low > 100 and sum(1 for c in image.histogram() if c) > 20  # not blank
