"""Running the Discord client beside the rest of the bot: log in (a refused token names its
setting), connect the gateway in the background, close on the way out."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace

import aiohttp
import discord

from adapters.discord.app import DiscordAdapter, make_client
from adapters.discord.sender import LIMITS, DiscordSender, count_rate_limits
from bot.platform import Bot, Settings, SettingsError

log = logging.getLogger(__name__)


class DiscordRunner:
    """The client for this process's shards, its sender (available before login, for the
    delivery engine), and the adapter once the bot is built."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        count_rate_limits()
        self.client = make_client(settings)
        paced = replace(LIMITS, per_second=settings.discord_rate)  # 0: Discord's 429s alone
        self.sender = DiscordSender(self.client.http, limits=paced)
        self.adapter: DiscordAdapter | None = None
        self._gateway: asyncio.Task[None] | None = None

    def attach(self, bot: Bot) -> DiscordAdapter:
        self.adapter = DiscordAdapter(bot, self.client, self.settings)
        return self.adapter

    async def login(self) -> None:
        """Log in over REST (and sync the commands if they changed). A refused token, or a
        Discord that cannot be reached or answers otherwise, is a :class:`SettingsError`
        naming the setting to look at."""
        token = self.settings.discord_token
        assert token is not None
        try:
            await self.client.login(token.get_secret_value())
            if self.settings.discord_gateway_url and self.client.shard_count is None:
                # discord.py connects where GET /gateway/bot says unless it is told the shard
                # count: told it (Discord's recommendation), it goes to DISCORD_GATEWAY_URL
                shards, _, _ = await self.client.http.get_bot_gateway()
                self.client.shard_count = shards
        except discord.LoginFailure:
            raise SettingsError(
                "SIGNALBOT_DISCORD_TOKEN: Discord refused it (401 Unauthorized)"
            ) from None
        except (discord.HTTPException, discord.GatewayNotFound) as error:
            raise SettingsError(
                f"SIGNALBOT_DISCORD_API_URL: Discord answered {error} at "
                f"{self.settings.discord_api_url}"
            ) from None
        except (aiohttp.ClientError, OSError) as error:
            raise SettingsError(
                f"SIGNALBOT_DISCORD_API_URL: cannot reach Discord at "
                f"{self.settings.discord_api_url} ({type(error).__name__})"
            ) from None

    def connect(self, on_lost: Callable[[BaseException], None]) -> None:
        """Connect the gateway (every shard of this process) in the background; ``on_lost``
        hears of a failure it cannot recover from (a closed session, a refused intent)."""

        def finished(task: asyncio.Task[None]) -> None:
            if not task.cancelled() and (error := task.exception()) is not None:
                on_lost(error)

        self._gateway = asyncio.create_task(self.client.connect(reconnect=True))
        self._gateway.add_done_callback(finished)

    async def problem(self) -> str | None:
        """What is wrong with this process's gateway connection, for ``/healthz`` (None: every
        shard is connected)."""
        if self.client.is_closed():
            return "the gateway connection is closed"
        if not self.client.is_ready():
            return "not connected to the gateway yet"
        down = sorted(i for i, shard in self.client.shards.items() if shard.is_closed())
        if down:
            return f"shard{'s' if len(down) > 1 else ''} {', '.join(map(str, down))} disconnected"
        return None

    async def close(self) -> None:
        await self.client.close()
        if self._gateway is not None:
            self._gateway.cancel()
            await asyncio.gather(self._gateway, return_exceptions=True)
