"""Many workspaces: the app installed through OAuth against the fake Slack, its installation
kept in our own tables, then a slash command from the new workspace answered on its token."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from adapters.slack import SlackAdapter, SlackSender, installation_store, tokens_from, web_client
from bot.app import Core, build_bot
from bot.clock import FrozenClock
from bot.domain import ChannelRef
from bot.lifecycle import scope_reason
from bot.platform import DeliveryError, Notice, Outgoing
from bot.web import WebServer
from tests.adapters.slack.conftest import SECRET, SlackWorld
from tests.conftest import settings_for, started_core
from tests.fakes.slack import FakeSlack, serve_slack

COOKIE = "slack-app-oauth-state"



@pytest.fixture
async def core(database_url: str, clock: FrozenClock) -> AsyncIterator[Core]:
    """The installations are kept in our own tables: on SQLite and on PostgreSQL."""
    async with started_core(database_url, clock) as started:
        yield started


async def install(session: aiohttp.ClientSession, base: str, code: str) -> int:
    """A browser through the install: the "Add to Slack" page, then back from Slack with a
    code; the status of the last page."""
    async with session.get(f"{base}/slack/install", allow_redirects=False) as page:
        assert page.status in (200, 302)
        cookie = page.headers.get("Set-Cookie", "")
        text = await page.text()
    state = re.search(rf"{COOKIE}=([^;]+)", cookie)
    assert state is not None, cookie
    found_link = re.search(r"https://slack\.com/oauth/v2/authorize[^\"' ]+", text)
    link = page.headers.get("Location") or (found_link[0] if found_link else "")
    query = parse_qs(urlsplit(link.replace("&amp;", "&")).query)
    assert query["client_id"] == ["111.222"] and query["state"] == [state[1]]
    assert "chat:write" in query["scope"][0]
    redirect = f"{base}/slack/oauth_redirect?code={code}&state={state[1]}"
    async with session.get(redirect, headers={"Cookie": f"{COOKIE}={state[1]}"}) as done:
        return done.status


async def test_install_through_oauth_then_answer_that_workspace(core: Core) -> None:
    slack = FakeSlack()
    team = slack.team("T2", name="Second Newsroom", token="xoxb-T2-installed")
    async with serve_slack(slack):
        settings = settings_for(
            str(core.settings.database_url), slack_client_id="111.222",
            slack_client_secret="client-secret", slack_signing_secret=SECRET,
            slack_api_url=slack.api_url,
        )  # fmt: skip
        assert settings.slack_mode == "oauth"
        installations = installation_store(core.engine, "111.222")
        async with SlackSender(tokens_from(installations), api_url=slack.api_url) as sender:
            bot = build_bot(core, {sender.platform: sender})
            adapter = SlackAdapter(bot, settings, web_client(None, slack.api_url), installations)
            server = WebServer("127.0.0.1", 0)
            adapter.mount(server)
            await server.start()
            base = f"http://127.0.0.1:{server.port}"
            try:
                async with aiohttp.ClientSession() as session:
                    slack.client_secret = "rotated"  # Slack refuses the app's credentials
                    assert await install(session, base, "code-T2") != 200
                    assert await installations.async_find_bot(enterprise_id=None, team_id="T2") is None
                    slack.client_secret = "client-secret"
                    assert await install(session, base, "code-T2") == 200
                    found = await installations.async_find_bot(enterprise_id=None, team_id="T2")
                    assert found is not None and found.bot_token == team.token
                    world = SlackWorld(slack, bot, adapter, server, session)
                    await world.command("subscribe europe", team="T2", channel="C7")
                    (confirmation,) = await world.posted(1)
                    assert confirmation["channel"] == "C7"
                    posts = [c for c in slack.calls if c.method == "chat.postMessage"]
                    assert {c.token for c in posts} == {team.token}  # the workspace's own token
                    await world.command("latest", team="T2", channel="C7")
                    await world.settle()
                    checks = [c for c in slack.calls if c.method == "auth.test" and c.body]
                    assert len(checks) == 1  # the token is checked once, then remembered
                    # a workspace that never installed the app gets nothing done
                    await world.command("subscribe asia", team="T3", channel="C8")
                    await world.settle()
                    assert await core.subscriptions.for_channel(ChannelRef("slack", "T3", "C8")) == []
                    # the token revoked: a push pauses the workspace; installed again with a
                    # new token, it resumes, and the sender drops the old token's client
                    slack.revoked.add(team.token)
                    to_c7 = ChannelRef("slack", "T2", "C7")
                    with pytest.raises(DeliveryError) as refused:
                        await sender.send(Outgoing(to_c7, Notice("one")))
                    assert refused.value.scope == "token"
                    await sender.client("T2")  # the old token's client, cached again
                    await bot.lifecycle.pause_workspace("slack", "T2", scope_reason("token", "x"))
                    team.token = "xoxb-T2-installed-again"
                    assert await install(session, base, "code-T2") == 200
                    (sub,) = await core.subscriptions.for_channel(to_c7)
                    assert not sub.paused
                    assert await sender.send(Outgoing(to_c7, Notice("two")))
                    # uninstalled: its installation and subscriptions go
                    await world.event({"type": "app_uninstalled"}, event_id="U1", team="T2")
                    for _ in range(200):
                        if await installations.async_find_bot(enterprise_id=None, team_id="T2") is None:
                            break
                        await asyncio.sleep(0.01)
                    assert await installations.async_find_bot(enterprise_id=None, team_id="T2") is None
                    assert await core.subscriptions.count() == 0
            finally:
                await server.stop()
                await bot.delivery.drain()
