"""Fan-out throughput and pacing of the delivery engine against a fake platform on loopback.

1. 10,000 deliveries (10,000 channels, each with a digest due) through the whole engine:
   claim, build digests, reserve the ledger, render, POST, settle. The same payloads are then
   posted by a bare aiohttp client with the same concurrency to the same endpoint, in the same
   run. ``engine_over_bare`` is the engine's rate over the bare client's (the median of
   seven rounds, each timing one run of both).
2. 2,000 deliveries (1,000 channels with two subscriptions each) against an endpoint that
   enforces Discord's limits (50 requests/s for the bot, 5 messages per 5 s per channel, 429
   with ``retry_after`` beyond them). Its floor is 40 s; ``elapsed_over_limit`` is the elapsed
   time over that floor.

Last line: ``engine_over_bare=<ratio> elapsed_over_limit=<ratio> duplicates=<n> lost=<n>``.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.app import build_bot, build_core  # noqa: E402
from bot.clock import FrozenClock  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.delivery import RateLimits  # noqa: E402
from bot.domain import ChannelRef, Insight, Story  # noqa: E402
from bot.render.messages import encoded_push  # noqa: E402
from bot.render.model import build_digest  # noqa: E402
from bot.service import tune_gc  # noqa: E402
from bot.store.tables import subscriptions as subscriptions_table  # noqa: E402
from tests.fakes.platform import JSON_BODY, HttpSender, run_platform_process  # noqa: E402
from tests.fakes.web import ChildServer, call_json  # noqa: E402

CHANNELS = int(os.environ.get("BENCH_CHANNELS", "10000"))
LIMITED_CHANNELS = int(os.environ.get("BENCH_LIMITED_CHANNELS", "1000"))
CONCURRENCY = 64
# Each round runs the engine and the bare client back to back, each going first in every
# other round: the ratio of a round compares the two under the same conditions, and the
# median round is the figure (a shared machine has slow moments that would otherwise favour
# one side).
ROUNDS = 7
DISCORD = RateLimits(per_second=50, per_channel=(5, 5.0))
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
REGIONS = ("europe", "east-asia")


def stories() -> list[Story]:
    return [
        Story(
            url=f"https://www.semafor.com/article/11/25/2026/fanout-{region}-{n}",
            kind="signals",
            title=f"Fan-out story {n} for {region}",
            published_at=NOW - timedelta(hours=n + 1),
            region=region,
            news=["Officials said the talks would resume next week. " * 3],
            insights=[
                Insight(title=f"View {k}", sources=["Reuters"], body="Analysts agreed.")
                for k in range(3)
            ],
        )
        for region in REGIONS
        for n in range(4)
    ]


async def prepare(url: str, channels: list[tuple[ChannelRef, str]]) -> None:
    """A database with the stories and one due digest subscription per (channel, region)."""
    settings = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
    core = build_core(settings, clock=FrozenClock(NOW))
    await core.start()
    for item in stories():
        await core.stories.save(item, now=NOW)
    rows = [
        {
            "platform": channel.platform, "workspace": channel.workspace,
            "channel": channel.channel, "region": region, "push_time": "07:00",
            "timezone": "UTC", "days": "0,1,2,3,4,5,6", "mode": "digest",
            "filters": '{"topics": [], "sources": [], "keywords": [], "exclude": []}',
            "paused": False, "next_push_at": NOW - timedelta(minutes=1), "failures": 0,
            "created_at": NOW, "updated_at": NOW,
        }
        for channel, region in channels
    ]  # fmt: skip
    async with core.engine.begin() as conn:
        for start in range(0, len(rows), 5000):
            await conn.execute(subscriptions_table.insert(), rows[start : start + 5000])
    await core.close()


async def engine_run(url: str, port: int, limits: RateLimits) -> tuple[float, int]:
    """Elapsed seconds of one due-scan that delivers everything due, and pushes sent."""
    settings = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
    core = build_core(settings, clock=FrozenClock(NOW))
    await core.start()
    async with HttpSender(f"http://127.0.0.1:{port}", limits=limits) as sender:
        engine = build_bot(core, {"fake": sender}, concurrency=CONCURRENCY).delivery
        start = time.perf_counter()
        outcomes = await engine.run_due()
        elapsed = time.perf_counter() - start
    await core.close()
    return elapsed, sum(1 for o in outcomes if o.status == "sent")


def same_payloads(channels: list[tuple[ChannelRef, str]]) -> list[tuple[str, bytes]]:
    """The bodies the engine posts: each channel's digest of its region's stories."""
    by_region = {r: [s for s in stories() if s.region == r] for r in REGIONS}
    bodies: dict[str, bytes] = {}
    for region, items in by_region.items():
        items.sort(key=lambda s: s.published_at or NOW, reverse=True)
        # encoded once per region, as the engine encodes each digest once
        bodies[region] = encoded_push(build_digest(region, NOW.date(), items), "discord")
    return [(channel.channel, bodies[region]) for channel, region in channels]


async def bare_run(port: int, bodies: list[tuple[str, bytes]]) -> float:
    """The same payloads posted by a plain aiohttp client with the same concurrency."""
    gate = asyncio.Semaphore(CONCURRENCY)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256)) as session:

        async def post(channel: str, body: bytes) -> None:
            async with (
                gate,
                session.post(
                    f"http://127.0.0.1:{port}/channels/{channel}/messages",
                    data=body,
                    headers=JSON_BODY,
                ) as response,
            ):
                await response.read()
                assert response.status == 200

        start = time.perf_counter()
        await asyncio.gather(*(post(channel, body) for channel, body in bodies))
        return time.perf_counter() - start


def count_problems(accepted: dict[str, int], expected: Counter[str]) -> tuple[int, int]:
    duplicates = sum(max(0, accepted.get(c, 0) - n) for c, n in expected.items())
    duplicates += sum(n for c, n in accepted.items() if c not in expected)
    lost = sum(max(0, n - accepted.get(c, 0)) for c, n in expected.items())
    return duplicates, lost


async def engine_side(
    url: str, port: int, channels: list[tuple[ChannelRef, str]]
) -> tuple[float, int, int, int]:
    """One engine run against a fresh endpoint: seconds, pushes sent, duplicates, lost."""
    await call_json(port, "POST", "/reset")
    elapsed, sent = await engine_run(url, port, RateLimits())
    stats = await call_json(port, "GET", "/stats")
    dup, miss = count_problems(stats["accepted"], Counter(c.channel for c, _ in channels))
    return elapsed, sent, dup, miss


async def bare_side(port: int, bodies: list[tuple[str, bytes]]) -> float:
    """One bare-client run against a fresh endpoint (the same fresh start as the engine's)."""
    await call_json(port, "POST", "/reset")
    return await bare_run(port, bodies)


async def throughput(folder: Path, port: int) -> tuple[float, int, int]:
    channels = [(ChannelRef("fake", "bench", f"c{n}"), REGIONS[n % 2]) for n in range(CHANNELS)]
    bodies = same_payloads(channels)
    ratios: list[float] = []
    duplicates = lost = 0
    for round_ in range(ROUNDS):
        url = f"sqlite+aiosqlite:///{folder / f'fanout-{round_}.db'}"
        await prepare(url, channels)
        if round_ % 2 == 0:  # each side goes first in every other round
            elapsed, sent, dup, miss = await engine_side(url, port, channels)
            bare = await bare_side(port, bodies)
        else:
            bare = await bare_side(port, bodies)
            elapsed, sent, dup, miss = await engine_side(url, port, channels)
        duplicates, lost = duplicates + dup, lost + miss
        ratios.append((sent / elapsed) / (len(bodies) / bare))  # rates: a push not sent counts
        print(f"round {round_ + 1}: engine {sent:,} pushes in {elapsed:.2f} s "
              f"({sent / elapsed:,.0f}/s); bare client {len(bodies):,} posts in {bare:.2f} s "
              f"({len(bodies) / bare:,.0f}/s); ratio {ratios[-1]:.2f}")  # fmt: skip
    return statistics.median(ratios), duplicates, lost


async def paced(folder: Path, port: int) -> tuple[float, int, int]:
    channels = [
        (ChannelRef("fake", "bench", f"p{n}"), region)
        for n in range(LIMITED_CHANNELS)
        for region in REGIONS
    ]
    url = f"sqlite+aiosqlite:///{folder / 'paced.db'}"
    await prepare(url, channels)
    elapsed, sent = await engine_run(url, port, DISCORD)
    stats = await call_json(port, "GET", "/stats")
    floor = len(channels) / 50
    duplicates, lost = count_problems(stats["accepted"], Counter(c.channel for c, _ in channels))
    print(f"limited: {sent:,} pushes in {elapsed:.1f} s (floor {floor:.0f} s), "
          f"{stats['rejected_429']} answered 429")  # fmt: skip
    return elapsed / floor, duplicates, lost


def main() -> None:
    tune_gc()  # the process set up as `signalbot run` sets it up (both clients share it)
    free = ChildServer(run_platform_process, None, None)
    limited = ChildServer(run_platform_process, (50, 1.0), (5, 5.0))
    try:
        with tempfile.TemporaryDirectory() as name:
            folder = Path(name)
            ratio, dup_a, lost_a = asyncio.run(throughput(folder, free.port))
            over, dup_b, lost_b = asyncio.run(paced(folder, limited.port))
    finally:
        free.close()
        limited.close()
    print(
        f"engine_over_bare={ratio:.2f} elapsed_over_limit={over:.3f} "
        f"duplicates={dup_a + dup_b} lost={lost_a + lost_b}"
    )


if __name__ == "__main__":
    main()
