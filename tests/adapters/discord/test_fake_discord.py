"""The fake Discord, proved with a real discord.py client: it connects, is served its guilds,
syncs commands, gets interactions and answers them, posts messages, and is refused and paced
where Discord refuses and paces."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import aiohttp
import discord
import pytest
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket
from discord.http import Route, handle_message_parameters

from tests.fakes.discord import (
    EMBED_LINKS,
    EPHEMERAL,
    GATEWAY_PATH,
    LOADING,
    MANAGE_CHANNELS,
    MEMBER_PERMISSIONS,
    PUBLIC_THREAD,
    RESUME_PATH,
    SEND_MESSAGES,
    SEND_MESSAGES_IN_THREADS,
    VIEW_CHANNEL,
    Channel,
    FakeDiscord,
    run_discord_process,
    serve_discord,
    shard_of,
)
from tests.fakes.web import ChildServer, call_json

G1 = 1000 << 22  # shard 0 of 2
G2 = 1001 << 22  # shard 1 of 2
NEWS, QUIET, HIDDEN, MUTED, PLAIN, THREAD = 5001, 5002, 5003, 5004, 5005, 5006
OTHER = 6001  # in G2
UNKNOWN = 9999
READY_AFTER = 0.05  # seconds discord.py waits after the last GUILD_CREATE (2 s by default)


def bot_client() -> discord.Client:
    return discord.Client(intents=discord.Intents(guilds=True), guild_ready_timeout=READY_AFTER)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord()
    fake.guild(G1, "Newsroom", [
        Channel(NEWS, G1, "news"), Channel(QUIET, G1, "quiet", position=1),
        Channel(HIDDEN, G1, "hidden", position=2), Channel(MUTED, G1, "muted", position=3),
        Channel(PLAIN, G1, "plain", position=4),
        Channel(THREAD, G1, "thread", PUBLIC_THREAD, parent_id=NEWS),
    ])  # fmt: skip
    fake.guild(G2, "Second", [OTHER])
    fake.deny(HIDDEN, VIEW_CHANNEL)
    fake.deny(MUTED, SEND_MESSAGES)
    fake.deny(PLAIN, EMBED_LINKS)
    async with serve_discord(fake):
        yield fake


@pytest.fixture(autouse=True)
def pointed(fake: FakeDiscord) -> Iterator[None]:
    """discord.py's REST base and default gateway, pointed at the fake for this test only."""
    base, gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    Route.BASE = fake.api_url
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    yield
    Route.BASE = base
    DiscordWebSocket.DEFAULT_GATEWAY = gateway


@asynccontextmanager
async def running(
    client: discord.Client, token: str = "fake-bot-token"
) -> AsyncIterator[discord.Client]:
    """Start the client and wait until it is ready; close it afterwards."""
    task = asyncio.create_task(client.start(token))
    ready = asyncio.create_task(client.wait_until_ready())
    try:
        done, _ = await asyncio.wait({task, ready}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            task.result()  # raises what start raised
        assert ready in done, "the client did not become ready"
        yield client
    finally:
        ready.cancel()
        await client.close()
        with suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)


class Seen(dict[str, Any]):
    """What the bot's handlers saw, and a way to wait for it."""

    def __init__(self) -> None:
        super().__init__()
        self.changed = asyncio.Event()

    def put(self, **values: Any) -> None:
        self.update(values)
        self.changed.set()

    async def wait(self, key: str, within: float = 5.0) -> Any:
        async with asyncio.timeout(within):
            while True:
                self.changed.clear()
                if key in self:
                    return self[key]
                await self.changed.wait()


class Sharded(discord.AutoShardedClient):
    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None  # the fake allows max_concurrency identifies at once; no 5 s pause


