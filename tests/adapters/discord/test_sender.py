"""The Discord sender: pushes through discord.py's REST client to the fake Discord, every
failure sorted for the delivery engine, every message inside Discord's limits."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import discord
import pytest
from discord.http import Route
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from adapters.discord import DiscordSender, make_client
from adapters.discord.runner import DiscordRunner
from adapters.discord.sender import LIMITS, count_rate_limits
from bot.config import Settings
from bot.delivery.attempts import Attempts
from bot.delivery.limits import Limiter
from bot.domain import ChannelRef, Insight, Story
from bot.platform import DeliveryError, Notice, Outgoing, RateLimits
from bot.render.model import build_digest, card_from_story
from tests.conftest import settings_for
from tests.fakes.discord import VIEW_CHANNEL, Channel, FakeDiscord, serve_discord
from tests.render.strategies import stories

TOKEN = "fake-bot-token.for-signalbot-tests"
G1 = 1000 << 22
NEWS, HIDDEN, BUSY = 5001, 5002, 5003
UNKNOWN = 9999


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord(token=TOKEN)
    fake.guild(G1, "Newsroom", [Channel(NEWS, G1, "news"), Channel(HIDDEN, G1, "hidden"),
                                Channel(BUSY, G1, "busy")])  # fmt: skip
    fake.deny(HIDDEN, VIEW_CHANNEL)
    async with serve_discord(fake):
        yield fake




def to(channel: int) -> ChannelRef:
    return ChannelRef("discord", str(G1), str(channel))


def story(n: int, **changes: object) -> Story:
    base = Story(
        url=f"https://example.com/discord-sender-{n}", kind="signals", region="africa",
        title=f"Sender story {n}", published_at=datetime(2026, 11, 30, 6, tzinfo=UTC),
        news=["A thing happened."],
        insights=[Insight(title="A view", sources=["Reuters"], body="Analysts said so.")],
    )  # fmt: skip
    return Story.model_validate({**base.model_dump(exclude={"id"}), **changes})


async def test_a_story_and_a_digest_go_out_as_embeds_without_mentions(
    fake: FakeDiscord, client: discord.Client
) -> None:
    sender = DiscordSender(client.http)
    card = card_from_story(story(1))
    first = await sender.send(Outgoing(to(NEWS), card))
    digest = build_digest("africa", date(2026, 11, 30), [story(n) for n in range(12)])
    second = await sender.send(Outgoing(to(NEWS), digest))
    assert first and second and first != second  # Discord's message ids
    alert, pushed = fake.posted(NEWS)
    assert alert["embeds"][0]["title"] == "Sender story 1"
    assert alert["allowed_mentions"] == pushed["allowed_mentions"] == {"parse": []}
    assert len(pushed["embeds"]) == 10 and "2 more" in pushed["content"]


@pytest.mark.parametrize(
    ("channel", "failure", "scope", "permanent"),
    [
        (HIDDEN, None, "channel", True),  # Missing Access
        (UNKNOWN, None, "channel", True),  # Unknown Channel
        (NEWS, (403, 50013), "channel", True),  # Missing Permissions
        (NEWS, 503, "message", False),  # Discord unavailable: tried again later
        (NEWS, (400, 50035), "message", True),  # this message refused
    ],
)
async def test_failures_are_sorted_for_the_engine(
    fake: FakeDiscord, client: discord.Client, channel: int, failure: object, scope: str,
    permanent: bool,
) -> None:  # fmt: skip
    if failure is not None:
        fake.fail_next[channel].append(failure)  # type: ignore[arg-type]
    with pytest.raises(DeliveryError) as refused:
        await DiscordSender(client.http).send(Outgoing(to(channel), Notice("hello")))
    assert refused.value.scope == scope and refused.value.permanent is permanent
    assert TOKEN not in str(refused.value)


async def test_a_refused_token_is_the_operators_to_fix(
    fake: FakeDiscord, client: discord.Client
) -> None:
    fake.token = "another-token-entirely-000000"  # Discord no longer takes ours
    with pytest.raises(DeliveryError) as refused:
        await DiscordSender(client.http).send(Outgoing(to(NEWS), Notice("hello")))
    assert refused.value.scope == "platform"


async def test_discord_py_keeps_a_busy_channels_bucket_without_a_429(
    fake: FakeDiscord, client: discord.Client
) -> None:
    # no pacing of the engine's: discord.py alone keeps the bucket from Discord's headers
    attempts = Attempts({"discord": DiscordSender(client.http, limits=RateLimits())},
                        concurrency=16)  # fmt: skip
    card = card_from_story(story(2))
    started = time.monotonic()
    results = [await attempts.deliver(Outgoing(to(BUSY), card)) for _ in range(7)]
    assert [status for status, _, _ in results] == ["sent"] * 7
    assert time.monotonic() - started >= 4.0  # five per five seconds, as the headers say
    assert sum(fake.rejected_429.values()) == 0
    assert len(fake.posted(BUSY)) == 7


async def test_the_bots_pace_is_the_operators_to_set() -> None:
    """SIGNALBOT_DISCORD_RATE: a bot Discord holds to ten requests a second, paced at nine,
    draws no global 429 (the engine's default of 49 would draw them at once)."""
    fake = FakeDiscord(token=TOKEN, channel_limit=None, global_limit=(10, 1.0))
    rooms = [6000 + n for n in range(5)]
    fake.guild(G1, "Newsroom", [Channel(n, G1, f"room-{n}") for n in rooms])
    base = Route.BASE
    async with serve_discord(fake):
        settings = settings_for("sqlite+aiosqlite:///unused.db", discord_token=TOKEN,
                                discord_api_url=fake.api_url, discord_rate=9)  # fmt: skip
        runner = DiscordRunner(settings)
        try:
            await runner.login()
            assert runner.sender.limits.per_second == settings.discord_rate
            await asyncio.sleep(1.1)  # the login's own requests leave the fake's window
            attempts = Attempts({"discord": runner.sender}, concurrency=16)
            sends = [Outgoing(to(n), Notice(f"note {i}")) for i in range(5) for n in rooms]
            results = await asyncio.gather(*(attempts.deliver(m) for m in sends))
        finally:
            await runner.close()
            Route.BASE = base
    assert [status for status, _, _ in results] == ["sent"] * 25
    assert fake.rejected_429["global"] == 0
    unpaced = settings.model_copy(update={"discord_rate": 0})
    assert DiscordRunner(unpaced).sender.limits.per_second == 0  # Discord's 429s alone
    assert Limiter(DiscordRunner(unpaced).sender.limits).global_window is None
    default = settings.model_copy(update={"discord_rate": Settings().discord_rate})
    assert DiscordRunner(default).sender.limits == LIMITS  # the setting's default is the sender's


@settings(max_examples=25, deadline=None)
@given(items=st.lists(stories, min_size=1, max_size=14))
async def test_whatever_stories_say_discord_takes_the_story_and_the_digest(
    items: list[Story],
) -> None:
    fake = FakeDiscord(token=TOKEN, channel_limit=None, global_limit=None)
    fake.guild(G1, "Newsroom", [Channel(NEWS, G1, "news")])
    base = Route.BASE
    async with serve_discord(fake):
        client = make_client(settings_for("sqlite+aiosqlite:///unused.db", discord_token=TOKEN,
                                          discord_api_url=fake.api_url))  # fmt: skip
        try:
            await client.login(TOKEN)
            sender = DiscordSender(client.http)
            await sender.send(Outgoing(to(NEWS), card_from_story(items[0])))
            digest = build_digest("world", date(2026, 11, 30), items)
            await sender.send(Outgoing(to(NEWS), digest))
        finally:
            await client.close()
            Route.BASE = base
    assert len(fake.posted(NEWS)) == 2


async def test_discord_py_s_own_429_waits_are_counted_at_any_log_level(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """discord.py tells of the 429s it waits out only in warnings: they are counted even
    when the logs keep errors only, and still not shown then."""
    root, http_log = logging.getLogger(), logging.getLogger("discord.http")
    levels = root.level, http_log.level
    try:
        root.setLevel(logging.ERROR)
        http_log.setLevel(logging.NOTSET)
        count_rate_limits()
        before = {scope: REGISTRY.get_sample_value(
            "signalbot_rate_limited_total", {"platform": "discord", "scope": scope}) or 0.0
            for scope in ("route", "global")}  # fmt: skip
        with caplog.at_level(logging.ERROR):
            http_log.warning("We are being rate limited. POST /channels/1/messages responded"
                             " with 429. Retrying in 0.50 seconds.")  # fmt: skip
            http_log.warning("We are being rate limited. PATCH /channels/1/messages/2"
                             " responded with 429. Retrying in 1.00 seconds.")  # fmt: skip
            http_log.warning("Global rate limit has been hit. Retrying in 1.00 seconds.")
            await asyncio.sleep(0)  # a route's count comes a step after its warning
        after = {scope: REGISTRY.get_sample_value(
            "signalbot_rate_limited_total", {"platform": "discord", "scope": scope}) or 0.0
            for scope in ("route", "global")}  # fmt: skip
        assert after["route"] - before["route"] == 1
        assert after["global"] - before["global"] == 1
        assert not [r for r in caplog.records if r.name == "discord.http"]
    finally:
        root.setLevel(levels[0])
        http_log.setLevel(levels[1])
