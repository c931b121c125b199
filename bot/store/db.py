"""Engines and migrations: SQLite through aiosqlite by default, PostgreSQL through asyncpg."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from sqlalchemy import Connection, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bot.store import sqlite

MIGRATIONS = Path(__file__).parent / "migrations"
log = logging.getLogger(__name__)
T = TypeVar("T")

# PostgreSQL's SQLSTATEs for a transaction it failed so that another could go through: a
# deadlock, a serialization failure.
_RETRIED_STATES = frozenset({"40P01", "40001"})
_WRITE_ATTEMPTS = 3


class DatabaseURLError(ValueError):
    """The database URL setting cannot be used; the message says why."""


_PASSWORD = re.compile(r":[^:@/\s]*@")


def redact(raw: str) -> str:
    """A database URL as it may be shown: any password replaced by ***."""
    return _PASSWORD.sub(":***@", raw)


def normalise_url(raw: str) -> URL:
    """Accept the URL spellings people use and pick the async driver for each database."""
    try:
        url = make_url(raw.strip())
    except ArgumentError:
        raise DatabaseURLError(
            f"{redact(raw)!r} is not a database URL (expected sqlite+aiosqlite:///path/to/file.db "
            "or postgresql+asyncpg://user@host/db)"
        ) from None
    backend = url.get_backend_name()
    if backend == "sqlite":
        return url.set(drivername="sqlite+aiosqlite")
    if backend in ("postgresql", "postgres"):
        return url.set(drivername="postgresql+asyncpg")
    raise DatabaseURLError(
        f"unsupported database {backend!r} in {redact(raw)!r}: use SQLite or PostgreSQL"
    )


# Connections kept open to a SQLite file. Every lookup in flight holds one while it reads: with
# SQLAlchemy's default (5, and 10 more that are closed when handed back) a burst of commands
# kept opening connections, each with its pragmas, and the unlucky waited for that.
SQLITE_POOL_SIZE = 20
SQLITE_POOL_OVERFLOW = 20
SQLITE_MMAP_BYTES = 1 << 30


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Read the file through a memory map: a lookup's pages come without a read() each.
    cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
    cursor.close()


def create_engine(raw_url: str) -> AsyncEngine:
    """An async engine for ``raw_url``; for SQLite the file's folder is created."""
    url = normalise_url(raw_url)
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        pool: dict[str, int] = {}  # a database in memory is one connection (a static pool)
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            pool = {"pool_size": SQLITE_POOL_SIZE, "max_overflow": SQLITE_POOL_OVERFLOW}
        engine = create_async_engine(url, async_creator=sqlite.creator(url), **pool)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_pre_ping=True)


@asynccontextmanager
async def reading(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection to read through, as ``engine.connect()`` gives, handed back on SQLite
    without the task SQLAlchemy starts to close it: a read leaves no transaction open, so the
    close waits for nothing (and nothing can cancel it halfway). The task cost each lookup a
    round of the event loop, and with many lookups in flight a round is long: a lookup that
    read twice waited two rounds more than one that read once. PostgreSQL's close talks to
    the server, so there SQLAlchemy's guarded close stays."""
    if engine.dialect.name != "sqlite":
        async with engine.connect() as conn:
            yield conn
        return
    conn = await engine.connect()
    try:
        yield conn
    finally:
        await conn.close()


async def write(
    engine: AsyncEngine,
    work: Callable[[AsyncConnection], Awaitable[T]],
    *,
    retry_conflicts: bool = False,
) -> T:
    """Run ``work`` in a transaction, again (up to three times in all) if PostgreSQL failed it
    to break a deadlock, and with ``retry_conflicts`` if it met a row a concurrent
    transaction had just inserted (the next run finds that row and takes it into account).

    Writers of many rows at once lock them in the order their plan meets them: a batch's
    outcomes and a pause of every region of a channel, two replicas reserving stories for one
    channel, a settle and a release of the same messages can lock rows in different orders.
    PostgreSQL then fails one of them and the other goes through. ``work`` must be one whole
    transaction, safe to run again (SQLite takes one writer at a time: no deadlocks).
    """
    for attempt in range(1, _WRITE_ATTEMPTS + 1):
        try:
            async with engine.begin() as conn:
                return await work(conn)
        except DBAPIError as error:
            last = attempt == _WRITE_ATTEMPTS
            if isinstance(error, IntegrityError):
                if not retry_conflicts or last:
                    raise
                continue
            state = getattr(error.orig, "pgcode", None)
            if state not in _RETRIED_STATES or last:
                raise
            log.info("write failed by the database (%s), running it again", state)
    raise AssertionError("unreachable")


def alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # Replicas starting together: one migrates, the others wait and then find nothing to do.
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7426621)")
    if _pending(connection):
        command.upgrade(alembic_config(connection), "head")


def _pending(connection: Connection) -> bool:
    head = ScriptDirectory.from_config(alembic_config(connection)).get_current_head()
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


async def downgrade_one(engine: AsyncEngine) -> str | None:
    """Undo the newest migration applied; the revision the database is at afterwards (None:
    empty). Raises ValueError when nothing is applied."""

    def step_down(connection: Connection) -> str | None:
        if MigrationContext.configure(connection).get_current_revision() is None:
            raise ValueError("no migration is applied: nothing to undo")
        command.downgrade(alembic_config(connection), "-1")
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.begin() as connection:
        return await connection.run_sync(step_down)


@dataclass(frozen=True)
class MigrationState:
    """Where a database stands against this code's migrations (see :func:`migration_state`)."""

    current: str | None  # None: no migration applied yet (an empty database)
    head: str
    behind: int | None  # migrations left to apply; None: ``current`` is unknown to this code

    @property
    def at_head(self) -> bool:
        return self.current == self.head


def _state(connection: Connection) -> MigrationState:
    script = ScriptDirectory.from_config(alembic_config(connection))
    head = script.get_current_head()
    assert head is not None, "the migrations have one head"
    current = MigrationContext.configure(connection).get_current_revision()
    try:
        pending = list(script.iterate_revisions(head, current or "base"))
    except RevisionError:  # a revision of a newer signalbot
        return MigrationState(current, head, None)
    return MigrationState(current, head, len(pending))


async def migration_state(engine: AsyncEngine) -> MigrationState:
    """Which migration the database is at, the newest, and how many are left to apply;
    it only reads (``signalbot doctor``; :func:`upgrade` applies them)."""
    async with engine.connect() as connection:
        return await connection.run_sync(_state)
