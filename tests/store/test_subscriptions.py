"""The subscription store's operator queries: listing with filters, the failing ones, and an
import of many in one transaction (all or nothing, idempotent). SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.domain import ChannelRef, Filters, Subscription
from bot.lifecycle import TOKEN_REFUSED, UNINSTALLED, scope_reason
from bot.store.subscriptions import ImportCounts, SubscriptionStore
from bot.store.tables import push_claims

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
C1 = ChannelRef("slack", "T1", "C1")
C2 = ChannelRef("slack", "T1", "C2")
D1 = ChannelRef("discord", "1000", "5001")
REFUSED = (UNINSTALLED, TOKEN_REFUSED)


def sub(channel: ChannelRef, region: str, **fields: Any) -> Subscription:
    base = Subscription(channel, region, time(7, 30), "Europe/Brussels",
                        next_push_at=NOW + timedelta(hours=19))  # fmt: skip
    return replace(base, **fields)


async def stored(store: SubscriptionStore, *subs: Subscription) -> list[Subscription]:
    """Save these as they are (their record of pushes too); all subscriptions after."""
    for one in subs:
        await store.save(one, now=NOW, restore=True)
    return await store.matching()


def without_ids(subs: list[Subscription]) -> list[Subscription]:
    return [replace(s, id=None) for s in subs]


async def updated_at(engine: AsyncEngine) -> list[tuple[Any, ...]]:
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT id, updated_at FROM subscriptions ORDER BY id"))
        return [tuple(row) for row in rows]


SAMPLES = [
    sub(C1, "europe"),
    sub(
        C1,
        "asia",
        days=(0, 1, 2, 3, 4),
        filters=Filters(topics=("security",), keywords=("grain", "ports"), exclude=("football",)),
    ),
    sub(
        C2,
        "middle-east",
        paused=True,
        paused_reason="paused by U1 on 2026-11-20 09:00 UTC",
        next_push_at=NOW - timedelta(days=5),
    ),
    sub(
        D1,
        "africa",
        mode="instant",
        next_push_at=None,
        failures=2,
        last_result="alert failed: 503 Service Unavailable",
        last_push_at=NOW - timedelta(days=1),
        created_at=NOW - timedelta(days=30),
    ),
]


async def test_matching_lists_all_or_a_platform_or_the_paused(engine: AsyncEngine) -> None:
    store = SubscriptionStore(engine)
    everything = await stored(store, *SAMPLES)
    assert [(s.channel, s.region) for s in everything] == [
        (D1, "africa"), (C1, "asia"), (C1, "europe"), (C2, "middle-east"),
    ]  # fmt: skip
    assert [s.region for s in await store.matching(platform="slack")] == [
        "asia", "europe", "middle-east",
    ]  # fmt: skip
    assert [s.region for s in await store.matching(paused=True)] == ["middle-east"]
    assert len(await store.matching(paused=False)) == 3
    assert [s.region for s in await store.matching(platform="slack", channel="C1")] == [
        "asia", "europe",
    ]  # fmt: skip
    assert await store.matching(platform="console") == []


async def test_failing_is_failures_in_a_row_or_a_refused_workspace(engine: AsyncEngine) -> None:
    store = SubscriptionStore(engine)
    await stored(
        store,
        sub(C1, "europe", failures=1, last_result="delivery failed (timeout); retrying"),
        sub(C1, "asia"),  # fine
        sub(C2, "europe", paused=True, paused_reason="paused by U1 on 2026-11-20 09:00 UTC"),
        sub(C2, "asia", paused=True, paused_reason=scope_reason("token", "token_revoked")),
        sub(D1, "africa", failures=3, paused=True, paused_reason="paused after 3 failed"),
    )
    failing = await store.failing(refusals=REFUSED)
    assert [(s.channel, s.region) for s in failing] == [
        (D1, "africa"), (C1, "europe"), (C2, "asia"),  # most failures first
    ]  # fmt: skip
    assert [s.region for s in await store.failing()] == ["africa", "europe"]  # counted only
    assert [s.region for s in await store.failing(refusals=REFUSED, channel="C2")] == ["asia"]
    assert await store.failing(refusals=REFUSED, platform="console") == []


async def test_an_import_into_an_empty_database_makes_the_same(engine: AsyncEngine) -> None:
    store = SubscriptionStore(engine)
    counts = await store.import_all(SAMPLES, now=NOW)
    assert counts == ImportCounts(created=4, updated=0, unchanged=0)
    got = {(s.channel, s.region): s for s in await store.matching()}
    for wanted in SAMPLES:
        found = got[(wanted.channel, wanted.region)]
        assert found.id is not None
        assert replace(found, id=None) == replace(wanted, created_at=wanted.created_at or NOW)


async def test_importing_the_same_again_changes_nothing(engine: AsyncEngine) -> None:
    store = SubscriptionStore(engine)
    await store.import_all(SAMPLES, now=NOW)
    before, written = await store.matching(), await updated_at(engine)
    later = NOW + timedelta(hours=1)
    moved = [replace(s, next_push_at=s.next_push_at and s.next_push_at + timedelta(hours=2),
                     failures=0, last_result=None) for s in SAMPLES]  # fmt: skip
    # the record of pushes and the next push are not what a subscription asks for
    assert await store.import_all(moved, now=later) == ImportCounts(0, 0, 4)
    assert await store.matching() == before
    assert await updated_at(engine) == written


async def test_an_import_changes_what_differs_and_keeps_the_record(engine: AsyncEngine) -> None:
    store = SubscriptionStore(engine)
    await stored(store, *SAMPLES)
    africa = next(s for s in await store.matching() if s.region == "africa")
    assert africa.id is not None
    europe = next(s for s in await store.matching() if s.region == "europe")
    await _claim(engine, europe.id)
    changed = [
        replace(SAMPLES[0], push_time=time(6, 0), next_push_at=NOW + timedelta(hours=18)),
        replace(
            SAMPLES[3],
            mode="digest",
            next_push_at=NOW + timedelta(hours=20),
            failures=0,
            last_result=None,
        ),
        sub(C2, "africa"),  # new
        SAMPLES[1],  # as stored
    ]
    assert await store.import_all(changed, now=NOW) == ImportCounts(1, 2, 1)
    got = {(s.channel, s.region): s for s in await store.matching()}
    assert got[(C1, "europe")].push_time == time(6, 0)
    assert got[(C1, "europe")].next_push_at == NOW + timedelta(hours=18)
    after = got[(D1, "africa")]
    assert (after.mode, after.failures) == ("digest", 0)  # a change starts the count again
    assert after.last_result == "alert failed: 503 Service Unavailable"  # the record stays
    assert after.last_push_at == africa.last_push_at and after.created_at == africa.created_at
    assert (C2, "africa") in got and (C2, "middle-east") in got  # others stay
    assert await _claimed(engine) == []  # the push under way writes nothing back over it


async def _claim(engine: AsyncEngine, sub_id: int | None) -> None:
    """A push under way in another process."""
    async with engine.begin() as conn:
        await conn.execute(push_claims.insert().values(subscription_id=sub_id,
                                                       claimed_by="other", claimed_at=NOW))  # fmt: skip


async def _claimed(engine: AsyncEngine) -> list[int]:
    async with engine.connect() as conn:
        return [
            int(i) for i in (await conn.execute(select(push_claims.c.subscription_id))).scalars()
        ]


async def test_an_import_that_fails_midway_writes_nothing(engine: AsyncEngine) -> None:
    store = SubscriptionStore(engine)
    before = await stored(store, SAMPLES[0])
    written = await updated_at(engine)
    naive = datetime(2026, 11, 26, 6, 30)  # the store refuses it, after the new rows went in
    batch = [SAMPLES[1], SAMPLES[3], replace(SAMPLES[0], push_time=time(6, 0), next_push_at=naive)]
    with pytest.raises(Exception, match="naive datetime"):
        await store.import_all(batch, now=NOW)
    assert await store.matching() == before
    assert await updated_at(engine) == written


async def test_an_import_refuses_a_subscription_given_twice(engine: AsyncEngine) -> None:
    store = SubscriptionStore(engine)
    with pytest.raises(ValueError, match="given twice"):
        await store.import_all([SAMPLES[0], replace(SAMPLES[0], push_time=time(9, 0))], now=NOW)
    assert await store.count() == 0
