"""Socket Mode: the same app, its requests over the WebSocket the fake Slack opens for an
app-level token instead of HTTP; every envelope acknowledged, then answered as over HTTP."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from adapters.slack import SlackAdapter, SlackSender, web_client
from bot.app import Core, build_bot
from bot.domain import ChannelRef
from bot.platform import SettingsError
from tests.conftest import settings_for
from tests.fakes.slack import FakeSlack, serve_slack

APP_TOKEN = "xapp-1-A1-socket-test"


@asynccontextmanager
async def socket_world(core: Core) -> AsyncIterator[FakeSlack]:
    slack = FakeSlack()
    team = slack.team("T1")
    slack.app_tokens.add(APP_TOKEN)
    async with serve_slack(slack):
        settings = settings_for(
            str(core.settings.database_url), slack_bot_token=team.token,
            slack_app_token=APP_TOKEN, slack_api_url=slack.api_url,
        )  # fmt: skip
        assert settings.slack_mode == "socket"
        async with SlackSender.single(team.token, api_url=slack.api_url) as sender:
            bot = build_bot(core, {sender.platform: sender})
            adapter = SlackAdapter(bot, settings, web_client(team.token, slack.api_url))
            handler = await adapter.connect(APP_TOKEN)
            try:
                yield slack
            finally:
                await handler.close_async()  # type: ignore[no-untyped-call]
                await bot.delivery.drain()


def command(slack: FakeSlack, text: str, key: str, channel: str = "C1") -> dict[str, Any]:
    return {
        "team_id": "T1", "channel_id": channel, "user_id": "U1", "command": "/signals",
        "text": text, "api_app_id": "A1", "response_url": slack.response_url(key),
        "trigger_id": "1.2.3",
    }  # fmt: skip


async def test_commands_arrive_over_the_socket_and_are_answered(core: Core) -> None:
    async with socket_world(core) as slack:
        key = uuid.uuid4().hex
        ack = await slack.envelope("slash_commands", command(slack, "subscribe europe", key))
        assert ack["envelope_id"].startswith("env-")
        for _ in range(300):
            if slack.posted():
                break
            await asyncio.sleep(0.01)
        (confirmation,) = slack.posted()
        assert confirmation["channel"] == "C1"
        assert confirmation["text"].startswith("Subscribed to Europe (europe)")
        lookup = uuid.uuid4().hex
        await slack.envelope("slash_commands", command(slack, "list", lookup))
        await asyncio.wait_for(slack.answered(lookup).wait(), 5)
        (answer,) = slack.responses[lookup]
        assert answer["response_type"] == "ephemeral"
        assert answer["text"].startswith("This channel's subscriptions:")
    (sub,) = await core.subscriptions.for_channel(ChannelRef("slack", "T1", "C1"))
    assert sub.region == "europe"


async def test_a_wrong_app_token_is_refused_by_slack(core: Core) -> None:
    slack = FakeSlack()
    team = slack.team("T1")
    async with serve_slack(slack):
        settings = settings_for(
            str(core.settings.database_url), slack_bot_token=team.token,
            slack_app_token="xapp-not-ours", slack_api_url=slack.api_url,
        )  # fmt: skip
        async with SlackSender.single(team.token, api_url=slack.api_url) as sender:
            adapter = SlackAdapter(
                build_bot(core, {sender.platform: sender}), settings,
                web_client(team.token, slack.api_url),
            )  # fmt: skip
            with pytest.raises(SettingsError) as refused:
                await adapter.connect("xapp-not-ours")
    assert str(refused.value) == "SIGNALBOT_SLACK_APP_TOKEN: Slack refused it (invalid_auth)"
