"""Subscriptions per channel: what each channel asked for, and how its pushes went."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import and_, bindparam, func, insert, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.domain import ChannelRef, DeliveryMode, Filters, Subscription
from bot.store.db import reading, write
from bot.store.rows import JsonRows
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


# The columns a Subscription is read from, in the order subscription_from_row unpacks them.
_COLUMNS = (
    _c.id, _c.platform, _c.workspace, _c.channel, _c.region, _c.push_time, _c.timezone,
    _c.days, _c.mode, _c.filters, _c.paused, _c.paused_reason, _c.next_push_at,
    _c.last_push_at, _c.last_result, _c.failures, _c.created_at,
)  # fmt: skip


def subscription_from_row(row: Sequence[Any]) -> Subscription:
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


def _on_channel(platform: Any, workspace: Any, channel: Any) -> Any:
    return and_(_c.platform == platform, _c.workspace == workspace, _c.channel == channel)


def _where_channel(channel: ChannelRef) -> Any:
    return _on_channel(channel.platform, channel.workspace, channel.channel)


# A channel's subscriptions, read by every lookup that names no region: built once over bound
# names, so SQLAlchemy compiles it once and runs it with each channel's values.
_FOR_CHANNEL = (
    select(*_COLUMNS)
    .where(_on_channel(bindparam("platform"), bindparam("workspace"), bindparam("channel")))
    .order_by(_c.region)
)


def _channel_params(channel: ChannelRef) -> dict[str, str]:
    return {"platform": channel.platform, "workspace": channel.workspace,
            "channel": channel.channel}  # fmt: skip


def _drop_claims(which: Any) -> Any:
    """Forget claims on subscriptions a user just changed: the push under way then writes
    nothing back over the change (``finish`` writes only where its claim still stands)."""
    return push_claims.delete().where(push_claims.c.subscription_id.in_(select(_c.id).where(which)))


_ORDER = (_c.platform, _c.workspace, _c.channel, _c.region)


def _where_parts(platform: str | None, workspace: str | None, channel: str | None) -> list[Any]:
    """Conditions naming a platform, a workspace and a channel id, each when given."""
    given = ((_c.platform, platform), (_c.workspace, workspace), (_c.channel, channel))
    return [column == value for column, value in given if value is not None]


def _asks(sub: Subscription) -> tuple[Any, ...]:
    """What a subscription asks for: what an import compares (not its record of pushes)."""
    return (sub.push_time, sub.timezone, sub.days, sub.mode, sub.filters, sub.paused,
            sub.paused_reason)  # fmt: skip


@dataclass(frozen=True)
class ImportCounts:
    """What :meth:`SubscriptionStore.import_all` did with the subscriptions it was given."""

    created: int
    updated: int
    unchanged: int


class SubscriptionStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._json = JsonRows(engine.dialect.name == "postgresql")

    async def save(
        self, sub: Subscription, *, now: datetime, restore: bool = False
    ) -> tuple[Subscription, bool]:
        """Create the channel's subscription to this region, or update the one it has (a
        change clears its failure count). ``restore``: put back ``sub`` as it was stored,
        its record of pushes included (a change undone).

        Returns the stored subscription and whether it was created.
        """
        where = and_(_where_channel(sub.channel), _c.region == sub.region)
        record: dict[str, Any] = {"failures": 0}
        if restore:
            record = {"failures": sub.failures, "last_result": sub.last_result,
                      "last_push_at": sub.last_push_at}  # fmt: skip

        async def store(conn: AsyncConnection) -> tuple[Subscription, bool]:
            found = (await conn.execute(select(_c.id).where(where))).first()
            if found is None:
                await conn.execute(
                    insert(subscriptions).values(
                        platform=sub.channel.platform,
                        workspace=sub.channel.workspace,
                        channel=sub.channel.channel,
                        region=sub.region,
                        created_at=sub.created_at if restore and sub.created_at else now,
                        updated_at=now,
                        **record,
                        **_values(sub),
                    )
                )
            else:
                await conn.execute(
                    update(subscriptions)
                    .where(_c.id == found.id)
                    .values(updated_at=now, **record, **_values(sub))
                )
                await conn.execute(_drop_claims(_c.id == found.id))
            row = (await conn.execute(select(*_COLUMNS).where(where))).one()
            return subscription_from_row(row), found is None

        # a concurrent first subscribe of the same region: the loser updates instead
        return await write(self.engine, store, retry_conflicts=True)

    async def for_channel(self, channel: ChannelRef) -> list[Subscription]:
        async with reading(self.engine) as conn:
            rows = await conn.execute(_FOR_CHANNEL, _channel_params(channel))
            return [subscription_from_row(r) for r in rows]

    async def for_workspace(self, platform: str, workspace: str) -> list[Subscription]:
        """Every subscription of a workspace's channels, by channel and region."""
        where = and_(_c.platform == platform, _c.workspace == workspace)
        async with reading(self.engine) as conn:
            rows = await conn.execute(
                select(*_COLUMNS).where(where).order_by(_c.channel, _c.region)
            )
            return [subscription_from_row(r) for r in rows]

    async def get(self, sub_id: int) -> Subscription | None:
        async with reading(self.engine) as conn:
            row = (await conn.execute(select(*_COLUMNS).where(_c.id == sub_id))).first()
        return subscription_from_row(row) if row else None

    async def delete(self, channel: ChannelRef, regions: Collection[str] | None) -> int:
        """Remove these regions' subscriptions (all when ``regions`` is None); how many went."""
        where = _where_channel(channel)
        if regions is not None:
            where = and_(where, _c.region.in_(list(regions)))

        async def remove(conn: AsyncConnection) -> int:
            await conn.execute(_drop_claims(where))
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

    async def pause_channels(
        self, channels: Collection[ChannelRef], *, reason: str, now: datetime
    ) -> int:
        """Pause every subscription of these channels (which cannot take messages), in one
        write; how many were newly paused. Their claims go: a push under way writes nothing
        back over the pause."""
        if not channels:
            return 0
        listed = json.dumps(sorted({(c.platform, c.workspace, c.channel) for c in channels}))
        rows = self._json.table("channels", "c", platform="text", workspace="text", channel="text")
        theirs = (
            f"SELECT s.id FROM {rows} JOIN subscriptions AS s ON s.platform = c.platform"
            " AND s.workspace = c.workspace AND s.channel = c.channel"
        )
        pause = text(
            "UPDATE subscriptions SET paused = :paused, paused_reason = :reason,"
            f" updated_at = :now WHERE paused = :unpaused AND id IN ({theirs})"
        ).bindparams(bindparam("now", type_=UTCDateTime))
        unclaim = text(f"DELETE FROM push_claims WHERE subscription_id IN ({theirs})")

        async def change(conn: AsyncConnection) -> int:
            result = await conn.execute(
                pause,
                {"channels": listed, "reason": reason, "now": now, "paused": True,
                 "unpaused": False},
            )  # fmt: skip
            await conn.execute(unclaim, {"channels": listed})
            return int(result.rowcount or 0)

        return await write(self.engine, change)

    async def pause_workspace(
        self, platform: str, workspace: str, *, reason: str, now: datetime
    ) -> int:
        """Pause every subscription of a workspace (the app was removed from it, or its token
        refused), in one write; how many were newly paused. Their claims go, as above."""
        where = and_(_c.platform == platform, _c.workspace == workspace)

        async def change(conn: AsyncConnection) -> int:
            result = await conn.execute(
                update(subscriptions)
                .where(where, _c.paused.is_(False))
                .values(paused=True, paused_reason=reason, updated_at=now)
            )
            await conn.execute(_drop_claims(where))
            return int(result.rowcount or 0)

        return await write(self.engine, change)

    async def delete_workspace(self, platform: str, workspace: str) -> int:
        """Remove every subscription of a workspace; how many went."""
        where = and_(_c.platform == platform, _c.workspace == workspace)

        async def remove(conn: AsyncConnection) -> int:
            await conn.execute(_drop_claims(where))
            result = await conn.execute(subscriptions.delete().where(where))
            return int(result.rowcount or 0)

        return await write(self.engine, remove)

    async def instant_subscribers(self) -> list[Subscription]:
        """Unpaused subscriptions in instant mode."""
        async with reading(self.engine) as conn:
            rows = await conn.execute(
                select(*_COLUMNS).where(_c.mode == "instant", _c.paused.is_(False))
            )
            return [subscription_from_row(r) for r in rows]

    async def record_failure(
        self, sub_id: int, *, result: str, pause_after: int, pause_reason: str
    ) -> bool:
        """Count a failed delivery outside a claimed push (instant alerts, send-now); True
        when this failure is the one that paused the subscription."""

        async def count(conn: AsyncConnection) -> bool:
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

        return await write(self.engine, count)

    async def record_success(self, sub_id: int, *, result: str, pushed_at: datetime | None) -> None:
        values: dict[str, Any] = {"failures": 0, "last_result": result}
        if pushed_at is not None:
            values["last_push_at"] = pushed_at

        async def clear(conn: AsyncConnection) -> None:
            await conn.execute(update(subscriptions).where(_c.id == sub_id).values(**values))

        await write(self.engine, clear)

    async def matching(
        self,
        *,
        platform: str | None = None,
        workspace: str | None = None,
        channel: str | None = None,
        paused: bool | None = None,
    ) -> list[Subscription]:
        """Every subscription, or those of a platform, workspace or channel id, paused or
        running; by platform, workspace, channel and region."""
        where = _where_parts(platform, workspace, channel)
        if paused is not None:
            where.append(_c.paused.is_(paused))
        query = select(*_COLUMNS).where(*where).order_by(*_ORDER)
        async with reading(self.engine) as conn:
            return [subscription_from_row(r) for r in await conn.execute(query)]

    async def failing(
        self,
        *,
        refusals: Collection[str] = (),
        platform: str | None = None,
        workspace: str | None = None,
        channel: str | None = None,
    ) -> list[Subscription]:
        """Subscriptions whose deliveries fail: a failure count above zero (failures in a
        row, cleared by a success), or paused for a reason starting with one of
        ``refusals`` (the platform refused the whole workspace: no failure is counted then).
        Most failures first, then by channel and region."""
        failed: Any = _c.failures > 0
        if refusals:
            refused = or_(*(_c.paused_reason.startswith(r, autoescape=True) for r in refusals))
            failed = or_(failed, and_(_c.paused.is_(True), refused))
        query = (
            select(*_COLUMNS)
            .where(failed, *_where_parts(platform, workspace, channel))
            .order_by(_c.failures.desc(), *_ORDER)
        )
        async with reading(self.engine) as conn:
            return [subscription_from_row(r) for r in await conn.execute(query)]

    async def import_all(self, subs: Sequence[Subscription], *, now: datetime) -> ImportCounts:
        """Store these subscriptions as given, in one transaction: all of them or none.

        One a channel has not got is created as given, its record of pushes included (a
        restore). One it has is left alone when it asks for the same (schedule, mode,
        filters, pause): importing a file twice changes nothing. Otherwise it takes what
        ``sub`` asks for and its next push, and its failure count starts again (as any
        change does); its record of pushes stays. Subscriptions not among ``subs`` stay.
        """
        targets = [(s.channel.platform, s.channel.workspace, s.channel.channel, s.region)
                   for s in subs]  # fmt: skip
        if len(set(targets)) != len(targets):
            raise ValueError("a channel's subscription to a region is given twice")
        platforms = sorted({s.channel.platform for s in subs})

        async def store(conn: AsyncConnection) -> ImportCounts:
            stored = {
                (s.channel.platform, s.channel.workspace, s.channel.channel, s.region): s
                for s in map(
                    subscription_from_row,
                    await conn.execute(select(*_COLUMNS).where(_c.platform.in_(platforms))),
                )
            }
            created: list[dict[str, Any]] = []
            changed: list[dict[str, Any]] = []
            for target, sub in zip(targets, subs, strict=True):
                old = stored.get(target)
                if old is None:
                    created.append(
                        {"platform": sub.channel.platform, "workspace": sub.channel.workspace,
                         "channel": sub.channel.channel, "region": sub.region,
                         "created_at": sub.created_at or now, "updated_at": now,
                         "failures": sub.failures, "last_result": sub.last_result,
                         "last_push_at": sub.last_push_at, **_values(sub)}
                    )  # fmt: skip
                elif _asks(old) != _asks(sub):
                    assert old.id is not None
                    changed.append({"b_id": old.id, "updated_at": now, "failures": 0,
                                    **_values(sub)})  # fmt: skip
            if created:
                await conn.execute(insert(subscriptions), created)
            if changed:
                # the SET clause: each row's keys but b_id (the WHERE's)
                await conn.execute(update(subscriptions).where(_c.id == bindparam("b_id")), changed)
                ids = [row["b_id"] for row in changed]
                for start in range(0, len(ids), 500):
                    await conn.execute(_drop_claims(_c.id.in_(ids[start : start + 500])))
            return ImportCounts(len(created), len(changed), len(subs) - len(created) - len(changed))

        # a concurrent first subscribe of one of them: the next run finds it and compares
        return await write(self.engine, store, retry_conflicts=True)

    async def count(self) -> int:
        async with reading(self.engine) as conn:
            return int(
                (await conn.execute(select(func.count()).select_from(subscriptions))).scalar_one()
            )
