"""Each platform event is handled once, however often it is delivered and by whom."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import Core, build_bot
from bot.store.events import EventLog

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


async def test_an_event_is_new_once(engine: AsyncEngine) -> None:
    log = EventLog(engine)
    assert await log.first_time("slack", "Ev1", now=NOW)
    assert not await log.first_time("slack", "Ev1", now=NOW)
    assert await log.first_time("discord", "Ev1", now=NOW)  # each platform its own ids


async def test_replicas_delivering_one_event_at_once_handle_it_once(engine: AsyncEngine) -> None:
    replicas = [EventLog(engine) for _ in range(8)]
    answers = await asyncio.gather(*(r.first_time("slack", "Ev2", now=NOW) for r in replicas))
    assert sorted(answers) == [False] * 7 + [True]


async def test_old_events_are_forgotten(engine: AsyncEngine) -> None:
    log = EventLog(engine)
    await log.first_time("slack", "old", now=NOW - timedelta(days=2))
    await log.first_time("slack", "new", now=NOW)
    assert await log.forget_before(NOW - timedelta(days=1)) == 1
    assert await log.count() == 1


async def test_the_bot_forgets_events_a_day_old(core: Core) -> None:
    service = build_bot(core, {}).service
    now = core.clock.now()
    await core.events.first_time("slack", "yesterday", now=now - timedelta(days=1, minutes=1))
    await core.events.first_time("slack", "an hour ago", now=now - timedelta(hours=1))
    assert await service.tidy() == 1
    assert await core.events.count() == 1
    assert not await core.events.first_time("slack", "an hour ago", now=now)  # still known
