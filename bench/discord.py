"""Discord: interactions against the running bot, the Discord sender's throughput, and pacing.

1. 500 interactions (``/signals latest``, ``search``, ``story`` mixed), 50 in flight,
   dispatched over the fake Discord's gateway to a running ``signalbot run`` (its own process,
   100,000 stories in SQLite): p99 from the dispatch to its callback reaching the fake.
2. 10,000 story messages through the real Discord sender (discord.py's REST client, which
   keeps Discord's buckets) to the fake Discord in a process of its own, against a bare
   aiohttp client posting the same bodies as JSON to the same fake, 64 in flight each, in
   paired rounds: ``sender_over_bare`` is the sender's rate over the bare client's (the
   median round).
3. 2,000 messages to 1,000 channels through the engine's sending path against a fake that
   enforces Discord's 50 requests a second for the bot and 5 messages per 5 s per channel,
   with real bucket headers and 429s: the floor is 40 s; ``elapsed_over_limit`` is the elapsed
   time over it, with duplicates and lost messages counted at the fake. Run both ways: with
   discord.py alone pacing, and with the engine pacing too (the sender's limits, which the
   line reports; the other is printed above it with its 429s).

Last line: ``interaction_p99_ms=<n> sender_over_bare=<r> elapsed_over_limit=<r> duplicates=<n>
lost=<n>``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# This file is named like the discord package: its folder must not shadow it.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import discord  # noqa: E402

from adapters.discord import DiscordSender, make_client  # noqa: E402
from adapters.discord.sender import LIMITS as SENDER_LIMITS  # noqa: E402
from bench.commands import COMMON, RARE, load  # noqa: E402
from bench.pairs import bench_story, paired_rounds, percentile  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.delivery.attempts import Attempts  # noqa: E402
from bot.domain import ChannelRef  # noqa: E402
from bot.platform import Outgoing, RateLimits, render_push  # noqa: E402
from bot.render.model import card_from_story  # noqa: E402
from tests.fakes.discord import (  # noqa: E402
    Channel,
    FakeDiscord,
    run_discord_process,
    serve_discord,
)
from tests.fakes.web import ChildServer  # noqa: E402

STORIES = int(os.environ.get("BENCH_STORIES", "100000"))
INTERACTIONS = int(os.environ.get("BENCH_INTERACTIONS", "500"))
IN_FLIGHT = 50
MESSAGES = int(os.environ.get("BENCH_MESSAGES", "10000"))
CONCURRENCY = 64
ROUNDS = 5
PACED_CHANNELS = 1000
PACED_EACH = 2
FLOOR = PACED_CHANNELS * PACED_EACH / 50  # seconds at 50 requests a second
TOKEN = "bench-discord-token.0123456789"
GUILD = 1000 << 22
rng = random.Random(12)



def settings_for(api_url: str, **more: Any) -> Settings:
    return Settings(_env_file=None, discord_token=TOKEN, discord_api_url=api_url, **more)  # type: ignore[call-arg]


# ---- 1. interactions against the running bot -----------------------------------------------


def interaction(ids: list[str]) -> tuple[str, dict[str, Any]]:
    kind = rng.choice(["latest", "search", "story"])
    if kind == "latest":
        return "signals latest", rng.choice(
            [{}, {"count": 10}, {"region": "europe", "count": 5}, {"region": "asia"}]
        )
    if kind == "search":
        words = rng.choice([rng.choice(COMMON), f"{rng.choice(COMMON)} {rng.choice(COMMON)}",
                            rng.choice(RARE)])  # fmt: skip
        options: dict[str, Any] = {"words": words}
        if rng.random() < 0.3:
            options["region"] = rng.choice(["africa", "middle-east"])
        return "signals search", options
    return "signals story", {"story": rng.choice(ids)}


async def interactions_part(folder: Path) -> float:
    url = f"sqlite+aiosqlite:///{folder / 'discord.db'}"
    started = time.perf_counter()
    ids = await load(url, STORIES)
    print(f"loaded {len(ids):,} stories in {time.perf_counter() - started:.1f} s")
    fake = FakeDiscord(token=TOKEN)
    fake.guild(GUILD, "Bench", [Channel(5000 + n, GUILD, f"c{n}") for n in range(50)])
    async with serve_discord(fake):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("SIGNALBOT_", "SLACK_", "DISCORD_"))}  # fmt: skip
        env.update(
            SIGNALBOT_DATABASE_URL=url, DISCORD_TOKEN=TOKEN,
            SIGNALBOT_DISCORD_API_URL=fake.api_url, SIGNALBOT_LOG_LEVEL="WARNING",
            SIGNALBOT_HTTP_HOST="127.0.0.1", SIGNALBOT_HTTP_PORT="0",
        )  # fmt: skip
        bot = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).parent / "signalbot"), "run", env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        try:
            await fake.wait_ready(within=60)
            gate = asyncio.Semaphore(IN_FLIGHT)
            times: list[float] = []
            by_kind: dict[str, list[float]] = {}

            async def one(warm: bool) -> None:
                command, options = interaction(ids)
                async with gate:
                    sent = time.monotonic()
                    asked = await fake.slash(command, options, channel_id=5000 + rng.randrange(50))
                    reply = await fake.first_response(asked, within=10)
                    assert reply.ok, (reply.status, reply.body)
                if not warm:
                    times.append((reply.at - sent) * 1000)
                    by_kind.setdefault(command.split()[-1], []).append(times[-1])

            # Warm-up, not measured: twice as many as will be in flight, so the pools (the
            # bot's database connections, the HTTP connections both ways) are at their working
            # size and the figure is the steady state's, not a cold start's.
            await asyncio.gather(*(one(True) for _ in range(2 * IN_FLIGHT)))
            cpu, started = time.process_time(), time.perf_counter()
            await asyncio.gather(*(one(False) for _ in range(INTERACTIONS)))
            fake_share = (time.process_time() - cpu) / (time.perf_counter() - started)
        finally:
            bot.terminate()
            await bot.wait()
    p99 = percentile(times, 0.99)
    print(f"{len(times)} interactions, {IN_FLIGHT} in flight: p50={statistics.median(times):.1f} "
          f"ms p99={p99:.1f} ms (the fake's process busy {fake_share:.0%})")  # fmt: skip
    for kind, spent in sorted(by_kind.items()):
        print(f"  {kind}: {len(spent)}, p50={statistics.median(spent):.1f} ms "
              f"p99={percentile(spent, 0.99):.1f} ms")  # fmt: skip
    return p99


# ---- 2. the sender against a bare client ---------------------------------------------------


class DiscordProcess(ChildServer):
    """The fake Discord in a process of its own, as Discord would be."""

    def __init__(self, channels: list[int], channel_limit: Any, global_limit: Any) -> None:
        super().__init__(run_discord_process, [(GUILD, channels)], channel_limit, global_limit,
                         TOKEN)  # fmt: skip
        self.api_url = f"http://127.0.0.1:{self.port}/api/v10"




async def logged_in(api_url: str) -> discord.Client:
    client = make_client(settings_for(api_url))
    await client.login(TOKEN)
    return client


async def sender_run(fake: DiscordProcess, messages: list[Outgoing]) -> float:
    await fake.call("POST", "/reset")
    client = await logged_in(fake.api_url)
    try:
        sender = DiscordSender(client.http)
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(message: Outgoing) -> None:
            async with gate:
                await sender.send(message)

        started = time.perf_counter()
        await asyncio.gather(*(one(m) for m in messages))
        return time.perf_counter() - started
    finally:
        await client.close()


async def bare_run(fake: DiscordProcess, bodies: list[tuple[str, dict[str, Any]]]) -> float:
    """The same messages as JSON bodies, each encoded as it is posted, by aiohttp alone."""
    await fake.call("POST", "/reset")
    headers = {"Authorization": f"Bot {TOKEN}", "Content-Type": "application/json"}
    gate = asyncio.Semaphore(CONCURRENCY)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256)) as session:

        async def one(channel: str, body: dict[str, Any]) -> None:
            url = f"{fake.api_url}/channels/{channel}/messages"
            async with gate, session.post(url, data=json.dumps(body), headers=headers) as answer:
                await answer.read()
                assert answer.status == 200, answer.status

        started = time.perf_counter()
        await asyncio.gather(*(one(c, b) for c, b in bodies))
        return time.perf_counter() - started


async def sender_part() -> float:
    channels = [7000 + n for n in range(500)]
    fake = DiscordProcess(channels, None, None)  # no limits: throughput alone
    try:
        messages = [
            Outgoing(ChannelRef("discord", str(GUILD), str(channels[n % 500])),
                     card_from_story(bench_story(n, "discord")))
            for n in range(MESSAGES)
        ]  # fmt: skip
        bodies = []
        for message in messages:  # rendered beforehand: the bare side only posts
            payload = render_push(message.content, "discord")
            assert isinstance(payload, dict)
            bodies.append((message.channel.channel, payload))
        ratio = await paired_rounds(
            ROUNDS, MESSAGES, lambda: sender_run(fake, messages), lambda: bare_run(fake, bodies)
        )
    finally:
        fake.close()
    return ratio


# ---- 3. pacing against Discord's global and per-channel limits -----------------------------


async def paced_run(limits: RateLimits) -> tuple[float, int, int, dict[str, int]]:
    channels = [9000 + n for n in range(PACED_CHANNELS)]
    fake = DiscordProcess(channels, (5, 5.0), (50, 1.0))
    try:
        client = await logged_in(fake.api_url)
        try:
            attempts = Attempts({"discord": DiscordSender(client.http, limits=limits)},
                                concurrency=CONCURRENCY)  # fmt: skip
            card = card_from_story(bench_story(0, "discord"))
            messages = [Outgoing(ChannelRef("discord", str(GUILD), str(c)), card)
                        for _ in range(PACED_EACH) for c in channels]  # fmt: skip
            started = time.perf_counter()
            results = await asyncio.gather(*(attempts.deliver(m) for m in messages))
            elapsed = time.perf_counter() - started
        finally:
            await client.close()
        stats = await fake.call("GET", "/stats")
    finally:
        fake.close()
    sent = Counter(status for status, _, _ in results)
    posted = Counter({int(k): v for k, v in stats["posted"].items()})
    duplicates = sum(max(0, n - PACED_EACH) for n in posted.values())
    lost = sum(max(0, PACED_EACH - posted.get(c, 0)) for c in channels)
    print(f"  {len(messages):,} messages in {elapsed:.1f} s (floor {FLOOR:.0f} s), "
          f"{sent['sent']} sent, 429s {stats['rejected_429'] or 'none'}")  # fmt: skip
    return elapsed / FLOOR, duplicates, lost, stats["rejected_429"]


async def paced_part() -> tuple[float, int, int]:
    print("paced, discord.py alone (no pacing of the engine's):")
    alone = await paced_run(RateLimits())
    print(f"paced, the engine pacing too (the sender's limits: {SENDER_LIMITS}):")
    paced = await paced_run(SENDER_LIMITS)
    print(f"elapsed over the floor: discord.py alone {alone[0]:.3f} with {alone[3]} 429s; "
          f"engine pacing too {paced[0]:.3f} with {paced[3]} 429s")  # fmt: skip
    return paced[:3]


def main() -> None:
    logging.getLogger("discord").setLevel(logging.ERROR)  # the 429s it waits out, expected
    with tempfile.TemporaryDirectory() as folder:
        p99 = asyncio.run(interactions_part(Path(folder)))
    ratio = asyncio.run(sender_part())
    over, duplicates, lost = asyncio.run(paced_part())
    print(
        f"interaction_p99_ms={p99:.1f} sender_over_bare={ratio:.2f} "
        f"elapsed_over_limit={over:.3f} duplicates={duplicates} lost={lost}"
    )


if __name__ == "__main__":
    main()
