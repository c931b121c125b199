"""Engines and migrations: SQLite through aiosqlite by default, PostgreSQL through asyncpg."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

MIGRATIONS = Path(__file__).parent / "migrations"


class DatabaseURLError(ValueError):
    """The database URL setting cannot be used; the message says why."""


def normalise_url(raw: str) -> URL:
    """Accept the URL spellings people use and pick the async driver for each database."""
    try:
        url = make_url(raw.strip())
    except ArgumentError:
        raise DatabaseURLError(
            f"{raw!r} is not a database URL (expected sqlite+aiosqlite:///path/to/file.db "
            "or postgresql+asyncpg://user@host/db)"
        ) from None
    backend = url.get_backend_name()
    if backend == "sqlite":
        return url.set(drivername="sqlite+aiosqlite")
    if backend in ("postgresql", "postgres"):
        return url.set(drivername="postgresql+asyncpg")
    raise DatabaseURLError(f"unsupported database {backend!r} in {raw!r}: use SQLite or PostgreSQL")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_engine(raw_url: str) -> AsyncEngine:
    """An async engine for ``raw_url``; for SQLite the file's folder is created."""
    url = normalise_url(raw_url)
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_pre_ping=True)


def _alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # Replicas starting together: one migrates, the others wait and then find nothing to do.
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7426621)")
    if _pending(connection):
        command.upgrade(_alembic_config(connection), "head")


def _pending(connection: Connection) -> bool:
    head = ScriptDirectory.from_config(_alembic_config(connection)).get_current_head()
    return MigrationContext.configure(connection).get_current_revision() != head


async def upgrade(engine: AsyncEngine) -> bool:
    """Apply pending migrations; True if any were applied."""
    async with engine.connect() as connection:
        pending = await connection.run_sync(_pending)
    if not pending:
        return False
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)
    return True
