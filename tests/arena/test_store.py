"""The vote store on SQLite and on a real PostgreSQL server: migrations, the one-vote rule
(enforced by the database), what an annotator sees, exports, and the live board's parity with a
batch fit of the export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from arena_helpers import TRUTH, new_store, task_records, tasks_dataset

from prefkit.arena.live import LiveBoard
from prefkit.arena.soak import compare_with_batch
from prefkit.arena.store import ArenaError, ArenaStore, VoteRejected
from prefkit.data import PreferenceDataset, read


def test_init_migrates_and_every_other_use_needs_it(store_url: str) -> None:
    from alembic.script import ScriptDirectory

    from prefkit.arena.store import MIGRATIONS, SCHEMA_HEAD

    assert ScriptDirectory(str(MIGRATIONS)).get_current_head() == SCHEMA_HEAD
    with pytest.raises(ArenaError, match="prefkit arena init"):
        ArenaStore(store_url)  # never initialised
    fresh = ArenaStore(store_url, require_schema=False)
    assert fresh.migrate() == (None, "0001")
    assert fresh.migrate() == ("0001", "0001")  # idempotent
    fresh.close()
    store = ArenaStore(store_url)  # now it opens
    assert store.status()["tasks"] == 0
    from sqlalchemy import inspect

    tables = set(inspect(store.engine).get_table_names())
    assert {"arena_tasks", "arena_annotators", "arena_votes", "alembic_version"} <= tables
    store.close()


def test_votes_are_checked_and_each_annotator_votes_once(store_url: str) -> None:
    store = new_store(store_url)
    assert store.add_tasks(tasks_dataset(6)) == 6
    token = store.add_annotator("ann")
    ann = store.annotator_for_token(token)
    assert ann is not None and ann.name == "ann"
    assert store.annotator_for_token(token + "x") is None
    assert store.annotator_for_token("") is None
    with pytest.raises(ArenaError, match="already exists"):
        store.add_annotator("ann")
    vote = store.cast_vote(ann.id, 1, "a", rationale="<script>x</script>",
                           ratings={"helpfulness": 4, "safety": 5.0})
    assert vote == 1
    bad = [((1, "b"), 409), ((999, "a"), 404), ((2, "left"), 422), (("2", "a"), 422),
           ((True, "a"), 422)]
    for (task, winner), status in bad:
        with pytest.raises(VoteRejected) as err:
            store.cast_vote(ann.id, task, winner)
        assert err.value.status == status, (task, winner)
    for kwargs, status in [({"rationale": "x" * 5001}, 413), ({"rationale": 5}, 422),
                           ({"ratings": {"h": "good"}}, 422), ({"ratings": [1]}, 422),
                           ({"ratings": {"h": float("nan")}}, 422)]:
        with pytest.raises(VoteRejected) as err:
            store.cast_vote(ann.id, 2, "a", **kwargs)
        assert err.value.status == status, kwargs
    info = store.status()
    assert info["votes"] == 1 and info["votes_by_winner"]["a"] == 1  # nothing else stored
    rec = store.export_records()[0]
    assert rec["rationale"] == "<script>x</script>"  # stored as typed; escaped when shown
    assert rec["meta"]["ratings"] == {"helpfulness": 4.0, "safety": 5.0}
    store.close()


def test_the_database_itself_refuses_a_second_vote(store_url: str) -> None:
    """Not only the application's check: an INSERT past it violates the unique constraint."""
    from sqlalchemy import insert
    from sqlalchemy.exc import IntegrityError

    from prefkit.arena.models import Vote, utcnow

    store = new_store(store_url)
    store.add_tasks(tasks_dataset(2))
    ann = store.annotator_for_token(store.add_annotator("ann"))
    store.cast_vote(ann.id, 1, "tie")
    with pytest.raises(IntegrityError), store.engine.begin() as conn:
        conn.execute(insert(Vote).values(task_id=1, annotator_id=ann.id, winner="a",
                                         created_at=utcnow()))
    with pytest.raises(IntegrityError), store.engine.begin() as conn:
        conn.execute(insert(Vote).values(task_id=2, annotator_id=ann.id, winner="maybe",
                                         created_at=utcnow()))
    assert store.status()["votes"] == 1
    store.close()


