"""Several real ``signalbot run`` processes on one PostgreSQL database, against the fake Slack
and the fake Discord each in a process of its own: the harness of ``tests/test_replicas.py``
and ``bench/replicas.py``.

Every subscription has a channel of its own, so the fakes' per-channel counts tell what each
push became: one message (delivered), none (lost) or more (a duplicate).

For a control, processes can also work apart: each alone on a database of its own with its
part of the pushes, at the same time, sharing nothing but the machine and the fakes.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from time import perf_counter

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.app import build_core
from bot.config import Settings
from bot.domain import ChannelRef, Insight, Story, Subscription
from bot.store.rows import TOKEN_LENGTH
from tests.conftest import SIGNALBOT, command_env
from tests.fakes.discord import API_PREFIX, GATEWAY_PATH, run_discord_process
from tests.fakes.slack import run_slack_process
from tests.fakes.web import ChildServer

SLACK_TOKEN = "xoxb-replicas-test-token"
DISCORD_TOKEN = "replicas-discord-token.0123456789"
GUILD = 1000 << 22
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Plan:
    """``slack`` subscriptions spread over ``workspaces`` Slack workspaces, and ``discord``
    over Discord channels of one server, all due at once; with ``share`` ``(n, parts)``, only
    part ``n`` of ``parts`` of them is subscribed (the fakes still know every channel)."""

    slack: int
    discord: int
    workspaces: int = 50
    share: tuple[int, int] = (0, 1)

    def part(self, n: int, parts: int) -> Plan:
        return replace(self, share=(n, parts))

    def slack_channels(self) -> list[ChannelRef]:
        return [ChannelRef("slack", f"T{n % self.workspaces}", f"C{n}") for n in range(self.slack)]

    def discord_channels(self) -> list[ChannelRef]:
        return [ChannelRef("discord", str(GUILD), str(7000 + n)) for n in range(self.discord)]

    def channels(self) -> list[ChannelRef]:
        # interleaved: consecutive pushes go to different workspaces and platforms
        slack, discord = self.slack_channels(), self.discord_channels()
        every = max(1, len(slack) // max(1, len(discord)))
        mixed: list[ChannelRef] = []
        while slack or discord:
            mixed.extend(slack[:every])
            del slack[:every]
            if discord:
                mixed.append(discord.pop(0))
        n, parts = self.share
        return mixed[n::parts]


def story(n: int, when: datetime) -> Story:
    return Story(
        url=f"https://www.semafor.com/article/12/01/2026/replicas-{n}",
        kind="signals", title=f"Replica test story {n}", published_at=when, region="europe",
        news=[f"Something happened in the replica test, item {n}."],
        insights=[Insight(title="A view", sources=["Reuters"], body="Analysts said so.")],
    )  # fmt: skip


async def prepare(url: str, plan: Plan, due: datetime) -> None:
    """The schema, three stories and every subscription, due at ``due``."""
    core = build_core(Settings(_env_file=None, database_url=url))  # type: ignore[call-arg]
    await core.start()
    try:
        now = datetime.now(UTC)
        for n in range(3):
            await core.stories.save(story(n, now - timedelta(hours=1, minutes=n)), now=now)
        subs = [
            Subscription(channel=c, region="europe", push_time=time(7, 0), timezone="UTC",
                         next_push_at=due)
            for c in plan.channels()
        ]  # fmt: skip
        await core.subscriptions.import_all(subs, now=now)
    finally:
        await core.close()


class Fakes:
    """The fake Slack and Discord, each in its own process: with ``channel_limits``, Slack's one
    message a second and Discord's five in five seconds per channel; with ``global_limit``,
    Discord's 50 requests a second for the bot."""

    def __init__(self, plan: Plan, *, channel_limits: bool, global_limit: bool) -> None:
        teams = [(f"T{n}", SLACK_TOKEN if n == 0 else f"xoxb-other-{n}")
                 for n in range(plan.workspaces)]  # fmt: skip
        self.slack = ChildServer(run_slack_process, teams, (1, 1.0) if channel_limits else None)
        channels = [int(c.channel) for c in plan.discord_channels()]
        self.discord = ChildServer(
            run_discord_process, [(GUILD, channels)], (5, 5.0) if channel_limits else None,
            (50, 1.0) if global_limit else None, DISCORD_TOKEN,
        )  # fmt: skip

    async def stats(self) -> FakeStats:
        slack, discord = await self.slack.call("GET", "/stats"), await self.discord.call(
            "GET", "/stats"
        )
        return FakeStats(
            {**slack["posted"], **discord["posted"]},
            int(slack["rejected_429"]),
            dict(discord["rejected_429"]),
            {**slack["updated"], **discord["edited"]},
        )

    def close(self) -> None:
        self.slack.close()
        self.discord.close()


@dataclass(frozen=True)
class FakeStats:
    """What the fakes saw: messages by channel (both platforms), Slack's 429s, Discord's by
    scope, and edits by channel."""

    posted: dict[str, int]
    slack_429: int
    discord_429: dict[str, int]
    edited: dict[str, int]  # edits of the bot's messages, by channel


