"""Subscriptions per channel, the atomic claim of due pushes, and the delivery ledger."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from functools import lru_cache
from typing import Any, NamedTuple, cast

from sqlalchemy import (
    BigInteger,
    BindParameter,
    and_,
    bindparam,
    func,
    insert,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.domain import ChannelRef, DeliveryMode, Filters, Subscription
from bot.store.db import write
from bot.store.tables import UTCDateTime, push_claims, subscriptions

_c = subscriptions.c


def _filters_json(filters: Filters) -> str:
    return json.dumps(
        {
            "topics": list(filters.topics),
            "sources": list(filters.sources),
            "keywords": list(filters.keywords),
            "exclude": list(filters.exclude),
        }
    )


@lru_cache(maxsize=1024)
def _filters_from_json(text: str) -> Filters:
    raw = json.loads(text)
    return Filters(
        topics=tuple(raw.get("topics", ())),
        sources=tuple(raw.get("sources", ())),
        keywords=tuple(raw.get("keywords", ())),
        exclude=tuple(raw.get("exclude", ())),
    )


@lru_cache(maxsize=1024)
def _clock_time(text: str) -> time:
    hour, minute = (int(x) for x in text.split(":"))
    return time(hour, minute)


@lru_cache(maxsize=256)
def _days(text: str) -> tuple[int, ...]:
    return tuple(int(d) for d in text.split(",") if d)


# The columns a Subscription is read from, in the order _from_row unpacks them.
_COLUMNS = (
    _c.id, _c.platform, _c.workspace, _c.channel, _c.region, _c.push_time, _c.timezone,
    _c.days, _c.mode, _c.filters, _c.paused, _c.paused_reason, _c.next_push_at,
    _c.last_push_at, _c.last_result, _c.failures, _c.created_at,
)  # fmt: skip


def _from_row(row: Sequence[Any]) -> Subscription:
    (id_, platform, workspace, channel, region, push_time, timezone, days, mode, filters,
     paused, paused_reason, next_push_at, last_push_at, last_result, failures,
     created_at) = row  # fmt: skip
    return Subscription(
        id=int(id_),
        channel=ChannelRef(platform, workspace, channel),
        region=region,
        push_time=_clock_time(push_time),
        timezone=timezone,
        days=_days(days),
        mode=cast(DeliveryMode, mode),
        filters=_filters_from_json(filters),
        paused=bool(paused),
        paused_reason=paused_reason,
        next_push_at=next_push_at,
        last_push_at=last_push_at,
        last_result=last_result,
        failures=int(failures),
        created_at=created_at,
    )


def _values(sub: Subscription) -> dict[str, Any]:
    return {
        "push_time": sub.push_time.strftime("%H:%M"),
        "timezone": sub.timezone,
        "days": ",".join(str(d) for d in sub.days),
        "mode": sub.mode,
        "filters": _filters_json(sub.filters),
        "paused": sub.paused,
        "paused_reason": sub.paused_reason,
        "next_push_at": sub.next_push_at,
    }


def _where_channel(channel: ChannelRef) -> Any:
    return and_(
        _c.platform == channel.platform,
        _c.workspace == channel.workspace,
        _c.channel == channel.channel,
    )


def _drop_claims(which: Any) -> Any:
    """Forget claims on subscriptions a user just changed: the push under way then writes
    nothing back over the change (``finish`` writes only where its claim still stands)."""
    return push_claims.delete().where(push_claims.c.subscription_id.in_(select(_c.id).where(which)))


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


class _JsonRows:
    """Many rows passed to SQL as one parameter, a JSON array of arrays, read back as a table.

    Thousands of rows cost one parameter and no per-row work in Python, where an executemany
    spends most of its time binding parameters row by row.
    """

    def __init__(self, postgres: bool) -> None:
        self.postgres = postgres

    def table(self, param: str, alias: str, **columns: str) -> str:
        """A FROM item: ``alias`` with one column per keyword, in array order; a column's
        type is an SQL type, or ``json`` for a nested array (see :meth:`strings`)."""
        fields = []
        for index, (name, sql_type) in enumerate(columns.items()):
            if sql_type == "json":
                fields.append(f"r.value -> {index} AS {name}")
            elif self.postgres:
                fields.append(f"CAST(r.value ->> {index} AS {sql_type}) AS {name}")
            else:  # SQLite: ->> gives the value with its own type, as the column stores it
                fields.append(f"r.value ->> {index} AS {name}")
        if self.postgres:
            source, limit = f"jsonb_array_elements(CAST(:{param} AS jsonb)) AS r", ""
        else:
            # LIMIT -1 keeps SQLite from flattening the rows into a join (it would then scan
            # the JSON once per row of the other table): they are read once, then joined.
            source, limit = f"json_each(:{param}) AS r", " LIMIT -1"
        return f"(SELECT {', '.join(fields)} FROM {source}{limit}) AS {alias}"

    def values(self, param: str, alias: str, sql_type: str) -> str:
        """A FROM item: ``alias.value`` for each item of a flat JSON array parameter (ids)."""
        if self.postgres:
            return (
                f"(SELECT CAST(r.value AS {sql_type}) AS value"
                f" FROM jsonb_array_elements_text(CAST(:{param} AS jsonb)) AS r(value)) AS {alias}"
            )
        return f"(SELECT r.value AS value FROM json_each(:{param}) AS r LIMIT -1) AS {alias}"

    def each(self, array: str, alias: str) -> str:
        """A FROM item: ``alias.value`` for each item of a JSON array column, as JSON (see
        :meth:`field`)."""
        if self.postgres:
            return f"jsonb_array_elements({array}) AS {alias}(value)"
        return f"json_each({array}) AS {alias}"

    def field(self, alias: str, index: int, sql_type: str) -> str:
        """Item ``index`` of the array ``alias.value`` (see :meth:`each`), as ``sql_type``."""
        if self.postgres and sql_type != "text":
            return f"CAST({alias}.value ->> {index} AS {sql_type})"
        return f"{alias}.value ->> {index}"

    def time(self, value: datetime | None) -> int | str | None:
        """A time as a JSON value for a ``timestamptz`` column (see :class:`UTCDateTime`)."""
        if value is None:
            return None
        return value.isoformat() if self.postgres else UTCDateTime.to_sqlite(value)

    def element(self, alias: str, sql_type: str) -> str:
        """The value of an item of :meth:`strings`, as ``sql_type``."""
        return f"CAST({alias}.value AS {sql_type})" if self.postgres else f"{alias}.value"

    def strings(self, array: str, alias: str) -> str:
        """A FROM item: ``alias.value`` for each item of a JSON array column (as text on
        PostgreSQL: see :meth:`element`)."""
        if self.postgres:
            return f"jsonb_array_elements_text({array}) AS {alias}(value)"
        return f"json_each({array}) AS {alias}"


class SubscriptionStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._json = _JsonRows(engine.dialect.name == "postgresql")

    async def save(self, sub: Subscription, *, now: datetime) -> tuple[Subscription, bool]:
        """Create the channel's subscription to this region, or update the one it has.

        Returns the stored subscription and whether it was created.
        """
        where = and_(_where_channel(sub.channel), _c.region == sub.region)

        async def store(conn: AsyncConnection) -> tuple[Subscription, bool]:
            found = (await conn.execute(select(_c.id).where(where))).first()
            if found is None:
                await conn.execute(
                    insert(subscriptions).values(
                        platform=sub.channel.platform,
                        workspace=sub.channel.workspace,
                        channel=sub.channel.channel,
                        region=sub.region,
                        failures=0,
                        created_at=now,
                        updated_at=now,
                        **_values(sub),
                    )
                )
            else:
                await conn.execute(
                    update(subscriptions)
                    .where(_c.id == found.id)
                    .values(updated_at=now, failures=0, **_values(sub))
                )
                await conn.execute(_drop_claims(_c.id == found.id))
            row = (await conn.execute(select(*_COLUMNS).where(where))).one()
            return _from_row(row), found is None

        # a concurrent first subscribe of the same region: the loser updates instead
        return await write(self.engine, store, retry_conflicts=True)

    async def for_channel(self, channel: ChannelRef) -> list[Subscription]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(*_COLUMNS).where(_where_channel(channel)).order_by(_c.region)
            )
            return [_from_row(r) for r in rows]

    async def get(self, sub_id: int) -> Subscription | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(*_COLUMNS).where(_c.id == sub_id))).first()
        return _from_row(row) if row else None

    async def delete(self, channel: ChannelRef, regions: Collection[str] | None) -> int:
        """Remove these regions' subscriptions (all when ``regions`` is None); how many went."""
        where = _where_channel(channel)
        if regions is not None:
            where = and_(where, _c.region.in_(list(regions)))

        async def remove(conn: AsyncConnection) -> int:
            result = await conn.execute(subscriptions.delete().where(where))
            return int(result.rowcount or 0)

        return await write(self.engine, remove)

    async def set_paused(
        self,
        channel: ChannelRef,
        regions: Collection[str] | None,
        *,
        paused: bool,
        reason: str | None,
        now: datetime,
        next_push: dict[int, datetime] | None = None,
    ) -> int:
        """Pause or resume; resuming clears the failure count and sets each next push given
        (digests: instant subscriptions have none)."""
        where = _where_channel(channel)
        if regions is not None:
            where = and_(where, _c.region.in_(list(regions)))
        values: dict[str, Any] = {"paused": paused, "paused_reason": reason, "updated_at": now}
        if not paused:
            values["failures"] = 0

        async def change(conn: AsyncConnection) -> int:
            result = await conn.execute(update(subscriptions).where(where).values(**values))
            for sub_id, when in (next_push or {}).items():
                await conn.execute(
                    update(subscriptions)
                    .where(and_(where, _c.id == sub_id))
                    .values(next_push_at=when)
                )
            await conn.execute(_drop_claims(where))
            return int(result.rowcount or 0)

        return await write(self.engine, change)

    async def claim_due(
        self,
        now: datetime,
        token: str,
        *,
        stale_before: datetime,
        platforms: Collection[str] | None = None,
        limit: int = 20000,
    ) -> list[int]:
        """Atomically take every due push nobody holds: one INSERT ... SELECT ... RETURNING.

        The claim table's primary key is the subscription, so of any number of processes
        sharing the database, exactly one gets each due push. Claims older than
        ``stale_before`` belong to a process that died mid-push: they are dropped first, and
        their pushes are due again.
        """
        k = push_claims.c
        held = select(k.subscription_id).where(k.subscription_id == _c.id).exists()
        due = and_(_c.paused.is_(False), _c.next_push_at <= now, ~held)
        if platforms is not None:  # each process pushes only for the platforms it serves
            due = and_(due, _c.platform.in_(sorted(platforms)))
        chosen = select(_c.id, literal(token), literal(now, UTCDateTime)).where(due).limit(limit)
        insert_ = pg_insert if self.engine.dialect.name == "postgresql" else sqlite_insert
        statement = (
            insert_(push_claims)
            .from_select(["subscription_id", "claimed_by", "claimed_at"], chosen)
            .on_conflict_do_nothing(index_elements=["subscription_id"])
            .returning(k.subscription_id)
        )

        async def claim(conn: AsyncConnection) -> list[int]:
            await conn.execute(push_claims.delete().where(k.claimed_at < stale_before))
            return [int(i) for i in (await conn.execute(statement)).scalars().all()]

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
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        groups = []
        for *fields, packed in rows:
            found = json.loads(packed) if isinstance(packed, str) else packed
            found.sort()
            people = [(int(i), ChannelRef(p, w, c)) for i, p, w, c in found]
            (region, push_time, timezone, days, mode, filters, paused, next_push_at,
             last_push_at, failures) = fields  # fmt: skip
            # the first member, read as _from_row reads a whole row (what a push does not need,
            # its pause reason, last result and creation time, left out)
            like = _from_row(
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

    async def instant_subscribers(self) -> list[Subscription]:
        """Unpaused subscriptions in instant mode."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(*_COLUMNS).where(_c.mode == "instant", _c.paused.is_(False))
            )
            return [_from_row(r) for r in rows]

    async def record_failure(
        self, sub_id: int, *, result: str, pause_after: int, pause_reason: str
    ) -> bool:
        """Count a failed delivery outside a claimed push (instant alerts, send-now); True
        when this failure is the one that paused the subscription."""
        async with self.engine.begin() as conn:
            await conn.execute(
                update(subscriptions)
                .where(_c.id == sub_id)
                .values(failures=_c.failures + 1, last_result=result)
            )
            paused = await conn.execute(
                update(subscriptions)
                .where(_c.id == sub_id, _c.failures >= pause_after, _c.paused.is_(False))
                .values(paused=True, paused_reason=pause_reason)
            )
            if paused.rowcount:
                await conn.execute(_drop_claims(_c.id == sub_id))
        return bool(paused.rowcount)

    async def record_success(self, sub_id: int, *, result: str, pushed_at: datetime | None) -> None:
        values: dict[str, Any] = {"failures": 0, "last_result": result}
        if pushed_at is not None:
            values["last_push_at"] = pushed_at
        async with self.engine.begin() as conn:
            await conn.execute(update(subscriptions).where(_c.id == sub_id).values(**values))

    async def count(self) -> int:
        async with self.engine.connect() as conn:
            return int(
                (await conn.execute(select(func.count()).select_from(subscriptions))).scalar_one()
            )


LedgerKey = tuple[str, str, str, str]  # platform, workspace, channel, story id


def ledger_key(channel: ChannelRef, story_id: str) -> LedgerKey:
    return (channel.platform, channel.workspace, channel.channel, story_id)


class Ask(NamedTuple):
    """One message's stories to reserve. ``number`` names the message within its
    reservation (a push's subscription id, an alert's place): settling names it again."""

    number: int
    channel: ChannelRef
    subscription_id: int | None
    story_ids: Sequence[str]


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
        self._json = _JsonRows(engine.dialect.name == "postgresql")

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
        async with self.engine.connect() as conn:
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
        sent: Sequence[tuple[int, str | None]],
        released: Sequence[tuple[int, Sequence[str]]],
        at: datetime,
    ) -> None:
        """Mark reserved messages sent, ``(number, the platform's message id)``, or release
        them, ``(number, every story id it holds)``: a release deletes those rows by their
        key. Like :meth:`reserve`, each list goes as one JSON parameter."""

        async def store(conn: AsyncConnection) -> None:
            if sent:
                rows = self._json.table("sent", "p", number="bigint", message="text")
                await conn.execute(
                    text(
                        "UPDATE sends SET state = 'sent', message_id = p.message, at = :at"
                        f" FROM {rows} WHERE sends.reserved_by = :token"
                        " AND sends.state = 'pending' AND sends.number = p.number"
                    ).bindparams(bindparam("at", type_=UTCDateTime)),
                    {"sent": json.dumps(sent), "token": token, "at": at},
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

    async def release_stale(self, *, older_than: datetime) -> int:
        """Release reservations a dead process left pending, so their stories go out again;
        how many messages were released."""

        async def release(conn: AsyncConnection) -> int:
            gone = await self._drop_sends(
                conn, "sends.at < :older_than", bindparam("older_than", older_than, UTCDateTime)
            )
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

    async def count_sent(self) -> int:
        """Stories delivered (in messages the platforms accepted)."""
        async with self.engine.connect() as conn:
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