def test_an_annotator_sees_each_task_once_and_tokens_are_not_stored(store_url: str) -> None:
    store = new_store(store_url)
    store.add_tasks(tasks_dataset(12))
    token = store.add_annotator("ann")
    ann = store.annotator_for_token(token)
    other = store.annotator_for_token(store.add_annotator("bob"))
    seen = []
    while (task := store.next_task(ann.id)) is not None:
        assert store.next_task(ann.id)["id"] == task["id"]  # a reload shows the same task
        seen.append(task["id"])
        store.cast_vote(ann.id, task["id"], "skip" if len(seen) % 4 == 0 else "a")
    assert sorted(seen) == list(range(1, 13))  # every task once, none twice
    assert store.next_task(other.id) is not None  # others still have work
    with store.engine.connect() as conn:
        hashes = [r[0] for r in conn.exec_driver_sql("SELECT token_sha256 FROM arena_annotators")]
    assert token not in hashes and all(len(h) == 64 for h in hashes)
    assert len(store.export_records()) == 9  # 3 skips are not comparisons
    assert len(store.export_records(include_skips=True)) == 12
    store.close()


def test_export_round_trips_and_the_live_board_equals_a_batch_fit(store_url: str,
                                                                  tmp_path: Path) -> None:
    store = new_store(store_url)
    store.add_tasks(tasks_dataset(60, seed=1))
    names = ["ann", "bob", "cyd"]
    refs = [store.annotator_for_token(store.add_annotator(n)) for n in names]
    rng = np.random.default_rng(3)
    board = LiveBoard(store, rule="arena")
    for round_ in range(2):  # two refits: the second one warm-starts from the first
        for ref in refs:
            for _ in range(6):
                task = store.next_task(ref.id, board.choose)
                p = 1 / (1 + np.exp(TRUTH[task["b"]] - TRUTH[task["a"]]))
                winner = "tie" if rng.random() < 0.1 else ("a" if rng.random() < p else "b")
                store.cast_vote(ref.id, task["id"], winner)
        assert board.refresh()
        assert board.snapshot.votes == 18 * (round_ + 1)
    assert not board.refresh()  # no new vote: no refit
    exported = store.export_dataset()
    assert len(exported) == 36 and set(exported.column("annotator_id")) == set(names)
    assert compare_with_batch(board.snapshot.rows, exported) < 1e-6
    for suffix in ("jsonl", "parquet"):
        exported.write(str(tmp_path / f"votes.{suffix}"))
        back = read(str(tmp_path / f"votes.{suffix}"))
        assert back.kind == "pairwise" and len(back) == 36
        assert back.to_records() == exported.to_records()
    store.close()


def test_tasks_from_rankings_and_bad_task_files(sqlite_url: str) -> None:
    store = new_store(sqlite_url)
    ranking = PreferenceDataset.from_records([{"ranking": ["x", "y", "z"], "prompt": "p"}])
    assert store.add_tasks(ranking) == 3  # the pairs of the ranking
    assert store.item_names() == ["x", "y", "z"]
    long_name = task_records(1)[0] | {"a": "m" * 201}
    with pytest.raises(Exception, match="at most 200"):
        store.add_tasks(PreferenceDataset.from_records([long_name], name="t.jsonl"))
    assert store.status()["tasks"] == 3  # all or nothing
    store.close()


def test_the_live_board_picks_up_votes_committed_out_of_id_order(store_url: str) -> None:
    """PostgreSQL commits sequence ids out of order: a vote with a smaller id can appear after
    the board has read a larger one, within the look-back window or far behind it."""
    from sqlalchemy import insert

    from prefkit.arena.models import Vote, utcnow

    store = new_store(store_url)
    store.add_tasks(tasks_dataset(4))
    refs = [store.annotator_for_token(store.add_annotator(n)) for n in ("ann", "bob", "cyd")]
    board = LiveBoard(store, rule="uniform")

    def vote(vote_id: int, task: int, who: int) -> None:
        with store.engine.begin() as conn:
            conn.execute(insert(Vote).values(id=vote_id, task_id=task, winner="a",
                                             annotator_id=refs[who].id, created_at=utcnow()))

    vote(5000, 1, 0)
    assert board.refresh() and board.snapshot.votes == 1
    vote(4990, 2, 0)  # inside the look-back window
    vote(7, 3, 0)  # far behind it: found by the count check
    assert board.refresh() and board.snapshot.votes == 3
    vote(6, 1, 1)
    assert board.refresh() and board.snapshot.votes == 4
    assert not board.refresh()
    assert compare_with_batch(board.snapshot.rows, store.export_dataset()) < 1e-6
    store.close()
