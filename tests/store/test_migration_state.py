"""Where a database stands against the migrations, as ``signalbot doctor`` reads it: empty,
behind, at the newest, or at a revision this code does not know. SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store import db


async def test_the_state_from_empty_to_the_newest_and_beyond(blank: AsyncEngine) -> None:
    empty = await db.migration_state(blank)
    assert (empty.current, empty.at_head) == (None, False)
    assert empty.behind is not None and empty.behind >= 10  # every migration to apply

    def to_0008(connection: Connection) -> None:
        command.upgrade(db.alembic_config(connection), "0008")

    async with blank.begin() as conn:
        await conn.run_sync(to_0008)
    old = await db.migration_state(blank)
    assert (old.current, old.head, old.at_head) == ("0008", empty.head, False)
    assert old.behind == empty.behind - 8

    await db.upgrade(blank)
    newest = await db.migration_state(blank)
    assert (newest.current, newest.behind, newest.at_head) == (empty.head, 0, True)

    async with blank.begin() as conn:  # a newer signalbot's migration
        await conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    unknown = await db.migration_state(blank)
    assert (unknown.current, unknown.behind, unknown.at_head) == ("9999", None, False)
