"""The vote store's tables (SQLAlchemy 2 declarative models).

``arena_tasks``
    One comparison to make: an optional prompt and two candidates, each an item name (a model)
    and/or a response text.  ``ext_id`` is the id of the record the task came from.
``arena_annotators``
    A person who votes: a unique name and the SHA-256 of their bearer token (the token itself is
    printed once by ``prefkit arena add-annotator`` and never stored).  ``pending_task_id`` is
    the task they were shown and have not voted on yet (a reload shows it again, so an annotator
    sees each task at most once).
``arena_votes``
    One verdict: ``winner`` in a / b / tie / skip, the time, an optional rationale and optional
    per-attribute ratings (a JSON object of numbers).  ``UNIQUE (task_id, annotator_id)``: the
    database refuses a second vote of an annotator on a task, whatever the number of servers.

The Alembic revision ``0001`` in ``prefkit/arena/migrations/versions`` creates exactly these
tables; a change here needs a new revision there.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: what a vote can say (``skip``: seen, no verdict; it is not exported as a comparison)
WINNERS = ("a", "b", "tie", "skip")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    """Declarative base of the arena tables."""


class Task(Base):
    __tablename__ = "arena_tasks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ext_id: Mapped[str | None] = mapped_column(String(200))
    prompt: Mapped[str | None] = mapped_column(Text)
    a: Mapped[str | None] = mapped_column(String(200), index=True)
    b: Mapped[str | None] = mapped_column(String(200), index=True)
    a_text: Mapped[str | None] = mapped_column(Text)
    b_text: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (
        CheckConstraint("(a IS NOT NULL OR a_text IS NOT NULL) AND "
                        "(b IS NOT NULL OR b_text IS NOT NULL)", name="ck_arena_tasks_sides"),
    )


class Annotator(Base):
    __tablename__ = "arena_annotators"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(default=True)
    pending_task_id: Mapped[int | None] = mapped_column(
        ForeignKey("arena_tasks.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Vote(Base):
    __tablename__ = "arena_votes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("arena_tasks.id"), index=True)
    annotator_id: Mapped[int] = mapped_column(ForeignKey("arena_annotators.id"), index=True)
    winner: Mapped[str] = mapped_column(String(8))
    rationale: Mapped[str | None] = mapped_column(Text)
    ratings: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (
        UniqueConstraint("task_id", "annotator_id", name="uq_arena_votes_task_annotator"),
        CheckConstraint("winner IN ('a', 'b', 'tie', 'skip')", name="ck_arena_votes_winner"),
    )
