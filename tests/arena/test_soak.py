"""A scaled-down soak (benchmarks/arena_soak.py runs the full one): 8 concurrent annotators
cast 30 votes each while the leaderboard refits, and the server is SIGKILLed mid-way and
restarted.  Afterwards the store holds exactly the acknowledged votes (none lost, none extra,
no duplicates) and the live leaderboard equals a batch fit of the exported votes."""

from __future__ import annotations

import time

import httpx
from arena_helpers import TRUTH, Arena

from prefkit.arena.soak import check_store, compare_with_batch, run_soak

ANNOTATORS, VOTES_EACH = 8, 30


def test_soak_with_a_kill_loses_no_acknowledged_vote(arena_server: Arena) -> None:
    store, process = arena_server.store, arena_server.process
    tokens = {f"soak{k}": store.add_annotator(f"soak{k}") for k in range(ANNOTATORS)}

    def kill_and_restart() -> None:
        process.kill()
        process.start()

    total = ANNOTATORS * VOTES_EACH
    result = run_soak(arena_server.url, tokens, VOTES_EACH, TRUTH, kill_at=[total // 2],
                      on_kill=kill_and_restart, seed=7, deadline_s=120)
    assert result.errors == [] and result.kills == 1
    check = check_store(store, result, annotators=set(tokens))
    assert check == {"stored": total, "acknowledged": total, "lost": 0, "unacknowledged": 0,
                     "changed": 0, "duplicates": 0}, (check, result.summary())
    exported = store.export_dataset()
    deadline = time.monotonic() + 20
    while (board := httpx.get(f"{arena_server.url}/api/leaderboard").json())[
            "votes"] < len(exported) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert board["votes"] == len(exported)
    assert compare_with_batch(board["items"], exported) < 1e-6
