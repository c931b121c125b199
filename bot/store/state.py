"""What a platform adapter keeps between runs and replicas, by name: a value it compares
against at start (the hash of the Discord commands last synced, say)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.store.db import reading, write
from bot.store.tables import platform_state

_s = platform_state.c


class PlatformState:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert

    async def get(self, platform: str, name: str) -> str | None:
        async with reading(self.engine) as conn:
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


# Each process's heartbeat: a row of ``platform_state`` under this name, holding the platforms
# it delivers to. A process is live while its row is younger than REPLICA_LIVE; one silent for
# REPLICA_DEAD died (SIGKILL, a lost machine): another process takes over its pushes at once,
# rather than after their lease.
REPLICAS = "replica"
REPLICA_LIVE = timedelta(seconds=10)
REPLICA_DEAD = timedelta(seconds=30)
REPLICA_FORGOTTEN = timedelta(hours=1)


@dataclass(frozen=True)
class Seen:
    """What a heartbeat learns: live processes by platform, and the tokens of dead ones."""

    live: dict[str, int]
    dead: frozenset[str]


class Replicas:
    """The processes delivering from one database, seen through their heartbeats."""

    def __init__(self, state: PlatformState) -> None:
        self.state = state

    async def beat(self, token: str, platforms: Iterable[str], *, now: datetime) -> Seen:
        """Say this process is live and delivers to ``platforms``; how many live processes
        (this one included) deliver to each platform, and which processes died."""
        await self.state.put(REPLICAS, token, ",".join(sorted(platforms)), now=now)
        async with reading(self.state.engine) as conn:
            rows = await conn.execute(
                select(_s.name, _s.value, _s.updated_at).where(_s.platform == REPLICAS)
            )
            live: Counter[str] = Counter()
            dead: set[str] = set()
            for name, value, at in rows:
                if at >= now - REPLICA_LIVE:
                    live.update(p for p in value.split(",") if p)
                elif now - REPLICA_FORGOTTEN <= at < now - REPLICA_DEAD:
                    dead.add(name)
        return Seen(dict(live), frozenset(dead))

    async def leave(self, token: str, *, now: datetime) -> None:
        """This process stops delivering (and rows of processes long gone are dropped)."""
        old = or_(_s.name == token, _s.updated_at < now - REPLICA_FORGOTTEN)

        async def remove(conn: AsyncConnection) -> None:
            await conn.execute(platform_state.delete().where(_s.platform == REPLICAS, old))

        await write(self.state.engine, remove)
