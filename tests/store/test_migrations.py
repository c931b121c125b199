"""The migrations build exactly the schema ``bot/store/tables.py`` declares, from an empty
database and from every earlier revision, and each one steps down and up again. SQLite and
PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store import db
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


# Every revision, oldest first, and the one each steps down to (None: the empty database).
STEPS = [
    (script.revision, script.down_revision)
    for script in reversed(list(ScriptDirectory(str(db.MIGRATIONS)).walk_revisions()))
]








async def _migrate(engine: AsyncEngine, how: str, revision: str) -> str | None:
    """Upgrade or downgrade to ``revision`` as the store runs migrations (on a connection it
    passes in); the revision the database is at afterwards."""

    def run(connection: Connection) -> str | None:
        getattr(command, how)(db.alembic_config(connection), revision)
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.begin() as conn:
        return await conn.run_sync(run)


def _schema(connection: Connection) -> dict[str, Any]:
    """The schema as the database reports it: each table's columns, key, indexes and unique
    constraints (partial indexes with their condition)."""
    found = inspect(connection)
    tables: dict[str, Any] = {}
    for name in found.get_table_names():
        if name == "alembic_version":
            continue
        columns = sorted(
            (c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
            for c in found.get_columns(name)
        )
        indexes = sorted(
            (i["name"], tuple(i["column_names"]), bool(i["unique"]),
             # a partial index's condition: SQL text
             tuple(sorted((k, str(v)) for k, v in i.get("dialect_options", {}).items())))
            for i in found.get_indexes(name)
        )  # fmt: skip
        uniques = sorted(
            (u["name"], tuple(u["column_names"])) for u in found.get_unique_constraints(name)
        )
        pk = found.get_pk_constraint(name)
        key = (pk.get("name"), tuple(pk["constrained_columns"]))
        tables[name] = {"columns": columns, "key": key, "indexes": indexes, "uniques": uniques}
        if connection.dialect.name == "sqlite":  # a table that is its key (deliveries)
            sql = connection.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
            ).scalar_one()
            tables[name]["without_rowid"] = "WITHOUT ROWID" in sql.upper()
    return tables


async def _schema_of(engine: AsyncEngine) -> dict[str, Any]:
    async with engine.connect() as conn:
        return await conn.run_sync(_schema)


@pytest.mark.parametrize(("revision", "down"), STEPS, ids=[r for r, _ in STEPS])
async def test_each_revision_steps_down_and_up_and_upgrades_to_the_declared_tables(
    blank: AsyncEngine, revision: str, down: str | None
) -> None:
    """From an empty database to the revision before ``revision``, then to ``revision``; one
    step down gives back the schema before it, and up again the same schema as the first
    time; from there to the newest, the declared tables."""
    before: dict[str, Any] = {}
    if down is not None:
        assert await _migrate(blank, "upgrade", down) == down
        before = await _schema_of(blank)
    assert await _migrate(blank, "upgrade", revision) == revision
    after = await _schema_of(blank)
    assert after != before  # the migration changes something

    assert await _migrate(blank, "downgrade", "-1") == down
    assert await _schema_of(blank) == before
    assert await _migrate(blank, "upgrade", revision) == revision
    assert await _schema_of(blank) == after

    assert await _migrate(blank, "upgrade", "head") == STEPS[-1][0]
    async with blank.connect() as conn:
        assert await conn.run_sync(_differences) == []


def test_every_revision_is_covered() -> None:
    """One line of revisions, from the first to the newest, each with a downgrade."""
    assert STEPS[0][1] is None and len(STEPS) >= 10
    for (_, down), (previous, _) in zip(STEPS[1:], STEPS, strict=False):
        assert down == previous
    for script in ScriptDirectory(str(db.MIGRATIONS)).walk_revisions():
        source = Path(script.path).read_text(encoding="utf-8")
        downgrade = source[source.index("def downgrade()") :]
        assert "op." in downgrade, f"{script.revision} has no downgrade"