def news_tree(client: discord.Client, seen: Seen) -> app_commands.CommandTree[Any]:
    """A small command tree: /news latest (autocompleted), /news digest (deferred), /news twice."""
    tree = app_commands.CommandTree(client)
    news = app_commands.Group(name="news", description="World news")

    @news.command(description="Latest stories")
    @app_commands.describe(region="A region")
    async def latest(interaction: discord.Interaction, region: str, count: int = 3) -> None:
        seen.put(region=region, count=count, permissions=interaction.permissions,
                    app_permissions=interaction.app_permissions, guild=interaction.guild,
                    user=interaction.user, channel=interaction.channel)  # fmt: skip
        await interaction.response.send_message(f"{count} from {region}", ephemeral=True)

    @latest.autocomplete("region")
    async def regions(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        if current == "many":
            return [app_commands.Choice(name=f"Region {n}", value=f"r{n}") for n in range(30)]
        names = ["asia", "africa", "europe", "americas"]
        return [
            app_commands.Choice(name=n.title(), value=n) for n in names if n.startswith(current)
        ]

    @news.command(description="Today's digest")
    async def digest(interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await interaction.followup.send(
            "Digest ready", allowed_mentions=discord.AllowedMentions.none()
        )
        await interaction.followup.send("And one more", ephemeral=True)

    @news.command(description="Answers twice")
    async def twice(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("first")
        try:
            await discord.InteractionResponse(interaction).send_message("second")
        except discord.HTTPException as error:
            seen.put(second=error)

    @news.command(description="Answers late")
    async def late(interaction: discord.Interaction) -> None:
        await asyncio.sleep(0.3)
        try:
            await interaction.response.send_message("too late")
        except discord.HTTPException as error:
            seen.put(late=error)

    @news.command(description="Edits its answer")
    async def edit(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("draft")
        await interaction.edit_original_response(content="final")
        message = await interaction.followup.send("note", wait=True)
        await message.delete()
        try:
            await interaction.followup.send("after deletion")
            await asyncio.sleep(0.3)
            await interaction.followup.send("too late")
        except discord.HTTPException as error:
            seen.put(expired=error)

    @app_commands.command(description="Set up the channel")
    @app_commands.default_permissions(manage_channels=True)
    @app_commands.guild_only()
    async def setup(interaction: discord.Interaction, channel: discord.TextChannel) -> None:
        seen.put(setup_channel=channel, can_manage=interaction.permissions.manage_channels)
        await interaction.response.send_message("set up", ephemeral=True)

    tree.add_command(news)
    tree.add_command(setup)
    return tree


async def sync_to_guild(
    tree: app_commands.CommandTree[Any], guild_id: int
) -> list[app_commands.AppCommand]:
    """Sync the tree's (global) commands to one guild, as a bot does while developing."""
    guild = discord.Object(guild_id)
    tree.copy_global_to(guild=guild)
    return await tree.sync(guild=guild)


# --- connecting ---------------------------------------------------------------------------------


async def test_a_client_logs_in_and_is_served_its_guilds(fake: FakeDiscord) -> None:
    client = bot_client()
    async with running(client):
        assert client.user is not None and client.user.id == fake.bot_user_id
        assert client.application_id == fake.application_id
        assert sorted(g.name for g in client.guilds) == ["Newsroom", "Second"]
        guild = client.get_guild(G1)
        assert guild is not None and guild.me is not None
        news = guild.get_channel(NEWS)
        assert isinstance(news, discord.TextChannel) and news.name == "news"
        assert isinstance(guild.get_thread(THREAD), discord.Thread)
        # the bot's permissions as discord.py computes them agree with the fake's
        for channel_id in (NEWS, HIDDEN, MUTED, PLAIN):
            channel = guild.get_channel(channel_id)
            assert isinstance(channel, discord.TextChannel)
            assert channel.permissions_for(guild.me).value == fake.permissions_in(channel_id)
        (identify,) = fake.identifies
        assert identify["intents"] == discord.Intents(guilds=True).value
        assert identify["token_ok"] is True
        (connection,) = fake.connections
        assert connection.path == GATEWAY_PATH and connection.compressor is not None  # zlib-stream
        assert connection.heartbeats >= 1


async def test_a_sharded_client_sees_each_guild_on_its_shard(fake: FakeDiscord) -> None:
    fake.max_concurrency = 2
    assert (shard_of(G1, 2), shard_of(G2, 2)) == (0, 1)
    client = Sharded(
        intents=discord.Intents(guilds=True),
        shard_count=2,
        shard_ids=[0, 1],
        guild_ready_timeout=READY_AFTER,
    )
    async with running(client):
        g1, g2 = client.get_guild(G1), client.get_guild(G2)
        assert g1 is not None and g1.shard_id == 0
        assert g2 is not None and g2.shard_id == 1
    assert sorted(tuple(i["shard"]) for i in fake.identifies) == [(0, 2), (1, 2)]


async def test_without_a_shard_count_the_client_asks_gateway_bot_for_count_and_url(
    fake: FakeDiscord,
) -> None:
    fake.shards, fake.max_concurrency = 2, 16
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL("ws://127.0.0.1:9/nowhere")  # not used
    client = Sharded(intents=discord.Intents(guilds=True), guild_ready_timeout=READY_AFTER)
    async with running(client):
        assert client.shard_count == 2
        assert len(client.guilds) == 2
    assert any(c.route == "GET /gateway/bot" for c in fake.calls)
    assert {c.path for c in fake.connections} == {GATEWAY_PATH}


async def test_a_bad_token_is_refused_at_login(fake: FakeDiscord) -> None:
    client = discord.Client(intents=discord.Intents(guilds=True))
    with pytest.raises(discord.LoginFailure):
        await client.login("not-the-token")
    await client.close()
    assert fake.calls[-1].status == 401


async def test_the_gateway_closes_4004_on_a_bad_token_and_4014_on_privileged_intents(
    fake: FakeDiscord,
) -> None:
    async with aiohttp.ClientSession() as session:
        for token, intents, code in (("wrong", 1, 4004), (fake.token, 1 | 1 << 1, 4014)):
            async with session.ws_connect(fake.gateway_url + "?v=10&encoding=json") as socket:
                hello = await socket.receive_json()
                assert (
                    hello["op"] == 10
                    and hello["d"]["heartbeat_interval"] == fake.heartbeat_interval
                )
                await socket.send_json({"op": 1, "d": None})
                assert (await socket.receive_json())["op"] == 11
                await socket.send_json({"op": 2, "d": {"token": token, "intents": intents,
                                                       "properties": {}}})  # fmt: skip
                closing = await socket.receive()
                assert closing.type == aiohttp.WSMsgType.CLOSE and closing.data == code


async def test_the_client_resumes_on_reconnect_at_the_resume_url(fake: FakeDiscord) -> None:
    client = bot_client()
    async with running(client):
        resumed = asyncio.ensure_future(client.wait_for("resumed", timeout=5))
        await asyncio.sleep(0)
        await fake.reconnect(G1)
        await resumed
        assert fake.connections[-1].path == RESUME_PATH
        assert len(fake.identifies) == 1  # resumed, not identified again
        assert client.get_guild(G1) is not None


async def test_guild_and_channel_events_reach_the_client(fake: FakeDiscord) -> None:
    client = bot_client()
    async with running(client):
        deleted = asyncio.ensure_future(client.wait_for("guild_channel_delete", timeout=5))
        outage = asyncio.ensure_future(client.wait_for("guild_unavailable", timeout=5))
        removed = asyncio.ensure_future(client.wait_for("guild_remove", timeout=5))
        await asyncio.sleep(0)
        await fake.channel_delete(QUIET)
        assert (await deleted).id == QUIET
        created = asyncio.ensure_future(client.wait_for("guild_channel_create", timeout=5))
        await asyncio.sleep(0)
        await fake.channel_create(G1, Channel(5007, G1, "fresh", position=9))
        assert (await created).name == "fresh"
        fake.deny(NEWS, SEND_MESSAGES)
        updated = asyncio.ensure_future(client.wait_for("guild_channel_update", timeout=5))
        await asyncio.sleep(0)
        await fake.channel_update(NEWS)
        _, news = await updated
        assert news.guild.me is not None
        assert not news.permissions_for(news.guild.me).send_messages
        await fake.guild_delete(G1, unavailable=True)
        assert (await outage).id == G1
        await fake.guild_delete(G2)
        assert (await removed).id == G2
        with pytest.raises(discord.NotFound) as gone:
            await client.http.send_message(QUIET, params=_text("hello"))
        assert gone.value.code == 10003
        with pytest.raises(discord.Forbidden) as left:
            await client.http.send_message(OTHER, params=_text("hello"))
        assert left.value.code == 50001


def _text(content: str) -> Any:
    with handle_message_parameters(content=content) as params:
        return params


# --- app commands and interactions -------------------------------------------------------------


async def test_sync_and_an_ephemeral_answer_to_a_slash_command(fake: FakeDiscord) -> None:
    client = bot_client()
    seen = Seen()
    tree = news_tree(client, seen)
    async with running(client):
        synced = await sync_to_guild(tree, G1)
        assert sorted(c.name for c in synced) == ["news", "setup"]
        (sync,) = fake.syncs(G1)
        assert sync.status == 200 and [c["name"] for c in sync.payload] == ["news", "setup"]
        setup = next(c for c in sync.payload if c["name"] == "setup")
        assert setup["default_member_permissions"] == MANAGE_CHANNELS

        interaction = await fake.slash("news latest", {"region": "asia"}, channel_id=NEWS)
        answer = await fake.first_response(interaction)
        assert answer.type == 4 and answer.flags == EPHEMERAL and answer.ephemeral
        assert answer.data["content"] == "3 from asia"
        assert seen["region"] == "asia" and seen["count"] == 3
        assert seen["permissions"].value == MEMBER_PERMISSIONS
        assert not seen["permissions"].manage_channels
        assert seen["app_permissions"].value == fake.permissions_in(NEWS)
        assert seen["guild"].id == G1 and seen["channel"].id == NEWS
        original = fake.messages[interaction.original_id or 0]
        assert original["flags"] & EPHEMERAL and original["interaction_metadata"]["id"] == str(
            interaction.id
        )

        # a member who may manage channels, picking a channel option
        member = MEMBER_PERMISSIONS | MANAGE_CHANNELS
        interaction = await fake.slash(
            "setup", {"channel": NEWS}, channel_id=NEWS, permissions=member
        )
        await fake.first_response(interaction)
        assert seen["can_manage"] is True and seen["setup_channel"].id == NEWS


async def test_a_command_runs_in_a_dm_when_synced_globally(fake: FakeDiscord) -> None:
    client = bot_client()
    seen = Seen()
    tree = news_tree(client, seen)
    async with running(client):
        await tree.sync()
        assert fake.syncs(None)[0].status == 200
        with pytest.raises(LookupError):
            await fake.slash("setup", {"channel": NEWS})  # guild only: Discord offers it in no DM
        interaction = await fake.slash(
            "news latest", {"region": "europe", "count": 2}, user_id=4242
        )
        answer = await fake.first_response(interaction)
        assert answer.data["content"] == "2 from europe"
        assert seen["guild"] is None and seen["user"].id == 4242
        assert isinstance(seen["channel"], discord.DMChannel)


async def test_a_deferred_answer_is_resolved_by_the_first_follow_up(fake: FakeDiscord) -> None:
    client = bot_client()
    tree = news_tree(client, Seen())
    async with running(client):
        await sync_to_guild(tree, G1)
        interaction = await fake.slash("news digest", channel_id=NEWS)
        first = await fake.first_response(interaction)
        assert first.type == 5 and first.ephemeral
        defer, resolved, extra = await fake.responded(interaction, 3)
        assert defer is first
        assert resolved.kind == "followup" and resolved.replaced_original
        assert resolved.body["allowed_mentions"] == {"parse": []}
        original = fake.messages[interaction.original_id or 0]
        assert original["content"] == "Digest ready"
        assert (
            original["flags"] & EPHEMERAL and not original["flags"] & LOADING
        )  # the deferral's state
        assert extra.kind == "followup" and not extra.replaced_original and extra.ephemeral
        assert extra.message_id in interaction.followups


async def test_the_original_answer_is_edited_and_a_token_expires(fake: FakeDiscord) -> None:
    fake.token_lifetime = 0.25
    client = bot_client()
    seen = Seen()
    tree = news_tree(client, seen)
    async with running(client):
        await sync_to_guild(tree, G1)
        interaction = await fake.slash("news edit", channel_id=NEWS)
        expired = await seen.wait("expired")
        assert isinstance(expired, discord.HTTPException)
        assert (expired.status, expired.code) == (401, 50027)
        kinds = [(r.kind, r.status) for r in fake.responses_to(interaction.id)]
        assert kinds == [("callback", 200), ("edit", 200), ("followup", 200), ("delete", 200),
                         ("followup", 200)]  # fmt: skip
        assert fake.messages[interaction.original_id or 0]["content"] == "final"
        assert fake.messages[interaction.original_id or 0]["edited_timestamp"] is not None
        assert len(interaction.followups) == 2 and interaction.followups[0] not in fake.messages


async def test_autocomplete_answers_choices_and_more_than_25_are_refused(fake: FakeDiscord) -> None:
    client = bot_client()
    tree = news_tree(client, Seen())
    async with running(client):
        await sync_to_guild(tree, G1)
        interaction = await fake.autocomplete("news latest", "region", "a", channel_id=NEWS)
        (option,) = interaction.payload["data"]["options"][0]["options"]
        assert option == {"name": "region", "type": 3, "value": "a", "focused": True}
        answer = await fake.first_response(interaction)
        assert answer.type == 8
        assert [c["value"] for c in answer.data["choices"]] == ["asia", "africa", "americas"]

        interaction = await fake.autocomplete("news latest", "region", "many", channel_id=NEWS)
        (refused,) = await fake.responded(interaction)
        assert refused.status == 400 and refused.code == 50035
        assert interaction.callback is None


async def test_a_second_or_late_callback_is_refused(fake: FakeDiscord) -> None:
    client = bot_client()
    seen = Seen()
    tree = news_tree(client, seen)
    async with running(client):
        await sync_to_guild(tree, G1)
        interaction = await fake.slash("news twice", channel_id=NEWS)
        first, second = await fake.responded(interaction, 2)
        assert first.ok and (second.status, second.code) == (400, 40060)
        second_error = await seen.wait("second")
        assert isinstance(second_error, discord.HTTPException) and second_error.code == 40060

        fake.interaction_deadline = 0.2
        interaction = await fake.slash("news late", channel_id=NEWS)
        (late,) = await fake.responded(interaction)
        assert (late.status, late.code) == (404, 10062)
        late_error = await seen.wait("late")
        assert isinstance(late_error, discord.NotFound) and late_error.code == 10062


async def test_a_button_press_updates_its_message(fake: FakeDiscord) -> None:
    client = bot_client()
    pressed: list[discord.Interaction] = []

    class More(discord.ui.View):
        def __init__(self) -> None:
            super().__init__(timeout=None)

        @discord.ui.button(label="More", custom_id="news:more")
        async def more(
            self, interaction: discord.Interaction, button: discord.ui.Button[More]
        ) -> None:
            pressed.append(interaction)
            await interaction.response.edit_message(content="More stories", view=None)

    async with running(client):
        channel = client.get_channel(NEWS)
        assert isinstance(channel, discord.TextChannel)
        sent = await channel.send("Stories", view=More())
        interaction = await fake.button("news:more")
        answer = await fake.first_response(interaction)
        assert answer.type == 7 and interaction.payload["message"]["id"] == str(sent.id)
        assert fake.messages[sent.id]["content"] == "More stories"
        assert fake.messages[sent.id]["components"] == []
        assert pressed[0].message is not None and pressed[0].message.id == sent.id


async def test_invalid_commands_are_refused_with_50035(fake: FakeDiscord) -> None:
    client = bot_client()
    option: dict[str, Any] = {"type": 3, "name": "region", "description": "A region"}
    bad: list[dict[str, Any]] = [
        {"name": "News", "description": "x", "type": 1},
        {"name": "ok", "description": "", "type": 1},
        {"name": "order", "description": "x", "options": [option, {**option, "name": "b", "required": True}]},
        {"name": "both", "description": "x", "options": [{**option, "autocomplete": True,
                                                          "choices": [{"name": "A", "value": "a"}]}]},
        {"name": "many", "description": "x", "options": [{**option, "name": f"o{n}"} for n in range(26)]},
    ]  # fmt: skip
    async with running(client):
        for command in bad:
            with pytest.raises(discord.HTTPException) as refused:
                await client.http.bulk_upsert_guild_commands(
                    fake.application_id, G1, payload=[command]
                )
            assert (refused.value.status, refused.value.code) == (400, 50035)
            assert refused.value.text.startswith("Invalid Form Body")
        assert fake.commands.get(G1) is None


# --- messages ------------------------------------------------------------------------------------


async def test_a_message_is_posted_and_recorded(fake: FakeDiscord) -> None:
    client = bot_client()
    async with running(client):
        route = Route("POST", "/channels/{channel_id}/messages", channel_id=NEWS)
        body = {"content": "Hello <@123> @everyone", "allowed_mentions": {"parse": []}}
        answer = await client.http.request(route, json=body)
        assert answer["channel_id"] == str(NEWS) and answer["content"] == body["content"]
        assert answer["author"]["id"] == str(fake.bot_user_id) and answer["author"]["bot"] is True
        assert answer["mentions"] == [] and answer["mention_everyone"] is False
        assert fake.posted(NEWS) == [body]
        thread = client.get_channel(THREAD)
        assert isinstance(thread, discord.Thread)
        await thread.send(embed=discord.Embed(title="In a thread"))
        assert fake.posted(THREAD)[0]["embeds"][0]["title"] == "In a thread"
        news = client.get_channel(NEWS)
        assert isinstance(news, discord.TextChannel)
        sent = await news.send(
            "With a file", file=discord.File(io.BytesIO(b"a,b\n1,2\n"), "stories.csv")
        )
        assert sent.attachments[0].filename == "stories.csv"
        assert (
            fake.posted(NEWS)[-1]["content"] == "With a file"
        )  # multipart: payload_json and files[0]
        edit = Route(
            "PATCH", "/channels/{channel_id}/messages/{message_id}", channel_id=NEWS, message_id=123
        )
        with pytest.raises(discord.NotFound) as unknown:
            await client.http.request(edit, json={"content": "x"})
        assert unknown.value.code == 10008
        edit = Route("PATCH", "/channels/{channel_id}/messages/{message_id}", channel_id=NEWS,
                     message_id=int(answer["id"]))  # fmt: skip
        edited = await client.http.request(edit, json={"content": "Edited"})
        assert edited["content"] == "Edited" and fake.edited[NEWS] == [{"content": "Edited"}]


async def test_messages_past_discords_limits_are_refused(fake: FakeDiscord) -> None:
    fake.channel_limit = None  # refused requests count against the bucket too; not the point here
    client = bot_client()
    async with running(client):
        channel = client.get_channel(NEWS)
        assert isinstance(channel, discord.TextChannel)
        cases: list[dict[str, Any]] = [
            {"embed": discord.Embed(title="x" * 257)},
            {"content": "x" * 2001},
            {"embeds": [discord.Embed(description="x" * 2500) for _ in range(3)]},  # 7500 > 6000
            {"embed": discord.Embed(title="t").add_field(name="n", value="v" * 1025)},
        ]
        for kwargs in cases:
            with pytest.raises(discord.HTTPException) as refused:
                await channel.send(**kwargs)
            assert (refused.value.status, refused.value.code) == (400, 50035)
        route = Route("POST", "/channels/{channel_id}/messages", channel_id=NEWS)
        with pytest.raises(discord.HTTPException) as empty:
            await client.http.request(route, json={"content": ""})
        assert (empty.value.status, empty.value.code) == (400, 50006)
        assert fake.posted(NEWS) == []


async def test_channels_the_bot_cannot_use_are_refused(fake: FakeDiscord) -> None:
    client = bot_client()
    async with running(client):
        for channel_id, error, code in (
            (HIDDEN, discord.Forbidden, 50001),
            (UNKNOWN, discord.NotFound, 10003),
            (MUTED, discord.Forbidden, 50013),
        ):
            with pytest.raises(error) as refused:
                await client.http.send_message(channel_id, params=_text("hello"))
            assert refused.value.code == code
        plain = client.get_channel(PLAIN)
        assert isinstance(plain, discord.TextChannel)
        await plain.send("words are fine")
        with pytest.raises(discord.Forbidden) as no_embeds:
            await plain.send(embed=discord.Embed(title="no embed links here"))
        assert no_embeds.value.code == 50013
        fake.deny(NEWS, SEND_MESSAGES_IN_THREADS)
        with pytest.raises(discord.Forbidden):
            await client.http.send_message(THREAD, params=_text("hello"))
        assert fake.invalid_requests == 4


async def test_seven_messages_to_one_channel_wait_out_its_bucket(fake: FakeDiscord) -> None:
    assert fake.channel_limit == (5, 5.0)
    client = bot_client()
    async with running(client):
        channel = client.get_channel(NEWS)
        assert isinstance(channel, discord.TextChannel)
        started = time.monotonic()
        await asyncio.gather(*(channel.send(f"story {n}") for n in range(7)))
        elapsed = time.monotonic() - started
    assert len(fake.posted(NEWS)) == 7
    assert elapsed >= 4.5  # the sixth waited for the bucket to reset
    # discord.py read the bucket headers and waited before the sixth: Discord never had to say 429
    assert fake.rejected_429["user"] == 0


async def test_a_429_is_waited_out_and_global_limits_are_kept(fake: FakeDiscord) -> None:
    client = bot_client()
    async with running(client):
        fake.fail_next[NEWS].append(429)
        await client.http.send_message(NEWS, params=_text("after a 429"))
        assert fake.rejected_429["user"] == 1 and len(fake.posted(NEWS)) == 1

        fake.global_limit = (3, 0.5)
        me = Route("GET", "/users/@me")
        answers = await asyncio.gather(*(client.http.request(me) for _ in range(8)))
        assert all(a["id"] == str(fake.bot_user_id) for a in answers)
        assert fake.rejected_429["global"] >= 1

        fake.fail_next[NEWS].append(503)
        with pytest.raises(discord.DiscordServerError):
            await client.http.send_message(NEWS, params=_text("not retried"))
        fake.fail_next[NEWS].append((403, 50001))
        with pytest.raises(discord.Forbidden):
            await client.http.send_message(NEWS, params=_text("refused once"))


async def test_answers_speak_discords_http(fake: FakeDiscord) -> None:
    auth = {"Authorization": f"Bot {fake.token}"}
    async with aiohttp.ClientSession() as session:
        async with session.get(
            fake.api_url + "/users/@me", headers={"Authorization": "Bot nope"}
        ) as r:
            assert r.status == 401 and r.headers["Content-Type"] == "application/json"
            assert await r.json() == {"message": "401: Unauthorized", "code": 0}
        async with session.get(fake.api_url + "/gateway/bot", headers=auth) as r:
            body = await r.json()
            assert r.headers["Content-Type"] == "application/json"
            assert body["url"] == fake.gateway_url and body["shards"] == 1
            assert body["session_start_limit"]["max_concurrency"] == 1
        url = f"{fake.api_url}/channels/{NEWS}/messages"
        for n in range(6):
            async with session.post(url, json={"content": f"m{n}"}, headers=auth) as r:
                if n < 5:
                    assert r.status == 200
                    assert r.headers["X-RateLimit-Limit"] == "5"
                    assert r.headers["X-RateLimit-Remaining"] == str(4 - n)
                    assert float(r.headers["X-RateLimit-Reset-After"]) <= 5.0
                    assert r.headers["X-RateLimit-Bucket"]
                else:
                    assert r.status == 429
                    assert (
                        r.headers["Via"] == "1.1 google"
                        and r.headers["X-RateLimit-Scope"] == "user"
                    )
                    assert int(r.headers["Retry-After"]) >= 1
                    limited = await r.json()
                    assert limited["message"] == "You are being rate limited."
                    assert 0 < limited["retry_after"] <= 5.0 and limited["global"] is False
        fake.global_limit = (1, 10.0)
        async with session.get(fake.api_url + "/users/@me", headers=auth) as r:
            assert r.status == 429 and r.headers["X-RateLimit-Global"] == "true"
            assert r.headers["X-RateLimit-Scope"] == "global" and (await r.json())["global"] is True
        async with session.get(fake.api_url + "/nothing/here", headers=auth) as r:
            assert r.status == 404 and (await r.json())["code"] == 0
    assert fake.rejected_429 == {"user": 1, "global": 1}


async def test_the_fake_runs_in_a_child_process() -> None:
    server = ChildServer(run_discord_process, [(G1, [NEWS])], (5, 5.0))
    try:
        auth = {"Authorization": "Bot fake-bot-token", "Content-Type": "application/json"}
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"http://127.0.0.1:{server.port}/api/v10/channels/{NEWS}/messages",
                         data=b'{"content": "hi"}', headers=auth) as response,
        ):  # fmt: skip
            assert response.status == 200
        stats = await server.call("GET", "/stats")
        assert stats["posted"] == {str(NEWS): 1}
        assert await call_json(server.port, "POST", "/reset") == {"ok": True}
        assert (await server.call("GET", "/stats"))["posted"] == {}
    finally:
        server.close()
