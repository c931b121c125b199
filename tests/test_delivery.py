"""Scheduled pushes and deliveries with an injected clock: DST, catch-up, replicas, crashes,
instant alerts, feed polling, rate limits and failures (over HTTP, on loopback)."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from contextlib import AsyncExitStack
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.console import ConsoleSender
from bot.app import Core, build_bot
from bot.clock import FrozenClock
from bot.delivery import (
    CLAIM_LEASE,
    DeliveryEngine,
    DeliveryError,
    FailureScope,
    Outgoing,
    RateLimits,
    Sender,
    scan,
)
from bot.delivery.attempts import Refusals
from bot.delivery.inflight import InFlight
from bot.delivery.outcomes import Outcomes
from bot.digests import DIGEST_STORY_CAP, pending_digest
from bot.domain import ChannelRef, Insight, Story, Subscription
from bot.lifecycle import scope_reason
from bot.render.model import Digest, Notice
from bot.schedule import next_push_for
from bot.service import in_step
from bot.store.claims import PushClaims
from bot.store.ledger import Ask, DeliveryLedger
from bot.store.stories import StoryStore
from bot.store.subscriptions import SubscriptionStore
from bot.store.tables import push_claims
from tests.adapters.console_session import session
from tests.conftest import started_core
from tests.fakes.platform import FakePlatform, HttpSender, serve_platform
from tests.fakes.web import FakeSite, serve


def story(n: int, when: datetime, region: str = "europe") -> Story:
    return Story(
        url=f"https://www.semafor.com/article/11/20/2026/delivery-test-{n}",
        kind="signals",
        title=f"Test story number {n}",
        published_at=when,
        region=region,
        news=[f"Something happened, item {n}."],
        insights=[Insight(title="A view", sources=["Reuters"], body="Analysts said so.")],
    )


def engine_for(
    engine: AsyncEngine, clock: FrozenClock, senders: dict[str, Sender], **options: object
) -> DeliveryEngine:
    return DeliveryEngine(
        stories=StoryStore(engine), subscriptions=SubscriptionStore(engine),
        claims=PushClaims(engine), ledger=DeliveryLedger(engine), senders=senders, clock=clock,
        **options,  # type: ignore[arg-type]
    )  # fmt: skip


async def subscribe(
    engine: AsyncEngine, clock: FrozenClock, channel: ChannelRef, region: str = "europe",
    *, at: time = time(7, 0), zone: str = "Europe/Brussels", mode: str = "digest",
) -> Subscription:  # fmt: skip
    sub = Subscription(channel=channel, region=region, push_time=at, timezone=zone, mode=mode)  # type: ignore[arg-type]
    if mode == "digest":
        sub = Subscription(**{**sub.__dict__, "next_push_at": next_push_for(sub, clock.now())})
    saved, _ = await SubscriptionStore(engine).save(sub, now=clock.now())
    return saved


@pytest.mark.parametrize(
    ("zone", "at", "first_day", "dst_day", "that_day"),
    [  # on the fall-back day the first of the two times; a missing time moves an hour on
        ("America/New_York", time(1, 30), date(2026, 10, 29), date(2026, 11, 1), time(1, 30)),
        ("America/New_York", time(2, 30), date(2026, 3, 5), date(2026, 3, 8), time(3, 30)),
        ("Europe/Brussels", time(2, 30), date(2026, 3, 26), date(2026, 3, 29), time(3, 30)),
        ("Europe/Brussels", time(2, 30), date(2026, 10, 22), date(2026, 10, 25), time(2, 30)),
    ],
)
async def test_one_push_per_local_day_across_dst(
    engine: AsyncEngine, zone: str, at: time, first_day: date, dst_day: date, that_day: time
) -> None:
    tz = ZoneInfo(zone)
    clock = FrozenClock(datetime.combine(first_day, time(0), tzinfo=tz).astimezone(UTC))
    printed: list[str] = []
    delivery = engine_for(engine, clock, {"console": ConsoleSender(printed.append)})
    await subscribe(engine, clock, ChannelRef("console", "t", "#dst"), at=at, zone=zone)
    pushes: list[datetime] = []
    for _ in range(7 * 24 * 2):  # a week in half-hour steps
        clock.advance(timedelta(minutes=30))
        for outcome in await delivery.run_due():
            assert outcome.slot is not None
            pushes.append(outcome.slot)
    days = Counter(p.astimezone(tz).date() for p in pushes)
    assert sorted(days) == [first_day + timedelta(days=n) for n in range(7)]
    assert set(days.values()) == {1}, days
    (on_dst_day,) = [p for p in pushes if p.astimezone(tz).date() == dst_day]
    local = on_dst_day.astimezone(tz)
    assert (local.time(), local.fold) == (that_day, 0)


class Busy:
    """A platform that asks to be left alone for a long while, then takes messages again."""

    platform = "console"
    limits = RateLimits()

    def __init__(self) -> None:
        self.busy = True
        self.sent: list[Outgoing] = []

    async def send(self, message: Outgoing) -> str | None:
        if self.busy:
            raise DeliveryError("rate limited", retry_after=900)
        self.sent.append(message)
        return "1"


async def test_a_retry_past_midnight_keeps_the_next_days_push(engine: AsyncEngine) -> None:
    tz = ZoneInfo("Europe/Brussels")
    clock = FrozenClock(datetime(2026, 11, 10, 12, 0, tzinfo=tz).astimezone(UTC))
    await StoryStore(engine).save(story(1, clock.now()), now=clock.now())
    sub = await subscribe(engine, clock, ChannelRef("console", "t", "#late"), at=time(23, 55))
    busy = Busy()
    delivery = engine_for(engine, clock, {"console": busy})
    clock.set(datetime(2026, 11, 10, 23, 55, tzinfo=tz).astimezone(UTC))
    (first,) = await delivery.run_due()
    assert first.status == "retrying"
    retry = await SubscriptionStore(engine).get(sub.id or 0)
    assert retry is not None and retry.next_push_at is not None
    assert retry.next_push_at.astimezone(tz).date() == date(2026, 11, 11)  # past midnight
    busy.busy = False
    clock.set(retry.next_push_at)
    (second,) = await delivery.run_due()
    assert second.status == "sent" and len(busy.sent) == 1
    after = await SubscriptionStore(engine).get(sub.id or 0)
    assert after is not None and after.next_push_at is not None
    assert after.next_push_at.astimezone(tz) == datetime(2026, 11, 11, 23, 55, tzinfo=tz)


@pytest.mark.parametrize(
    ("late", "goes_out"), [(timedelta(hours=3), True), (timedelta(hours=7), False)]
)
async def test_restart_catches_up_inside_the_grace_window_only(
    engine: AsyncEngine, late: timedelta, goes_out: bool, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FrozenClock(datetime(2026, 11, 24, 12, 0, tzinfo=UTC))
    channel = ChannelRef("console", "t", "#catchup")
    sub = await subscribe(engine, clock, channel)  # next push Wed 25 Nov 07:00 Brussels
    assert sub.next_push_at == datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
    await StoryStore(engine).save(
        story(1, datetime(2026, 11, 25, 5, 0, tzinfo=UTC)), now=clock.now()
    )
    clock.set(sub.next_push_at + late)  # the bot was down over the push time
    printed: list[str] = []
    delivery = engine_for(engine, clock, {"console": ConsoleSender(printed.append)})
    with caplog.at_level(logging.WARNING, logger="bot.delivery"):
        (outcome,) = await delivery.run_due()
    after = await SubscriptionStore(engine).get(sub.id or 0)
    assert after is not None and after.next_push_at == datetime(2026, 11, 26, 6, 0, tzinfo=UTC)
    if goes_out:
        assert outcome.status == "sent" and len(printed) == 1
    else:
        assert outcome.status == "skipped" and printed == []
        assert "older than the 6:00:00 grace window" in caplog.text
        assert after.last_result and "missed the push due 2026-11-25 06:00 UTC" in after.last_result


async def test_two_engines_on_one_database_never_double_deliver(
    database_url: str, engine: AsyncEngine
) -> None:
    clock = FrozenClock(datetime(2026, 11, 24, 12, 0, tzinfo=UTC))
    stories = StoryStore(engine)
    for n in range(6):
        await stories.save(
            story(n, datetime(2026, 11, 25, 4, n, tzinfo=UTC), region="europe" if n % 2 else "uk"),
            now=clock.now(),
        )
    channels = [ChannelRef("console", "t", f"#c{n}") for n in range(40)]
    for channel in channels:
        await subscribe(engine, clock, channel, "europe")
        await subscribe(engine, clock, channel, "uk")  # overlaps europe
    clock.set(datetime(2026, 11, 25, 6, 0, 30, tzinfo=UTC))
    printed_a: list[str] = []
    printed_b: list[str] = []
    # a second process: its own connection pool on the same database
    from bot.store import db

    other = db.create_engine(database_url)
    try:
        a = engine_for(engine, clock, {"console": ConsoleSender(printed_a.append)})
        b = engine_for(other, clock, {"console": ConsoleSender(printed_b.append)})
        results = await asyncio.gather(a.run_due(), b.run_due(), a.run_due(), b.run_due())
    finally:
        await other.dispose()
    claimed = [o.subscription_id for batch in results for o in batch]
    assert len(claimed) == len(set(claimed)) == 80  # every push claimed once
    printed = printed_a + printed_b
    for channel in channels:
        text = "".join(p for p in printed if f"[{channel.channel}]" in p)
        for n in range(6):
            assert text.count(f"Test story number {n}\n") == 1, (channel, n)
    assert await DeliveryLedger(engine).count_sent() == 40 * 6


class Hang:
    """A platform that accepts the connection and never answers (the process is then killed)."""

    platform = "console"
    limits = RateLimits()

    async def send(self, message: Outgoing) -> str | None:
        await asyncio.Event().wait()
        return None


async def test_a_run_killed_mid_push_loses_nothing(engine: AsyncEngine) -> None:
    clock = FrozenClock(datetime(2026, 11, 24, 12, 0, tzinfo=UTC))
    for n in range(3):
        await StoryStore(engine).save(
            story(n, datetime(2026, 11, 25, 5, n, tzinfo=UTC)), now=clock.now()
        )
    sub = await subscribe(engine, clock, ChannelRef("console", "t", "#crash"))
    clock.set(datetime(2026, 11, 25, 6, 0, tzinfo=UTC))
    doomed = engine_for(engine, clock, {"console": Hang()})
    push = asyncio.ensure_future(doomed.run_due())
    await asyncio.sleep(0.3)  # claimed and reserved, stuck in send
    push.cancel()  # the process dies: no cleanup code of ours runs after this point
    with pytest.raises(asyncio.CancelledError):
        await push
    stuck = await SubscriptionStore(engine).get(sub.id or 0)
    assert stuck is not None and stuck.next_push_at == datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
    # restart: a new process, after the dead one's claim has gone stale
    clock.advance(CLAIM_LEASE + timedelta(minutes=1))
    printed: list[str] = []
    (outcome,) = await engine_for(
        engine, clock, {"console": ConsoleSender(printed.append)}
    ).run_due()
    assert outcome.status == "sent" and outcome.stories == 3
    assert all(f"Test story number {n}" in printed[0] for n in range(3))


async def test_a_dead_replicas_push_is_taken_over_without_waiting_for_its_lease(
    engine: AsyncEngine,
) -> None:
    clock = FrozenClock(datetime(2026, 11, 24, 12, 0, tzinfo=UTC))
    await StoryStore(engine).save(story(1, datetime(2026, 11, 25, 5, 0, tzinfo=UTC)),
                                  now=clock.now())  # fmt: skip
    await subscribe(engine, clock, ChannelRef("console", "t", "#killed"))
    clock.set(datetime(2026, 11, 25, 6, 0, tzinfo=UTC))
    doomed = engine_for(engine, clock, {"console": Hang()})
    push = asyncio.ensure_future(doomed.run_due())
    await asyncio.sleep(0.3)  # claimed and reserved, stuck in send: then SIGKILL
    push.cancel()
    with pytest.raises(asyncio.CancelledError):
        await push
    clock.advance(timedelta(seconds=40))  # well inside the lease
    printed: list[str] = []
    other = engine_for(engine, clock, {"console": ConsoleSender(printed.append)})
    assert await other.run_due() == []  # alive, as far as anyone knows: its push is its own
    other.dead = frozenset({doomed.token})  # its heartbeat stopped
    (outcome,) = await other.run_due()
    assert outcome.status == "sent" and outcome.stories == 1
    assert len(printed) == 1


async def test_a_cancelled_scan_stops_at_once_and_leaves_nothing_running(
    engine: AsyncEngine,
) -> None:
    clock = await story_due(engine, *(f"#stop{n}" for n in range(40)))
    before = asyncio.all_tasks()
    scan = asyncio.ensure_future(
        engine_for(engine, clock, {"console": Hang()}, concurrency=1, batch=10).run_due()
    )
    await asyncio.sleep(0.3)  # claimed, planned ahead, its one sender stuck in a send
    scan.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(scan, timeout=2)
    await asyncio.sleep(0.05)  # a cancelled task ends at its next turn
    assert not [t for t in asyncio.all_tasks() - before if not t.done()]  # no sender, no write-back


async def story_due(engine: AsyncEngine, *channels: str) -> FrozenClock:
    """Console channels with one story due in their next push (due now, by the clock)."""
    clock = FrozenClock(datetime(2026, 11, 24, 12, 0, tzinfo=UTC))
    await StoryStore(engine).save(
        story(1, datetime(2026, 11, 25, 5, 0, tzinfo=UTC)), now=clock.now()
    )
    for channel in channels:
        await subscribe(engine, clock, ChannelRef("console", "t", channel))
    clock.set(datetime(2026, 11, 25, 6, 0, tzinfo=UTC))
    return clock


async def one_story_due(
    engine: AsyncEngine, channel: str
) -> tuple[FrozenClock, list[str], DeliveryEngine]:
    """A channel with one story due in its next push (it is due now), and an engine that
    prints what it sends."""
    clock = await story_due(engine, channel)
    printed: list[str] = []
    return clock, printed, engine_for(engine, clock, {"console": ConsoleSender(printed.append)})


async def database_gone(*args: object, **kwargs: object) -> None:
    raise ConnectionError("database connection lost")


async def test_a_failed_write_back_never_undoes_the_record_of_what_was_sent(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock, printed, first = await one_story_due(engine, "#wb")
    monkeypatch.setattr(first.claims, "finish", database_gone)  # outcome not written
    with pytest.raises(ConnectionError):
        await first.run_due()
    assert len(printed) == 1
    # the claim goes stale and the push is taken up again: the story went out already
    clock.advance(CLAIM_LEASE + timedelta(minutes=1))
    (outcome,) = await engine_for(
        engine, clock, {"console": ConsoleSender(printed.append)}
    ).run_due()
    assert outcome.status == "empty" and len(printed) == 1


async def test_a_later_scan_never_takes_over_a_message_left_unsettled(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock, printed, delivery = await one_story_due(engine, "#ls")
    with monkeypatch.context() as patch:
        patch.setattr(delivery.ledger, "settle", database_gone)  # ledger not settled
        with pytest.raises(ConnectionError):
            await delivery.run_due()
    assert len(printed) == 1
    # The claim went stale a little before the reservation made after it (a claim is taken,
    # then its stories reserved): the same process scans again in between.
    async with engine.begin() as conn:
        await conn.execute(push_claims.update().values(claimed_at=clock.now() - CLAIM_LEASE * 2))
    clock.advance(timedelta(minutes=1))
    (outcome,) = await delivery.run_due()
    # the story is still held by the first message, which is never mistaken for this scan's
    assert outcome.status == "empty" and len(printed) == 1


async def test_instant_subscribers_get_new_stories_within_a_scan(core: Core) -> None:
    printed: list[str] = []
    service = build_bot(core, {"console": ConsoleSender(printed.append)}).service
    channel = ChannelRef("console", "local", "#alerts")
    await subscribe(core.engine, core.clock, channel, "africa", mode="instant")  # type: ignore[arg-type]
    await service.start()
    try:
        await service.scan()
        printed.clear()  # what was already stored before is not news
        new = story(99, core.clock.now(), region="africa")
        core.clock.advance(timedelta(seconds=1))
        await core.stories.save(new, now=core.clock.now())
        await service.scan()
        await service.scan()
    finally:
        await service.stop()
    assert len(printed) == 1 and "Test story number 99" in printed[0]


async def test_overlapping_instant_subscriptions_alert_a_channel_once(
    engine: AsyncEngine,
) -> None:
    clock = FrozenClock(datetime(2026, 11, 25, 9, 0, tzinfo=UTC))
    channel, other = ChannelRef("console", "t", "#alerts"), ChannelRef("console", "t", "#other")
    for region in ("europe", "uk"):  # a UK story matches both
        await subscribe(engine, clock, channel, region, mode="instant")
    await subscribe(engine, clock, other, "uk", mode="instant")
    printed: list[str] = []
    delivery = engine_for(engine, clock, {"console": ConsoleSender(printed.append)})
    news = [story(n, clock.now(), region="uk") for n in (1, 2)]
    assert await delivery.deliver_instant(news) == 4  # two stories, two channels
    assert await delivery.deliver_instant(news) == 0  # and never again
    for target in (channel, other):
        text = "".join(p for p in printed if f"[{target.channel}]" in p)
        assert [text.count(f"Test story number {n}\n") for n in (1, 2)] == [1, 1], target
    assert await DeliveryLedger(engine).count_sent() == 4


class Gate:
    """A console that holds every send until the test opens the gate."""

    platform = "console"
    limits = RateLimits()

    def __init__(self) -> None:
        self.opened = asyncio.Event()
        self.waiting = asyncio.Event()
        self.sent: list[Outgoing] = []

    async def send(self, message: Outgoing) -> str | None:
        self.waiting.set()
        await self.opened.wait()
        self.sent.append(message)
        return str(len(self.sent))


async def test_a_change_made_during_a_push_is_not_undone_by_it(engine: AsyncEngine) -> None:
    clock = FrozenClock(datetime(2026, 11, 24, 12, 0, tzinfo=UTC))
    await StoryStore(engine).save(
        story(1, datetime(2026, 11, 25, 5, 0, tzinfo=UTC)), now=clock.now()
    )
    channel = ChannelRef("console", "t", "#busy")
    sub = await subscribe(engine, clock, channel)
    clock.set(datetime(2026, 11, 25, 6, 0, tzinfo=UTC))
    gate = Gate()
    push = asyncio.ensure_future(engine_for(engine, clock, {"console": gate}).run_due())
    await asyncio.wait_for(gate.waiting.wait(), 5)  # claimed, reserved, being sent
    store = SubscriptionStore(engine)
    await store.set_paused(channel, None, paused=True, reason="paused by ann", now=clock.now())
    gate.opened.set()
    (outcome,) = await push
    assert outcome.status == "sent" and len(gate.sent) == 1
    after = await store.get(sub.id or 0)
    assert after is not None and after.paused and after.paused_reason == "paused by ann"


async def test_resuming_every_region_resumes_instant_ones_too(core: Core) -> None:
    out = await session(
        core,
        "/signals subscribe europe",
        "/signals subscribe asia mode instant",
        "/signals pause",
        "/signals resume",
    )
    assert "Resumed" in out
    channel = ChannelRef("console", "local", "#general")
    assert [s.paused for s in await core.subscriptions.for_channel(channel)] == [False, False]


async def test_overlapping_alert_runs_send_each_story_once(engine: AsyncEngine) -> None:
    clock = FrozenClock(datetime(2026, 11, 25, 9, 0, tzinfo=UTC))
    channel = ChannelRef("console", "t", "#alerts")
    await subscribe(engine, clock, channel, "europe", mode="instant")
    printed: list[str] = []
    delivery = engine_for(engine, clock, {"console": ConsoleSender(printed.append)})
    news = [story(n, clock.now()) for n in (1, 2)]
    counts = await asyncio.gather(delivery.deliver_instant(news), delivery.deliver_instant(news))
    assert sorted(counts) in ([0, 2], [1, 1]) and sum(counts) == 2
    assert len(printed) == 2


class Refused:
    """A platform that refuses every message for good: the channels of ``workspace`` with
    ``scope``, the others as single messages."""

    platform = "console"
    limits = RateLimits()

    def __init__(self, scope: FailureScope = "message", *workspaces: str) -> None:
        self.scope: FailureScope = scope
        self.workspaces = workspaces or ("t",)
        self.tried: list[Outgoing] = []
        self.delay = 0.0  # seconds each answer takes

    async def send(self, message: Outgoing) -> str | None:
        self.tried.append(message)
        if self.delay:
            await asyncio.sleep(self.delay)
        if message.channel.workspace not in self.workspaces:
            return "ok"
        if self.scope == "message":
            raise DeliveryError("Cannot send an empty message (HTTP 400)", permanent=True)
        raise DeliveryError("Unknown Channel (HTTP 404)", scope=self.scope)


async def test_a_message_refused_three_times_pauses_with_one_notice(engine: AsyncEngine) -> None:
    clock = FrozenClock(datetime(2026, 11, 25, 9, 0, tzinfo=UTC))
    channel = ChannelRef("console", "t", "#refused")
    sub = await subscribe(engine, clock, channel, "europe", mode="instant")
    refused = Refused()
    delivery = engine_for(engine, clock, {"console": refused})
    for round_ in range(3):  # each round's five alerts are each tried, and count one failure
        news = [story(10 * round_ + n, clock.now()) for n in range(5)]
        assert await delivery.deliver_instant(news) == 0
        await delivery.in_flight.wait()  # the notice goes out in the background
        after = await SubscriptionStore(engine).get(sub.id or 0)
        assert after is not None and after.failures == round_ + 1
        assert after.paused == (round_ == 2)
    assert len([m for m in refused.tried if not isinstance(m.content, Notice)]) == 15
    assert len([m for m in refused.tried if isinstance(m.content, Notice)]) == 1
    assert after.paused_reason and after.paused_reason.startswith("paused after 3 failed")


async def test_a_gone_channel_is_tried_once_a_round_and_paused_at_the_third(
    engine: AsyncEngine,
) -> None:
    clock = FrozenClock(datetime(2026, 11, 25, 9, 0, tzinfo=UTC))
    channel = ChannelRef("console", "t", "#gone")
    subs = [await subscribe(engine, clock, channel, r, mode="instant") for r in ("europe", "africa")]
    gone = Refused("channel")
    delivery = engine_for(engine, clock, {"console": gone})
    for round_ in range(3):
        news = [story(10 * round_ + n, clock.now(), region=("uk", "africa")[n % 2])
                for n in range(5)]  # fmt: skip
        assert await delivery.deliver_instant(news) == 0
        await delivery.in_flight.wait()  # the notice goes out in the background
        # one alert tried a round: the channel's other alerts fail without a request
        assert len([m for m in gone.tried if not isinstance(m.content, Notice)]) == round_ + 1
        for sub in subs:  # one failure a round for each subscription, not one per alert
            after = await SubscriptionStore(engine).get(sub.id or 0)
            assert after is not None and after.failures == round_ + 1
            assert after.paused == (round_ == 2)
    (notice,) = [m.content for m in gone.tried if isinstance(m.content, Notice)]
    assert "Europe and Africa subscriptions" in notice.text  # one notice for both
    after = await SubscriptionStore(engine).get(subs[0].id or 0)
    assert after is not None
    assert after.paused_reason == "paused after 3 failed deliveries in a row: Unknown Channel (HTTP 404)"
    assert await delivery.deliver_instant([story(99, clock.now(), region="uk")]) == 0
    assert len(gone.tried) == 4  # paused: not tried again


@pytest.mark.parametrize(
    ("scope", "reason"),
    [
        ("workspace", "signalbot is no longer installed in this workspace"),
        ("token", "the bot's access to this workspace was revoked or refused"),
    ],
)
async def test_a_workspace_refused_in_a_scan_is_paused_at_once_and_tried_no_more(
    engine: AsyncEngine, scope: FailureScope, reason: str
) -> None:
    clock = FrozenClock(datetime(2026, 11, 24, 12, 0, tzinfo=UTC))
    await StoryStore(engine).save(
        story(1, datetime(2026, 11, 25, 5, 0, tzinfo=UTC)), now=clock.now()
    )
    lost = [
        await subscribe(engine, clock, ChannelRef("console", "lost", f"#l{n}")) for n in range(12)
    ]
    kept = [await subscribe(engine, clock, ChannelRef("console", "t", f"#k{n}")) for n in range(3)]
    clock.set(datetime(2026, 11, 25, 6, 0, tzinfo=UTC))
    refusing = Refused(scope, "lost")
    outcomes = await engine_for(
        engine, clock, {"console": refusing}, concurrency=1, batch=5
    ).run_due()
    assert len([m for m in refusing.tried if m.channel.workspace == "lost"]) == 1
    # pushes planned after the pause are left out: paused since their claim, which went
    statuses = Counter(o.status for o in outcomes)
    assert statuses["sent"] == 3 and 1 <= statuses["paused"] <= 12 and len(statuses) == 2
    store = SubscriptionStore(engine)
    for sub in lost:
        after = await store.get(sub.id or 0)
        assert after is not None and after.paused
        assert after.paused_reason == f"{reason}: Unknown Channel (HTTP 404)"
        # paused before the outcomes were written, which left it alone
        assert after.next_push_at == sub.next_push_at and after.last_result is None
    for sub in kept:
        after = await store.get(sub.id or 0)
        assert after is not None and not after.paused and after.last_result == "sent 1 stories"


async def test_two_workspaces_refused_in_one_scan_are_both_paused(engine: AsyncEngine) -> None:
    clock = FrozenClock(datetime(2026, 11, 24, 12, 0, tzinfo=UTC))
    await StoryStore(engine).save(story(1, datetime(2026, 11, 25, 5, 0, tzinfo=UTC)), now=clock.now())
    kept = [await subscribe(engine, clock, ChannelRef("console", "t", f"#k{n}")) for n in range(3)]
    lost = [  # the second workspace is refused while the first one's pause is being written
        await subscribe(engine, clock, ChannelRef("console", f"lost-{min(1, n // 4)}", f"#l{n}"))
        for n in range(40)
    ]
    clock.set(datetime(2026, 11, 25, 6, 0, tzinfo=UTC))
    refusing = Refused("token", "lost-0", "lost-1")
    refusing.delay = 0.002
    delivery = engine_for(engine, clock, {"console": refusing}, concurrency=2, batch=5)
    outcomes = await delivery.run_due()
    assert Counter(o.status for o in outcomes)["sent"] == 3
    store = SubscriptionStore(engine)
    for sub in lost:
        after = await store.get(sub.id or 0)
        assert after is not None and after.paused, sub.channel
    for sub in kept:
        after = await store.get(sub.id or 0)
        assert after is not None and not after.paused and after.last_result == "sent 1 stories"
    async with engine.connect() as conn:  # every claim was released
        assert (await conn.execute(text("SELECT count(*) FROM push_claims"))).scalar_one() == 0


async def test_a_refusal_noted_while_pauses_are_written_is_paused_too(
    engine: AsyncEngine,
) -> None:
    """The scan's senders go on while a write-back pauses what was refused: a workspace
    refused meanwhile is paused as well (and nothing breaks the loop over the refusals)."""
    refusals = Refusals()
    later = ChannelRef("console", "w-2", "#b")

    class Store(SubscriptionStore):
        async def pause_workspace(
            self, platform: str, workspace: str, *, reason: str, now: datetime
        ) -> int:
            paused = await super().pause_workspace(platform, workspace, reason=reason, now=now)
            refusals.note(later, DeliveryError("token_revoked", scope="token"))  # meanwhile
            return paused

    clock = FrozenClock(datetime(2026, 11, 25, 9, 0, tzinfo=UTC))
    first = await subscribe(engine, clock, ChannelRef("console", "w-1", "#a"))
    second = await subscribe(engine, clock, later)
    refusals.note(first.channel, DeliveryError("account_inactive", scope="token"))
    outcomes = Outcomes(Store(engine), {}, InFlight())
    await outcomes.pause_refused(refusals, clock.now())
    await outcomes.pause_refused(refusals, clock.now())  # the next batch's write-back
    for sub in (first, second):
        after = await SubscriptionStore(engine).get(sub.id or 0)
        assert after is not None and after.paused


async def test_a_token_refused_for_the_whole_platform_pauses_nothing(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FrozenClock(datetime(2026, 11, 24, 12, 0, tzinfo=UTC))
    await StoryStore(engine).save(story(1, datetime(2026, 11, 25, 5, 0, tzinfo=UTC)), now=clock.now())
    subs = [
        await subscribe(engine, clock, ChannelRef("console", f"guild-{n}", "#news"))
        for n in range(6)
    ]
    clock.set(datetime(2026, 11, 25, 6, 0, tzinfo=UTC))
    refusing = Refused("platform", *(f"guild-{n}" for n in range(6)))
    outcomes = await engine_for(engine, clock, {"console": refusing}, concurrency=1).run_due()
    assert len(refusing.tried) == 1  # the first refusal stops the rest
    assert Counter(o.status for o in outcomes) == {"retrying": 6}
    assert "refused the bot's token" in caplog.text
    for sub in subs:
        after = await SubscriptionStore(engine).get(sub.id or 0)
        assert after is not None and not after.paused and after.failures == 0
        assert after.next_push_at == clock.now() + timedelta(minutes=10)  # tried again soon


async def test_send_now_tries_a_lost_channel_once_for_all_its_regions(engine: AsyncEngine) -> None:
    clock = FrozenClock(datetime(2026, 11, 25, 9, 0, tzinfo=UTC))
    await StoryStore(engine).save(story(1, clock.now(), region="uk"), now=clock.now())
    channel = ChannelRef("console", "t", "#gone")
    subs = [await subscribe(engine, clock, channel, r) for r in ("europe", "uk")]
    gone = Refused("channel")
    outcomes = await engine_for(engine, clock, {"console": gone}).push_now(subs)
    assert [o.status for o in outcomes] == ["failed", "failed"]
    assert len(gone.tried) == 1
    for sub in subs:
        after = await SubscriptionStore(engine).get(sub.id or 0)
        assert after is not None and after.failures == 1 and not after.paused


async def test_feeds_are_polled_with_conditional_gets(database_url: str) -> None:
    clock = FrozenClock(datetime(2026, 11, 25, 12, 0, tzinfo=UTC))
    site = FakeSite()
    item = "<item><title>{t}</title><link>https://example.org/{n}</link><category>Africa</category></item>"
    feed = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'
    )
    async with serve(site), AsyncExitStack() as stack:
        route = site.add("/feed.xml", feed.format(items=item.format(t="First", n=1)),
                         content_type="application/rss+xml")  # fmt: skip
        core = await stack.enter_async_context(
            started_core(database_url, clock, samples=False,
                         feeds=f"http://127.0.0.1:{site.port}/feed.xml")
        )  # fmt: skip
        printed: list[str] = []
        service = build_bot(
            core,
            {"console": ConsoleSender(printed.append)},
            alerts_since=clock.now() - timedelta(minutes=1),
        ).service
        await subscribe(
            core.engine, clock, ChannelRef("console", "local", "#f"), "africa", mode="instant"
        )  # type: ignore[arg-type]
        try:
            first = await service.poll_feeds()
            again = await service.poll_feeds()
            route.body = feed.format(
                items=item.format(t="First", n=1) + item.format(t="Second", n=2)
            ).encode()
            clock.advance(timedelta(seconds=5))
            third = await service.poll_feeds()
        finally:
            await service.stop()
    assert [s.title for s in first] == ["First"]
    assert again == []
    assert [s.title for s in third] == ["Second"]
    assert site.requests[1]["headers"].get("If-None-Match")
    assert [p.count("First") + p.count("Second") for p in printed] == [1, 1]


async def test_rate_limits_retries_and_failures_over_http(core: Core) -> None:
    platform = FakePlatform(channel_limit=(2, 1.0))
    limits = RateLimits(per_channel=(5, 1.0))
    async with (
        serve_platform(platform),
        HttpSender(f"http://127.0.0.1:{platform.port}", limits=limits) as sender,
    ):
        delivery = build_bot(core, {"fake": sender}).delivery
        good = ChannelRef("fake", "g", "busy-1")
        flaky = ChannelRef("fake", "g", "flaky-1")
        gone = ChannelRef("fake", "g", "gone-1")
        cards = [story(n, core.clock.now(), "europe") for n in range(4)]
        for item in cards:
            await core.stories.save(item, now=core.clock.now())
        for channel in (good, flaky, gone):
            await subscribe(core.engine, core.clock, channel, "europe", mode="instant")  # type: ignore[arg-type]
        sent = await delivery.deliver_instant(cards)
        assert sent == 8  # 4 each to the busy and the flaky channel, none to the gone one
        assert platform.rejected_429 > 0  # the busy channel was told to wait, and waited
        by_channel = Counter(channel for channel, _, _ in platform.accepted)
        assert by_channel == {"busy-1": 4, "flaky-1": 4}
        (lost,) = [s for s in await core.subscriptions.for_channel(gone)]
        # one failure for its four alerts (sent together: each was on its way)
        assert not lost.paused and lost.failures == 1
        again = await delivery.deliver_instant(cards)
        assert again == 0  # delivered once; the gone channel tried again
        (lost,) = [s for s in await core.subscriptions.for_channel(gone)]
        assert not lost.paused and lost.failures == 2


TOKEN_REFUSED = scope_reason("token", "401: Unauthorized (HTTP 401)")


@pytest.mark.parametrize(
    ("name", "error", "batch"),
    [
        ("gone-1", "Unknown Channel (HTTP 404)", 100),
        ("forbidden-1", "Missing Access (HTTP 403)", 100),
        ("gone-2", "Unknown Channel (HTTP 404)", 1),  # its regions in batches of their own
    ],
)
async def test_a_lost_channel_pauses_every_region_after_three_failed_pushes(
    core: Core, name: str, error: str, batch: int
) -> None:
    platform = FakePlatform()
    async with serve_platform(platform), HttpSender(f"http://127.0.0.1:{platform.port}") as sender:
        delivery = DeliveryEngine(
            stories=core.stories, subscriptions=core.subscriptions, claims=core.claims,
            ledger=core.ledger, senders={"fake": sender}, clock=core.clock, concurrency=1,
            batch=batch,
        )  # fmt: skip
        lost = ChannelRef("fake", "g", name)
        regions = ("europe", "africa", "east-asia")  # no overlap: each push has a story
        subs = [await subscribe(core.engine, core.clock, lost, r) for r in regions]
        for n in range(2):
            await subscribe(core.engine, core.clock, ChannelRef("fake", "g", f"ok-{n}"))
        for day in range(3):
            core.clock.advance(timedelta(days=1))
            for n, region in enumerate(regions):
                item = story(10 * day + n, core.clock.now(), region)
                await core.stories.save(item, now=core.clock.now())
            outcomes = await delivery.run_due()
            await delivery.in_flight.wait()
            lost_status = "paused" if day == 2 else "failed"
            assert Counter(o.status for o in outcomes) == {lost_status: 3, "sent": 2}
            # one request a push for the channel's three regions; at the third, one notice
            assert platform.refused == [name] * (day + 1 + (day == 2))
        for sub in subs:
            after = await core.subscriptions.get(sub.id or 0)
            assert after is not None and after.paused and after.failures == 3
            assert after.paused_reason == f"paused after 3 failed deliveries in a row: {error}"
        core.clock.advance(timedelta(days=1))  # the other channels keep going
        await core.stories.save(story(99, core.clock.now()), now=core.clock.now())
        again = await delivery.run_due()
        await delivery.drain()
    assert [(o.channel.channel, o.status) for o in again] == [("ok-0", "sent"), ("ok-1", "sent")]
    assert len(platform.refused) == 4  # a paused channel is not tried again


class CountingStore(SubscriptionStore):
    """The subscription store, counting the pauses of whole workspaces."""

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine)
        self.workspace_pauses: list[tuple[str, str]] = []

    async def pause_workspace(
        self, platform: str, workspace: str, *, reason: str, now: datetime
    ) -> int:
        self.workspace_pauses.append((platform, workspace))
        return await super().pause_workspace(platform, workspace, reason=reason, now=now)


async def test_a_revoked_token_pauses_its_workspace_once(core: Core) -> None:
    platform = FakePlatform()
    store = CountingStore(core.engine)
    async with serve_platform(platform), HttpSender(f"http://127.0.0.1:{platform.port}") as sender:
        delivery = DeliveryEngine(
            stories=core.stories, subscriptions=store, claims=core.claims, ledger=core.ledger,
            senders={"fake": sender}, clock=core.clock, concurrency=4, batch=10,
        )  # fmt: skip
        revoked, kept = [], []
        for n in range(50):  # the two workspaces' pushes interleaved, over several batches
            revoked.append(
                await subscribe(core.engine, core.clock, ChannelRef("fake", "w-r", f"revoked-{n}"))
            )
            if n % 5 == 0:
                kept.append(
                    await subscribe(core.engine, core.clock, ChannelRef("fake", "w-ok", f"ok-{n}"))
                )
        core.clock.advance(timedelta(days=1))
        await core.stories.save(story(1, core.clock.now()), now=core.clock.now())
        outcomes = await delivery.run_due()
        await delivery.drain()
    assert store.workspace_pauses == [("fake", "w-r")]  # one write for the workspace
    assert len(platform.refused) <= 4  # what was already on its way, no more
    assert sorted(c for c, _, _ in platform.accepted) == sorted(s.channel.channel for s in kept)
    assert Counter(o.status for o in outcomes)["sent"] == len(kept)
    for sub in revoked:
        after = await store.get(sub.id or 0)
        assert after is not None and after.paused and after.paused_reason == TOKEN_REFUSED


async def test_send_now_honours_the_scope_of_a_failure(core: Core) -> None:
    platform = FakePlatform()
    async with serve_platform(platform), HttpSender(f"http://127.0.0.1:{platform.port}") as sender:
        delivery = build_bot(core, {"fake": sender}).delivery
        await core.stories.save(story(1, core.clock.now()), now=core.clock.now())
        gone = ChannelRef("fake", "g", "gone-2")
        gone_subs = [await subscribe(core.engine, core.clock, gone, r) for r in ("europe", "uk")]
        (outcome,) = await delivery.push_now(gone_subs[:1])
        assert outcome.status == "failed"
        assert outcome.detail.endswith("(Unknown Channel (HTTP 404))")
        lost = await core.subscriptions.for_channel(gone)
        assert [(s.failures, s.paused) for s in lost] == [(1, False), (0, False)]
        revoked = [ChannelRef("fake", "w", f"revoked-{n}") for n in range(2)]
        revoked_subs = [await subscribe(core.engine, core.clock, c) for c in revoked]
        assert (await delivery.push_now(revoked_subs[:1]))[0].status == "paused"
        await delivery.drain()
    for sub in revoked_subs:  # the workspace's other channel too
        after = await core.subscriptions.get(sub.id or 0)
        assert after is not None and after.paused and after.paused_reason == TOKEN_REFUSED
    assert platform.refused == ["gone-2", "revoked-0"]  # no notices tried
    sent = story(1, core.clock.now()).id
    assert await core.ledger.delivered_to([gone, *revoked], [sent]) == set()


async def test_instant_alerts_honour_the_scope_of_a_failure(core: Core) -> None:
    platform = FakePlatform()
    async with serve_platform(platform), HttpSender(f"http://127.0.0.1:{platform.port}") as sender:
        delivery = build_bot(core, {"fake": sender}, concurrency=1).delivery
        revoked = [ChannelRef("fake", "w-r", f"revoked-{n}") for n in range(3)]
        gone = ChannelRef("fake", "g", "gone-3")
        for channel in (*revoked, gone, ChannelRef("fake", "g", "ok-1")):
            await subscribe(core.engine, core.clock, channel, mode="instant")
        news = [story(n, core.clock.now()) for n in range(2)]
        assert await delivery.deliver_instant(news) == 2  # both to ok-1
        # one request each for the workspace and the channel: their other alerts are not sent
        assert sorted(platform.refused) == ["gone-3", "revoked-0"]
        for channel in revoked:
            (sub,) = await core.subscriptions.for_channel(channel)
            assert sub.paused and sub.paused_reason == TOKEN_REFUSED and sub.failures == 0
        (lost,) = await core.subscriptions.for_channel(gone)
        assert not lost.paused and lost.failures == 1  # a channel can come back: three tries
        assert await delivery.deliver_instant([story(5, core.clock.now())]) == 1
        await delivery.drain()
    assert len([c for c, _, _ in platform.accepted if c == "ok-1"]) == 3


async def test_a_sender_without_limits_still_waits_out_a_429(core: Core) -> None:
    platform = FakePlatform(channel_limit=(1, 0.5))  # one message per half second
    async with serve_platform(platform), HttpSender(f"http://127.0.0.1:{platform.port}") as sender:
        delivery = build_bot(core, {"fake": sender}).delivery  # no limits of its own: 429s pace it
        channel = ChannelRef("fake", "g", "strict-1")
        await subscribe(core.engine, core.clock, channel, "europe", mode="instant")
        cards = [story(n, core.clock.now()) for n in range(3)]
        for item in cards:
            await core.stories.save(item, now=core.clock.now())
        assert await delivery.deliver_instant(cards) == 3
    assert platform.rejected_429 <= 4  # each 429's retry_after waited, not hammered


async def test_one_slow_channel_does_not_hold_up_the_others(core: Core) -> None:
    platform = FakePlatform(slow_seconds=3.0)
    async with serve_platform(platform), HttpSender(f"http://127.0.0.1:{platform.port}") as sender:
        delivery = build_bot(core, {"fake": sender}).delivery
        item = story(7, core.clock.now(), "east-asia")
        await core.stories.save(item, now=core.clock.now())
        channels = [ChannelRef("fake", "g", "slow-1")] + [
            ChannelRef("fake", "g", f"ok-{n}") for n in range(20)
        ]
        for channel in channels:
            await subscribe(core.engine, core.clock, channel, "asia", mode="instant")  # type: ignore[arg-type]
        task = asyncio.ensure_future(delivery.deliver_instant([item]))
        for _ in range(50):  # the slow channel takes 3 s; the others must not wait for it
            if len(platform.accepted) >= 20:
                break
            await asyncio.sleep(0.05)
        fast = {channel for channel, _, _ in platform.accepted}
        assert fast == {f"ok-{n}" for n in range(20)}  # all in while the slow one still waits
        assert not task.done()
        assert await task == 21


async def test_a_slow_channel_holds_up_no_later_batch_of_a_scan(core: Core) -> None:
    platform = FakePlatform(slow_seconds=3.0)
    async with serve_platform(platform), HttpSender(f"http://127.0.0.1:{platform.port}") as sender:
        delivery = build_bot(core, {"fake": sender}).delivery
        delivery.batch = 4  # the 31 pushes go in nine batches, the slow one among the first
        await core.stories.save(story(3, core.clock.now()), now=core.clock.now())
        channels = [ChannelRef("fake", "g", "slow-1")]
        channels += [ChannelRef("fake", "g", f"ok-{n}") for n in range(30)]
        for channel in channels:
            await subscribe(core.engine, core.clock, channel)
        core.clock.advance(timedelta(days=1))
        scan = asyncio.ensure_future(delivery.run_due())
        for _ in range(40):  # the slow channel takes 3 s; later batches must not wait for it
            if len(platform.accepted) >= 30:
                break
            await asyncio.sleep(0.05)
        assert {channel for channel, _, _ in platform.accepted} == {f"ok-{n}" for n in range(30)}
        assert not scan.done()
        outcomes = await scan
    assert Counter(o.status for o in outcomes) == {"sent": 31}
    assert await core.ledger.count_sent() == sum(o.stories for o in outcomes)


async def test_a_push_fills_its_digest_past_stories_the_channel_already_has(
    core: Core,
) -> None:
    class Keep:
        platform = "console"
        limits = RateLimits()

        def __init__(self) -> None:
            self.digests: list[list[str]] = []

        async def send(self, message: Outgoing) -> str | None:
            assert isinstance(message.content, Digest)
            self.digests.append([card.story_id for card in message.content.cards])
            return "m1"

    channel = ChannelRef("console", "t", "#full")
    sub = await subscribe(core.engine, core.clock, channel)
    core.clock.advance(timedelta(days=1))
    start = core.clock.now() - timedelta(hours=20)
    items = [story(n, start + timedelta(minutes=n)) for n in range(DIGEST_STORY_CAP + 5)]
    for item in items:
        await core.stories.save(item, now=core.clock.now())
    newest = sorted(items, key=lambda s: s.published_at or start, reverse=True)
    # the channel already has the three newest (say, from an alert)
    got = await core.ledger.reserve(
        [Ask(1, channel, None, [s.id for s in newest[:3]])], token="alerts", at=core.clock.now()
    )
    assert got.complete
    await core.ledger.settle(token="alerts", sent=[(1, "a1")], released=[], at=core.clock.now())
    (stored,) = await core.subscriptions.for_channel(channel)
    preview = await pending_digest(core.stories, core.ledger, stored, core.clock.now())
    sender = Keep()
    (outcome,) = await build_bot(core, {"console": sender}).delivery.run_due()
    assert outcome.status == "sent" and outcome.stories == DIGEST_STORY_CAP
    expected = [s.id for s in newest[3 : 3 + DIGEST_STORY_CAP]]
    assert sender.digests == [expected]  # topped up from older stories, newest first
    assert [s.id for s in preview.stories] == expected  # as the preview showed
    assert sub.next_push_at is not None and outcome.slot == sub.next_push_at


async def test_stop_lets_deliveries_under_way_finish(core: Core) -> None:
    platform = FakePlatform(slow_seconds=0.5)
    async with serve_platform(platform), HttpSender(f"http://127.0.0.1:{platform.port}") as sender:
        service = build_bot(core, {"fake": sender}).service
        channel = ChannelRef("fake", "g", "slow-drain")
        await subscribe(core.engine, core.clock, channel, "europe")
        core.clock.advance(timedelta(days=1))
        await service.start()
        for _ in range(100):  # until the first due-scan's message is with the (slow) platform
            if platform.received:
                break
            await asyncio.sleep(0.05)
        assert platform.received == 1 and not platform.accepted
        await service.stop()  # SIGTERM
        assert [c for c, _, _ in platform.accepted] == ["slow-drain"]
    (sub,) = await core.subscriptions.for_channel(channel)
    assert sub.last_result and sub.last_result.startswith("sent ")
    stories_sent = int(sub.last_result.split()[1])  # "sent N stories"
    assert stories_sent > 0 and await core.ledger.count_sent() == stories_sent


async def test_a_scan_claims_no_more_than_it_can_send_within_its_lease(
    engine: AsyncEngine,
) -> None:
    clock = FrozenClock(datetime(2026, 11, 24, 12, 0, tzinfo=UTC))

    class Slow:  # one message every 100 s: half a 10-minute lease holds 3 of them
        platform = "console"
        limits = RateLimits(per_second=0.01)

        async def send(self, message: Outgoing) -> str | None:
            return "sent"

    for n in range(5):
        await subscribe(engine, clock, ChannelRef("console", "t", f"#slow{n}"))
    clock.set(datetime(2026, 11, 25, 6, 0, 30, tzinfo=UTC))  # all five due (no stories)
    delivery = engine_for(engine, clock, {"console": Slow()})
    assert len(await delivery.run_due()) == 3
    assert len(await delivery.run_due()) == 2  # the rest at the next scan


async def test_with_other_processes_live_a_scan_claims_its_share_of_what_is_due(
    engine: AsyncEngine,
) -> None:
    clock = FrozenClock(datetime(2026, 11, 24, 12, 0, tzinfo=UTC))
    for n in range(9):
        await subscribe(engine, clock, ChannelRef("console", "t", f"#share{n}"))
    await subscribe(engine, clock, ChannelRef("other", "t", "#elsewhere"))  # not ours to push
    clock.set(datetime(2026, 11, 25, 6, 0, 30, tzinfo=UTC))  # all due (no stories)
    delivery = engine_for(engine, clock, {"console": ConsoleSender([].append)})
    claims = PushClaims(engine)
    assert await claims.count_due(clock.now(), ["console", "other"]) == {"console": 9, "other": 1}
    delivery.live = {"console": 3, "other": 1}  # three processes deliver to the console
    assert len(await delivery.run_due()) == 3  # a third of nine
    assert len(await delivery.run_due()) == 2  # a third of the six left, rounded up
    delivery.live = {"console": 1}  # the others stopped: the rest at once
    assert len(await delivery.run_due()) == 4
    assert await claims.count_due(clock.now(), ["console"]) == {}


async def test_an_early_record_and_a_batch_write_back_never_settle_at_once(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both update the rows of messages sent and not yet recorded, each in its own order: on
    PostgreSQL the two deadlocked, and the process stalled until the database broke the tie."""
    clock = await story_due(engine, *(f"#rec{n}" for n in range(12)))
    printed: list[str] = []
    delivery = engine_for(engine, clock, {"console": ConsoleSender(printed.append)}, batch=4)
    monkeypatch.setattr(scan, "SETTLE_AT", 2)  # early records all through the scan
    ledger = delivery.push_ledger
    record_sent, settle = ledger.record_sent, ledger.settle
    recording, overlaps, early = [False], [], []

    async def slow_record(*args: Any, **kwargs: Any) -> None:
        recording[0] = True
        try:
            await asyncio.sleep(0.05)  # long enough for a write-back to come in meanwhile
            await record_sent(*args, **kwargs)
            early.append(1)
        finally:
            recording[0] = False

    async def watched_settle(*args: Any, **kwargs: Any) -> None:
        overlaps.append(recording[0])
        await settle(*args, **kwargs)

    monkeypatch.setattr(ledger, "record_sent", slow_record)
    monkeypatch.setattr(ledger, "settle", watched_settle)
    outcomes = await delivery.run_due()
    assert [o.status for o in outcomes] == ["sent"] * 12 and len(printed) == 12
    assert overlaps and not any(overlaps)  # each batch written back alone
    assert early  # and the early records done, not cut short by the scan's end
    assert await DeliveryLedger(engine).count_sent() == 12


