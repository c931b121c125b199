"""Writers of several subscriptions at once, side by side on PostgreSQL: a push's outcome
and a user's pause of every region of a channel lock the same rows."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.domain import ChannelRef, Subscription
from bot.store.claims import PushClaims, PushRecord
from bot.store.subscriptions import SubscriptionStore

NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
CHANNEL = ChannelRef("discord", "g1", "100")


@pytest.mark.parametrize("first", [0, 1])
async def test_a_push_outcome_and_a_pause_of_the_same_channel_both_go_through(
    engine: AsyncEngine, first: int
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite takes one writer at a time: its writers never wait on each other")
    store = SubscriptionStore(engine)
    claims = PushClaims(engine)
    ids = []
    for region in ("africa", "europe"):
        sub, _ = await store.save(
            Subscription(channel=CHANNEL, region=region, push_time=time(7, 0), timezone="UTC",
                         next_push_at=NOW - timedelta(minutes=1)),
            now=NOW,
        )  # fmt: skip
        assert sub.id is not None
        ids.append(sub.id)
    assert sorted(await claims.claim_due(NOW, "scan", stale_before=NOW - timedelta(hours=1))) == ids
    # the outcomes in either order (a batch lists them by group, not by row): in one of the
    # two, the outcome and the pause lock the rows in opposite orders, a deadlock
    records = [PushRecord([i], NOW + timedelta(days=1), "sent 4 stories", 0) for i in ids]
    if first:
        records.reverse()
    async with engine.connect() as blocker:  # another writer holds one of the rows a moment
        await blocker.begin()
        await blocker.execute(
            text("SELECT id FROM subscriptions WHERE id = :i FOR UPDATE"), {"i": ids[first]}
        )
        finishing = asyncio.ensure_future(claims.finish("scan", records))
        await asyncio.sleep(0.3)
        pausing = asyncio.ensure_future(
            store.set_paused(CHANNEL, None, paused=True, reason="by the channel", now=NOW)
        )
        await asyncio.sleep(0.3)
        await blocker.commit()
    await asyncio.wait_for(asyncio.gather(finishing, pausing), 30)
    assert all(s.paused for s in await store.for_channel(CHANNEL))
