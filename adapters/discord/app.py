"""The Discord app: discord.py's client with the generated ``/signals`` command, persistent
buttons, and the events that say a server or a channel is gone.

Every answer is decided by the core (:class:`CommandService`) and rendered by it
(:func:`render_reply`); this module only translates: an interaction into a command and its
options (or a pressed button into its kind and payload), the reply into discord.py's
response, within Discord's 3 seconds (deferring first when the answer takes longer).
"""

from __future__ import annotations

import asyncio
import logging
import re
import weakref
from collections.abc import Awaitable, Mapping
from typing import Any

import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

from adapters.discord.commands import commands_hash, signals_group
from adapters.discord.sender import LONGEST_WAIT, PLATFORM
from bot.platform import (
    FAILED,
    PREFIX,
    REGISTRY,
    Bot,
    ChannelRef,
    Command,
    CommandContext,
    Param,
    Reply,
    Settings,
    discord_button,
    payload_target,
    render_reply,
)

log = logging.getLogger(__name__)

# Discord wants a first answer within 3 s: past this, the bot defers and follows up.
ANSWER_WITHIN = 2.0

# What the bot needs in a channel it pushes to (Discord's names for them).
NEEDED = (("view_channel", "View Channel"), ("send_messages", "Send Messages"),
          ("embed_links", "Embed Links"))  # fmt: skip
NEEDED_IN_THREAD = (("view_channel", "View Channel"),
                    ("send_messages_in_threads", "Send Messages in Threads"),
                    ("embed_links", "Embed Links"))  # fmt: skip

IN_SERVERS = (
    f"signalbot works in servers: add it to a server, then type {PREFIX} in one of its "
    "channels to look up stories or subscribe that channel."
)
NOT_OURS = f"This button is no longer in use. Type {PREFIX} help to see what signalbot can do."
MANAGERS = "members with the Manage Channels permission in this channel"

CUSTOM_ID = re.compile(r"signals:[a-z-]+:.+", re.S)


def cannot_post(missing: list[str]) -> str:
    names = " and ".join(missing) if len(missing) < 3 else ", ".join(missing)
    which = "this permission" if len(missing) == 1 else "these permissions"
    return (
        f"signalbot cannot post here: it needs {names} in this channel. Give it {which} "
        "(Edit Channel, Permissions), then try again. Nothing was changed."
    )


def make_client(settings: Settings) -> discord.AutoShardedClient:
    """The client: the guilds intent only (no privileged intent, no message content), no
    mentions in anything it sends, this process's shards, REST and gateway where the settings
    say. (discord.py reads both addresses from class attributes: they are set here.)"""
    Route.BASE = settings.discord_api_url
    if settings.discord_gateway_url:
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)
    shards: dict[str, Any] = {}
    if settings.discord_shard_count is not None:
        shards["shard_count"] = settings.discord_shard_count
    if settings.discord_shard_ids is not None:
        shards["shard_ids"] = settings.discord_shard_ids
    return discord.AutoShardedClient(
        intents=discord.Intents(guilds=True),
        allowed_mentions=discord.AllowedMentions.none(),
        max_ratelimit_timeout=LONGEST_WAIT,
        **shards,
    )


def missing_permissions(interaction: discord.Interaction) -> list[str]:
    """What the bot lacks to post in the interaction's channel (Discord says, with the
    interaction, what the bot may do there)."""
    have = interaction.app_permissions
    in_thread = isinstance(interaction.channel, discord.Thread)
    return [name for flag, name in (NEEDED_IN_THREAD if in_thread else NEEDED)
            if not getattr(have, flag)]  # fmt: skip


