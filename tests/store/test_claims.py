"""The claim of due pushes on its own: one claimer per push, stale claims taken over, and
outcomes written only where the claim still stands. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.domain import ChannelRef, Subscription
from bot.store import db
from bot.store.claims import PushClaims, PushRecord
from bot.store.subscriptions import SubscriptionStore

NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
LEASE = timedelta(minutes=10)


async def due(engine: AsyncEngine, count: int, *, platform: str = "slack") -> list[int]:
    """``count`` subscriptions due a minute ago, each in a channel of its own: their ids."""
    store = SubscriptionStore(engine)
    ids = []
    for n in range(count):
        sub, _ = await store.save(
            Subscription(channel=ChannelRef(platform, "T1", f"C{n}"), region="europe",
                         push_time=time(7, 0), timezone="UTC",
                         next_push_at=NOW - timedelta(minutes=1)),
            now=NOW,
        )  # fmt: skip
        assert sub.id is not None
        ids.append(sub.id)
    return ids


async def test_two_claimers_at_once_get_each_due_push_exactly_once(
    engine: AsyncEngine, database_url: str
) -> None:
    ids = await due(engine, 60)
    other = db.create_engine(database_url)  # a second process: a pool of its own
    try:
        mine, theirs = PushClaims(engine), PushClaims(other)
        got = await asyncio.gather(
            *(
                claims.claim_due(NOW, token, stale_before=NOW - LEASE, limit=limit)
                for claims, token in ((mine, "a"), (theirs, "b"))
                for limit in (7, 20, 60)
            )
        )
    finally:
        await other.dispose()
    claimed = [i for batch in got for i in batch]
    assert sorted(claimed) == ids  # each once, none left out


async def test_claims_skip_what_is_not_due_paused_held_or_of_another_platform(
    engine: AsyncEngine,
) -> None:
    ids = await due(engine, 3)
    (discord,) = await due(engine, 1, platform="discord")
    store, claims = SubscriptionStore(engine), PushClaims(engine)
    await store.set_paused(ChannelRef("slack", "T1", "C0"), None, paused=True, reason="x", now=NOW)
    assert await claims.claim_due(NOW - timedelta(minutes=2), "a", stale_before=NOW - LEASE) == []
    got = await claims.claim_due(NOW, "a", stale_before=NOW - LEASE, platforms={"slack"})
    assert sorted(got) == ids[1:]
    assert await claims.claim_due(NOW, "b", stale_before=NOW - LEASE, platforms={"slack"}) == []
    assert await claims.claim_due(NOW, "b", stale_before=NOW - LEASE) == [discord]


async def test_a_stale_claim_is_taken_over(engine: AsyncEngine) -> None:
    ids = await due(engine, 2)
    claims = PushClaims(engine)
    assert sorted(await claims.claim_due(NOW, "dead", stale_before=NOW - LEASE)) == ids
    later = NOW + LEASE / 2  # still held
    assert await claims.claim_due(later, "new", stale_before=later - LEASE) == []
    later = NOW + LEASE + timedelta(seconds=1)  # the holder is taken for dead
    assert sorted(await claims.claim_due(later, "new", stale_before=later - LEASE)) == ids
    # the dead process's outcome, written late, finds its claims gone: nothing is written
    await claims.finish("dead", [PushRecord(ids, NOW + timedelta(days=1), "sent 1 stories", 0)])
    for sub_id in ids:
        sub = await SubscriptionStore(engine).get(sub_id)
        assert sub is not None and sub.last_result is None


async def test_finish_writes_only_the_pushes_whose_claims_it_still_holds(
    engine: AsyncEngine,
) -> None:
    ids = await due(engine, 3)
    store, claims = SubscriptionStore(engine), PushClaims(engine)
    assert sorted(await claims.claim_due(NOW, "scan", stale_before=NOW - LEASE)) == ids
    # a user changes one subscription meanwhile, which drops its claim
    await store.set_paused(ChannelRef("slack", "T1", "C1"), None, paused=True, reason="by ann",
                           now=NOW)  # fmt: skip
    following = NOW + timedelta(days=1)
    await claims.finish(
        "scan",
        [PushRecord(ids[:2], following, "sent 2 stories", 0, pushed_at=NOW),
         PushRecord(ids[2:], following, "delivery failed: x", 3, pause_reason="after three")],
    )  # fmt: skip
    first, changed, failed = [await store.get(i) for i in ids]
    assert first is not None and first.last_result == "sent 2 stories"
    assert first.next_push_at == following and first.last_push_at == NOW
    assert changed is not None and changed.paused and changed.paused_reason == "by ann"
    assert changed.last_result is None and changed.next_push_at == NOW - timedelta(minutes=1)
    assert failed is not None and failed.paused and failed.paused_reason == "after three"
    assert failed.failures == 3
    # the claims are released: the pushes are due again only at their next time
    assert await claims.claim_due(following, "next", stale_before=following - LEASE) == [ids[0]]


async def test_load_groups_groups_pushes_that_differ_only_by_channel(engine: AsyncEngine) -> None:
    ids = await due(engine, 4)
    store, claims = SubscriptionStore(engine), PushClaims(engine)
    other, _ = await store.save(
        Subscription(channel=ChannelRef("slack", "T1", "C9"), region="africa",
                     push_time=time(7, 0), timezone="UTC", next_push_at=NOW - timedelta(minutes=1)),
        now=NOW,
    )  # fmt: skip
    groups = await claims.load_groups([*ids, other.id or 0])
    assert [[i for i, _ in g.members] for g in groups] == [ids, [other.id]]
    assert [g.like.region for g in groups] == ["europe", "africa"]
    assert groups[0].members[1][1] == ChannelRef("slack", "T1", "C1")
    assert await claims.load_groups([]) == []


@pytest.fixture
async def other(engine: AsyncEngine, database_url: str) -> AsyncIterator[AsyncEngine]:
    """Another process on the same PostgreSQL database, to claim beside this one."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite takes one writer at a time: no claim is ever under way beside another")
    other = db.create_engine(database_url)
    yield other
    await other.dispose()


