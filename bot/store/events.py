"""Which platform events were handled: a platform that delivers an event again (Slack retries
one it thinks was missed) finds it here, on any replica, after any restart."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.store.db import reading, write
from bot.store.tables import platform_events

_e = platform_events.c


class EventLog:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert

    async def first_time(self, platform: str, event_id: str, *, now: datetime) -> bool:
        """Note the event; True if no one had noted it before (handle it), False if it is a
        repeat (skip it)."""
        statement = (
            self._insert(platform_events)
            .values(platform=platform, event_id=event_id, received_at=now)
            .on_conflict_do_nothing(index_elements=["platform", "event_id"])
            .returning(_e.event_id)
        )

        async def note(conn: AsyncConnection) -> bool:
            return (await conn.execute(statement)).first() is not None

        return await write(self.engine, note)

    async def forget_before(self, when: datetime) -> int:
        """Drop events noted before ``when`` (no platform repeats an event that late)."""

        async def drop(conn: AsyncConnection) -> int:
            result = await conn.execute(delete(platform_events).where(_e.received_at < when))
            return int(result.rowcount or 0)

        return await write(self.engine, drop)

    async def count(self) -> int:
        async with reading(self.engine) as conn:
            counted = select(func.count()).select_from(platform_events)
            return int((await conn.execute(counted)).scalar_one())
