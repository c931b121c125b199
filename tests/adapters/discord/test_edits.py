"""Living messages on Discord: a pushed story whose page is updated is edited in place
(``PATCH`` of the bot's message through discord.py's REST client, never posted again),
inside Discord's limits and without a mention; a deleted message (Unknown Message) is dropped
from edits and pauses nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import discord
import pytest

from adapters.discord import DiscordSender
from bot.app import Core, build_bot
from bot.domain import ChannelRef
from tests.adapters.living import (
    NEW_INSIGHT,
    ingest,
    pushed_to,
    updated_and_edited,
    updated_version,
)
from tests.fakes.discord import Channel, FakeDiscord, serve_discord
from tests.render.test_limits import assert_discord_inert, assert_discord_limits

TOKEN = "fake-bot-token.for-signalbot-tests"
G1 = 1000 << 22
NEWS, DESK = 5001, 5002


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord(token=TOKEN)
    fake.guild(G1, "Newsroom", [Channel(NEWS, G1, "news"), Channel(DESK, G1, "desk")])
    async with serve_discord(fake):
        yield fake


def to(channel: int) -> ChannelRef:
    return ChannelRef("discord", str(G1), str(channel))


async def test_an_updated_page_is_one_edit_per_message(
    living_core: Core, fake: FakeDiscord, client: discord.Client
) -> None:
    bot = build_bot(living_core, {"discord": DiscordSender(client.http)})
    await pushed_to(living_core, bot, [to(NEWS), to(DESK)])
    assert len(fake.posted(NEWS)) == len(fake.posted(DESK)) == 1
    assert await updated_and_edited(living_core, bot) == {"sent": 2}
    for channel in (NEWS, DESK):
        (edit,) = fake.edited[channel]
        assert len(fake.posted(channel)) == 1  # nothing posted anew
        assert_discord_limits(edit)
        (embed,) = edit["embeds"]
        mark = f"*Updated <t:{int(datetime(2024, 3, 3, 9, 4, tzinfo=UTC).timestamp())}:f>*"
        assert embed["description"].startswith(mark)
        assert NEW_INSIGHT in embed["description"]
        assert_discord_inert(embed["description"].removeprefix(mark))
        (stored,) = [m for m in fake.messages.values() if int(m["channel_id"]) == channel]
        assert stored["edited_timestamp"] and stored["embeds"][0]["description"].startswith(mark)
    # the same page again: nothing more to edit
    _, outcome = await ingest(living_core, updated_version())
    assert outcome == "unchanged"
    living_core.clock.advance(living_core.settings.edit_window / 100)  # type: ignore[attr-defined]
    assert (await bot.delivery.run_edits()).outcomes == {}
    assert len(fake.edited[NEWS]) == len(fake.edited[DESK]) == 1


async def test_a_deleted_message_is_dropped_and_pauses_nothing(
    living_core: Core, fake: FakeDiscord, client: discord.Client
) -> None:
    bot = build_bot(living_core, {"discord": DiscordSender(client.http)})
    await pushed_to(living_core, bot, [to(NEWS), to(DESK)])
    (deleted,) = [i for i, m in fake.messages.items() if int(m["channel_id"]) == DESK]
    del fake.messages[deleted]  # someone deleted the push
    assert await updated_and_edited(living_core, bot) == {"sent": 1, "gone": 1}
    assert len(fake.edited[NEWS]) == 1 and not fake.edited[DESK]
    (sub,) = await living_core.subscriptions.for_channel(to(DESK))
    assert not sub.paused and sub.failures == 0
