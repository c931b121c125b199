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


async def test_the_bot_serves_slack_until_told_to_stop(tmp_path: Path) -> None:
    slack = FakeSlack()
    team = slack.team("T1")
    async with serve_slack(slack):
        env = command_env(
            tmp_path / "slack.db", SLACK_BOT_TOKEN=team.token, SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=slack.api_url, SIGNALBOT_HTTP_HOST="127.0.0.1", SIGNALBOT_HTTP_PORT="0",
        )  # fmt: skip
        process = await asyncio.create_subprocess_exec(
            SIGNALBOT, "run", env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        assert process.stderr is not None
        first = (await asyncio.wait_for(process.stderr.readline(), 30)).decode()
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
        process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, err
    output = first + err.decode()
    assert "Traceback" not in output and team.token not in output and SECRET not in output
