"""The delivery ledger on its own: at most once per (channel, story), reservations settled or
released, a dead process's reservations released, channels and workspaces forgotten. SQLite
and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.domain import ChannelRef
from bot.store.contents import content_key
from bot.store.ledger import Ask, DeliveryLedger, ledger_key

AT = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
A = ChannelRef("slack", "T1", "C1")
B = ChannelRef("slack", "T1", "C2")
C = ChannelRef("discord", "G1", "100")


async def sends(engine: AsyncEngine) -> list[tuple[str, str, str | None]]:
    """Every send: its channel, state and message id."""
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT channel, state, message_id FROM sends ORDER BY id"))
        return [(r[0], r[1], r[2]) for r in rows]


async def test_a_story_a_channel_has_is_refused_to_it_only(engine: AsyncEngine) -> None:
    ledger = DeliveryLedger(engine)
    assert (await ledger.reserve([Ask(1, A, 7, ["s1", "s2"])], token="a", at=AT)).complete
    await ledger.settle(token="a", sent=[(1, "m1")], released=[], at=AT)
    got = await ledger.reserve([Ask(1, A, 7, ["s2", "s3"]), Ask(2, B, 8, ["s2"])], token="b", at=AT)
    assert not got.complete
    assert got.rows == {(1, "s3"), (2, "s2")}  # A had s2; B had not
    assert got.holds(1, "s3") and not got.holds(1, "s2")
    assert await ledger.delivered_to([A, B], ["s1", "s2", "s3"]) == {
        ledger_key(A, "s1"),
        ledger_key(A, "s2"),
        ledger_key(A, "s3"),
        ledger_key(B, "s2"),
    }


async def test_two_reservations_at_once_never_share_a_story(engine: AsyncEngine) -> None:
    ledger = DeliveryLedger(engine)
    stories = [f"s{n}" for n in range(20)]
    first, second = await asyncio.gather(
        ledger.reserve([Ask(1, A, None, stories)], token="a", at=AT),
        ledger.reserve([Ask(1, A, None, stories[::-1])], token="b", at=AT),
    )
    held = [s for got in (first, second) for s in stories if got.holds(1, s)]
    assert sorted(held) == sorted(stories)


async def test_settle_marks_sent_and_release_frees_the_stories(engine: AsyncEngine) -> None:
    ledger = DeliveryLedger(engine)
    asks = [Ask(1, A, None, ["s1"]), Ask(2, B, None, ["s1", "s2"])]
    assert (await ledger.reserve(asks, token="a", at=AT)).complete
    await ledger.settle(token="a", sent=[(1, "m1")], released=[(2, ["s1", "s2"])], at=AT)
    assert await sends(engine) == [("C1", "sent", "m1")]
    assert await ledger.count_sent() == 1
    assert await ledger.delivered_to([A, B], ["s1", "s2"]) == {ledger_key(A, "s1")}
    # released: a later message takes B's stories
    assert (await ledger.reserve([Ask(1, B, None, ["s1", "s2"])], token="b", at=AT)).complete


async def test_release_stale_frees_only_old_pending_reservations(engine: AsyncEngine) -> None:
    ledger = DeliveryLedger(engine)
    assert (await ledger.reserve([Ask(1, A, None, ["s1"])], token="dead", at=AT)).complete
    assert (await ledger.reserve([Ask(1, B, None, ["s1"])], token="sent", at=AT)).complete
    await ledger.settle(token="sent", sent=[(1, None)], released=[], at=AT)
    later = AT + timedelta(minutes=5)
    assert (await ledger.reserve([Ask(1, C, None, ["s1"])], token="live", at=later)).complete
    assert await ledger.release_stale(older_than=AT + timedelta(minutes=1)) == 1
    assert await ledger.delivered_to([A, B, C], ["s1"]) == {
        ledger_key(B, "s1"),
        ledger_key(C, "s1"),
    }
    # the dead process settles late: its message is gone, and nothing is marked sent
    await ledger.settle(token="dead", sent=[(1, "m1")], released=[], at=later)
    assert [s for s in await sends(engine) if s[0] == "C1"] == []


async def test_a_release_and_a_late_settle_of_the_same_message_keep_it_whole(
    engine: AsyncEngine,
) -> None:
    """A process thought dead settles its message while another releases it: the message
    ends released with its stories, never sent without them."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite takes one writer at a time: the two never interleave")
    ledger = DeliveryLedger(engine)
    assert (await ledger.reserve([Ask(1, A, 1, ["a", "b"])], token="slow", at=AT)).complete
    async with engine.connect() as blocker:  # holds the stories' rows: the release waits
        await blocker.begin()  # between its two statements, the send already deleted
        await blocker.execute(text("SELECT story_id FROM deliveries FOR UPDATE"))
        releasing = asyncio.ensure_future(ledger.release_stale(older_than=AT + timedelta(hours=1)))
        await asyncio.sleep(0.3)
        settling = asyncio.ensure_future(
            ledger.settle(token="slow", sent=[(1, "m1")], released=[], at=AT)
        )
        await asyncio.sleep(0.3)
        assert not releasing.done() and not settling.done()
        await blocker.commit()
    assert await asyncio.wait_for(releasing, 30) == 1
    await asyncio.wait_for(settling, 30)
    assert await sends(engine) == [] and await ledger.delivered_to([A], ["a", "b"]) == set()


