"""The ledger does not grow forever: what was delivered longer ago than the retention is
pruned, a bounded batch a transaction, but never a message in flight nor a story a push could
still choose (its ledger row is what keeps it from going to the channel twice). SQLite and
PostgreSQL."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

import bot.store.ledger as ledger_module
from bot.app import Core, build_bot
from bot.digests import candidates, open_since
from bot.domain import ChannelRef, Story, Subscription
from bot.store import db
from bot.store.ledger import Ask, DeliveryLedger, Pruned, ledger_key
from bot.store.stories import StoryStore
from bot.store.subscriptions import SubscriptionStore
from bot.store.tables import subscriptions
from tests.conftest import settings_for

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=90)  # the default retention
GRACE = timedelta(hours=6)  # the default catch-up grace
A, B, C, D, E = (ChannelRef("slack", "T1", f"C{n}") for n in range(1, 6))
P, Q = ChannelRef("discord", "G1", "100"), ChannelRef("discord", "G1", "200")


def story(n: int, published: datetime) -> Story:
    return Story(
        url=f"https://www.semafor.com/article/retention-{n}",
        kind="signals",
        title=f"Retention story {n}",
        published_at=published,
        region="europe",
        news=[f"Something happened, item {n}."],
    )


async def stored(engine: AsyncEngine, n: int, *, published: datetime, at: datetime) -> str:
    """A story published then, first stored at ``at``: its id."""
    item = story(n, published)
    await StoryStore(engine).save(item, now=at)
    return item.id


async def deliver(
    ledger: DeliveryLedger, channel: ChannelRef, ids: list[str], *, at: datetime,
    sent: bool = True,
) -> None:  # fmt: skip
    """One message of these stories to the channel, sent (or still being sent) at ``at``."""
    token = f"t{at.timestamp():.0f}{channel.channel}"[:32]
    assert (await ledger.reserve([Ask(1, channel, None, ids)], token=token, at=at)).complete
    if sent:  # with what it shows, as a push records it
        shows = json.dumps({"cards": [[story_id, "v1", None] for story_id in ids]})
        await ledger.settle(token=token, sent=[(1, "m", shows)], released=[], at=at)


async def records(engine: AsyncEngine) -> tuple[int, int]:
    """What messages show, as stored: records, and stories of records."""
    async with engine.connect() as conn:
        shown = await conn.execute(text("SELECT count(*) FROM message_contents"))
        stories = await conn.execute(text("SELECT count(*) FROM content_stories"))
        return int(shown.scalar_one()), int(stories.scalar_one())


async def messages(engine: AsyncEngine) -> list[tuple[str, str]]:
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT channel, state FROM sends ORDER BY channel"))
        return [(r[0], r[1]) for r in rows]


async def test_old_deliveries_go_and_recent_pending_and_open_ones_stay(
    engine: AsyncEngine,
) -> None:
    ledger = DeliveryLedger(engine)
    long_ago = NOW - timedelta(days=200)
    old1 = await stored(engine, 1, published=long_ago, at=long_ago)
    old2 = await stored(engine, 2, published=long_ago, at=long_ago)
    # stored long ago with a publication date ahead of it (a dated page): it sorts a day ago,
    # so any first push could still choose it
    ahead = await stored(engine, 3, published=NOW - timedelta(days=1), at=long_ago)
    unknown = "0123456789abcdef"  # a story the store no longer has: nobody can choose it
    then = NOW - timedelta(days=120)
    await deliver(ledger, A, [old1, old2], at=then)  # goes, message and all
    await deliver(ledger, B, [old1], at=NOW - timedelta(days=10))  # recent: stays
    await deliver(ledger, C, [old2], at=then, sent=False)  # still being sent: stays
    await deliver(ledger, D, [old1, ahead], at=then)  # old1 goes, the message stays
    await deliver(ledger, E, [unknown], at=then)  # goes

    keep = open_since(NOW, GRACE)
    assert keep == NOW - timedelta(hours=48)  # a first push's day, and a late arrival's
    assert await ledger.prune(older_than=OLD, keep_stories_since=keep) == Pruned(4, 2)

    everything = [old1, old2, ahead, unknown]
    assert await ledger.delivered_to([A, B, C, D, E], everything) == {
        ledger_key(B, old1), ledger_key(C, old2), ledger_key(D, ahead),
    }  # fmt: skip
    assert await messages(engine) == [("C2", "sent"), ("C3", "pending"), ("C4", "sent")]
    assert await ledger.count_sent() == 2
    # and a run again finds nothing more
    assert await ledger.prune(older_than=OLD, keep_stories_since=keep) == Pruned(0, 0)
    # the rest go once they are old enough, and their stories out of every window
    later = NOW + timedelta(days=300)
    assert await ledger.prune(older_than=later, keep_stories_since=later) == Pruned(2, 2)
    assert await messages(engine) == [("C3", "pending")]


async def test_a_short_retention_never_forgets_what_a_restart_could_alert_again(
    engine: AsyncEngine,
) -> None:
    """After a restart, stories stored within the catch-up grace are news for instant
    subscribers again, however old their publication: their rows stay."""
    ledger = DeliveryLedger(engine)
    long_ago = NOW - timedelta(days=30)
    late = await stored(engine, 20, published=long_ago, at=NOW - timedelta(hours=3))
    old = await stored(engine, 21, published=long_ago, at=long_ago)
    await deliver(ledger, A, [late, old], at=NOW - timedelta(hours=2))
    an_hour = NOW - timedelta(hours=1)
    keep = open_since(NOW, GRACE)
    assert await ledger.prune(older_than=an_hour, keep_stories_since=keep) == Pruned(1, 0)
    assert await ledger.delivered_to([A], [late, old]) == {ledger_key(A, late)}
    # a grace longer than a first push's window keeps what was stored within it
    five_days = await stored(engine, 22, published=long_ago, at=NOW - timedelta(days=5))
    await deliver(ledger, A, [five_days], at=NOW - timedelta(days=5))
    week = open_since(NOW, timedelta(days=7))
    assert await ledger.prune(older_than=an_hour, keep_stories_since=week) == Pruned(0, 0)
    assert await ledger.prune(older_than=an_hour, keep_stories_since=keep) == Pruned(1, 1)


async def test_a_story_inside_a_subscriptions_window_stays_for_its_channel(
    engine: AsyncEngine,
) -> None:
    """A subscription paused months ago still looks back to its last push when resumed: what
    its channel had since then (and a late arrival's day before) stays; the same stories
    go for a channel without a subscription."""
    last_push = NOW - timedelta(days=150)
    subs = SubscriptionStore(engine)
    paused = Subscription(P, "europe", time(7, 0), "Europe/Brussels", paused=True,
                          paused_reason="paused by ann", last_push_at=last_push)  # fmt: skip
    sub, _ = await subs.save(paused, now=last_push, restore=True)
    assert sub.last_push_at == last_push
    stored_at = last_push + timedelta(hours=1)
    inside = await stored(engine, 10, published=last_push + timedelta(hours=1), at=stored_at)
    late = await stored(engine, 11, published=last_push - timedelta(hours=12), at=stored_at)
    before = await stored(engine, 12, published=last_push - timedelta(days=2), at=stored_at)
    ledger = DeliveryLedger(engine)
    sent_at = last_push + timedelta(hours=2)
    await deliver(ledger, P, [inside, late, before], at=sent_at)
    await deliver(ledger, Q, [inside, late, before], at=sent_at)
    # what the subscription's push would choose from is kept for its channel
    chosen = {s.id for s in await candidates(StoryStore(engine), sub, NOW)}
    assert chosen == {inside, late}

    keep = open_since(NOW, GRACE)
    assert await ledger.prune(older_than=OLD, keep_stories_since=keep) == Pruned(4, 1)
    everything = [inside, late, before]
    assert await ledger.delivered_to([P, Q], everything) == {
        ledger_key(P, inside), ledger_key(P, late),
    }  # fmt: skip

    # once it has pushed again, its window starts there: the rest may go
    async with engine.begin() as conn:
        await conn.execute(
            update(subscriptions).values(last_push_at=NOW - timedelta(days=1), paused=False)
        )
    assert await ledger.prune(older_than=OLD, keep_stories_since=keep) == Pruned(2, 1)
    assert await ledger.delivered_to([P, Q], everything) == set()
    assert await messages(engine) == []


async def test_pruning_goes_a_bounded_batch_a_transaction(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = DeliveryLedger(engine)
    then = NOW - timedelta(days=100)
    for n in range(12):  # 12 messages of 3 stories: a batch of 10 ends inside a message
        channel = ChannelRef("slack", "T1", f"old-{n:02}")
        await deliver(ledger, channel, [f"s{n}a", f"s{n}b", f"s{n}c"], at=then)
        if n == 5:  # one in flight among them, and one too recent
            await deliver(ledger, ChannelRef("slack", "T1", "live"), ["s5a"], at=then, sent=False)
            await deliver(ledger, ChannelRef("slack", "T1", "new"), ["s5a"], at=NOW)
    batches: list[int] = []

    async def counted(engine: AsyncEngine, work: Callable[[AsyncConnection], Awaitable[Any]],
                      **options: Any) -> Any:  # fmt: skip
        result = await db.write(engine, work, **options)
        if isinstance(result, tuple):  # a batch (then the records no message shows)
            batches.append(len(result[0]))  # the stories this transaction deleted
        return result

    monkeypatch.setattr(ledger_module, "write", counted)
    keep = open_since(NOW, GRACE)
    assert await records(engine) == (13, 37)  # 12 old messages' and the new one's
    assert await ledger.prune(older_than=OLD, keep_stories_since=keep, batch=10) == Pruned(36, 12)
    assert batches == [10, 10, 10, 6]
    assert await messages(engine) == [("live", "pending"), ("new", "sent")]
    assert await records(engine) == (1, 1)  # what no message shows any more went with them
    batches.clear()
    assert await ledger.prune(older_than=OLD, keep_stories_since=keep, batch=10) == Pruned(0, 0)
    assert batches == [0]


async def test_the_bot_prunes_past_the_retention_setting(
    core: Core, caplog: pytest.LogCaptureFixture
) -> None:
    now = core.clock.now()
    ledger = core.ledger
    await deliver(ledger, A, ["gone-story"], at=now - timedelta(days=91))
    await deliver(ledger, B, ["kept-story"], at=now - timedelta(days=30))
    service = build_bot(core, {}).service
    with caplog.at_level(logging.INFO, logger="bot.service"):
        assert await service.prune_ledger() == Pruned(1, 1)
    before = now - timedelta(days=90)
    assert f"forgot 1 delivered stories in 1 messages sent before {before:%Y-%m-%d %H:%M} UTC" in (
        caplog.text
    )
    assert await service.prune_ledger() == Pruned(0, 0)

    core.settings = settings_for(core.settings.database_url, ledger_retention="P7D")
    assert await build_bot(core, {}).service.prune_ledger() == Pruned(1, 1)
    assert await messages(core.engine) == []


async def test_the_bot_runs_the_retention_hourly(core: Core) -> None:
    service = build_bot(core, {}).service
    await service.start()
    try:
        job = service.scheduler.get_job("ledger-retention")
        assert job is not None and job.trigger.interval == timedelta(hours=1)
    finally:
        await service.stop()
