"""Fixtures of the arena tests: stores on SQLite and on a real PostgreSQL server, and a real
``prefkit arena serve`` process on 127.0.0.1 (started once per session)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy")
pytest.importorskip("alembic")
pytest.importorskip("fastapi")

from arena_helpers import Arena, free_port, new_store, tasks_dataset

from prefkit.arena.soak import ArenaProcess


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'arena.db'}"


@pytest.fixture
def pg_schema_url(postgres_url: str) -> Iterator[str]:
    """``postgres_url`` confined to a fresh schema (dropped afterwards, with all it holds)."""
    sqlalchemy = pytest.importorskip("sqlalchemy")
    pytest.importorskip("psycopg")
    schema = f"arena_test_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(postgres_url)
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    except sqlalchemy.exc.OperationalError as err:
        admin.dispose()
        reason = f"PostgreSQL at {postgres_url} does not answer: {err.orig}"
        if os.environ.get("PREFKIT_CI") == "1":  # as tests/conftest.py's needs_component
            pytest.fail(f"CI must provide this component: {reason}")
        pytest.skip(reason)
    sep = "&" if "?" in postgres_url else "?"
    try:
        yield f"{postgres_url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'arena.db'}"
    return request.getfixturevalue("pg_schema_url")


@pytest.fixture(scope="session")
def arena_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Arena]:
    """A real arena server on a SQLite store with 60 tasks and two annotators."""
    folder = tmp_path_factory.mktemp("arena")
    url = f"sqlite:///{folder / 'arena.db'}"
    store = new_store(url)
    store.add_tasks(tasks_dataset(60), source="tasks.jsonl")
    tokens = {name: store.add_annotator(name) for name in ("ann", "bob")}
    log = folder / "server.log"
    process = ArenaProcess(url, free_port(), log, refit_interval=0.1,
                           extra=["--attribute", "helpfulness"])
    process.start()
    try:
        yield Arena(process.url, url, store, tokens, process, log)
    finally:
        process.stop()
        store.close()
        if os.environ.get("PREFKIT_ARENA_SHOW_LOG"):
            print(log.read_text(errors="replace"))
