"""``signalbot run`` with a Discord token, as an operator runs it: it connects to Discord
(beside Slack when both are set) and answers there until SIGTERM; a refused token stops it
with one line naming the setting."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.adapters.slack.test_run import start_bot, stop_bot
from tests.conftest import SIGNALBOT, command_env
from tests.fakes.discord import (
    MANAGE_CHANNELS,
    MEMBER_PERMISSIONS,
    Channel,
    FakeDiscord,
    serve_discord,
)
from tests.fakes.slack import FakeSlack, serve_slack

TOKEN = "fake-bot-token.for-signalbot-run-tests"
G1 = 1000 << 22
NEWS = 5001


def fake_discord() -> FakeDiscord:
    fake = FakeDiscord(token=TOKEN)
    fake.guild(G1, "Newsroom", [Channel(NEWS, G1, "news")])
    return fake


async def test_the_bot_runs_in_discord_and_slack_in_one_process(tmp_path: Path) -> None:
    fake, slack = fake_discord(), FakeSlack()
    team = slack.team("T1")
    async with serve_discord(fake), serve_slack(slack):
        env = command_env(
            tmp_path / "both.db", DISCORD_TOKEN=TOKEN, SIGNALBOT_DISCORD_API_URL=fake.api_url,
            SLACK_BOT_TOKEN=team.token, SLACK_SIGNING_SECRET="run-secret",
            SLACK_API_URL=slack.api_url, SIGNALBOT_HTTP_HOST="127.0.0.1", SIGNALBOT_HTTP_PORT="0",
        )  # fmt: skip
        process, first = await start_bot(env)
        assert first.startswith("signalbot: taking Slack's requests"), first
        await fake.wait_ready(within=30)
        asked = await fake.slash("signals subscribe", {"regions": "lagos"}, channel_id=NEWS,
                                 permissions=MEMBER_PERMISSIONS | MANAGE_CHANNELS)  # fmt: skip
        reply = await fake.first_response(asked, within=10)
        assert reply.ok and not reply.ephemeral
        assert "Africa" in (reply.data.get("content") or "")
        err = await stop_bot(process)
    output = first + err
    assert "Traceback" not in output and TOKEN not in output and team.token not in output
    assert len(fake.command_syncs) == 1


async def test_a_refused_discord_token_stops_the_bot_naming_the_setting(tmp_path: Path) -> None:
    fake = fake_discord()
    async with serve_discord(fake):
        env = command_env(tmp_path / "bad.db", DISCORD_TOKEN="not-the-bot-token.at-all-000",
                          SIGNALBOT_DISCORD_API_URL=fake.api_url)  # fmt: skip
        process = await asyncio.create_subprocess_exec(
            SIGNALBOT, "run", env=env, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 2
    lines = err.decode().strip().splitlines()
    assert lines[-1] == "signalbot: SIGNALBOT_DISCORD_TOKEN: Discord refused it (401 Unauthorized)"
    assert "Traceback" not in err.decode() and "not-the-bot-token" not in err.decode()