@dataclass
class Bot:
    process: asyncio.subprocess.Process

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def log_file(path: Path) -> int:
    """A file for a process's stderr (kept for a failing test to show)."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)


async def start_bot(
    url: str, fakes: Fakes, shard: int, shards: int, folder: Path, *, paced: bool = True
) -> Bot:
    """``signalbot run`` on ``url``, serving both fakes and Discord shard ``shard``; not
    ``paced``, with no pacing of its own (the platforms' limits set to 0)."""
    rates = {} if paced else {"SIGNALBOT_DISCORD_RATE": "0", "SIGNALBOT_SLACK_WORKSPACE_RATE": "0"}
    env = command_env(
        None, SIGNALBOT_DATABASE_URL=url, SLACK_BOT_TOKEN=SLACK_TOKEN,
        SLACK_SIGNING_SECRET="replicas-secret",
        SLACK_API_URL=f"http://127.0.0.1:{fakes.slack.port}/api/",
        DISCORD_TOKEN=DISCORD_TOKEN,
        SIGNALBOT_DISCORD_API_URL=f"http://127.0.0.1:{fakes.discord.port}{API_PREFIX}",
        SIGNALBOT_DISCORD_GATEWAY_URL=f"ws://127.0.0.1:{fakes.discord.port}{GATEWAY_PATH}",
        SIGNALBOT_DISCORD_SHARD_COUNT=str(shards), SIGNALBOT_DISCORD_SHARD_IDS=str(shard),
        SIGNALBOT_SCAN_INTERVAL="1", SIGNALBOT_LOG_LEVEL="WARNING", **rates,
    )  # fmt: skip
    log = log_file(folder / f"bot-{shard}-{os.urandom(3).hex()}.log")
    process = await asyncio.create_subprocess_exec(
        SIGNALBOT, "run", env=env, stdout=subprocess.DEVNULL, stderr=log
    )
    os.close(log)
    return Bot(process)


async def stop(bot: Bot, *, kill: bool = False) -> None:
    if bot.process.returncode is None:
        bot.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
    await asyncio.wait_for(bot.process.wait(), 60)


async def wait_until(
    fakes: Fakes, seen: Callable[[FakeStats], dict[str, int]], expected: int, within: float
) -> None:
    """Until ``expected`` channels show in what the fakes have ``seen`` (messages posted, or
    edited); a :class:`TimeoutError` after ``within`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while len(seen(await fakes.stats())) < expected:  # other processes: asked twice a second
        if loop.time() > deadline:
            raise TimeoutError(f"{expected} channels not reached within {within:.0f} s")
        await asyncio.sleep(0.5)


def posted(stats: FakeStats) -> dict[str, int]:
    return stats.posted


def edited(stats: FakeStats) -> dict[str, int]:
    return stats.edited


def tally(posted: dict[str, int], plan: Plan) -> tuple[int, int]:
    """Duplicates (messages beyond one a channel) and lost pushes (channels with none)."""
    names = [c.channel for c in plan.channels()]
    duplicates = sum(max(0, posted.get(n, 0) - 1) for n in names)
    lost = sum(1 for n in names if posted.get(n, 0) == 0)
    return duplicates, lost


async def sent_by_process(urls: Sequence[str]) -> Counter[str]:
    """Messages recorded as sent in the databases at ``urls``, by the process that reserved
    them (a reservation begins with its process's token)."""
    sent: Counter[str] = Counter()
    for url in urls:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(
                    text(
                        f"SELECT substr(reserved_by, 1, {TOKEN_LENGTH}), count(*) FROM sends"
                        " WHERE state = 'sent' GROUP BY 1"
                    )
                )
                sent.update({token: int(n) for token, n in rows})
        finally:
            await engine.dispose()
    return sent


@dataclass(frozen=True)
class Run:
    """How a run went: what the fakes saw at the end, messages sent by each process, and the
    processes' CPU seconds from just before the pushes were due to the last message."""

    seen: FakeStats
    by_process: Counter[str]
    cpu: float
    elapsed: float


async def deliver(urls: Sequence[str], plan: Plan, fakes: Fakes, processes: int, folder: Path,
                  *, lead: float = 8.0, paced: bool = True) -> Run:  # fmt: skip
    """Every subscription of ``plan`` due ``lead`` seconds from now, ``processes`` processes
    (one Discord shard each; not ``paced``, with no pacing of their own) delivering them:
    until every channel has a message. With one database URL, the processes share it; with
    one for each process, they work apart: process ``n`` alone on ``urls[n]``, with part
    ``n`` of the plan."""
    due = datetime.now(UTC) + timedelta(seconds=lead)
    if len(urls) == 1:
        databases, plans = [urls[0]] * processes, [plan]
    elif len(urls) == processes:
        databases, plans = list(urls), [plan.part(n, processes) for n in range(processes)]
    else:
        raise ValueError(f"{len(urls)} databases for {processes} processes")
    for url, part in zip(urls, plans, strict=True):
        await prepare(url, part, due)
    bots = [await start_bot(url, fakes, n, processes, folder, paced=paced)
            for n, url in enumerate(databases)]  # fmt: skip
    try:
        await asyncio.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds() - 1))
        before = [bot.cpu_seconds() for bot in bots]
        started = perf_counter()
        await wait_until(fakes, posted, len(plan.channels()), within=240)
        elapsed = perf_counter() - started
        cpu = sum(bot.cpu_seconds() - spent for bot, spent in zip(bots, before, strict=True))
        await asyncio.sleep(2)  # a late duplicate would show now
        seen = await fakes.stats()
    finally:
        for bot in bots:
            await stop(bot)
    return Run(seen, await sent_by_process(urls), cpu, elapsed)
