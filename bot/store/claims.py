"""The atomic claim of due pushes: one process gets each, and writes back how it went."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, and_, func, literal, or_, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.domain import ChannelRef, Subscription
from bot.store.db import reading, write
from bot.store.rows import JsonRows
from bot.store.subscriptions import subscription_from_row
from bot.store.tables import UTCDateTime, push_claims, subscriptions

_c = subscriptions.c


@dataclass(frozen=True)
class PushRecord:
    """How claimed pushes ended, alike for each subscription named: what to store on them."""

    subscription_ids: list[int]
    next_push_at: datetime | None
    result: str
    failures: int
    pushed_at: datetime | None = None  # set when a digest went out: the next one starts here
    pause_reason: str | None = None


@dataclass(frozen=True)
class PushGroup:
    """Claimed pushes that differ only by channel: one region, schedule, filter set, slot and
    window, so one plan serves them all.

    ``like`` is the first member's subscription, read with what a push needs (not its last
    result or creation time); ``members`` are each push's subscription id and channel.
    """

    like: Subscription
    members: list[tuple[int, ChannelRef]]


class PushClaims:
    """Due pushes claimed by one process at a time (``push_claims``), and their outcomes."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._json = JsonRows(engine.dialect.name == "postgresql")

    async def count_due(self, now: datetime, platforms: Collection[str]) -> dict[str, int]:
        """Due pushes on each of ``platforms``, claimed or not (a claimed push is due until
        its write-back moves it on): what the live processes share between them."""
        due = and_(_c.paused.is_(False), _c.next_push_at <= now, _c.platform.in_(sorted(platforms)))
        async with reading(self.engine) as conn:
            rows = await conn.execute(
                select(_c.platform, func.count()).where(due).group_by(_c.platform)
            )
            return {str(platform): int(n) for platform, n in rows}

    async def claim_due(
        self,
        now: datetime,
        token: str,
        *,
        stale_before: datetime,
        dead: Collection[str] = frozenset(),
        platforms: Collection[str] | None = None,
        limit: int = 20000,
    ) -> list[int]:
        """Atomically take every due push nobody holds: one INSERT ... SELECT ... RETURNING
        (on PostgreSQL, a second where the first came back short).

        The claim table's primary key is the subscription, so of any number of processes
        sharing the database, exactly one gets each due push. Claims older than
        ``stale_before``, or held by a process ``dead`` (its heartbeat stopped), belong to a
        process that died mid-push: they are dropped first, and their pushes are due again.
        """
        k = push_claims.c
        held = select(k.subscription_id).where(k.subscription_id == _c.id).exists()
        due = and_(_c.paused.is_(False), _c.next_push_at <= now, ~held)
        if platforms is not None:  # each process pushes only for the platforms it serves
            due = and_(due, _c.platform.in_(sorted(platforms)))
        # The longest due first, then in the order they were made: every claim a fair sample
        # of what is due (by the index's order alone, one process would take one platform's
        # pushes and sit on that platform's share of the budget while another's went idle).
        # PostgreSQL: a claim under way in another process holds its subscriptions' rows, and
        # this one passes over them to the next due. Without that, both would choose the same
        # rows, and the later would find them all taken at its commit and come back empty:
        # its process would claim no more in that scan, and the other take the rest.
        insert_ = pg_insert if self.engine.dialect.name == "postgresql" else sqlite_insert

        def taking(n: int) -> Any:
            chosen = (
                select(_c.id, literal(token), literal(now, UTCDateTime))
                .where(due)
                .order_by(_c.next_push_at, _c.id)
                .limit(n)
                .with_for_update(skip_locked=True)  # SQLite: one writer at a time, none to pass
            )
            return (
                insert_(push_claims)
                .from_select(["subscription_id", "claimed_by", "claimed_at"], chosen)
                .on_conflict_do_nothing(index_elements=["subscription_id"])
                .returning(k.subscription_id)
            )

        async def claim(conn: AsyncConnection) -> list[int]:
            stale = k.claimed_at < stale_before
            if dead:
                stale = or_(stale, k.claimed_by.in_(sorted(dead)))
            await conn.execute(push_claims.delete().where(stale))
            got = [int(i) for i in (await conn.execute(taking(limit))).scalars().all()]
            if len(got) < limit and self._json.postgres:
                # Pushes another process's claim committed while this statement ran are not
                # taken as far as it can see (READ COMMITTED: its snapshot came first): it
                # chooses them, finds them taken and comes back short though more is due.
                # Replicas scan at the same instants, so this is common as a push falls due.
                # One more statement, a new snapshot, sees them and takes the next instead.
                more = await conn.execute(taking(limit - len(got)))
                got += [int(i) for i in more.scalars().all()]
            return got

        return await write(self.engine, claim)

    async def load_groups(self, ids: Collection[int]) -> list[PushGroup]:
        """Claimed subscriptions by id, grouped by all a push depends on but the channel.

        The database groups them, so Python handles a few groups and, per push, only an id
        and a channel: a batch of thousands costs no per-row conversion.
        """
        if not ids:
            return []
        wanted = text(f"SELECT i.value FROM {self._json.values('ids', 'i', 'bigint')}").bindparams(
            ids=json.dumps(sorted(ids))
        )
        if self._json.postgres:
            members = func.json_agg(
                func.json_build_array(_c.id, _c.platform, _c.workspace, _c.channel)
            )
        else:
            members = func.json_group_array(
                func.json_array(_c.id, _c.platform, _c.workspace, _c.channel)
            )
        shared = (
            _c.region, _c.push_time, _c.timezone, _c.days, _c.mode, _c.filters, _c.paused,
            _c.next_push_at, _c.last_push_at, _c.failures,
        )  # fmt: skip
        query = (
            select(*shared, members)
            .where(_c.id.in_(wanted.columns(value=BigInteger)))
            .group_by(*shared)
        )
        async with reading(self.engine) as conn:
            rows = (await conn.execute(query)).all()
        groups = []
        for *fields, packed in rows:
            found = json.loads(packed) if isinstance(packed, str) else packed
            found.sort()
            people = [(int(i), ChannelRef(p, w, c)) for i, p, w, c in found]
            (region, push_time, timezone, days, mode, filters, paused, next_push_at,
             last_push_at, failures) = fields  # fmt: skip
            # the first member, read as subscription_from_row reads a whole row (what a push
            # does not need, its pause reason, last result and creation time, left out)
            like = subscription_from_row(
                (*found[0], region, push_time, timezone, days, mode, filters, paused, None,
                 next_push_at, last_push_at, None, failures, None)
            )  # fmt: skip
            groups.append(PushGroup(like, people))
        groups.sort(key=lambda g: g.members[0][0])
        return groups

    async def finish(self, token: str, outcomes: list[PushRecord]) -> None:
        """Release the claims and write how the claimed pushes went, in one transaction.

        Only pushes this token still holds are written: a claim that went stale belongs to
        whoever took it over, and a user's change since the claim dropped it. The claims are
        released first and the write names only those this release found, so a change that
        commits meanwhile is never written over (on PostgreSQL an UPDATE that waited for a
        row would still see the claim as its statement began). The outcomes travel as one
        JSON parameter, as in the ledger: one row per record, carrying its subscriptions'
        ids (pushes of one slot mostly end alike).
        """
        if not outcomes:
            return
        t = self._json.time
        rows = self._json.table(
            "outcomes", "p", next_push_at="timestamptz", pushed_at="timestamptz", result="text",
            failures="integer", paused="boolean", reason="text", ids="json",
        )  # fmt: skip
        record = text(
            "UPDATE subscriptions SET next_push_at = p.next_push_at,"
            " last_push_at = COALESCE(p.pushed_at, subscriptions.last_push_at),"
            " last_result = p.result, failures = p.failures, paused = p.paused,"
            f" paused_reason = p.reason FROM {rows}, {self._json.strings('p.ids', 'i')}"
            f" WHERE subscriptions.id = {self._json.element('i', 'bigint')}"
        )
        release = text(
            "DELETE FROM push_claims WHERE claimed_by = :token AND subscription_id IN"
            f" (SELECT i.value FROM {self._json.values('ids', 'i', 'bigint')})"
            " RETURNING subscription_id"
        )
        ids = json.dumps([i for o in outcomes for i in o.subscription_ids])

        async def store(conn: AsyncConnection) -> None:
            result = await conn.execute(release, {"ids": ids, "token": token})
            held = {int(i) for i in result.scalars()}
            packed = [
                [t(o.next_push_at), t(o.pushed_at), o.result, o.failures,
                 o.pause_reason is not None, o.pause_reason, mine]
                for o in outcomes
                if (mine := [i for i in o.subscription_ids if i in held])
            ]  # fmt: skip
            if packed:
                await conn.execute(record, {"outcomes": json.dumps(packed)})

        await write(self.engine, store)
