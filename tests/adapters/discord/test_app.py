"""The Discord app end to end: the real discord.py client, driven by the fake Discord over
its gateway and REST, answering ``/signals`` from the core."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import adapters.discord.app as discord_app
from adapters.discord import DiscordRunner
from bot.app import Core, build_bot
from bot.domain import ChannelRef, Insight, Story
from bot.platform import SettingsError
from tests.conftest import settings_for
from tests.fakes.discord import (
    EMBED_LINKS,
    MANAGE_CHANNELS,
    MEMBER_PERMISSIONS,
    PUBLIC_THREAD,
    SEND_MESSAGES,
    SEND_MESSAGES_IN_THREADS,
    Channel,
    FakeDiscord,
    Response,
    serve_discord,
)

TOKEN = "fake-bot-token.for-signalbot-tests"
G1 = 1000 << 22
NEWS, MUTED, PLAIN, THREAD, SECOND = 5001, 5004, 5005, 5006, 5007
MANAGER = MEMBER_PERMISSIONS | MANAGE_CHANNELS

HOSTILE = Story(
    url="https://www.semafor.com/article/11/30/2026/hostile-discord",
    kind="signals",
    title="@everyone **Ports** <@&123> reopen ||spoiler||",
    published_at=datetime(2026, 11, 25, 5, 0, tzinfo=UTC),
    region="europe",
    news=["Dockworkers [click](http://evil.example) accepted @here a `contract`."],
    insights=[Insight(title="__bold__ <@456>", sources=["@everyone"], body="x")],
)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord(token=TOKEN)
    fake.guild(G1, "Newsroom", [
        Channel(NEWS, G1, "news"), Channel(MUTED, G1, "muted", position=1),
        Channel(PLAIN, G1, "plain", position=2), Channel(SECOND, G1, "second", position=3),
        Channel(THREAD, G1, "thread", PUBLIC_THREAD, parent_id=NEWS),
    ])  # fmt: skip
    fake.deny(MUTED, SEND_MESSAGES)
    fake.deny(PLAIN, EMBED_LINKS)
    async with serve_discord(fake):
        yield fake




@asynccontextmanager
async def running(core: Core, fake: FakeDiscord, **settings: Any) -> AsyncIterator[DiscordRunner]:
    """The Discord side of ``signalbot run`` on ``core``, connected to the fake."""
    options = {"discord_token": TOKEN, "discord_api_url": fake.api_url, **settings}
    runner = DiscordRunner(settings_for(core.settings.database_url, **options))
    bot = build_bot(core, {"discord": runner.sender})
    runner.attach(bot)
    lost: list[BaseException] = []
    try:
        await runner.login()
        runner.connect(lost.append)
        for shard in settings.get("discord_shard_ids") or [0]:
            await fake.wait_ready(shard, within=10)
        yield runner
    finally:
        await bot.delivery.drain()
        await runner.close()
    assert not lost


async def answer(fake: FakeDiscord, interaction: Any, count: int = 1) -> list[Response]:
    answers = await fake.responded(interaction, count=count, within=10)
    assert all(a.ok for a in answers), [(a.status, a.body) for a in answers]
    return answers


def text_of(response: Response) -> str:
    data = response.data
    parts = [data.get("content") or ""]
    for embed in data.get("embeds") or []:
        parts += [embed.get("title", ""), embed.get("description", "")]
    return "\n".join(parts).replace("\\", "")  # as Discord shows it: escapes dropped


def buttons(response: Response) -> dict[str, str]:
    return {
        button["label"]: button["custom_id"]
        for row in response.data.get("components") or []
        for button in row["components"]
    }


async def test_commands_are_synced_once_and_again_only_when_they_change(
    core: Core, fake: FakeDiscord
) -> None:
    async with running(core, fake):
        pass
    assert len(fake.syncs()) == 1
    (command,) = fake.syncs()[0].payload
    assert command["name"] == "signals" and len(command["options"]) == 13
    fake.identify_interval = 0.0
    async with running(core, fake) as again:
        assert again.adapter is not None and await again.adapter.sync_commands() is False
    assert len(fake.syncs()) == 1  # a restart with the same commands syncs nothing
    async with running(core, fake, discord_guild_id=G1):
        pass
    assert [s.guild_id for s in fake.command_syncs] == [None, G1]  # a development server: its own


async def test_a_lookup_is_private_with_a_button_that_posts_it_to_the_channel(
    core: Core, fake: FakeDiscord
) -> None:
    async with running(core, fake):
        asked = await fake.slash("signals latest", {"count": 2}, channel_id=NEWS)
        (reply,) = await answer(fake, asked)
        assert reply.type == 4 and reply.ephemeral and len(reply.data["embeds"]) == 2
        post = buttons(reply)["Post to channel"]
        pressed = await fake.button(post, message_id=reply.message_id)
        (posted,) = await answer(fake, pressed)
    assert not posted.ephemeral and posted.data["embeds"] == reply.data["embeds"]
    assert "Post to channel" not in buttons(posted)
    assert posted.data["allowed_mentions"] == {"parse": []}


async def test_a_manager_subscribes_the_channel_and_the_channel_sees_it(
    core: Core, fake: FakeDiscord
) -> None:
    async with running(core, fake):
        asked = await fake.slash(
            "signals subscribe", {"regions": "bxl", "at": "07:30", "mode": "digest"},
            channel_id=NEWS, permissions=MANAGER,
        )  # fmt: skip
        (reply,) = await answer(fake, asked)
    assert reply.type == 4 and not reply.ephemeral
    assert "Europe" in text_of(reply) and "07:30" in text_of(reply)
    (sub,) = await core.subscriptions.for_channel(ChannelRef("discord", str(G1), str(NEWS)))
    assert sub.region == "europe" and sub.push_time.strftime("%H:%M") == "07:30"


async def test_a_member_without_manage_channels_is_told_who_can(
    core: Core, fake: FakeDiscord
) -> None:
    async with running(core, fake):
        asked = await fake.slash("signals subscribe", {"regions": "europe"}, channel_id=NEWS)
        (reply,) = await answer(fake, asked)
    assert reply.ephemeral and "Only members with the Manage Channels permission in this channel can use /signals subscribe" in text_of(reply)
    assert await core.subscriptions.for_channel(ChannelRef("discord", str(G1), str(NEWS))) == []


@pytest.mark.parametrize(
    ("channel", "missing"),
    [(MUTED, "Send Messages"), (PLAIN, "Embed Links"), (THREAD, "Send Messages in Threads")],
)
async def test_the_bot_names_the_permission_it_lacks_and_stores_nothing(
    core: Core, fake: FakeDiscord, channel: int, missing: str
) -> None:
    if channel == THREAD:
        fake.deny(THREAD, SEND_MESSAGES_IN_THREADS)
    async with running(core, fake):
        asked = await fake.slash("signals subscribe", {"regions": "africa"}, channel_id=channel,
                                 permissions=MANAGER)  # fmt: skip
        (reply,) = await answer(fake, asked)
    assert reply.ephemeral and f"it needs {missing}" in text_of(reply)
    assert await core.subscriptions.for_channel(ChannelRef("discord", str(G1), str(channel))) == []


async def test_in_a_dm_the_bot_says_it_works_in_servers(core: Core, fake: FakeDiscord) -> None:
    async with running(core, fake):
        asked = await fake.slash("signals latest", channel_id=None)
        (reply,) = await answer(fake, asked)
    assert reply.ephemeral and "works in servers" in text_of(reply)


async def test_autocomplete_offers_regions_and_zones_and_nothing_for_garbage(
    core: Core, fake: FakeDiscord
) -> None:
    async with running(core, fake):
        offered = {}
        for option, typed in (("regions", "bxl"), ("tz", "paris"), ("regions", "#$%^&*")):
            asked = await fake.autocomplete("signals subscribe", option, typed, channel_id=NEWS)
            (reply,) = await answer(fake, asked)
            assert reply.type == 8
            offered[typed] = [c["value"] for c in reply.body["data"]["choices"]]
    assert offered["bxl"][0] == "europe"
    assert "Europe/Paris" in offered["paris"]
    assert offered["#$%^&*"] == []


async def test_a_slow_answer_is_deferred_then_followed_up(
    core: Core, fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(discord_app, "ANSWER_WITHIN", 0.0)  # every answer counts as slow
    async with running(core, fake):
        asked = await fake.slash("signals search", {"words": "grid"}, channel_id=NEWS)
        deferred, followed = await answer(fake, asked, count=2)
        assert deferred.type == 5 and deferred.ephemeral  # a lookup defers privately
        assert followed.kind == "followup" and followed.replaced_original
        bad = await fake.slash("signals subscribe", {"regions": "atlantis"}, channel_id=NEWS,
                               permissions=MANAGER)  # fmt: skip
        answers = await answer(fake, bad, count=3)
    assert answers[0].type == 5 and not answers[0].ephemeral  # a change defers publicly
    assert answers[1].kind == "delete"  # an error after it: the public placeholder goes
    assert answers[2].ephemeral and "atlantis" in text_of(answers[2])


async def test_subscribe_then_the_push_arrives_as_embeds_with_working_buttons(
    core: Core, fake: FakeDiscord
) -> None:
    async with running(core, fake) as runner:
        assert runner.adapter is not None
        asked = await fake.slash("signals subscribe", {"regions": "europe", "at": "07:00",
                                 "tz": "UTC"}, channel_id=NEWS, permissions=MANAGER)  # fmt: skip
        await answer(fake, asked)
        before = len(fake.posted(NEWS))
        core.clock.advance(timedelta(days=1))  # type: ignore[attr-defined]
        for n in range(3):
            await core.stories.save(
                Story(url=f"https://example.com/push-{n}", kind="signals", region="europe",
                      title=f"Push story {n}", published_at=core.clock.now(),
                      news=["Something happened."]),
                now=core.clock.now(),
            )  # fmt: skip
        outcomes = await runner.adapter.bot.delivery.run_due()
        assert [o.status for o in outcomes] == ["sent"]
        (push,) = fake.posted(NEWS)[before:]
        assert push["allowed_mentions"] == {"parse": []}
        titles = [e["title"] for e in push["embeds"]]
        assert {"Push story 0", "Push story 1", "Push story 2"} <= set(titles)
        labels = {b["label"]: b["custom_id"] for row in push["components"] for b in row["components"]}
        more = await fake.button(labels["More from Europe"])
        (latest,) = await answer(fake, more)
        assert latest.ephemeral and latest.data["embeds"]
        refused = await fake.button(labels["Unsubscribe Europe"])
        (no,) = await answer(fake, refused)
        assert no.ephemeral and "Manage Channels permission" in text_of(no)
        pressed = await fake.button(labels["Unsubscribe Europe"], permissions=MANAGER)
        (done,) = await answer(fake, pressed)
    assert not done.ephemeral
    assert await core.subscriptions.for_channel(ChannelRef("discord", str(G1), str(NEWS))) == []


async def test_hostile_story_text_is_inert_in_every_discord_surface(
    core: Core, fake: FakeDiscord
) -> None:
    await core.stories.save(HOSTILE, now=core.clock.now())
    async with running(core, fake) as runner:
        assert runner.adapter is not None
        asked = await fake.slash("signals story", {"story": HOSTILE.id}, channel_id=NEWS)
        (lookup,) = await answer(fake, asked)
        pressed = await fake.button(buttons(lookup)["Post to channel"])
        (posted,) = await answer(fake, pressed)
        subscribe = await fake.slash("signals subscribe", {"regions": "europe", "mode": "instant"},
                                     channel_id=SECOND, permissions=MANAGER)  # fmt: skip
        await answer(fake, subscribe)
        assert await runner.adapter.bot.delivery.deliver_instant([HOSTILE]) == 1
    surfaces = [lookup.data, posted.data, fake.posted(SECOND)[-1]]
    for body in surfaces:
        assert body["allowed_mentions"] == {"parse": []}
        shown = "\n".join(
            [body.get("content") or ""]
            + [f"{e.get('title', '')}\n{e.get('description', '')}\n{e.get('footer', {}).get('text', '')}"
               for e in body.get("embeds", [])]
        )  # fmt: skip
        assert "@everyone" not in shown and "@here" not in shown
        assert "<@&123>" not in shown and "<@456>" not in shown
        assert "**Ports**" not in shown and "||spoiler||" not in shown
        assert "[click](http://evil.example)" not in shown


async def test_a_server_or_channel_gone_removes_its_subscriptions_but_an_outage_does_not(
    core: Core, fake: FakeDiscord
) -> None:
    async with running(core, fake):
        for channel in (NEWS, SECOND):
            asked = await fake.slash("signals subscribe", {"regions": "africa"},
                                     channel_id=channel, permissions=MANAGER)  # fmt: skip
            await answer(fake, asked)
        await fake.channel_delete(SECOND)
        await fake.guild_delete(G1, unavailable=True)  # an outage: nothing goes
        await asyncio.sleep(0.3)
        left = await core.subscriptions.for_workspace("discord", str(G1))
        assert [s.channel.channel for s in left] == [str(NEWS)]
        await fake.guild_create(G1)
        await fake.guild_delete(G1)  # removed from the server
        await asyncio.sleep(0.3)
    assert await core.subscriptions.for_workspace("discord", str(G1)) == []


async def test_two_processes_split_the_shards_and_each_answers_its_own_servers(
    core: Core, fake: FakeDiscord
) -> None:
    g2 = 1001 << 22  # shard 1 of 2
    fake.guild(g2, "Second", [Channel(6001, g2, "other")])
    fake.max_concurrency, fake.identify_interval = 2, 0.0
    shards = {"discord_shard_count": 2, "discord_gateway_url": fake.gateway_url}
    async with (
        running(core, fake, discord_shard_ids=[0], **shards) as first,
        running(core, fake, discord_shard_ids=[1], **shards) as second,
    ):
        assert [g.id for g in first.client.guilds] == [G1]
        assert [g.id for g in second.client.guilds] == [g2]
        for channel in (NEWS, 6001):
            asked = await fake.slash("signals latest", {"count": 1}, channel_id=channel)
            (reply,) = await answer(fake, asked)
            assert reply.ephemeral and reply.data["embeds"]
    assert sorted(tuple(i["shard"]) for i in fake.identifies) == [(0, 2), (1, 2)]


async def test_buttons_keep_working_after_a_restart(core: Core, fake: FakeDiscord) -> None:
    fake.identify_interval = 0.0
    async with running(core, fake):
        asked = await fake.slash("signals latest", {"count": 1}, channel_id=NEWS)
        (reply,) = await answer(fake, asked)
    async with running(core, fake):  # a new process: nothing of the first one's views
        pressed = await fake.button(buttons(reply)["Post to channel"], message_id=reply.message_id)
        (posted,) = await answer(fake, pressed)
    assert not posted.ephemeral and posted.data["embeds"] == reply.data["embeds"]


async def test_a_failure_under_a_button_gets_a_sentence_not_silence(
    core: Core, fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running(core, fake) as runner:
        assert runner.adapter is not None
        asked = await fake.slash("signals latest", {"count": 1}, channel_id=NEWS)
        (reply,) = await answer(fake, asked)

        async def broken(*_: Any) -> Any:
            raise RuntimeError("a bug")

        monkeypatch.setattr(runner.adapter.bot.commands, "press", broken)
        pressed = await fake.button(buttons(reply)["Post to channel"], message_id=reply.message_id)
        (failed,) = await answer(fake, pressed)
    assert failed.ephemeral and "failed on our side" in text_of(failed)
    assert "a bug" not in text_of(failed) and "Traceback" not in text_of(failed)


async def test_a_discord_that_cannot_be_reached_names_the_setting(core: Core) -> None:
    runner = DiscordRunner(settings_for(core.settings.database_url, discord_token=TOKEN,
                                        discord_api_url="http://127.0.0.1:9/api/v10"))  # fmt: skip
    try:
        with pytest.raises(SettingsError) as refused:
            await runner.login()
    finally:
        await runner.close()
    assert str(refused.value).startswith(
        "SIGNALBOT_DISCORD_API_URL: cannot reach Discord at http://127.0.0.1:9/api/v10"
    )


async def test_zone_suggestions_put_the_channels_own_zones_first(
    core: Core, fake: FakeDiscord
) -> None:
    async with running(core, fake):
        asked = await fake.slash("signals subscribe", {"regions": "africa", "tz": "America/Lima"},
                                 channel_id=NEWS, permissions=MANAGER)  # fmt: skip
        await answer(fake, asked)
        offered = {}
        for channel in (NEWS, SECOND):
            typing = await fake.autocomplete("signals subscribe", "tz", "", channel_id=channel)
            (reply,) = await answer(fake, typing)
            offered[channel] = [c["value"] for c in reply.body["data"]["choices"]]
    assert offered[NEWS][0] == "America/Lima"  # the zone this channel already uses
    assert "America/Lima" not in offered[SECOND][:1]


async def test_a_deleted_channel_takes_its_threads_subscriptions_along(
    core: Core, fake: FakeDiscord
) -> None:
    async with running(core, fake):
        for channel in (NEWS, THREAD, SECOND):
            asked = await fake.slash("signals subscribe", {"regions": "africa"},
                                     channel_id=channel, permissions=MANAGER)  # fmt: skip
            await answer(fake, asked)
        await fake.channel_delete(NEWS)  # the thread's parent: Discord says nothing of it
        for _ in range(100):
            left = await core.subscriptions.for_workspace("discord", str(G1))
            if len(left) == 1:
                break
            await asyncio.sleep(0.02)
    assert [s.channel.channel for s in left] == [str(SECOND)]