async def test_forget_channel_and_workspace(engine: AsyncEngine) -> None:
    ledger = DeliveryLedger(engine)
    asks = [Ask(n, channel, None, ["s1", "s2"]) for n, channel in enumerate((A, B, C))]
    assert (await ledger.reserve(asks, token="a", at=AT)).complete
    await ledger.settle(token="a", sent=[(0, "m0"), (1, "m1")], released=[], at=AT)  # C pending
    await ledger.forget_channel(A)
    assert await ledger.delivered_to([A, B, C], ["s1"]) == {
        ledger_key(B, "s1"),
        ledger_key(C, "s1"),
    }
    assert [s[0] for s in await sends(engine)] == ["C2", "100"]
    await ledger.forget_workspace("slack", "T1")
    assert await ledger.delivered_to([A, B, C], ["s1", "s2"]) == {
        ledger_key(C, "s1"),
        ledger_key(C, "s2"),
    }
    await ledger.forget_workspace("discord", "G1")
    assert await sends(engine) == [] and await ledger.count_sent() == 0


async def test_a_record_a_caller_stored_is_named_again_without_being_stored_again(
    engine: AsyncEngine,
) -> None:
    """A push sends one digest to many channels: its record goes in with the first settle;
    the scan's later settles only name it."""
    ledger = DeliveryLedger(engine)
    asks = [Ask(1, A, None, ["s1"]), Ask(2, B, None, ["s1"])]
    assert (await ledger.reserve(asks, token="a", at=AT)).complete
    shows = json.dumps({"cards": [["s1", "v1", None]]})
    stored: set[str] = set()
    await ledger.settle(token="a", sent=[(1, "m1", shows)], released=[], at=AT, stored=stored)
    assert stored == {content_key(shows)}

    statements: list[str] = []

    def note(_c: object, _cur: object, statement: str, *_: object) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", note)
    try:
        await ledger.settle(token="a", sent=[(2, "m2", shows)], released=[], at=AT, stored=stored)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", note)
    assert [s.split()[:2] for s in statements] == [["UPDATE", "sends"]]  # no record stored
    async with engine.connect() as conn:
        named = await conn.execute(text("SELECT number, content_key FROM sends ORDER BY number"))
        assert [tuple(r) for r in named] == [(1, content_key(shows)), (2, content_key(shows))]
        kept = await conn.execute(text("SELECT count(*) FROM message_contents"))
        assert kept.scalar_one() == 1
