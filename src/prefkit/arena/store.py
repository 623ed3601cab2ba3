"""The vote store: tasks, annotators and votes in any SQLAlchemy database.

``ArenaStore(url)`` opens a store; ``sqlite:///arena.db`` (the default of ``prefkit arena``) is a
file in the working directory, opened in WAL mode (readers never wait for the writer; a process
killed mid-write loses nothing that was committed), ``postgresql+psycopg://user:pw@host/db``
a PostgreSQL server.  :meth:`ArenaStore.migrate` brings the schema to the newest Alembic revision
shipped in ``prefkit/arena/migrations`` (``prefkit arena init``); every other operation first
checks that the schema is at that revision.

Votes: :meth:`ArenaStore.cast_vote` inserts one row in one transaction and returns only after the
commit — an acknowledged vote is on disk (SQLite: in the WAL, which survives SIGKILL of the
server; PostgreSQL: committed).  A second vote of an annotator on a task violates
``UNIQUE (task_id, annotator_id)`` and is refused by the database itself (409), so even several
servers on one store cannot double-count.  Tokens: ``secrets.token_urlsafe(24)`` (192 random
bits), stored as SHA-256 (a fast hash is enough for a random secret of that length: there is
nothing to guess from a dictionary), looked up by hash and confirmed with
:func:`hmac.compare_digest`.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timezone
from pathlib import Path
from typing import Any

from prefkit.errors import DataError, PrefkitError

#: ``--store`` default: a SQLite file in the working directory
DEFAULT_STORE = "sqlite:///arena.db"
#: longest rationale accepted (characters)
MAX_RATIONALE = 5000
#: most per-attribute ratings on one vote, longest attribute name
MAX_RATINGS, MAX_ATTRIBUTE = 32, 64
#: tasks sampled per "next task" query, among which the selection rule picks one
CANDIDATES = 256
MIGRATIONS = Path(__file__).with_name("migrations")
#: the newest revision in :data:`MIGRATIONS` (a test checks it against Alembic's head)
SCHEMA_HEAD = "0001"
#: how long a known token is remembered (seconds)
AUTH_CACHE_S = 60.0


class ArenaError(PrefkitError):
    """A store that cannot be used as asked (one line for ``error: …``)."""


class VoteRejected(ArenaError):
    """A vote (or request) refused; ``status`` is the HTTP status that says why."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


