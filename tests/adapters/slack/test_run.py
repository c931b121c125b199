"""``signalbot run`` with Slack settings, as an operator runs it: it serves Slack's requests on
its HTTP server until SIGTERM, and never prints a secret."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
from slack_sdk.signature import SignatureVerifier

from tests.conftest import SIGNALBOT, command_env
from tests.fakes.slack import FakeSlack, serve_slack

SECRET = "run-test-signing-secret"


async def start_bot(env: dict[str, str]) -> tuple[asyncio.subprocess.Process, str]:
    """``signalbot run`` with these settings, and the line it prints once serving (lines
    slack-sdk logs before it are passed over)."""
    process = await asyncio.create_subprocess_exec(
        SIGNALBOT, "run", env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stderr is not None
    first = ""
    while not first.startswith("signalbot:"):
        first = (await asyncio.wait_for(process.stderr.readline(), 30)).decode()
    return process, first


async def stop_bot(process: asyncio.subprocess.Process) -> str:
    """SIGTERM, as an operator stops it; what it said on the way out."""
    process.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, err
    return err.decode()


async def test_the_bot_serves_slack_until_told_to_stop(tmp_path: Path) -> None:
    slack = FakeSlack()
    team = slack.team("T1")
    async with serve_slack(slack):
        env = command_env(
            tmp_path / "slack.db", SLACK_BOT_TOKEN=team.token, SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=slack.api_url, SIGNALBOT_HTTP_HOST="127.0.0.1", SIGNALBOT_HTTP_PORT="0",
        )  # fmt: skip
        process, first = await start_bot(env)
        assert first.startswith("signalbot: taking Slack's requests at http://127.0.0.1:"), first
        url = first.split(" at ", 1)[1].strip()
        body = urlencode({
            "team_id": "T1", "channel_id": "C1", "user_id": "U1", "command": "/signals",
            "text": "subscribe europe", "response_url": slack.response_url("k"),
        })  # fmt: skip
        stamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": SignatureVerifier(SECRET).generate_signature(
                timestamp=stamp, body=body
            ),
        }
        async with aiohttp.ClientSession() as session, session.post(url, data=body, headers=headers) as response:
            assert response.status == 200
        for _ in range(200):
            if slack.posted():
                break
            await asyncio.sleep(0.05)
        (confirmation,) = slack.posted()
        assert confirmation["text"].startswith("Subscribed to Europe (europe)")
        err = await stop_bot(process)
    output = first + err
    assert "Traceback" not in output and team.token not in output and SECRET not in output


async def test_the_bot_serves_slack_over_socket_mode(tmp_path: Path) -> None:
    slack = FakeSlack()
    team = slack.team("T1")
    slack.app_tokens.add("xapp-1-run-test")
    async with serve_slack(slack):
        env = command_env(
            tmp_path / "socket.db", SLACK_BOT_TOKEN=team.token, SLACK_APP_TOKEN="xapp-1-run-test",
            SLACK_API_URL=slack.api_url,
        )  # fmt: skip
        process, first = await start_bot(env)
        assert first == "signalbot: taking Slack's requests over Socket Mode\n", first
        payload = {"team_id": "T1", "channel_id": "C1", "user_id": "U1", "command": "/signals",
                   "text": "subscribe asia", "response_url": slack.response_url("k")}  # fmt: skip
        await slack.envelope("slash_commands", payload, within=20)
        for _ in range(200):
            if slack.posted():
                break
            await asyncio.sleep(0.05)
        (confirmation,) = slack.posted()
        assert confirmation["text"].startswith("Subscribed to Asia (asia)")
        err = await stop_bot(process)
    assert "Traceback" not in err and "xapp-1-run-test" not in err


async def test_a_token_slack_refuses_stops_the_bot_with_one_line(tmp_path: Path) -> None:
    slack = FakeSlack()
    slack.team("T1")
    async with serve_slack(slack):
        env = command_env(
            tmp_path / "refused.db", SLACK_BOT_TOKEN="xoxb-revoked-long-ago",
            SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=slack.api_url,
        )  # fmt: skip
        process = await asyncio.create_subprocess_exec(
            SIGNALBOT, "run", env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        _, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 2
    assert err.decode() == "signalbot: SIGNALBOT_SLACK_BOT_TOKEN: Slack refused it (invalid_auth)\n"


async def test_the_bot_takes_installs_in_many_workspaces(tmp_path: Path) -> None:
    slack = FakeSlack()
    async with serve_slack(slack):
        env = command_env(
            tmp_path / "oauth.db", SLACK_CLIENT_ID=slack.client_id,
            SLACK_CLIENT_SECRET=slack.client_secret, SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=slack.api_url, SIGNALBOT_HTTP_HOST="127.0.0.1", SIGNALBOT_HTTP_PORT="0",
        )  # fmt: skip
        process, first = await start_bot(env)
        assert first.endswith("/slack/events (install at /slack/install)\n"), first
        base = first.split(" at ", 1)[1].split("/slack/events")[0]
        async with aiohttp.ClientSession() as session, session.get(f"{base}/slack/install") as page:
            assert page.status == 200 and "slack.com/oauth/v2/authorize" in await page.text()
        err = await stop_bot(process)
    assert slack.client_secret not in first + err
