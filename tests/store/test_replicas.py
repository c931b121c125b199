"""Processes on one database: each says it is live, and learns how many deliver to each
platform, so that together they keep within the platform's limits for the whole bot."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.delivery.limits import Limiter
from bot.delivery.sender import RateLimits
from bot.domain import ChannelRef
from bot.store.state import (
    REPLICA_DEAD,
    REPLICA_FORGOTTEN,
    REPLICA_LIVE,
    PlatformState,
    Replicas,
    Seen,
)

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


async def test_live_processes_are_counted_by_platform(engine: AsyncEngine) -> None:
    replicas = Replicas(PlatformState(engine))
    both = ["discord", "slack"]
    assert (await replicas.beat("a", both, now=NOW)).live == {"discord": 1, "slack": 1}
    seen = await replicas.beat("b", ["discord"], now=NOW + timedelta(seconds=1))
    assert seen == Seen({"discord": 2, "slack": 1}, frozenset())
    # a beat again is the same process, not another
    seen = await replicas.beat("a", both, now=NOW + timedelta(seconds=2))
    assert seen.live == {"discord": 2, "slack": 1}
    # b stopped beating (killed): no longer counted once its last beat is too old...
    later = NOW + timedelta(seconds=1) + REPLICA_LIVE + timedelta(seconds=1)
    assert await replicas.beat("a", both, now=later) == Seen({"discord": 1, "slack": 1},
                                                             frozenset())  # fmt: skip
    # ...and dead, its pushes for the others to take, once silent for longer
    later = NOW + timedelta(seconds=1) + REPLICA_DEAD + timedelta(seconds=1)
    assert (await replicas.beat("a", both, now=later)).dead == {"b"}


async def test_a_process_that_stops_leaves_and_old_rows_go(engine: AsyncEngine) -> None:
    state = PlatformState(engine)
    replicas = Replicas(state)
    await replicas.beat("gone", ["slack"], now=NOW - REPLICA_FORGOTTEN - timedelta(minutes=1))
    await replicas.beat("a", ["slack"], now=NOW)
    await replicas.beat("b", ["slack"], now=NOW)
    await replicas.leave("b", now=NOW)
    assert await replicas.beat("a", ["slack"], now=NOW) == Seen({"slack": 1}, frozenset())
    assert await state.get("replica", "b") is None
    assert await state.get("replica", "gone") is None
    assert await state.get("replica", "a") == "slack"


async def test_a_share_of_the_bots_budget_paces_a_process() -> None:
    limiter = Limiter(RateLimits(per_second=40.0, per_workspace=10.0))
    channel = ChannelRef("discord", "g", "c")
    limiter.share(2)
    assert limiter.global_window is not None
    assert (limiter.global_window.count, limiter.global_window.window) == (9, 0.53)

    async def sends_within(seconds: float) -> int:
        done = 0

        async def one() -> None:
            nonlocal done
            await limiter.acquire(channel)
            done += 1

        tasks = [asyncio.create_task(one()) for _ in range(100)]
        await asyncio.sleep(seconds)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return done

    started = time.monotonic()
    # the workspace's 10 a second, halved and a tenth kept back: 4 in the first second
    assert await sends_within(0.5) == 4, time.monotonic() - started
    limiter.share(1)  # the other process left: the whole budget again, windows already made
    # in half-second windows: a late burst cannot meet the whole of the next in one second
    assert (limiter.global_window.count, limiter.global_window.window) == (20, 0.53)
    workspace = limiter.workspace_window("g")
    assert workspace is not None and (workspace.count, workspace.window) == (5, 0.53)