@dataclass(frozen=True)
class AnnotatorRef:
    id: int
    name: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def redact(url: str) -> str:
    """The URL with its password hidden (for messages)."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # a URL that does not parse is shown as given
        return url


def make_engine(url: str) -> Any:
    """An engine for ``url``: SQLite in WAL mode with a 30 s busy timeout, else as given."""
    from sqlalchemy import create_engine, event
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ArenaError(f"--store {url!r}: not a database URL (e.g. sqlite:///arena.db or "
                         "postgresql+psycopg://user:password@host/db)") from None
    try:
        if parsed.get_backend_name() != "sqlite":
            return create_engine(parsed, pool_pre_ping=True, pool_size=10, max_overflow=20)
        database = parsed.database or ""
        if database and database != ":memory:":
            folder = Path(database).expanduser().resolve().parent
            if not folder.is_dir():
                raise ArenaError(f"--store {url}: folder {folder} does not exist")
        engine = create_engine(parsed, pool_size=20, max_overflow=20,
                               connect_args={"timeout": 30, "check_same_thread": False})
    except NoSuchModuleError:
        raise ArenaError(f"--store {redact(url)}: no SQLAlchemy driver for this URL") from None
    except ModuleNotFoundError as err:
        raise ArenaError(f"--store {redact(url)}: the database driver {err.name!r} is not "
                         "installed (PostgreSQL: pip install 'prefkit[postgres]')") from None

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # transactions are begun below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across crashes
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(conn: Any) -> None:
        # a write transaction takes the write lock at once (BEGIN IMMEDIATE), so it waits for
        # another writer (busy_timeout) instead of failing when it upgrades from a read
        immediate = conn.get_execution_options().get("arena_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _check_ratings(ratings: Any) -> dict[str, float] | None:
    if ratings is None:
        return None
    if not isinstance(ratings, dict):
        raise VoteRejected(422, "ratings must be an object of attribute → number", "ratings")
    if len(ratings) > MAX_RATINGS:
        raise VoteRejected(422, f"at most {MAX_RATINGS} ratings per vote", "ratings")
    out = {}
    for key, value in ratings.items():
        if not isinstance(key, str) or not key.strip() or len(key) > MAX_ATTRIBUTE:
            raise VoteRejected(422, f"rating names are 1–{MAX_ATTRIBUTE} characters", "ratings")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(
                value):
            raise VoteRejected(422, f"rating {key!r}: expected a finite number", "ratings")
        out[key] = float(value)
    return out or None


def _clean(value: Any) -> str | None:
    """A task's text as stored: None when blank; a NUL character (which PostgreSQL cannot
    store) becomes U+FFFD on every backend."""
    if value is None:
        return None
    text = str(value).replace("\x00", "\ufffd")
    return text if text.strip() else None


class ArenaStore:
    """One arena's tasks, annotators and votes (see the module docstring)."""

    def __init__(self, url: str = DEFAULT_STORE, *, require_schema: bool = True) -> None:
        self.url = url
        #: records the last :meth:`add_tasks` skipped as duplicates of a task
        self.skipped_duplicates = 0
        self.engine = make_engine(url)
        self._auth_cache: dict[str, tuple[AnnotatorRef, float]] = {}
        database = self.engine.url.database if self.engine.dialect.name == "sqlite" else None
        if require_schema and database and database != ":memory:" and not Path(
                database).expanduser().exists():  # connecting would create an empty file
            raise ArenaError(f"--store {url}: no such file; create the store with "
                             f"'prefkit arena init --store {url}'")
        if require_schema:
            self.check_schema()

    # ------------------------------------------------------------------ schema
    def _alembic_config(self, connection: Any) -> Any:
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        return config

    def head(self) -> str:
        """The newest schema revision this prefkit knows (:data:`SCHEMA_HEAD`)."""
        return SCHEMA_HEAD

    def revision(self) -> str | None:
        """The schema revision of the database (None: never initialised).

        Read from Alembic's ``alembic_version`` table directly: opening a store (``serve``,
        ``export``) does not import Alembic.
        """
        from sqlalchemy import inspect, text

        with self._connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
        return None if row is None else str(row[0])

    def migrate(self) -> tuple[str | None, str]:
        """``alembic upgrade head`` on this store: (revision before, revision after)."""
        from alembic import command

        before = self.revision()
        with self._connect() as conn, conn.begin():
            command.upgrade(self._alembic_config(conn), "head")
        after = self.revision()
        if after != SCHEMA_HEAD:  # a migration file newer than this prefkit knows
            raise ArenaError(f"--store {redact(self.url)}: migrated to {after}, expected "
                             f"{SCHEMA_HEAD}")
        return before, after

    def check_schema(self) -> None:
        current, head = self.revision(), self.head()
        if current is None:
            raise ArenaError(f"--store {redact(self.url)}: not an arena store yet; run "
                             f"'prefkit arena init --store {redact(self.url)}' first")
        if current != head:
            raise ArenaError(f"--store {redact(self.url)}: schema revision {current}, prefkit "
                             f"needs {head}; run 'prefkit arena init' to migrate it")

    @contextmanager
    def _connect(self) -> Any:
        from sqlalchemy.exc import DatabaseError, OperationalError

        try:
            with self.engine.connect() as conn:
                yield conn
        except DatabaseError as err:
            # the server or file is unusable: OperationalError, or the bare DatabaseError of a
            # file that is not an SQLite database (integrity errors and the like go on up)
            if not isinstance(err, OperationalError) and type(err) is not DatabaseError:
                raise
            reason = " ".join(str(err.orig).split())[:300]
            raise ArenaError(f"--store {redact(self.url)}: {reason}") from None

    @contextmanager
    def _write(self) -> Any:
        """A write transaction (SQLite: BEGIN IMMEDIATE), committed on exit."""
        with self._connect() as conn:
            conn = conn.execution_options(arena_write=True)
            with conn.begin():
                yield conn

    def close(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------------ tasks
    def add_tasks(self, dataset: Any, *, source: str | None = None,
                  progress: Callable[[int], None] | None = None,
                  keep_duplicates: bool = False) -> int:
        """Add one task per pairwise record of ``dataset`` (rankings become their pairs);
        the number added.

        A record whose prompt, items and texts equal those of a task already in the store or of
        an earlier record is skipped (a file with several annotators' labels per pair, or the
        same file added twice, would otherwise show each pair several times), unless
        ``keep_duplicates``; :attr:`skipped_duplicates` counts them.
        """
        from sqlalchemy import insert, select

        from prefkit.arena.models import Task, utcnow

        if dataset.kind == "ranking":
            dataset = dataset.to_pairs()
        if dataset.kind != "pairwise":
            raise DataError(f"arena tasks come from pairwise (or ranking) data, not "
                            f"{dataset.kind}", source=dataset.name)
        rows = []
        now = utcnow()
        for k, rec in enumerate(dataset.to_records()):
            row = {"ext_id": _clean(rec.get("id")), "prompt": _clean(rec.get("prompt")),
                   "a": _clean(rec.get("a")), "b": _clean(rec.get("b")),
                   "a_text": _clean(rec.get("a_text")), "b_text": _clean(rec.get("b_text")),
                   "source": source, "created_at": now}
            for side in ("a", "b"):
                if row[side] is None and row[f"{side}_text"] is None:
                    raise DataError(f"candidate {side} has neither a name nor a text",
                                    source=dataset.name, row=k, field=side)
                if row[side] is not None and len(row[side]) > 200:
                    raise DataError("item names are at most 200 characters",
                                    source=dataset.name, row=k, field=side)
            if row["ext_id"] is not None:
                row["ext_id"] = row["ext_id"][:200]
            rows.append(row)
        self.skipped_duplicates = 0
        if not keep_duplicates:
            def key(r: Any) -> bytes:
                parts = (r["prompt"], r["a"], r["b"], r["a_text"], r["b_text"])
                return hashlib.sha256(repr(parts).encode()).digest()

            with self._connect() as conn:
                seen = {key(r._mapping) for r in conn.execute(
                    select(Task.prompt, Task.a, Task.b, Task.a_text, Task.b_text))}
            unique = []
            for row in rows:
                k = key(row)
                if k not in seen:
                    seen.add(k)
                    unique.append(row)
            self.skipped_duplicates = len(rows) - len(unique)
            rows = unique
        with self._write() as conn:
            for start in range(0, len(rows), 1000):
                conn.execute(insert(Task), rows[start:start + 1000])
                if progress is not None:
                    progress(len(rows[start:start + 1000]))
        return len(rows)

    def task(self, task_id: int) -> dict[str, Any] | None:
        from sqlalchemy import select

        from prefkit.arena.models import Task

        with self._connect() as conn:
            row = conn.execute(select(Task.id, Task.prompt, Task.a, Task.b, Task.a_text,
                                      Task.b_text).where(Task.id == task_id)).first()
        return None if row is None else dict(row._mapping)

    def item_names(self) -> list[str]:
        """Every item (model) name that appears in a task, sorted."""
        from sqlalchemy import select, union

        from prefkit.arena.models import Task

        query = union(select(Task.a.label("name")).where(Task.a.is_not(None)),
                      select(Task.b.label("name")).where(Task.b.is_not(None)))
        with self._connect() as conn:
            return sorted(r[0] for r in conn.execute(query))

    # ------------------------------------------------------------------ annotators
    def add_annotator(self, name: str) -> str:
        """Register ``name``; return their bearer token (shown once, stored only hashed)."""
        from sqlalchemy import insert
        from sqlalchemy.exc import IntegrityError

        from prefkit.arena.models import Annotator, utcnow

        name = " ".join(str(name).split())
        if not name or len(name) > 200:
            raise ArenaError("an annotator name is 1–200 characters")
        token = secrets.token_urlsafe(24)
        try:
            with self._write() as conn:
                conn.execute(insert(Annotator).values(
                    name=name, token_sha256=hash_token(token), active=True, created_at=utcnow()))
        except IntegrityError:
            raise ArenaError(f"annotator {name!r} already exists") from None
        return token

    def annotator_for_token(self, token: str | None) -> AnnotatorRef | None:
        """The active annotator whose token this is, or None.

        Known tokens are remembered by hash for :data:`AUTH_CACHE_S` seconds (the voting path
        then skips one query per request); an unknown token always asks the database, so an
        annotator added while the server runs can sign in at once.
        """
        from sqlalchemy import select

        from prefkit.arena.models import Annotator

        if not token or len(token) > 200:
            return None
        digest = hash_token(token)
        cached = self._auth_cache.get(digest)
        if cached is not None and time.monotonic() - cached[1] < AUTH_CACHE_S:
            return cached[0]
        with self._connect() as conn:
            row = conn.execute(select(Annotator.id, Annotator.name, Annotator.token_sha256)
                               .where(Annotator.token_sha256 == digest,
                                      Annotator.active.is_(True))).first()
        if row is None or not hmac.compare_digest(row.token_sha256, digest):
            return None
        ref = AnnotatorRef(int(row.id), str(row.name))
        if len(self._auth_cache) > 10_000:
            self._auth_cache.clear()
        self._auth_cache[digest] = (ref, time.monotonic())
        return ref

    # ------------------------------------------------------------------ next task
    def next_task(self, annotator_id: int,
                  choose: Callable[[Sequence[tuple[int, str | None, str | None]]], int] | None
                  = None) -> dict[str, Any] | None:
        """The task to show ``annotator_id`` now: the pending one, else a new one, else None.

        New tasks are those the annotator has no vote on; :data:`CANDIDATES` of them are drawn
        at random and ``choose`` (a selection rule, :mod:`prefkit.arena.choose`) picks one from
        their ``(task id, item a, item b)``; without ``choose`` the first (a uniform draw).
        """
        from sqlalchemy import exists, func, select, update

        from prefkit.arena.models import Annotator, Task, Vote

        voted = exists().where(Vote.task_id == Task.id, Vote.annotator_id == annotator_id)
        columns = (Task.id, Task.prompt, Task.a, Task.b, Task.a_text, Task.b_text)
        with self._connect() as conn:
            pending = conn.execute(
                select(Annotator.pending_task_id).where(Annotator.id == annotator_id)).scalar()
            if pending is not None and not conn.execute(
                    select(Vote.id).where(Vote.task_id == pending,
                                          Vote.annotator_id == annotator_id)).first():
                chosen = int(pending)
            else:
                rows = conn.execute(select(Task.id, Task.a, Task.b).where(~voted)
                                    .order_by(func.random()).limit(CANDIDATES)).all()
                if not rows:
                    return None
                candidates = [(int(r.id), r.a, r.b) for r in rows]
                index = choose(candidates) if choose is not None and len(candidates) > 1 else 0
                chosen = candidates[index][0]
            task = dict(conn.execute(select(*columns).where(Task.id == chosen)).one()._mapping)
        if pending != chosen:
            with self._write() as conn:
                conn.execute(update(Annotator).where(Annotator.id == annotator_id)
                             .values(pending_task_id=chosen))
        return task

    # ------------------------------------------------------------------ votes
    def cast_vote(self, annotator_id: int, task_id: Any, winner: Any, *,
                  rationale: Any = None, ratings: Any = None) -> int:
        """Record one vote and commit it; the new vote's id.  Raises :class:`VoteRejected`:
        404 unknown task, 409 a second vote on the task, 413 a rationale over the limit,
        422 a malformed field."""
        from sqlalchemy import insert, select, update
        from sqlalchemy.exc import IntegrityError

        from prefkit.arena.models import WINNERS, Annotator, Task, Vote, utcnow

        if isinstance(task_id, bool) or not isinstance(task_id, int):
            raise VoteRejected(422, "task_id must be an integer", "task_id")
        if winner not in WINNERS:
            raise VoteRejected(422, f"winner must be one of {', '.join(WINNERS)}", "winner")
        if rationale is not None and not isinstance(rationale, str):
            raise VoteRejected(422, "rationale must be text", "rationale")
        if rationale is not None and len(rationale) > MAX_RATIONALE:
            raise VoteRejected(413, f"rationale longer than {MAX_RATIONALE} characters",
                               "rationale")
        if rationale is not None and "\x00" in rationale:
            raise VoteRejected(422, "rationale contains a NUL character", "rationale")
        clean_ratings = _check_ratings(ratings)
        rationale = rationale if rationale and rationale.strip() else None
        try:
            with self._write() as conn:
                if conn.execute(select(Task.id).where(Task.id == task_id)).first() is None:
                    raise VoteRejected(404, f"unknown task {task_id}", "task_id")
                vote_id = conn.execute(insert(Vote).values(
                    task_id=task_id, annotator_id=annotator_id, winner=winner,
                    rationale=rationale, ratings=clean_ratings, created_at=utcnow())
                    .returning(Vote.id)).scalar_one()
                conn.execute(update(Annotator).where(Annotator.id == annotator_id,
                                                     Annotator.pending_task_id == task_id)
                             .values(pending_task_id=None))
        except IntegrityError:
            raise VoteRejected(409, f"you have already voted on task {task_id}",
                               "task_id") from None
        return int(vote_id)

    def recent_votes(self, annotator_id: int, limit: int = 5) -> list[dict[str, Any]]:
        from sqlalchemy import select

        from prefkit.arena.models import Vote

        with self._connect() as conn:
            rows = conn.execute(select(Vote.id, Vote.task_id, Vote.winner, Vote.rationale)
                                .where(Vote.annotator_id == annotator_id)
                                .order_by(Vote.id.desc()).limit(limit)).all()
        return [dict(r._mapping) for r in rows]

    def battles(self, after_id: int = 0) -> list[tuple[int, str, str, str, int]]:
        """``(vote id, a, b, winner, task id)`` of every a/b/tie vote on a task with two item
        names."""
        from sqlalchemy import select

        from prefkit.arena.models import Task, Vote

        query = (select(Vote.id, Task.a, Task.b, Vote.winner, Vote.task_id)
                 .join(Task, Task.id == Vote.task_id)
                 .where(Vote.id > after_id, *self._battle_filter()).order_by(Vote.id))
        with self._connect() as conn:
            return [(int(r[0]), r[1], r[2], r[3], int(r[4])) for r in conn.execute(query)]

    def task_texts(self, task_ids: Iterable[int]) -> dict[int, tuple[str | None, str | None]]:
        """``{task id: (a_text, b_text)}`` of these tasks (the live board's style features)."""
        from sqlalchemy import select

        from prefkit.arena.models import Task

        ids = sorted({int(t) for t in task_ids})
        out: dict[int, tuple[str | None, str | None]] = {}
        with self._connect() as conn:
            for start in range(0, len(ids), 500):
                query = select(Task.id, Task.a_text, Task.b_text).where(
                    Task.id.in_(ids[start:start + 500]))
                out.update({int(r[0]): (r[1], r[2]) for r in conn.execute(query)})
        return out

    def battle_count(self, up_to_id: int) -> int:
        """How many of :meth:`battles` have an id ≤ ``up_to_id`` (committed now)."""
        from sqlalchemy import func, select

        from prefkit.arena.models import Task, Vote

        query = (select(func.count(Vote.id)).join(Task, Task.id == Vote.task_id)
                 .where(Vote.id <= up_to_id, *self._battle_filter()))
        with self._connect() as conn:
            return int(conn.execute(query).scalar_one())

    @staticmethod
    def _battle_filter() -> tuple[Any, ...]:
        from prefkit.arena.models import Task, Vote

        return (Vote.winner != "skip", Task.a.is_not(None), Task.b.is_not(None))

    def last_vote_id(self) -> int:
        from sqlalchemy import func, select

        from prefkit.arena.models import Vote

        with self._connect() as conn:
            return int(conn.execute(select(func.coalesce(func.max(Vote.id), 0))).scalar_one())

    # ------------------------------------------------------------------ export, status
    def export_records(self, *, include_skips: bool = False) -> list[dict[str, Any]]:
        """Canonical pairwise records, one per vote, in vote order (skips left out)."""
        from sqlalchemy import select

        from prefkit.arena.models import Annotator, Task, Vote

        query = (select(Vote.id, Vote.winner, Vote.rationale, Vote.ratings, Vote.created_at,
                        Task.id.label("task_id"), Task.ext_id, Task.prompt, Task.a, Task.b,
                        Task.a_text, Task.b_text, Annotator.name.label("annotator"))
                 .join(Task, Task.id == Vote.task_id)
                 .join(Annotator, Annotator.id == Vote.annotator_id).order_by(Vote.id))
        if not include_skips:
            query = query.where(Vote.winner != "skip")
        records = []
        with self._connect() as conn:
            for r in conn.execute(query):
                created = r.created_at
                if created is not None and created.tzinfo is None:  # SQLite keeps no zone
                    created = created.replace(tzinfo=timezone.utc)
                rec: dict[str, Any] = {
                    "id": f"vote-{r.id}", "prompt": r.prompt, "a": r.a, "b": r.b,
                    "a_text": r.a_text, "b_text": r.b_text, "winner": r.winner,
                    "annotator_id": r.annotator, "rationale": r.rationale, "source": "arena",
                    "date": created.isoformat() if created is not None else None,
                    "meta": {k: v for k, v in (("task_id", int(r.task_id)),
                                                ("task_ext_id", r.ext_id),
                                                ("ratings", r.ratings)) if v is not None}}
                records.append({k: v for k, v in rec.items() if v is not None})
        return records

    def export_dataset(self, *, name: str = "arena") -> Any:
        """The votes (a/b/tie) as a pairwise :class:`~prefkit.data.PreferenceDataset`."""
        from prefkit.data import PreferenceDataset

        records = self.export_records()
        if not records:
            return PreferenceDataset.empty("pairwise", name=name)
        return PreferenceDataset.from_records(records, "pairwise", name=name)

    def status(self) -> dict[str, Any]:
        """Counts: tasks, annotators, votes by verdict and by annotator."""
        from sqlalchemy import func, select

        from prefkit.arena.models import Annotator, Task, Vote

        with self._connect() as conn:
            n_tasks = conn.execute(select(func.count(Task.id))).scalar_one()
            by_winner = dict(conn.execute(select(Vote.winner, func.count(Vote.id))
                                          .group_by(Vote.winner)).all())
            per = conn.execute(select(Annotator.name, func.count(Vote.id))
                               .join(Vote, Vote.annotator_id == Annotator.id, isouter=True)
                               .group_by(Annotator.name).order_by(Annotator.name)).all()
            voted_tasks = conn.execute(select(func.count(func.distinct(Vote.task_id)))
                                       ).scalar_one()
        return {"store": redact(self.url), "revision": self.revision(), "tasks": int(n_tasks),
                "tasks_voted": int(voted_tasks), "annotators": len(per),
                "votes": int(sum(by_winner.values())),
                "votes_by_winner": {w: int(by_winner.get(w, 0)) for w in ("a", "b", "tie",
                                                                          "skip")},
                "votes_by_annotator": {str(n): int(c) for n, c in per},
                "items": self.item_names()}
