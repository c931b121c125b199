"""Pushes to Slack: ``chat.postMessage`` on each workspace's own token (``chat.update`` for an
edit), with every failure sorted for the delivery engine (what it says cannot take messages,
or that it should wait).

Slack answers most errors with HTTP 200 and ``{"ok": false, "error": ...}`` (slack-sdk raises
them as ``SlackApiError``); a rate limit with 429 and ``Retry-After``. The engine does every
retry itself: the client is built without slack-sdk's own retry handlers, so a post is never
sent twice behind the engine's back.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, cast

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.platform import DeliveryError, FailureScope, Outgoing, RateLimits, encoded_push

PLATFORM = "slack"

# chat.postMessage: about one message a second per channel (short bursts allowed), and a
# workspace-wide budget Slack puts at several hundred a minute: ten a second here, and a 429
# beyond it is waited out like any other.
LIMITS = RateLimits(per_channel=(1, 1.0), per_workspace=10.0)


# What an error says cannot take messages (see the platform notes); anything else refused
# for good is about the one message.
SCOPES: dict[str, FailureScope] = {
    "channel_not_found": "channel",
    "not_in_channel": "channel",
    "is_archived": "channel",
    "channel_is_archived": "channel",
    "invalid_auth": "token",
    "not_authed": "token",
    "account_inactive": "token",
    "token_revoked": "token",
    "token_expired": "token",
    "team_disabled": "workspace",
    "team_not_found": "workspace",
}
# What an edit (chat.update) says when its message is gone or no longer the bot's to edit.
GONE = frozenset({"message_not_found", "cant_update_message"})
TRANSIENT = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited"}
)

JSON_BODY = {"Content-Type": "application/json;charset=utf-8"}

TokenFor = Callable[[str], Awaitable[str | None]]  # a workspace's bot token, if installed

# slack-sdk formats every request and response for a debug line whenever its logger's own
# level is unset (``logger.level <= DEBUG``), whatever the handlers then keep: most of its
# cost per message. Its clients log through this logger, whose level is set.
CLIENT_LOG = logging.getLogger("adapters.slack.web")
CLIENT_LOG.setLevel(logging.INFO)


def delivery_error(error: SlackApiError) -> DeliveryError:
    """A refused call as the engine reads it. Never quotes the token or the request."""
    response = error.response
    status = response.status_code
    name = str(response.get("error") or "") if isinstance(response.data, dict) else ""
    if status == 429:
        wait = float(response.headers.get("Retry-After", "1") or 1)
        return DeliveryError(f"rate limited ({name or 'HTTP 429'})", retry_after=wait)
    if status >= 500 or name in TRANSIENT:
        return DeliveryError(f"Slack is unavailable ({name or f'HTTP {status}'})")
    if name in GONE:
        return DeliveryError(name, message_gone=True)
    scope = SCOPES.get(name, "message")
    return DeliveryError(name or f"HTTP {status}", permanent=True, scope=scope)


class SlackSender:
    """Implements the core's ``Sender`` for Slack."""

    platform = PLATFORM

    def __init__(
        self, token_for: TokenFor, *, api_url: str, limits: RateLimits = LIMITS
    ) -> None:
        self.token_for = token_for
        self.api_url = api_url
        self.limits = limits
        self._session: aiohttp.ClientSession | None = None
        self._clients: dict[str, AsyncWebClient] = {}

    @classmethod
    def single(cls, token: str, *, api_url: str, limits: RateLimits = LIMITS) -> SlackSender:
        """The sender of a bot installed in one workspace, whatever its id."""

        async def token_for(workspace: str) -> str | None:
            return token

        return cls(token_for, api_url=api_url, limits=limits)

    async def __aenter__(self) -> SlackSender:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=256),
            timeout=aiohttp.ClientTimeout(total=30),
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        self._clients.clear()

    async def client(self, workspace: str) -> AsyncWebClient:
        """The Web API client on the workspace's token (a DeliveryError if it has none)."""
        client = self._clients.get(workspace)
        if client is None:
            token = await self.token_for(workspace)
            if token is None:
                raise DeliveryError(
                    "signalbot is not installed in this workspace", scope="workspace"
                )
            client = self._clients[workspace] = AsyncWebClient(
                token=token, base_url=self.api_url, session=self._session, retry_handlers=[],
                logger=CLIENT_LOG,
            )
        return client

    def forget(self, workspace: str) -> None:
        """Drop a workspace's client (its token changed or was revoked)."""
        self._clients.pop(workspace, None)

    async def send(self, message: Outgoing) -> str | None:
        # The body as JSON: a digest's or a card's is encoded once for all its channels, and
        # the channel spliced in front (an id from our own store, encoded as JSON too).
        encoded = encoded_push(message.content, "slack")
        channel = json.dumps(message.channel.channel).encode()
        body = b'{"channel":' + channel + b"," + encoded[1:]
        method = "chat.postMessage"
        if message.replaces is not None:  # an edit: the same body, for the message's ts
            method = "chat.update"
            body = b'{"ts":' + json.dumps(message.replaces).encode() + b"," + body[1:]
        workspace = message.channel.workspace
        for last in (False, True):
            client = await self.client(workspace)
            try:
                # slack-sdk hands a body it does not build (not a dict) to aiohttp as it is
                response = await client.api_call(
                    method, data=cast(Any, body), headers=JSON_BODY
                )
                break
            except SlackApiError as error:
                failure = delivery_error(error)
                if failure.scope != "token":
                    raise failure from None
                # the client kept an old token: installed again since, the new one gets a try
                self.forget(workspace)
                if last or await self.token_for(workspace) in (None, client.token):
                    raise failure from None
            except (TimeoutError, aiohttp.ClientError) as error:
                raise DeliveryError(f"connection failed ({type(error).__name__})") from None
        return str(response.get("ts") or "") or None
