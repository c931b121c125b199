"""Shared fixtures: a real SQLite file per test, and the real PostgreSQL when configured."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import Core, build_core
from bot.clock import FrozenClock
from bot.config import Settings
from bot.samples import demo_stories
from bot.store import db
from bot.store.tables import metadata

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SEED = ROOT.parent / "shared" / "seeds" / "000_ae27972342bdb8c1.txt"
POSTGRES_ENV = "SIGNALBOT_TEST_POSTGRES_URL"


# The installed command, run as a user runs it.
SIGNALBOT = str(Path(sys.executable).parent / "signalbot")


def command_env(database: Path | None = None, **settings: str) -> dict[str, str]:
    """This environment without the developer's own SIGNALBOT_* settings, plus these (a
    SQLite file as the database when given)."""
    ours = ("SIGNALBOT_", "SLACK_", "DISCORD_")  # settings, under any of their names
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    if database is not None:
        env["SIGNALBOT_DATABASE_URL"] = f"sqlite+aiosqlite:///{database}"
    if any(name.startswith(("SLACK_", "DISCORD_")) for name in settings):
        # a platform's bot serves health and metrics: on loopback, on a free port
        env.update(SIGNALBOT_HTTP_HOST="127.0.0.1", SIGNALBOT_HTTP_PORT="0")
    env.update(settings)
    return env


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 11, 25, 12, 0, tzinfo=UTC))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'signalbot.db'}"


async def _postgres_admin(base: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(
        make_url(base).set(drivername="postgresql").render_as_string(hide_password=False)
    )
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextmanager
def scratch_postgres(base: str, prefix: str) -> Iterator[str]:
    """A new, empty database on ``base``'s PostgreSQL server, dropped afterwards: its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    asyncio.run(_postgres_admin(base, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_postgres_admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The configured PostgreSQL URL; tests that need it are skipped without it."""
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"{POSTGRES_ENV} is not set: PostgreSQL tests skipped")
    return base


@pytest.fixture(scope="session")
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped afterwards."""
    with scratch_postgres(postgres_server, "signalbot_test") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    """Each storage test runs on SQLite and, when configured, on PostgreSQL."""
    if request.param == "sqlite":
        return sqlite_url
    url: str = request.getfixturevalue("postgres_url")
    return url


async def empty_postgres(engine: AsyncEngine) -> None:
    """Empty every table of the session's PostgreSQL database: each test starts from nothing
    (a database of its own for each test costs a second more)."""
    names = ", ".join(table.name for table in metadata.sorted_tables)
    async with engine.begin() as conn:
        # a connection an earlier test left in a transaction fails this test, not hangs it
        await conn.execute(text("SET LOCAL lock_timeout = '10s'"))
        await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY"))


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = db.create_engine(database_url)
    await db.upgrade(engine)
    if engine.dialect.name == "postgresql":
        await empty_postgres(engine)
    yield engine
    await engine.dispose()


def settings_for(url: str, **overrides: object) -> Settings:
    """Settings for tests: only what is given here, never the developer's .env."""
    return Settings(_env_file=None, database_url=url, **overrides)  # type: ignore[call-arg]


@asynccontextmanager
async def started_core(
    url: str, clock: FrozenClock, *, samples: bool = True, **settings: object
) -> AsyncIterator[Core]:
    """A started core with these settings on an empty database at ``url`` (the session's
    PostgreSQL database is emptied first), holding the bundled samples (newest 1 h old)
    unless told otherwise."""
    built = build_core(settings_for(url, **settings), clock=clock)
    await built.start()
    try:
        if built.engine.dialect.name == "postgresql":
            await empty_postgres(built.engine)
        for story in demo_stories(clock.now()) if samples else []:
            await built.stories.save(story, now=clock.now())
        yield built
    finally:
        await built.close()


@pytest.fixture
async def core(database_url: str, clock: FrozenClock) -> AsyncIterator[Core]:
    """A started core holding the samples: on a fresh SQLite file and, when configured, on
    PostgreSQL (the delivery and command tests run on both)."""
    async with started_core(database_url, clock) as started:
        yield started
