"""Migration 0007 moves the delivery ledger into sends and deliveries, and back, keeping
every message: its stories, state, message id and time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from alembic import command
from sqlalchemy import Connection, bindparam, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.domain import ChannelRef
from bot.store import db
from bot.store.ledger import Ask, DeliveryLedger
from bot.store.tables import UTCDateTime

T0 = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)
A = ChannelRef("discord", "g1", "100")
B = ChannelRef("slack", "T1", "C200")

# The ledger as 0006 kept it: one row per story, each carrying its message's details.
OLD_ROWS: list[tuple[ChannelRef, str, int | None, str, str | None, str | None, datetime]] = [
    # a digest of three stories, one message
    (A, "s1", 1, "sent", "tok-a", "m1", T0),
    (A, "s2", 1, "sent", "tok-a", "m1", T0),
    (A, "s3", 1, "sent", "tok-a", "m1", T0),
    # two alerts of one subscription, sent in the same second
    (A, "s4", 2, "sent", "tok-b", "m2", T0 + timedelta(hours=1)),
    (A, "s5", 2, "sent", "tok-b", "m3", T0 + timedelta(hours=1)),
    # a reservation a process left in flight (reserved in two rounds)
    (B, "s1", 3, "pending", "tok-c", None, T0 + timedelta(hours=2)),
    (B, "s2", 3, "pending", "tok-c", None, T0 + timedelta(hours=2, seconds=1)),
    # sent by a platform that gives no message id
    (B, "s6", 4, "sent", "tok-d", None, T0 + timedelta(hours=3)),
]






async def _migrate(engine: AsyncEngine, how: str, revision: str) -> None:
    def run(connection: Connection) -> None:
        getattr(command, how)(db.alembic_config(connection), revision)

    async with engine.begin() as conn:
        await conn.run_sync(run)


async def _old_ledger(engine: AsyncEngine) -> set[tuple[Any, ...]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT platform, workspace, channel, story_id, subscription_id, state,"
                " reserved_by, message_id, delivered_at FROM deliveries"
            ).columns(delivered_at=UTCDateTime)
        )
        return {tuple(row) for row in rows}


def _as_rows(
    rows: list[tuple[ChannelRef, str, int | None, str, str | None, str | None, datetime]],
) -> set[tuple[Any, ...]]:
    return {(c.platform, c.workspace, c.channel, *rest) for c, *rest in rows}


async def test_the_ledger_moves_to_sends_and_back_keeping_every_message(
    blank: AsyncEngine,
) -> None:
    await _migrate(blank, "upgrade", "0006")
    async with blank.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO deliveries (platform, workspace, channel, story_id,"
                " subscription_id, state, reserved_by, message_id, delivered_at)"
                " VALUES (:p, :w, :c, :story, :sub, :state, :token, :message, :at)"
            ).bindparams(bindparam("at", type_=UTCDateTime)),
            [
                {"p": c.platform, "w": c.workspace, "c": c.channel, "story": story, "sub": sub,
                 "state": state, "token": token, "message": message, "at": at}
                for c, story, sub, state, token, message, at in OLD_ROWS
            ],
        )  # fmt: skip

    await _migrate(blank, "upgrade", "head")
    async with blank.connect() as conn:
        sends = (
            await conn.execute(
                text(
                    "SELECT channel, subscription_id, state, message_id, number FROM sends"
                    " ORDER BY channel, subscription_id, message_id"
                )
            )
        ).all()
    # one send per message: the digest, each alert, the reservation, the one without an id
    assert [tuple(s[:4]) for s in sends] == [
        ("100", 1, "sent", "m1"),
        ("100", 2, "sent", "m2"),
        ("100", 2, "sent", "m3"),
        ("C200", 3, "pending", None),
        ("C200", 4, "sent", None),
    ]
    assert all(number < 0 for *_, number in sends)  # never a new reservation's number
    ledger = DeliveryLedger(blank)
    assert await ledger.count_sent() == 6
    everything = ["s1", "s2", "s3", "s4", "s5", "s6"]
    assert len(await ledger.delivered_to([A, B], everything)) == 8

    # the reservation left in flight is released once its lease is over, as before
    assert await ledger.release_stale(older_than=T0 + timedelta(hours=2, minutes=10)) == 1
    assert await ledger.delivered_to([B], everything) == {("slack", "T1", "C200", "s6")}
    # and the ledger takes new reservations beside the moved ones
    got = await ledger.reserve([Ask(3, B, 3, ["s1", "s6"])], token="tok-e", at=T0)
    assert not got.complete and got.holds(3, "s1") and not got.holds(3, "s6")
    await ledger.settle(token="tok-e", sent=[(3, "m9")], released=[], at=T0)

    await _migrate(blank, "downgrade", "0006")
    kept = [row for row in OLD_ROWS if row[3] == "sent"]
    back = _as_rows([*kept, (B, "s1", 3, "sent", "tok-e", "m9", T0)])
    assert await _old_ledger(blank) == back
