"""Forgetting and pausing a channel's or a workspace's subscriptions, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import FrozenClock
from bot.domain import ChannelRef, Subscription
from bot.lifecycle import Lifecycle, scope_reason
from bot.store.claims import PushClaims, PushRecord
from bot.store.ledger import Ask, DeliveryLedger
from bot.store.subscriptions import SubscriptionStore

NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
A1 = ChannelRef("slack", "T1", "C1")
A2 = ChannelRef("slack", "T1", "C2")
B1 = ChannelRef("slack", "T2", "C1")  # another workspace
D1 = ChannelRef("discord", "T1", "C1")  # another platform, a workspace of the same name
EVERY = (A1, A2, B1, D1)


async def setup(engine: AsyncEngine) -> tuple[Lifecycle, SubscriptionStore, DeliveryLedger]:
    """Two regions per channel, due now, and one story sent to each channel."""
    store, ledger = SubscriptionStore(engine), DeliveryLedger(engine)
    for channel in EVERY:
        for region in ("europe", "africa"):
            await store.save(
                Subscription(channel=channel, region=region, push_time=time(7, 0),
                             timezone="UTC", next_push_at=NOW - timedelta(minutes=1)),
                now=NOW,
            )  # fmt: skip
    asks = [Ask(n, channel, None, ["s1"]) for n, channel in enumerate(EVERY)]
    assert (await ledger.reserve(asks, token="t", at=NOW)).complete
    await ledger.settle(token="t", sent=[(n, f"m{n}") for n in range(4)], released=[], at=NOW)
    return Lifecycle(store, ledger, FrozenClock(NOW)), store, ledger


async def remaining(store: SubscriptionStore) -> dict[ChannelRef, int]:
    return {c: len(await store.for_channel(c)) for c in EVERY}


async def test_forget_channel_removes_its_subscriptions_and_ledger_rows(
    engine: AsyncEngine,
) -> None:
    lifecycle, store, ledger = await setup(engine)
    assert await lifecycle.forget_channel(A1) == 2
    assert await remaining(store) == {A1: 0, A2: 2, B1: 2, D1: 2}
    assert await ledger.delivered_to(EVERY, ["s1"]) == {
        (c.platform, c.workspace, c.channel, "s1") for c in (A2, B1, D1)
    }
    assert await ledger.count_sent() == 3
    assert await lifecycle.forget_channel(A1) == 0


async def test_forget_workspace_removes_every_channel_of_it_only(engine: AsyncEngine) -> None:
    lifecycle, store, ledger = await setup(engine)
    assert await lifecycle.forget_workspace("slack", "T1") == 4
    assert await remaining(store) == {A1: 0, A2: 0, B1: 2, D1: 2}
    assert await ledger.delivered_to(EVERY, ["s1"]) == {
        (c.platform, c.workspace, c.channel, "s1") for c in (B1, D1)
    }
    # the channel may take the story again, were it subscribed anew
    assert (await ledger.reserve([Ask(1, A1, None, ["s1"])], token="u", at=NOW)).complete


async def test_pause_channel_pauses_each_region_once_and_keeps_earlier_pauses(
    engine: AsyncEngine,
) -> None:
    lifecycle, store, _ = await setup(engine)
    await store.set_paused(A1, ["africa"], paused=True, reason="paused by ann", now=NOW)
    assert await lifecycle.pause_channel(A1, "the channel could not be reached") == 1
    assert await lifecycle.pause_channel(A1, "again") == 0
    reasons = {s.region: s.paused_reason for s in await store.for_channel(A1)}
    assert reasons == {"africa": "paused by ann", "europe": "the channel could not be reached"}
    for channel in (A2, B1, D1):
        assert not any(s.paused for s in await store.for_channel(channel))


async def test_pause_workspace_pauses_its_channels_only(engine: AsyncEngine) -> None:
    lifecycle, store, _ = await setup(engine)
    assert await lifecycle.pause_workspace("slack", "T1", "the token was revoked") == 4
    assert await lifecycle.pause_workspace("slack", "T1", "the token was revoked") == 0
    for channel in EVERY:
        paused = [s.paused_reason for s in await store.for_channel(channel) if s.paused]
        expected = ["the token was revoked"] * 2 if channel in (A1, A2) else []
        assert paused == expected, channel


async def test_a_pause_is_never_written_over_by_the_push_under_way(engine: AsyncEngine) -> None:
    lifecycle, store, _ = await setup(engine)
    claims = PushClaims(engine)
    claimed = await claims.claim_due(NOW, "scan", stale_before=NOW - timedelta(hours=1))
    assert len(claimed) == 8
    assert await lifecycle.pause_channel(A1, "gone") == 2
    assert await lifecycle.pause_workspace("slack", "T2", "uninstalled") == 2
    # the scan then writes every push's outcome: only those whose claim it still holds
    await claims.finish("scan", [PushRecord(claimed, NOW + timedelta(days=1), "sent 1 stories", 0)])
    for channel in EVERY:
        for sub in await store.for_channel(channel):
            if channel in (A1, B1):
                assert sub.paused and sub.last_result is None, sub
                assert sub.next_push_at == NOW - timedelta(minutes=1)
            else:
                assert not sub.paused and sub.last_result == "sent 1 stories", sub


async def test_a_reinstall_resumes_what_the_bot_paused_and_nothing_else(
    engine: AsyncEngine,
) -> None:
    lifecycle, store, _ = await setup(engine)
    await store.set_paused(A2, ["africa"], paused=True, reason="paused by ann", now=NOW)
    await lifecycle.pause_workspace("slack", "T1", scope_reason("workspace", "app_uninstalled"))
    await lifecycle.pause_workspace("slack", "T2", scope_reason("token", "token_revoked"))
    assert await lifecycle.resume_workspace("slack", "T1") == 3  # not ann's pause
    assert await lifecycle.resume_workspace("slack", "T1") == 0
    for channel in (A1, A2):
        for sub in await store.for_channel(channel):
            if (channel, sub.region) == (A2, "africa"):
                assert sub.paused and sub.paused_reason == "paused by ann"
            else:
                assert not sub.paused and sub.next_push_at == datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
    assert all(s.paused for s in await store.for_channel(B1))  # another workspace
    assert await lifecycle.resume_workspace("slack", "T2") == 2
