"""Connections going back to the pool."""

from __future__ import annotations

from sqlalchemy import func, select, text

from bot.store import db
from bot.store.tables import fetch_validators


async def test_a_connection_left_mid_write_goes_back_rolled_back(sqlite_url: str) -> None:
    # SQLite's pool rolls back only connections in a transaction (a read's goes back without
    # a trip to the driver's thread); one left mid-write must neither keep its write nor hold
    # the write lock once it is back.
    engine = db.create_engine(sqlite_url)
    try:
        await db.upgrade(engine)
        async with engine.connect() as conn:  # a write, never committed
            await conn.execute(
                text("INSERT INTO fetch_validators (url, seen_at) VALUES ('https://x.test/', 1)")
            )
        async with engine.connect() as reader:
            count = select(func.count()).select_from(fetch_validators)
            assert (await reader.execute(count)).scalar_one() == 0
        other = db.create_engine(sqlite_url)  # another process's write gets the lock at once
        try:
            async with other.begin() as conn:
                await conn.execute(text("PRAGMA busy_timeout=100"))
                await conn.execute(
                    text(
                        "INSERT INTO fetch_validators (url, seen_at) VALUES ('https://y.test/', 2)"
                    )
                )
        finally:
            await other.dispose()
    finally:
        await engine.dispose()
