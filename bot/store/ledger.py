"""The delivery ledger: which stories each channel has been sent, at most once each."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, NamedTuple

from sqlalchemy import BindParameter, and_, bindparam, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.domain import ChannelRef
from bot.store.contents import forget_unshown, keyed, store_contents
from bot.store.db import reading, write
from bot.store.rows import JsonRows, held_by_dead
from bot.store.stories import LATE_ARRIVAL_WINDOW
from bot.store.tables import UTCDateTime, deliveries, sends, subscriptions

LedgerKey = tuple[str, str, str, str]  # platform, workspace, channel, story id
# A message the platform accepted: its number, the platform's message id, and what it shows.
Sent = tuple[int, str | None] | tuple[int, str | None, str | None]


def ledger_key(channel: ChannelRef, story_id: str) -> LedgerKey:
    return (channel.platform, channel.workspace, channel.channel, story_id)


class Ask(NamedTuple):
    """One message's stories to reserve. ``number`` names the message within its
    reservation (a push's subscription id, an alert's place): settling names it again."""

    number: int
    channel: ChannelRef
    subscription_id: int | None
    story_ids: Sequence[str]


class SentMessage(NamedTuple):
    """A message in the ledger, as :meth:`DeliveryLedger.recent` reads it."""

    at: datetime  # when it was sent (when reserved, while it is being sent)
    channel: ChannelRef
    state: str  # "sent", or "pending" while it is being sent
    subscription_id: int | None
    region: str | None  # its subscription's (None once that is gone)
    stories: int
    message_id: str | None  # the platform's


class Pruned(NamedTuple):
    """What :meth:`DeliveryLedger.prune` deleted: delivered stories, and the messages that
    carried them once none of their stories was left."""

    stories: int
    messages: int


@dataclass(frozen=True)
class Reservation:
    """What one :meth:`DeliveryLedger.reserve` call got: every story asked for, or those
    listed as (message number, story id)."""

    complete: bool
    rows: frozenset[tuple[int, str]] = frozenset()

    def holds(self, number: int, story_id: str) -> bool:
        return self.complete or (number, story_id) in self.rows


# A delivery ``d`` of the send ``o``: its key starts with the send's channel (given the story
# too, a lookup by the whole key), and it names the send. No index of deliveries by send.
_ITS_DELIVERY = (
    "d.platform = o.platform AND d.workspace = o.workspace AND d.channel = o.channel"
    " AND d.send_id = o.id"
)


class DeliveryLedger:
    """Which stories each channel has been sent, and in which message: at most once per
    (channel, story).

    A message is reserved first: a ``pending`` row in ``sends`` and a row per story in
    ``deliveries``, whose key means two processes can never both reserve one story for one
    channel. Once the platform accepted the message its send becomes ``sent`` (one row, whatever
    the number of stories); if sending failed the reservation is released, so a later push
    carries its stories. Reservations a process that died left ``pending`` are released by
    :meth:`release_stale`. Queries name the pending state as a literal: the partial index of
    sends in flight serves only a query that states its condition word for word.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._json = JsonRows(engine.dialect.name == "postgresql")

    async def delivered_to(
        self, channels: Collection[ChannelRef], story_ids: Collection[str]
    ) -> set[LedgerKey]:
        """The (channel, story) pairs among these that are sent or being sent."""
        if not channels or not story_ids:
            return set()
        wanted = self._json.table(
            "channels", "c", platform="text", workspace="text", channel="text"
        )
        stories = self._json.values("stories", "s", "text")
        sql = text(
            "SELECT d.platform, d.workspace, d.channel, d.story_id"
            f" FROM {wanted} JOIN deliveries AS d ON d.platform = c.platform"
            " AND d.workspace = c.workspace AND d.channel = c.channel"
            f" WHERE d.story_id IN (SELECT s.value FROM {stories})"
        )
        params = {
            "channels": json.dumps(
                sorted({(c.platform, c.workspace, c.channel) for c in channels})
            ),
            "stories": json.dumps(sorted(set(story_ids))),
        }
        async with reading(self.engine) as conn:
            return {(r[0], r[1], r[2], r[3]) for r in await conn.execute(sql, params)}

    async def reserve(self, asks: Sequence[Ask], *, token: str, at: datetime) -> Reservation:
        """Reserve each message's stories for its channel, under ``token``.

        Asking again for a message already reserved under this token (more stories for it)
        adds to that message. A due-scan reserves tens of thousands of rows, so they travel
        as one JSON parameter and the database unpacks them: no per-row work in Python. When
        every story went in (the usual case: the channels have none of them yet) the count
        says so; otherwise one query reads back which this call holds.
        """
        total = sum(len(ask.story_ids) for ask in asks)
        if not total:
            return Reservation(complete=True)
        # Messages asking for the same stories (one group's) travel as one JSON row: the
        # stories once, then each message's channel, subscription and number.
        alike: dict[tuple[str, ...], list[list[Any]]] = {}
        for number, c, sub, ids in asks:
            if ids:
                alike.setdefault(tuple(ids), []).append(
                    [c.platform, c.workspace, c.channel, sub, number]
                )
        packed = json.dumps(
            [[ids, members] for ids, members in alike.items()], separators=(",", ":")
        )
        j = self._json
        rows = j.table("asks", "g", stories="json", members="json")
        members = j.each("g.members", "m")
        # the message's send, through the partial index of sends in flight
        its_send = (
            "o.reserved_by = :token AND o.state = 'pending'"
            f" AND o.number = {j.field('m', 4, 'bigint')}"
        )
        params = {"asks": packed, "token": token, "at": at}

        async def take(conn: AsyncConnection) -> Reservation:
            await conn.execute(
                text(
                    "INSERT INTO sends (platform, workspace, channel, subscription_id, state,"
                    " reserved_by, number, at)"
                    f" SELECT {j.field('m', 0, 'text')}, {j.field('m', 1, 'text')},"
                    f" {j.field('m', 2, 'text')}, {j.field('m', 3, 'bigint')}, 'pending', :token,"
                    f" {j.field('m', 4, 'bigint')}, :at FROM {rows} CROSS JOIN {members} WHERE true"
                    " ON CONFLICT (reserved_by, number) WHERE state = 'pending' DO NOTHING"
                ).bindparams(bindparam("at", type_=UTCDateTime)),
                params,
            )
            stories = j.strings("g.stories", "s")
            result = await conn.execute(
                text(
                    "INSERT INTO deliveries (platform, workspace, channel, story_id, send_id)"
                    " SELECT o.platform, o.workspace, o.channel, s.value, o.id"
                    f" FROM {rows} CROSS JOIN {members} CROSS JOIN sends AS o"
                    f" CROSS JOIN {stories} WHERE {its_send}"
                    " ON CONFLICT (platform, workspace, channel, story_id) DO NOTHING"
                ),
                params,
            )
            if result.rowcount == total:
                return Reservation(complete=True)
            # Some were taken (or asked for twice): which does this reservation hold?
            held = await conn.execute(
                text(
                    "SELECT o.number, d.story_id"
                    f" FROM {rows} CROSS JOIN {members} CROSS JOIN sends AS o"
                    f" CROSS JOIN {stories} CROSS JOIN deliveries AS d"
                    f" WHERE {its_send} AND d.story_id = s.value AND {_ITS_DELIVERY}"
                ),
                params,
            )
            return Reservation(complete=False, rows=frozenset((int(n), s) for n, s in held))

        return await write(self.engine, take)

    async def settle(
        self,
        *,
        token: str,
        sent: Sequence[Sent],
        released: Sequence[tuple[int, Sequence[str]]],
        at: datetime,
        stored: set[str] | None = None,
    ) -> None:
        """Mark reserved messages sent, ``(number, the platform's message id[, what it
        shows])`` (see :func:`bot.render.model.shown`: what an edit re-renders), or release
        them, ``(number, every story id it holds)``: a release deletes those rows by their
        key. Like :meth:`reserve`, each list goes as one JSON parameter; what the messages
        show goes once a record (see :mod:`bot.store.contents`), each message naming its key.

        ``stored``: the keys of records an earlier settle of the caller's stored and named
        (a push sends one digest to many channels): not stored again; this one's are added.
        Records go only when no message names them, so the caller keeps it no longer than
        its messages stay (one due-scan)."""
        records = keyed(shown[0] for _, _, *shown in sent if shown and shown[0])
        packed = [[n, message, records[shown[0]] if shown and shown[0] else None]
                  for n, message, *shown in sent]  # fmt: skip
        fresh = {c: k for c, k in records.items() if k not in (stored or ())}

        async def store(conn: AsyncConnection) -> None:
            if sent:
                await store_contents(conn, self._json, fresh)
                rows = self._json.table(
                    "sent", "p", number="bigint", message="text", content_key="text"
                )
                await conn.execute(
                    text(
                        "UPDATE sends SET state = 'sent', message_id = p.message,"
                        " content_key = p.content_key, at = :at"
                        f" FROM {rows} WHERE sends.reserved_by = :token"
                        " AND sends.state = 'pending' AND sends.number = p.number"
                    ).bindparams(bindparam("at", type_=UTCDateTime)),
                    {"sent": json.dumps(packed), "token": token, "at": at},
                )
            if released:
                numbers = self._json.values("released", "n", "bigint")
                gone = await self._drop_sends(
                    conn,
                    "sends.reserved_by = :token"
                    f" AND sends.number IN (SELECT n.value FROM {numbers})",
                    bindparam("token", token),
                    bindparam("released", json.dumps([number for number, _ in released])),
                )
                await self._drop_deliveries(conn, gone, dict(released))

        await write(self.engine, store)
        if stored is not None:
            stored.update(records.values())

    async def release_stale(
        self, *, older_than: datetime, dead: Collection[str] = frozenset()
    ) -> int:
        """Release reservations a dead process left pending, so their stories go out again:
        those older than ``older_than``, and those of the processes ``dead`` (a reservation
        begins with its process's token); how many messages were released."""
        of_dead, dead_values = held_by_dead("sends.reserved_by", dead)
        which = f"sends.at < :older_than OR {of_dead}"
        values: list[BindParameter[Any]] = [
            bindparam("older_than", older_than, UTCDateTime), *dead_values
        ]

        async def release(conn: AsyncConnection) -> int:
            gone = await self._drop_sends(conn, f"({which})", *values)
            await self._drop_deliveries(conn, gone, None)
            return len(gone)

        return await write(self.engine, release)

    @staticmethod
    async def _drop_sends(
        conn: AsyncConnection, which: str, *values: BindParameter[Any]
    ) -> list[tuple[Any, ...]]:
        """Delete the pending sends ``which`` names (with these values bound): each one's
        number, id and channel.

        The sends go first: a concurrent settle of one of them then either finds it gone
        (and the message is released whole) or has made it sent (and it stays whole)."""
        statement = text(
            f"DELETE FROM sends WHERE sends.state = 'pending' AND {which}"
            " RETURNING number, id, platform, workspace, channel"
        ).bindparams(*values)
        return [tuple(row) for row in await conn.execute(statement)]

    async def _drop_deliveries(
        self,
        conn: AsyncConnection,
        sends: list[tuple[Any, ...]],
        stories: Mapping[int, Sequence[str]] | None,
    ) -> None:
        """Delete the deliveries of dropped sends (as :meth:`_drop_sends` returns them): by
        their whole key, given each send's stories by number; where they are not known (a
        dead process's reservations), through the channel's part of the key."""
        if not sends:
            return
        j = self._json
        if stories is None:
            rows = j.table("sends", "o", id="bigint", platform="text", workspace="text",
                           channel="text")  # fmt: skip
            source, story = f"{rows} CROSS JOIN deliveries AS d", ""
            packed = [list(send[1:]) for send in sends]
        else:
            rows = j.table("sends", "o", id="bigint", platform="text", workspace="text",
                           channel="text", stories="json")  # fmt: skip
            source = f"{rows} CROSS JOIN {j.strings('o.stories', 's')} CROSS JOIN deliveries AS d"
            story = " AND d.story_id = s.value"
            packed = [[*send[1:], list(stories[send[0]])] for send in sends]
        await conn.execute(
            text(
                "DELETE FROM deliveries WHERE (platform, workspace, channel, story_id) IN"
                f" (SELECT d.platform, d.workspace, d.channel, d.story_id FROM {source}"
                f" WHERE {_ITS_DELIVERY}{story})"
            ),
            {"sends": json.dumps(packed)},
        )

    async def forget_channel(self, channel: ChannelRef) -> None:
        """Delete what the ledger holds of a channel: its messages and their stories."""
        await self._forget(
            and_(deliveries.c.platform == channel.platform,
                 deliveries.c.workspace == channel.workspace,
                 deliveries.c.channel == channel.channel),
            and_(sends.c.platform == channel.platform, sends.c.workspace == channel.workspace,
                 sends.c.channel == channel.channel),
        )  # fmt: skip

    async def forget_workspace(self, platform: str, workspace: str) -> None:
        """Delete what the ledger holds of every channel of a workspace."""
        await self._forget(
            and_(deliveries.c.platform == platform, deliveries.c.workspace == workspace),
            and_(sends.c.platform == platform, sends.c.workspace == workspace),
        )

    async def _forget(self, its_deliveries: Any, its_sends: Any) -> None:
        async def remove(conn: AsyncConnection) -> None:
            await conn.execute(deliveries.delete().where(its_deliveries))
            await conn.execute(sends.delete().where(its_sends))

        await write(self.engine, remove)

    async def recent(
        self,
        *,
        platform: str | None = None,
        workspace: str | None = None,
        channel: str | None = None,
        since: datetime | None = None,
        limit: int = 50,
    ) -> list[SentMessage]:
        """The newest messages sent (or being sent), of a platform, workspace or channel id
        when given, since a time when given: each with its subscription's region and how
        many stories it carried (counted for those messages only, once they are chosen: a
        count for every message of a busy channel would read its whole history each time)."""
        c = sends.c
        given = ((c.platform, platform), (c.workspace, workspace), (c.channel, channel))
        where = [column == value for column, value in given if value is not None]
        if since is not None:
            where.append(c.at >= since)
        o = (
            select(sends).where(*where).order_by(c.at.desc(), c.id.desc()).limit(limit)
        ).subquery("o")
        d, s = deliveries.c, subscriptions.c
        stories = (
            select(func.count())
            .where(d.platform == o.c.platform, d.workspace == o.c.workspace,
                   d.channel == o.c.channel, d.send_id == o.c.id)
            .scalar_subquery()
        )  # fmt: skip
        query = (
            select(o.c.at, o.c.platform, o.c.workspace, o.c.channel, o.c.state,
                   o.c.subscription_id, s.region, stories, o.c.message_id)
            .select_from(o.outerjoin(subscriptions, s.id == o.c.subscription_id))
            .order_by(o.c.at.desc(), o.c.id.desc())
        )  # fmt: skip
        async with reading(self.engine) as conn:
            rows = await conn.execute(query)
            return [
                SentMessage(at, ChannelRef(p, w, c), state,
                            None if sub is None else int(sub), region, int(count), message)
                for at, p, w, c, state, sub, region, count, message in rows
            ]  # fmt: skip

    async def channels_with(self, story_id: str) -> int:
        """How many channels show this story: messages the platforms accepted that show it
        (a channel has a story once), not deleted since."""
        async with reading(self.engine) as conn:
            count = await conn.execute(
                text(
                    "SELECT count(*) FROM content_stories AS c"
                    " JOIN sends AS o ON o.content_key = c.content_key"
                    " WHERE c.story_id = :story AND o.state = 'sent'"
                ),
                {"story": story_id},
            )
            return int(count.scalar_one())

    async def count_sent(self) -> int:
        """Stories delivered (in messages the platforms accepted)."""
        async with reading(self.engine) as conn:
            return int(
                (
                    await conn.execute(
                        text(
                            "SELECT count(*) FROM deliveries AS d JOIN sends AS o"
                            " ON o.id = d.send_id WHERE o.state = 'sent'"
                        )
                    )
                ).scalar_one()
            )

    async def prune(
        self,
        *,
        older_than: datetime,
        keep_stories_since: datetime,
        batch: int = 1000,
        writing: asyncio.Lock | None = None,
    ) -> Pruned:
        """Delete what the ledger holds of messages sent before ``older_than``, a transaction
        at a time of at most ``batch`` stories, so the other writes never wait long (each
        transaction holds ``writing`` when given: the process's own writers queue there
        between them, not in SQLite's busy handler).

        Never a message in flight (``pending``), and never a story a push could still choose,
        whose deletion would let it go to the channel again:

        - a story published, or first stored, since ``keep_stories_since``: the caller's
          oldest time a new subscription's first push, or an alert, could still reach (see
          :func:`bot.digests.open_since`);
        - a story inside the window of a subscription of the channel it went to: its last
          push onwards, and :data:`LATE_ARRIVAL_WINDOW` before that (what
          :meth:`StoryStore.for_digest` gives it). Whatever its regions, filters or pause (it
          may be resumed, and its window starts where it was).

        A story the store no longer has can be chosen by nobody. A message goes once the last
        of its stories went. Each batch takes up at the message the last one stopped in.
        Last, the records of what messages showed that no message names any more go.
        """
        if batch < 1:
            raise ValueError(f"prune a batch of at least one story, not {batch}")
        if self._json.postgres:
            late = f"interval '{int(LATE_ARRIVAL_WINDOW.total_seconds())} seconds'"
        else:  # microseconds since the epoch (see UTCDateTime)
            late = str(LATE_ARRIVAL_WINDOW // timedelta(microseconds=1))
        chosen = (
            "SELECT d.platform, d.workspace, d.channel, d.story_id"
            f" FROM sends AS o JOIN deliveries AS d ON {_ITS_DELIVERY}"
            " WHERE o.id >= :after AND o.state = 'sent' AND o.at < :older_than"
            " AND NOT EXISTS (SELECT 1 FROM stories AS s WHERE s.id = d.story_id AND"
            " (s.sort_at >= :keep OR s.ingested_at >= :keep OR EXISTS (SELECT 1"
            " FROM subscriptions AS u WHERE u.platform = d.platform"
            " AND u.workspace = d.workspace AND u.channel = d.channel"
            f" AND u.last_push_at <= s.sort_at + {late})))"
            " ORDER BY o.id LIMIT :batch"
        )
        take = text(
            "DELETE FROM deliveries WHERE (platform, workspace, channel, story_id)"
            f" IN ({chosen}) RETURNING send_id"
        ).bindparams(
            bindparam("older_than", older_than, UTCDateTime),
            bindparam("keep", keep_stories_since, UTCDateTime),
            bindparam("batch", batch),
        )
        emptied = self._json.values("sends", "n", "bigint")
        # its channel's part of the key, then the send: as _ITS_DELIVERY
        empty = text(
            "DELETE FROM sends WHERE sends.state = 'sent' AND sends.id IN"
            f" (SELECT n.value FROM {emptied}) AND NOT EXISTS (SELECT 1 FROM deliveries AS d"
            " WHERE d.platform = sends.platform AND d.workspace = sends.workspace"
            " AND d.channel = sends.channel AND d.send_id = sends.id)"
        )

        async def one_batch(after: int, conn: AsyncConnection) -> tuple[list[int], int]:
            """One transaction: up to ``batch`` stories of messages from ``after`` on, then
            the messages left without a story; their send ids, and how many messages."""
            gone = [int(i) for i in (await conn.execute(take, {"after": after})).scalars()]
            if not gone:
                return gone, 0
            result = await conn.execute(empty, {"sends": json.dumps(sorted(set(gone)))})
            return gone, result.rowcount

        stories = messages = after = 0
        while True:
            async with writing or contextlib.nullcontext():
                gone, emptied_now = await write(self.engine, partial(one_batch, after))
            stories += len(gone)
            messages += emptied_now
            if len(gone) < batch:
                # then what no message shows any more (pruned here, forgotten, deleted)
                async with writing or contextlib.nullcontext():
                    await write(self.engine, forget_unshown)
                return Pruned(stories, messages)
            after = max(gone)  # the rest of that message's stories, and later messages
