"""The SQLite connections of ``bot/store/sqlite.py`` on a real file: reads run on the loop's
thread without a trip to the connection's thread, writes go there, and transactions behave
as sqlite3's own (commit, rollback, a reader beside an open writer)."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store import db
from bot.store.sqlite import is_read


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}")

    @event.listens_for(engine.sync_engine, "connect")
    def thread_function(dbapi_connection: Any, _record: Any) -> None:
        # SELECT thread() tells which thread ran the statement
        dbapi_connection.create_function("thread", 0, threading.get_ident)

    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (n INTEGER PRIMARY KEY, ran_on INTEGER)"))
    yield engine
    await engine.dispose()


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What each trip to a connection's thread ran."""
    seen: list[str] = []
    original = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return seen


async def test_a_read_runs_on_the_loop_thread_in_no_trip(
    engine: AsyncEngine, trips: list[str]
) -> None:
    async with engine.connect() as conn:  # a connection in the pool already
        pass
    trips.clear()
    async with engine.connect() as conn:
        ran_on = (await conn.execute(text("SELECT thread()"))).scalar_one()
        cte = await conn.execute(text("WITH x AS (SELECT 2 AS n) SELECT n FROM x"))
        assert cte.scalar_one() == 2
    assert ran_on == threading.get_ident()
    assert trips == []  # no cursor, fetch, close or rollback trips either


async def test_a_write_runs_on_the_connection_thread_and_commits(
    engine: AsyncEngine, trips: list[str]
) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO t (n, ran_on) VALUES (1, thread())"))
    assert len(trips) == 2  # the statement, the commit
    async with engine.connect() as conn:
        ran_on = (await conn.execute(text("SELECT ran_on FROM t"))).scalar_one()
    assert ran_on != threading.get_ident()


async def test_a_failed_transaction_is_rolled_back(engine: AsyncEngine) -> None:
    with pytest.raises(RuntimeError):
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t (n) VALUES (1)"))
            raise RuntimeError("stop")
    async with engine.begin() as conn:  # the write lock was released: another write goes
        await conn.execute(text("INSERT INTO t (n) VALUES (2)"))
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT n FROM t"))).scalars().all() == [2]


async def test_a_read_beside_an_open_write_sees_the_last_commit_at_once(
    engine: AsyncEngine,
) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO t (n) VALUES (1)"))
    async with engine.connect() as writer, engine.connect() as reader:
        await writer.execute(text("INSERT INTO t (n) VALUES (2)"))  # holds the write lock
        assert (await reader.execute(text("SELECT count(*) FROM t"))).scalar_one() == 1
        await writer.commit()
        assert (await reader.execute(text("SELECT count(*) FROM t"))).scalar_one() == 2


async def test_rows_come_in_order_and_in_parts(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO t (n) VALUES (:n)"), [{"n": n} for n in range(50)])
    async with engine.connect() as conn:
        result = await conn.stream(text("SELECT n FROM t ORDER BY n"))
        parts = [list(part) async for part in result.partitions(20)]
    assert [len(p) for p in parts] == [20, 20, 10]
    assert [row.n for part in parts for row in part] == list(range(50))


@pytest.mark.parametrize(
    ("sql", "read"),
    [
        ("SELECT 1", True),
        ("  select data from stories", True),
        ("WITH h AS (SELECT 1) SELECT * FROM h", True),
        ("WITH h AS (SELECT 1) INSERT INTO t SELECT * FROM h", False),
        ("INSERT INTO t VALUES (1)", False),
        ("UPDATE t SET n = 2", False),
        ("DELETE FROM t", False),
        ("PRAGMA journal_mode=WAL", False),
        ("SELECT 'update' FROM t", False),  # a word that writes, even quoted: to the thread
        ("SELECTED", False),
    ],
)
def test_which_statements_count_as_reads(sql: str, read: bool) -> None:
    assert is_read(sql) is read


class Steps:
    """Runs a coroutine, counting the times it gives the event loop a turn."""

    def __init__(self, coro: Any) -> None:
        self.coro, self.count = coro, 0

    def __await__(self) -> Any:
        inner = self.coro.__await__()
        try:
            waiting = inner.send(None)
            while True:
                self.count += 1
                waiting = inner.send((yield waiting))
        except StopIteration as done:
            return done.value


async def test_reading_hands_the_connection_back_without_a_turn_of_the_loop(
    engine: AsyncEngine,
) -> None:
    async def read() -> int:
        async with db.reading(engine) as conn:
            return int((await conn.execute(text("SELECT count(*) FROM t"))).scalar_one())

    await read()  # a connection in the pool, no transaction open on it
    steps = Steps(read())
    assert await steps == 0  # the table is empty
    assert steps.count == 0  # SQLAlchemy's own close waits for a task of its own (below)
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]

    async def read_the_usual_way() -> None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    usual = Steps(read_the_usual_way())
    await usual
    assert usual.count > 0
