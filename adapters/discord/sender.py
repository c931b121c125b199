"""Pushes to Discord: ``POST /channels/{id}/messages`` through discord.py's own REST client
(``client.http``), so Discord's per-route buckets, ``X-RateLimit-*`` headers, global limit
and 429 waits are discord.py's; every failure is sorted for the delivery engine.

discord.py waits out a 429 itself (up to :data:`LONGEST_WAIT`; a longer wait comes back as
``RateLimited`` and goes to the engine's retry path) and tries a 500/502/504 again before it
raises. Missing Access, Missing Permissions (403) and Unknown Channel (404) say the channel
cannot take messages; 401 says Discord refused the bot's one token, everywhere.
"""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import discord
from discord.http import HTTPClient, Route

from bot.platform import RATE_LIMITED, DeliveryError, Outgoing, RateLimits, render_push

PLATFORM = "discord"

# discord.py keeps each route's bucket from Discord's headers, but it has no pacing for the
# bot-wide 50 requests a second: it only waits once Discord has answered 429. Left alone on
# a fan-out it drew thousands of global 429s in 40 s (bench/discord.py), fast towards
# Discord's ban at 10,000 invalid requests in 10 minutes. So the engine paces the bot a
# shade under the global limit, and each channel as its bucket does; discord.py's own
# waits stay as the safety net (they agree with these, so the two never fight).
LIMITS = RateLimits(per_second=49.0, per_channel=(5, 5.0))


# What an edit's 404 says when the message was deleted (not the channel: 10003).
UNKNOWN_MESSAGE = 10008

# The longest 429 wait discord.py sits out inside one send; a longer one is the engine's.
LONGEST_WAIT = 30.0


class RateLimitCounter(logging.Filter):
    """Counts the 429s discord.py waits out by itself (it tells of them only in its log: one
    warning for each, and a second one right after it when the limit is the global one).
    A 429 longer than discord.py waits comes to the engine, which counts it there.

    Installed on ``discord.http`` with :func:`count_rate_limits`, which lets its warnings
    through to the filter whatever the log level: the filter then shows only what the
    level asks for."""

    ROUTE = "We are being rate limited."
    GLOBAL = "Global rate limit has been hit."

    def __init__(self) -> None:
        super().__init__()
        self._pending = 0

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        if message.startswith(self.ROUTE) and "erroring instead" not in message:
            self._pending += 1
            asyncio.get_running_loop().call_soon(self._count_route)
        elif message.startswith(self.GLOBAL):
            self._pending = max(0, self._pending - 1)
            RATE_LIMITED.labels(PLATFORM, "global").inc()
        return record.levelno >= logging.getLogger().getEffectiveLevel()

    def _count_route(self) -> None:
        """After the warning's own step: unless its global warning followed, a route's 429."""
        if self._pending:
            RATE_LIMITED.labels(PLATFORM, "route").inc(self._pending)
            self._pending = 0


RATE_LIMIT_COUNTER = RateLimitCounter()


def count_rate_limits() -> None:
    """Count discord.py's own 429 waits (see :class:`RateLimitCounter`), after the logs are
    set up: its warnings reach the counter even when the log level is above them."""
    http_log = logging.getLogger("discord.http")
    if RATE_LIMIT_COUNTER not in http_log.filters:
        http_log.addFilter(RATE_LIMIT_COUNTER)
    http_log.setLevel(min(http_log.getEffectiveLevel(), logging.WARNING))


def delivery_error(error: discord.HTTPException) -> DeliveryError:
    """A refused request as the engine reads it (Discord's message and code; never the
    token or the request)."""
    status = error.status
    named = f"{error.text} (HTTP {status})" if error.text else f"HTTP {status}"
    if status == 401:
        return DeliveryError(named, scope="platform")
    if error.code == UNKNOWN_MESSAGE:  # an edit's message was deleted (only an edit names one)
        return DeliveryError(named, message_gone=True)
    if status in (403, 404):  # Missing Access / Permissions, Unknown Channel
        return DeliveryError(named, scope="channel")
    if status == 429:
        return DeliveryError(f"rate limited ({named})", retry_after=1.0)
    if status >= 500 or status == 408:
        return DeliveryError(f"Discord is unavailable ({named})")
    return DeliveryError(named, permanent=True)  # the message itself (400: a bad body)


class DiscordSender:
    """Implements the core's ``Sender`` for Discord on a discord.py client's REST client."""

    platform = PLATFORM

    def __init__(self, http: HTTPClient, *, limits: RateLimits = LIMITS) -> None:
        self.http = http
        self.limits = limits

    async def send(self, message: Outgoing) -> str | None:
        payload = render_push(message.content, "discord")
        channel_id = message.channel.channel
        if message.replaces is None:
            route = Route("POST", "/channels/{channel_id}/messages", channel_id=channel_id)
        else:  # an edit of the bot's own message
            route = Route(
                "PATCH", "/channels/{channel_id}/messages/{message_id}",
                channel_id=channel_id, message_id=message.replaces,
            )  # fmt: skip
        try:
            answer = await self.http.request(route, json=payload)
        except discord.RateLimited as error:
            raise DeliveryError("rate limited (HTTP 429)", retry_after=error.retry_after) from None
        except discord.HTTPException as error:
            raise delivery_error(error) from None
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            raise DeliveryError(f"connection failed ({type(error).__name__})") from None
        return str(answer.get("id") or "") or None if isinstance(answer, dict) else None