async def test_a_claim_passes_over_what_a_claim_under_way_is_taking(
    engine: AsyncEngine, other: AsyncEngine
) -> None:
    """Two processes claiming at once: the later takes the next due pushes, not the same
    ones to find them taken at the other's commit (it would come back empty)."""
    ids = await due(engine, 30)
    async with other.begin() as conn:  # the other's claim, not yet committed
        taking = await conn.execute(
            text(
                "SELECT id FROM subscriptions ORDER BY next_push_at, id LIMIT 10"
                " FOR UPDATE SKIP LOCKED"
            )
        )
        first = [int(i) for i in taking.scalars()]
        await conn.execute(
            text(
                "INSERT INTO push_claims (subscription_id, claimed_by, claimed_at)"
                " SELECT id, 'a', now() FROM subscriptions WHERE id = ANY(:ids)"
            ),
            {"ids": first},
        )
        claim = PushClaims(engine).claim_due(NOW, "b", stale_before=NOW - LEASE, limit=10)
        got = await asyncio.wait_for(claim, 10)
    assert first == ids[:10]
    assert got == ids[10:20]


async def test_a_claim_that_finds_its_choice_taken_at_another_commit_claims_the_next(
    engine: AsyncEngine, other: AsyncEngine
) -> None:
    """Replicas claim at the same instants: a claim whose statement began before another's
    committed chooses what that one took, finds it taken, and must not come back short."""
    ids = await due(engine, 30)
    async with other.connect() as conn:  # the other commits as this one claims
        await conn.execute(
            text(
                "INSERT INTO push_claims (subscription_id, claimed_by, claimed_at)"
                " VALUES (:id, 'a', now())"
            ),
            {"id": ids[0]},
        )  # not committed: this claim chooses it, then waits to see whose it is
        claim = asyncio.ensure_future(
            PushClaims(engine).claim_due(NOW, "b", stale_before=NOW - LEASE, limit=10)
        )
        for _ in range(100):  # until the claim waits on the other's row
            waiting = await conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND datname = current_database()"
                )
            )
            if waiting.scalar():
                break
            await asyncio.sleep(0.02)
        await conn.commit()
        got = await asyncio.wait_for(claim, 10)
    assert got == ids[1:11]  # the other's taken, ten all the same