class DiscordAdapter:
    """The Discord app for one bot: ``/signals``, its buttons, and the lifecycle events."""

    def __init__(self, bot: Bot, client: discord.Client, settings: Settings) -> None:
        self.bot = bot
        self.client = client
        self.settings = settings
        self.tree: app_commands.CommandTree[Any] = app_commands.CommandTree(client)
        self.tree.add_command(signals_group(REGISTRY, self.on_command, self.on_typing))
        self.tree.error(self.fail)
        ADAPTERS[client] = self
        client.add_dynamic_items(SignalsButton)
        client.setup_hook = self.setup_hook  # type: ignore[method-assign]
        for listener in (self.on_guild_remove, self.on_guild_channel_delete,
                         self.on_raw_thread_delete):  # fmt: skip
            client.event(listener)

    # ---- commands ----------------------------------------------------------------------

    async def setup_hook(self) -> None:
        """After login, before the gateway: sync the commands if their definitions changed."""
        await self.sync_commands()

    async def sync_commands(self) -> bool:
        """Sync to ``DISCORD_GUILD_ID`` when set, else globally, only when the definitions
        differ from the last sync's (their hash is kept in the database, for every replica
        and restart). True when it synced."""
        guild_id = self.settings.discord_guild_id
        guild = discord.Object(guild_id) if guild_id else None
        if guild is not None:
            self.tree.copy_global_to(guild=guild)
        digest = commands_hash(self.tree, guild)
        state = self.bot.core.state
        name = f"commands:{self.client.application_id}:{guild.id if guild else 'global'}"
        if await state.get(PLATFORM, name) == digest:
            return False
        await self.tree.sync(guild=guild)
        await state.put(PLATFORM, name, digest, now=self.bot.core.clock.now())
        log.info("Discord commands synced %s", f"to server {guild.id}" if guild else "globally")
        return True

    def context(self, interaction: discord.Interaction) -> CommandContext | None:
        """Who asks where; None outside a server (a DM)."""
        if interaction.guild_id is None or interaction.channel_id is None:
            return None
        channel = ChannelRef(PLATFORM, str(interaction.guild_id), str(interaction.channel_id))
        # the member's permissions in this channel, overwrites included, as Discord sent them
        allowed = interaction.permissions.manage_channels
        return CommandContext(channel, str(interaction.user.id), allowed, MANAGERS)

    async def on_command(
        self, interaction: discord.Interaction, command: Command, options: Mapping[str, Any]
    ) -> None:
        ctx = self.context(interaction)
        if ctx is None:
            await self.reply(interaction, Reply(IN_SERVERS, ok=False, private=True))
            return
        if (refusal := self.cannot_post_for(interaction, command, ctx)) is not None:
            await self.reply(interaction, refusal)
            return
        given = {name: value for name, value in options.items() if value is not None}
        work = self.bot.commands.handle_options(command.name, given, ctx)
        await self.answer(interaction, work, private=command.private, slow=command.slow)

    @staticmethod
    def cannot_post_for(
        interaction: discord.Interaction, command: Command | None, ctx: CommandContext
    ) -> Reply | None:
        """Before a change after which the bot posts here: what it lacks, if anything (for
        those allowed to make it: the others are told who may)."""
        if command is None or not command.posts or not ctx.can_manage:
            return None
        missing = missing_permissions(interaction)
        return Reply(cannot_post(missing), ok=False, private=True) if missing else None

    async def on_typing(
        self, interaction: discord.Interaction, param: Param, typed: str
    ) -> list[app_commands.Choice[str]]:
        """Suggestions as the user types (never an error: an empty list for garbage)."""
        try:
            found = await self.bot.commands.suggest(param, typed or "", self.context(interaction))
            return [app_commands.Choice(name=c.name, value=c.value) for c in found]
        except Exception:
            log.exception("suggestions for %s failed", param.name)
            return []

    async def on_button(self, interaction: discord.Interaction, custom_id: str) -> None:
        found = discord_button(custom_id)
        ctx = self.context(interaction)
        if found is None or ctx is None:
            await self.reply(interaction, Reply(NOT_OURS if ctx else IN_SERVERS, ok=False,
                                                private=True))  # fmt: skip
            return
        kind, payload = found
        name, _ = payload_target(payload)
        command = REGISTRY.get(name)
        if (refusal := self.cannot_post_for(interaction, command, ctx)) is not None:
            await self.reply(interaction, refusal)
            return
        private = kind != "post" and (command is None or command.private)
        slow = command is not None and command.slow
        work = self.bot.commands.press(kind, payload, ctx)
        await self.answer(interaction, work, private=private, slow=slow)

    async def answer(
        self,
        interaction: discord.Interaction,
        work: Awaitable[Reply],
        *,
        private: bool,
        slow: bool = False,
    ) -> None:
        """Send the reply ``work`` makes: at once when it is ready within
        :data:`ANSWER_WITHIN`, else after deferring (privately for a lookup, publicly for a
        change); a ``slow`` command (it sends a push) defers first."""
        task = asyncio.ensure_future(work)
        try:
            reply = await asyncio.wait_for(asyncio.shield(task), 0 if slow else ANSWER_WITHIN)
        except TimeoutError:
            await interaction.response.defer(ephemeral=private, thinking=True)
            reply = await task
            if reply.private and not private:  # an error after a public deferral: it goes,
                await interaction.delete_original_response()  # and the error comes privately
        await self.reply(interaction, reply)

    async def reply(self, interaction: discord.Interaction, reply: Reply) -> None:
        """The reply as discord.py sends it: the first response, or the follow-up after a
        deferral."""
        payload = render_reply(reply, "discord")
        assert isinstance(payload, dict)
        message: dict[str, Any] = {
            "content": payload.get("content") or None,
            "embeds": [discord.Embed.from_dict(e) for e in payload.get("embeds", [])],
            "ephemeral": reply.private,
        }
        view = self.view(payload.get("components", []))
        if view is not None:
            message["view"] = view
        if not interaction.response.is_done():
            await interaction.response.send_message(**message)
        else:
            await interaction.followup.send(**message)

    def view(self, rows: list[dict[str, Any]]) -> discord.ui.View | None:
        """The buttons of a rendered reply, as the persistent items that answer them."""
        if not rows:
            return None
        view = discord.ui.View(timeout=None)
        for number, row in enumerate(rows):
            for item in row.get("components", []):
                view.add_item(
                    SignalsButton(item["custom_id"], item["label"], int(item["style"]), number)
                )
        # Presses come back through the dynamic items the client knows (any message, any
        # restart): this view listens for nothing, so discord.py keeps no timer or record of it.
        view.stop()
        return view

    async def fail(self, interaction: discord.Interaction, error: BaseException) -> None:
        """A failure no handler caught (a command's or a button's): logged, and a sentence
        for the user, never a traceback."""
        log.error("Discord interaction failed", exc_info=error)
        try:
            if interaction.response.is_done():
                await interaction.followup.send(FAILED, ephemeral=True)
            else:
                await interaction.response.send_message(FAILED, ephemeral=True)
        except discord.HTTPException as failed:
            log.warning("could not tell the user: %s", failed)

    # ---- lifecycle ---------------------------------------------------------------------

    async def on_guild_remove(self, guild: discord.Guild) -> None:
        """The bot was removed from a server (discord.py reports an outage as
        ``guild_unavailable`` instead): its subscriptions go."""
        removed = await self.bot.lifecycle.forget_workspace(PLATFORM, str(guild.id))
        log.info("removed from server %s: %d subscriptions removed", guild.id, removed)

    async def on_guild_channel_delete(self, channel: discord.abc.GuildChannel) -> None:
        await self.bot.lifecycle.forget_channel(
            ChannelRef(PLATFORM, str(channel.guild.id), str(channel.id))
        )

    async def on_raw_thread_delete(self, payload: discord.RawThreadDeleteEvent) -> None:
        """A thread deleted, or its channel (discord.py reports the channel's threads too,
        though Discord sends nothing for them)."""
        await self.bot.lifecycle.forget_channel(
            ChannelRef(PLATFORM, str(payload.guild_id), str(payload.thread_id))
        )


# The adapter of each client: a pressed button finds its own through the interaction.
ADAPTERS: weakref.WeakKeyDictionary[discord.Client, DiscordAdapter] = weakref.WeakKeyDictionary()


class SignalsButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=CUSTOM_ID):
    """A button of ours: any of our ``custom_id``s, on any message, before or after a
    restart, comes back to :meth:`DiscordAdapter.on_button`."""

    def __init__(
        self, custom_id: str, label: str = "", style: int = 2, row: int | None = None
    ) -> None:
        button: discord.ui.Button[Any] = discord.ui.Button(
            custom_id=custom_id, label=label or None, style=discord.ButtonStyle(style)
        )
        super().__init__(button, row=row)

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> SignalsButton:
        return cls(match.group(0))

    async def callback(self, interaction: discord.Interaction) -> None:
        adapter = ADAPTERS.get(interaction.client)
        if adapter is None:
            return
        try:
            await adapter.on_button(interaction, self.item.custom_id or "")
        except Exception as error:  # discord.py would only log it: the user hears too
            await adapter.fail(interaction, error)
