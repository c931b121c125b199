"""A chat platform on loopback for delivery tests: Discord-shaped REST with Discord's limits.

``POST /channels/{id}/messages`` takes a message. The server can enforce a global limit (50
requests per second) and a per-channel limit (5 messages per 5 s), answering 429 with a JSON
``retry_after`` like Discord, and plays broken channels: ``gone-*`` answers 404 (Unknown
Channel), ``forbidden-*`` 403 (Missing Access), ``revoked-*`` 401 (the bot's token refused),
``flaky-*`` 503 twice before it works, ``slow-*`` takes its time. :class:`HttpSender` is the
client side: it renders Discord payloads and maps answers onto
:class:`bot.delivery.DeliveryError`, with the scope each failure has.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from bot.platform import DeliveryError, FailureScope, Outgoing, RateLimits, encoded_push
from tests.fakes.web import serve_app


@dataclass
class FakePlatform:
    global_limit: tuple[int, float] | None = None  # (requests, seconds)
    channel_limit: tuple[int, float] | None = None  # (messages, seconds)
    slow_seconds: float = 2.0
    accepted: list[tuple[str, dict[str, Any], float]] = field(default_factory=list)
    rejected_429: int = 0
    received: int = 0  # requests that reached the handler, answered or not yet
    refused: list[str] = field(default_factory=list)  # channels answered 401, 403 or 404
    port: int = 0
    _global: deque[float] = field(default_factory=deque)
    _channels: dict[str, deque[float]] = field(default_factory=lambda: defaultdict(deque))
    _flaky: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @staticmethod
    def _window(times: deque[float], limit: tuple[int, float], now: float) -> float:
        count, seconds = limit
        while times and now - times[0] >= seconds:
            times.popleft()
        return times[0] + seconds - now if len(times) >= count else 0.0

    def _too_many(self, retry_after: float, *, is_global: bool) -> web.Response:
        self.rejected_429 += 1
        body = {"message": "You are being rate limited.", "retry_after": round(retry_after, 3),
                "global": is_global}  # fmt: skip
        return web.Response(status=429, text=json.dumps(body), content_type="application/json")

    async def handle(self, request: web.Request) -> web.Response:
        channel = request.match_info["channel"]
        self.received += 1
        now = time.monotonic()
        if self.global_limit:
            wait = self._window(self._global, self.global_limit, now)
            if wait > 0:
                return self._too_many(wait, is_global=True)
        if self.channel_limit:
            wait = self._window(self._channels[channel], self.channel_limit, now)
            if wait > 0:
                return self._too_many(wait, is_global=False)
        if self.global_limit:
            self._global.append(now)
        if self.channel_limit:
            self._channels[channel].append(now)
        if channel.startswith("gone-"):
            self.refused.append(channel)
            return web.json_response({"message": "Unknown Channel", "code": 10003}, status=404)
        if channel.startswith("forbidden-"):
            self.refused.append(channel)
            return web.json_response({"message": "Missing Access", "code": 50001}, status=403)
        if channel.startswith("revoked-"):
            self.refused.append(channel)
            return web.json_response({"message": "401: Unauthorized", "code": 0}, status=401)
        if channel.startswith("flaky-") and self._flaky[channel] < 2:
            self._flaky[channel] += 1
            return web.json_response({"message": "upstream busy"}, status=503)
        if channel.startswith("slow-"):
            await asyncio.sleep(self.slow_seconds)
        body = await request.json()
        self.accepted.append((channel, body, time.monotonic()))
        return web.json_response({"id": str(len(self.accepted)), "channel_id": channel})

    async def stats(self, request: web.Request) -> web.Response:
        """What the platform has seen (for a benchmark that runs it in another process)."""
        counts: dict[str, int] = defaultdict(int)
        for channel, _, _ in self.accepted:
            counts[channel] += 1
        return web.json_response({"accepted": counts, "rejected_429": self.rejected_429})

    async def reset(self, request: web.Request) -> web.Response:
        self.accepted.clear()
        self.rejected_429 = 0
        self.refused.clear()
        self._global.clear()
        self._channels.clear()
        return web.json_response({"ok": True})


def run_platform_process(port_out: Any, global_limit: Any, channel_limit: Any) -> None:
    """Entry point of a child process serving a FakePlatform until it is terminated."""

    async def main() -> None:
        platform = FakePlatform(global_limit=global_limit, channel_limit=channel_limit)
        async with serve_platform(platform):
            port_out.put(platform.port)
            await asyncio.Event().wait()

    asyncio.run(main())


@asynccontextmanager
async def serve_platform(platform: FakePlatform) -> AsyncIterator[FakePlatform]:
    app = web.Application()
    app.router.add_post("/channels/{channel}/messages", platform.handle)
    app.router.add_get("/stats", platform.stats)
    app.router.add_post("/reset", platform.reset)
    async with serve_app(app, backlog=1024) as port:
        platform.port = port
        yield platform


JSON_BODY = {"Content-Type": "application/json"}
CHANNEL_LOST = frozenset({10003, 50001})  # Discord's Unknown Channel and Missing Access codes


class HttpSender:
    """Posts Discord-shaped messages to the fake platform; errors become DeliveryError."""

    def __init__(
        self, base_url: str, *, platform: str = "fake", limits: RateLimits | None = None
    ) -> None:
        self.platform = platform
        self.limits = limits or RateLimits()
        self.base_url = base_url.rstrip("/")
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> HttpSender:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=256),
            timeout=aiohttp.ClientTimeout(total=10),
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    async def send(self, message: Outgoing) -> str | None:
        assert self._session is not None
        url = f"{self.base_url}/channels/{message.channel.channel}/messages"
        try:
            data = encoded_push(message.content, "discord")
            async with self._session.post(url, data=data, headers=JSON_BODY) as response:
                body = json.loads((await response.read()).decode())
                if response.status == 200:
                    return str(body["id"])
                if response.status == 429:
                    raise DeliveryError(
                        "rate limited",
                        retry_after=float(body["retry_after"]),
                        global_limit=bool(body.get("global")),
                    )
                if response.status == 401:
                    raise DeliveryError(
                        f"{body.get('message', 'refused')} (HTTP 401)", scope="token"
                    )
                if response.status in (403, 404):
                    # Unknown Channel (10003), Missing Access (50001): this channel is lost
                    scope: FailureScope = (
                        "channel" if body.get("code") in CHANNEL_LOST else "message"
                    )
                    raise DeliveryError(
                        f"{body.get('message', 'refused')} (HTTP {response.status})",
                        permanent=True,
                        scope=scope,
                    )
                raise DeliveryError(f"HTTP {response.status}")
        except (aiohttp.ClientError, TimeoutError) as error:
            raise DeliveryError(f"connection failed ({error.__class__.__name__})") from None
