"""The first arena schema: tasks, annotators, votes (one vote per annotator and task).

Revision ID: 0001
Revises:
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "arena_tasks",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("ext_id", sa.String(200)),
        sa.Column("prompt", sa.Text()),
        sa.Column("a", sa.String(200)),
        sa.Column("b", sa.String(200)),
        sa.Column("a_text", sa.Text()),
        sa.Column("b_text", sa.Text()),
        sa.Column("source", sa.String(500)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("(a IS NOT NULL OR a_text IS NOT NULL) AND "
                           "(b IS NOT NULL OR b_text IS NOT NULL)",
                           name="ck_arena_tasks_sides"),
    )
    op.create_index("ix_arena_tasks_a", "arena_tasks", ["a"])
    op.create_index("ix_arena_tasks_b", "arena_tasks", ["b"])
    op.create_table(
        "arena_annotators",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("pending_task_id", sa.Integer(),
                  sa.ForeignKey("arena_tasks.id", ondelete="SET NULL")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "arena_votes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("task_id", sa.Integer(), sa.ForeignKey("arena_tasks.id"), nullable=False),
        sa.Column("annotator_id", sa.Integer(), sa.ForeignKey("arena_annotators.id"),
                  nullable=False),
        sa.Column("winner", sa.String(8), nullable=False),
        sa.Column("rationale", sa.Text()),
        sa.Column("ratings", sa.JSON()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("task_id", "annotator_id", name="uq_arena_votes_task_annotator"),
        sa.CheckConstraint("winner IN ('a', 'b', 'tie', 'skip')", name="ck_arena_votes_winner"),
    )
    op.create_index("ix_arena_votes_task_id", "arena_votes", ["task_id"])
    op.create_index("ix_arena_votes_annotator_id", "arena_votes", ["annotator_id"])


def downgrade() -> None:
    op.drop_table("arena_votes")
    op.drop_table("arena_annotators")
    op.drop_table("arena_tasks")
