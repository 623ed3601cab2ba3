"""Alembic environment of the arena store (run by :func:`prefkit.arena.store.migrate`).

The caller hands over an open SQLAlchemy connection in ``config.attributes["connection"]``;
there is no ``alembic.ini`` and no URL here.  Offline (SQL script) mode is not supported.
"""

from __future__ import annotations

from alembic import context

from prefkit.arena.models import Base

connection = context.config.attributes.get("connection")
if connection is None or context.is_offline_mode():
    raise RuntimeError("the arena migrations run through prefkit.arena.store.migrate() only")
context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
