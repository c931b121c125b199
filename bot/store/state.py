"""What a platform adapter keeps between runs and replicas, by name: a value it compares
against at start (the hash of the Discord commands last synced, say)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.store.db import write
from bot.store.tables import platform_state

_s = platform_state.c


class PlatformState:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert

    async def get(self, platform: str, name: str) -> str | None:
        async with self.engine.connect() as conn:
            found = await conn.execute(
                select(_s.value).where(_s.platform == platform, _s.name == name)
            )
            return found.scalar_one_or_none()

    async def put(self, platform: str, name: str, value: str, *, now: datetime) -> None:
        statement = self._insert(platform_state).values(
            platform=platform, name=name, value=value, updated_at=now
        )
        statement = statement.on_conflict_do_update(
            index_elements=["platform", "name"],
            set_={"value": statement.excluded.value, "updated_at": statement.excluded.updated_at},
        )

        async def store(conn: AsyncConnection) -> None:
            await conn.execute(statement)

        await write(self.engine, store)
