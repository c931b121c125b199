"""An empty database with no migration applied (``blank``): on SQLite, a file of the test's
own; on PostgreSQL, a scratch database of the module's, emptied for each test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store import db
from tests.conftest import scratch_postgres


@pytest.fixture(scope="module")
def postgres_blank(postgres_server: str) -> Iterator[str]:
    """A PostgreSQL database of this module's, emptied for each test (see ``blank``)."""
    with scratch_postgres(postgres_server, "signalbot_blank") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def blank_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'blank.db'}"
    url: str = request.getfixturevalue("postgres_blank")
    return url


@pytest.fixture
async def blank(blank_url: str) -> AsyncIterator[AsyncEngine]:
    """An empty database, with no migration applied."""
    engine = db.create_engine(blank_url)
    if engine.dialect.name == "postgresql":
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    yield engine
    await engine.dispose()
