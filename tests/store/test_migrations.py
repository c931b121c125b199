"""The migrations build exactly the schema ``bot/store/tables.py`` declares."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.tables import metadata

# Made by the migrations with SQL of each database's own, on purpose outside the metadata:
# SQLite's full-text index, PostgreSQL's generated search vector.
DIALECT_EXTRAS = {"stories_fts", "search_vector", "ix_stories_search_vector"}


def _differences(connection: Connection) -> list[Any]:
    def ours(obj: object, name: str | None, kind: str, reflected: bool, other: object) -> bool:
        extra = name in DIALECT_EXTRAS or (name or "").startswith("stories_fts")
        return not (reflected and other is None and extra)

    context = MigrationContext.configure(connection, opts={"include_object": ours})
    return list(compare_metadata(context, metadata))


async def test_migrations_match_the_declared_tables(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        assert await conn.run_sync(_differences) == []


async def test_the_pending_index_holds_only_reservations_in_flight(engine: AsyncEngine) -> None:
    query = (
        "SELECT sql FROM sqlite_master WHERE name = 'ix_sends_pending'"
        if engine.dialect.name == "sqlite"
        else "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_sends_pending'"
    )
    async with engine.connect() as conn:
        definition = (await conn.execute(text(query))).scalar_one()
    assert "WHERE" in definition.upper() and "pending" in definition