def test_scans_fall_on_whole_intervals_since_the_epoch() -> None:
    at = datetime(2026, 12, 2, 6, 59, 57, 300000, tzinfo=UTC)
    assert in_step(at, 5) == datetime(2026, 12, 2, 7, 0, tzinfo=UTC)  # on the minute
    assert in_step(at, 0.5) == datetime(2026, 12, 2, 6, 59, 57, 500000, tzinfo=UTC)
    assert in_step(datetime(2026, 12, 2, 7, 0, tzinfo=UTC), 5) == datetime(
        2026, 12, 2, 7, 0, tzinfo=UTC
    )


async def test_replicas_scan_at_the_same_instants_and_a_first_scan_runs_at_once(
    core: Core,
) -> None:
    """Processes started apart find a push due together: the first to look does not take a
    head start on the others' share."""
    await subscribe(core.engine, core.clock, ChannelRef("console", "t", "#first"))
    core.clock.advance(timedelta(days=1))  # its push is due
    printed: list[str] = []
    services = [build_bot(core, {"console": ConsoleSender(printed.append)}).service
                for _ in range(2)]  # fmt: skip
    await services[0].start()
    await asyncio.sleep(0.3)
    await services[1].start()
    try:
        for _ in range(50):  # the catch-up scan, without waiting for the first whole interval
            if printed:
                break
            await asyncio.sleep(0.02)
        assert len(printed) == 1
        ticks = [s.scheduler.get_job("due-scan").next_run_time for s in services]
        interval = core.settings.scan_interval
        for tick in ticks:
            assert tick.timestamp() % interval == 0, tick
        assert abs((ticks[1] - ticks[0]).total_seconds()) in (0, interval)
    finally:
        for service in services:
            await service.stop()

