"""Soak an arena on loopback: concurrent annotators, a refitting leaderboard, a SIGKILL mid-way.

    .venv/bin/python benchmarks/arena_soak.py                      # 20 annotators, 10,000 votes
    .venv/bin/python benchmarks/arena_soak.py --store postgresql+psycopg://u:p@127.0.0.1/db

Starts ``prefkit arena serve`` (a real process, refit every 0.2 s) on a fresh store with
``--tasks`` tasks over ``--models`` simulated models, lets ``--annotators`` threads cast
``--votes`` votes in total (Bradley–Terry truth, 10 % ties), SIGKILLs the server at each
``--kill-at`` count and restarts it, then checks (prefkit.arena.soak): the store holds exactly
the acknowledged votes (none lost, none unacknowledged, no duplicates), and the live leaderboard
equals a batch fit of the exported votes (largest rating/interval difference).  Also times the
live (warm-started) refit against a cold batch fit of the same votes (medians of 5).
A PostgreSQL store is created in a fresh schema that is dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import numpy as np

from prefkit.arena.live import fit_board
from prefkit.arena.soak import ArenaProcess, check_store, compare_with_batch, run_soak
from prefkit.arena.store import ArenaStore
from prefkit.data import PreferenceDataset


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def postgres_schema(url: str) -> tuple[str, str]:
    import sqlalchemy

    schema = f"arena_soak_{uuid.uuid4().hex[:10]}"
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    engine.dispose()
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}", schema


def drop_schema(url: str, schema: str) -> None:
    import sqlalchemy

    engine = sqlalchemy.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default=None, help="SQLAlchemy URL (default: a temp SQLite)")
    parser.add_argument("--annotators", type=int, default=20)
    parser.add_argument("--votes", type=int, default=10_000, help="votes in total")
    parser.add_argument("--tasks", type=int, default=600)
    parser.add_argument("--models", type=int, default=8)
    parser.add_argument("--kill-at", type=int, nargs="*", default=None,
                        help="acknowledged counts at which to SIGKILL (default: half-way)")
    parser.add_argument("--rule", default="arena")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    votes_each = args.votes // args.annotators
    if votes_each > args.tasks:
        sys.exit("--tasks must be at least votes per annotator")
    kill_at = [args.votes // 2] if args.kill_at is None else args.kill_at

    folder = Path(tempfile.mkdtemp(prefix="arena_soak_"))
    base_url, schema = args.store, None
    if base_url is None:
        url = f"sqlite:///{folder / 'arena.db'}"
    elif base_url.startswith("postgresql"):
        url, schema = postgres_schema(base_url)
    else:
        url = base_url
    rng = np.random.default_rng(args.seed)
    truth = {f"model-{k}": float(v) for k, v in enumerate(rng.normal(0, 0.8, args.models))}
    names = list(truth)
    records = []
    for k in range(args.tasks):
        i, j = rng.choice(len(names), 2, replace=False)
        records.append({"id": f"t{k}", "prompt": f"prompt {k}", "a": names[i], "b": names[j],
                        "a_text": f"{names[i]} answers {k}", "b_text": f"{names[j]} answers {k}",
                        "winner": "a"})
    store = ArenaStore(url, require_schema=False)
    store.migrate()
    store.add_tasks(PreferenceDataset.from_records(records))
    tokens = {f"annotator-{k:02d}": store.add_annotator(f"annotator-{k:02d}")
              for k in range(args.annotators)}
    process = ArenaProcess(url, free_port(), folder / "server.log", rule=args.rule,
                           refit_interval=0.2)
    process.start()
    try:
        def kill_and_restart() -> None:
            process.kill()
            process.start()

        result = run_soak(process.url, tokens, votes_each, truth, kill_at=kill_at,
                          on_kill=kill_and_restart, seed=args.seed, deadline_s=1800)
        check = check_store(store, result)
        exported = store.export_dataset()
        deadline = time.monotonic() + 60
        while (board := httpx.get(f"{process.url}/api/leaderboard").json())[
                "votes"] < len(exported) and time.monotonic() < deadline:
            time.sleep(0.1)
        worst = compare_with_batch(board["items"], exported)
        a = [str(x) for x in exported.column("a")]
        b = [str(x) for x in exported.column("b")]
        w = [str(x) for x in exported.column("winner")]
        cut = int(len(a) * 0.99)  # a refit after 1 % new votes, warm vs cold
        _, previous = fit_board(a[:cut], b[:cut], w[:cut])
        warm, cold = [], []
        for _ in range(5):
            t0 = time.perf_counter()
            fit_board(a, b, w, previous=previous)
            warm.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            fit_board(a, b, w)
            cold.append(time.perf_counter() - t0)
    finally:
        process.stop()
        store.close()
        if schema is not None:
            drop_schema(base_url, schema)
    report = {
        "store": "postgresql" if schema else url.split(":")[0], "annotators": args.annotators,
        "votes_target": votes_each * args.annotators, "tasks": args.tasks,
        "models": args.models, "rule": args.rule, **result.summary(), "check": check,
        "board_refits": board["refits"], "board_votes": board["votes"],
        "max_abs_diff_vs_batch_fit": worst,
        "server_start_s": [round(s, 2) for s in process.starts],
        "refit_warm_median_s": round(statistics.median(warm), 4),
        "fit_cold_median_s": round(statistics.median(cold), 4),
        "cold_over_warm": round(statistics.median(cold) / statistics.median(warm), 2),
    }
    print(json.dumps(report, indent=2))
    ok = (check["lost"] == check["unacknowledged"] == check["duplicates"] == check["changed"]
          == 0 and not result.errors and worst < 1e-6)
    print("OK" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
