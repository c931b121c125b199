"""The Slack app running on its HTTP server against the fake Slack, and signed requests to it
as Slack sends them."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import SlackAdapter, SlackSender
from bot.app import Bot, Core, build_bot
from bot.web import WebServer
from tests.conftest import settings_for
from tests.fakes.slack import FakeSlack, serve_slack

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


@dataclass
class SlackWorld:
    """The fake Slack, the bot's app on its server, and a way to act as Slack."""

    slack: FakeSlack
    bot: Bot
    adapter: SlackAdapter
    server: WebServer
    session: aiohttp.ClientSession

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}/slack/events"

    def sign(self, body: str, *, age: float = 0, secret: str = SECRET) -> dict[str, str]:
        stamp = str(int(time.time() - age))
        signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
        return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature}

    async def post(
        self, body: str, content_type: str, headers: dict[str, str] | None = None
    ) -> tuple[int, str, float]:
        """POST as Slack does: status, body, and seconds until the answer (the ack)."""
        started = time.perf_counter()
        signed = headers if headers is not None else self.sign(body)
        all_headers = {"Content-Type": content_type, **signed}
        async with self.session.post(self.url, data=body, headers=all_headers) as response:
            text = await response.text()
        return response.status, text, time.perf_counter() - started

    async def command(
        self, text: str, *, user: str = "U1", channel: str = "C1", team: str = "T1",
        headers: dict[str, str] | None = None,
    ) -> tuple[int, str]:  # fmt: skip
        """A slash command; returns its response_url key and the HTTP status of the ack."""
        key = uuid.uuid4().hex[:8]
        body = urlencode({
            "token": "legacy", "team_id": team, "team_domain": "acme", "channel_id": channel,
            "channel_name": "news", "user_id": user, "user_name": "ann", "command": "/signals",
            "text": text, "api_app_id": "A1", "is_enterprise_install": "false",
            "response_url": self.slack.response_url(key), "trigger_id": "1.2.3",
        })  # fmt: skip
        status, _, _ = await self.post(body, "application/x-www-form-urlencoded", headers)
        return key, status

    async def _block_action(
        self, action: dict[str, Any], user: str, team: str, where: dict[str, Any]
    ) -> None:
        """A button pressed, as Slack posts it (``where``: the message or view it was on)."""
        payload = {
            "type": "block_actions", "team": {"id": team, "domain": "acme"},
            "user": {"id": user, "team_id": team}, "api_app_id": "A1", "token": "legacy",
            "trigger_id": "1.2.3", **where,
            "actions": [{"type": "button", "block_id": "signals-actions", **action,
                         "action_ts": "1.2"}],
        }  # fmt: skip
        body = urlencode({"payload": json.dumps(payload)})
        status, _, _ = await self.post(body, "application/x-www-form-urlencoded")
        assert status == 200

    async def press_on_home(self, action: dict[str, Any], *, user: str = "U1", team: str = "T1") -> None:
        view = {"container": {"type": "view", "view_id": "V1"},
                "view": {"id": "V1", "type": "home", "blocks": []}}  # fmt: skip
        await self._block_action(action, user, team, view)

    def homes(self) -> list[dict[str, Any]]:
        """The home views published, in order."""
        return [c.body for c in self.slack.calls if c.method == "views.publish" and c.body.get("_ok")]

    async def press(
        self, action: dict[str, Any], *, user: str = "U1", channel: str = "C1", team: str = "T1"
    ) -> str:
        """A button under a message in ``channel``; the key of its response_url."""
        key = uuid.uuid4().hex[:8]
        message = {
            "container": {"type": "message", "channel_id": channel, "is_ephemeral": True},
            "channel": {"id": channel, "name": "news"},
            "response_url": self.slack.response_url(key),
        }
        await self._block_action(action, user, team, message)
        return key

    async def event(self, event: dict[str, Any], *, event_id: str, team: str = "T1") -> int:
        body = json.dumps({
            "token": "legacy", "team_id": team, "api_app_id": "A1", "event": event,
            "type": "event_callback", "event_id": event_id, "event_time": int(time.time()),
            "authorizations": [{"team_id": team, "user_id": "UBOT", "is_bot": True}],
        })  # fmt: skip
        status, _, _ = await self.post(body, "application/json")
        return status

    async def answer(self, key: str, *, within: float = 5.0) -> dict[str, Any]:
        """The one answer that reached a response_url."""
        for _ in range(int(within / 0.01)):
            if self.slack.responses.get(key):
                (answer,) = self.slack.responses[key]
                return answer
            await asyncio.sleep(0.01)
        raise AssertionError(f"no answer at response_url {key}")

    async def posted(self, count: int, *, within: float = 5.0) -> list[dict[str, Any]]:
        for _ in range(int(within / 0.01)):
            if len(self.slack.posted()) >= count:
                break
            await asyncio.sleep(0.01)
        return self.slack.posted()

    async def settle(self) -> None:
        """Let the listeners acknowledged requests started finish."""
        for _ in range(5):
            await asyncio.sleep(0.02)


@pytest.fixture
async def world(core: Core) -> AsyncIterator[SlackWorld]:
    async with running(core) as started:
        yield started


@asynccontextmanager
async def running(core: Core, **overrides: Any) -> AsyncIterator[SlackWorld]:
    slack = FakeSlack()
    team = slack.team("T1")
    async with serve_slack(slack):
        settings = settings_for(
            str(core.settings.database_url), slack_bot_token=team.token,
            slack_signing_secret=SECRET, slack_api_url=slack.api_url, **overrides,
        )  # fmt: skip
        async with SlackSender.single(team.token, api_url=slack.api_url) as sender:
            bot = build_bot(core, {sender.platform: sender})
            client = AsyncWebClient(token=team.token, base_url=slack.api_url)
            adapter = SlackAdapter(bot, settings, client)
            server = WebServer("127.0.0.1", 0)
            adapter.mount(server)
            await server.start()
            try:
                async with aiohttp.ClientSession() as session:
                    yield SlackWorld(slack, bot, adapter, server, session)
                    await asyncio.sleep(0.05)  # listeners still answering
            finally:
                await server.stop()
                await bot.delivery.drain()
