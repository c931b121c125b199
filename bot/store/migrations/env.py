"""Alembic environment. The store runs migrations on a connection it passes in
(``config.attributes["connection"]``), so the same code serves SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import context

from bot.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through 'signalbot db upgrade', which passes a connection")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
