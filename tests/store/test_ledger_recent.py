"""The ledger's recent messages for ``signalbot deliveries``: newest first, each with its
subscription's region and its stories; by channel, since a time, at most a number. SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.domain import ChannelRef, Subscription
from bot.store.ledger import Ask, DeliveryLedger
from bot.store.subscriptions import SubscriptionStore

T0 = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
A = ChannelRef("slack", "T1", "C1")
B = ChannelRef("discord", "1000", "5001")


async def test_recent_messages_newest_first_with_region_and_stories(engine: AsyncEngine) -> None:
    subs = SubscriptionStore(engine)
    europe, _ = await subs.save(Subscription(A, "europe", time(7, 0), "Europe/Brussels"), now=T0)
    africa, _ = await subs.save(Subscription(B, "africa", time(7, 0), "Africa/Lagos"), now=T0)
    assert europe.id is not None and africa.id is not None
    ledger = DeliveryLedger(engine)
    sent = [  # token, when, channel, subscription, stories, message id
        ("a", T0 - timedelta(days=3), A, europe.id, ["s1", "s2", "s3"], "m1"),
        ("b", T0 - timedelta(hours=2), B, africa.id, ["s1"], "m2"),
        ("c", T0 - timedelta(hours=1), A, europe.id, ["s4", "s5"], None),
    ]
    for token, at, channel, sub_id, stories, message in sent:
        await ledger.reserve([Ask(sub_id, channel, sub_id, stories)], token=token, at=at)
        await ledger.settle(token=token, sent=[(sub_id, message)], released=[], at=at)
    # one being sent now, of a subscription since removed
    await ledger.reserve([Ask(9, B, 999, ["s6"])], token="d", at=T0)

    recent = await ledger.recent()
    assert [(m.at, m.channel, m.state, m.region, m.stories, m.message_id) for m in recent] == [
        (T0, B, "pending", None, 1, None),
        (T0 - timedelta(hours=1), A, "sent", "europe", 2, None),
        (T0 - timedelta(hours=2), B, "sent", "africa", 1, "m2"),
        (T0 - timedelta(days=3), A, "sent", "europe", 3, "m1"),
    ]
    assert recent[1].subscription_id == europe.id and recent[0].subscription_id == 999

    assert [m.stories for m in await ledger.recent(platform="slack", channel="C1")] == [2, 3]
    assert [m.message_id for m in await ledger.recent(channel="5001")] == [None, "m2"]
    assert len(await ledger.recent(since=T0 - timedelta(days=1))) == 3
    assert [m.at for m in await ledger.recent(limit=2)] == [T0, T0 - timedelta(hours=1)]
    assert await ledger.recent(workspace="T2") == []
