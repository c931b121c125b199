"""What an operator sees: ``/healthz`` and ``/metrics`` on the bot's HTTP server, and logs that
never hold a secret."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import subprocess
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import aiohttp
from prometheus_client import REGISTRY
from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.console import ConsoleSender
from bot import logs, observe
from bot.app import Core, build_core
from bot.clock import FrozenClock
from bot.config import Settings
from bot.delivery.outcomes import pause_reason
from bot.domain import ChannelRef
from bot.lifecycle import PAUSED_BY, TOKEN_REFUSED, UNINSTALLED
from bot.store.ledger import Ask
from bot.store.stories import StoryStore
from bot.store.tables import UTCDateTime
from bot.web import WebServer
from tests.adapters.slack.test_run import stop_bot
from tests.conftest import SIGNALBOT, command_env, settings_for
from tests.fakes.discord import (
    MANAGE_CHANNELS,
    MEMBER_PERMISSIONS,
    Channel,
    FakeDiscord,
    serve_discord,
)
from tests.fakes.slack import FakeSlack, serve_slack
from tests.test_delivery import engine_for, story, subscribe

DISCORD_TOKEN = "MTAxNzQ4MzY0NTEyMzQ1Njc4OQ.GhT5aB.observe-test-secret-part-0123456789ab"
SIGNING_SECRET = "observe-signing-secret-5f4dcc3b"
G1 = 1000 << 22
NEWS = 5001


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_the_running_bot_serves_health_and_metrics_and_logs_no_secret(
    tmp_path: Path,
) -> None:
    """Both platforms at DEBUG, as JSON lines: healthy, counting, and not one secret."""
    fake = FakeDiscord(token=DISCORD_TOKEN)
    fake.guild(G1, "Newsroom", [Channel(NEWS, G1, "news")])
    slack = FakeSlack()
    team = slack.team("T1")
    async with serve_discord(fake), serve_slack(slack):
        env = command_env(
            tmp_path / "observe.db", DISCORD_TOKEN=DISCORD_TOKEN,
            SIGNALBOT_DISCORD_API_URL=fake.api_url, SLACK_BOT_TOKEN=team.token,
            SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=slack.api_url,
            SIGNALBOT_LOG_LEVEL="DEBUG", SIGNALBOT_LOG_FORMAT="json",
        )  # fmt: skip
        process = await asyncio.create_subprocess_exec(
            SIGNALBOT, "run", env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        assert process.stderr is not None
        first, said = "", [""]
        while "health and metrics" not in said[-1]:  # what it says once serving, as JSON too
            line = (await asyncio.wait_for(process.stderr.readline(), 30)).decode()
            first += line
            if json.loads(line)["logger"] == "signalbot":
                said.append(json.loads(line)["message"])
        said.pop(0)
        assert said[0].startswith("taking Slack's requests at http://127.0.0.1:"), said
        base = said[-1].split(" at ", 1)[1].split("/healthz")[0]
        await fake.wait_ready(within=30)
        asked = await fake.slash("signals subscribe", {"regions": "lagos"}, channel_id=NEWS,
                                 permissions=MEMBER_PERMISSIONS | MANAGE_CHANNELS)  # fmt: skip
        assert (await fake.first_response(asked, within=10)).ok
        async with aiohttp.ClientSession() as session:
            for _ in range(100):  # healthy once every shard is ready (guilds streamed in)
                async with session.get(f"{base}/healthz") as answer:
                    health = await answer.json()
                if answer.status == 200:
                    break
                assert health["checks"]["discord"] == "not connected to the gateway yet"
                await asyncio.sleep(0.1)
            async with session.get(f"{base}/metrics") as answer:
                assert answer.status == 200
                assert answer.headers["Content-Type"].startswith("text/plain")
                metrics = await answer.text()
        err = await stop_bot(process)
    assert health == {
        "status": "ok", "checks": {"database": "ok", "slack": "ok", "discord": "ok"}
    }  # fmt: skip
    assert (
        'signalbot_command_seconds_count{command="subscribe",platform="discord"} 1.0' in metrics
    )
    for name in ("signalbot_push_claims", "signalbot_messages_reserved",
                 'signalbot_paused_subscriptions{reason="failures"}'):  # fmt: skip
        assert f"{name} 0.0" in metrics, name
    output = first + err
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) > 20  # DEBUG: the libraries said plenty
    for line in lines:
        entry = json.loads(line)  # every line is one JSON object
        assert {"time", "level", "logger", "message"} <= set(entry)
    for secret in (DISCORD_TOKEN, team.token, SIGNING_SECRET):
        assert secret not in output


async def test_health_is_503_naming_what_is_down(tmp_path: Path) -> None:
    unreachable = settings_for("postgresql+asyncpg://postgres@127.0.0.1:9/nowhere")
    core = build_core(unreachable)
    server = WebServer("127.0.0.1", 0)
    health = observe.Health()
    health.add("database", observe.database_check(core))

    async def shard_down() -> str | None:
        return "shard 1 disconnected"

    health.add("discord", shard_down)
    observe.mount(server, core, health)
    await server.start()
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{server.port}/healthz") as answer:
                assert answer.status == 503
                body = await answer.json()
            # the counters still answer when the database does not
            async with session.get(f"http://127.0.0.1:{server.port}/metrics") as answer:
                assert answer.status == 200
                assert "# HELP signalbot_deliveries_total" in await answer.text()
    finally:
        await server.stop()
        await core.close()
    assert body["status"] == "down"
    assert body["checks"]["discord"] == "shard 1 disconnected"
    assert body["checks"]["database"].startswith("cannot reach the database")


async def test_pushes_count_their_outcome_and_lateness(engine: AsyncEngine) -> None:
    clock = FrozenClock(datetime(2026, 11, 25, 5, 0, tzinfo=UTC))
    sent: list[str] = []
    delivery = engine_for(engine, clock, {"console": ConsoleSender(sent.append)})
    channel = ChannelRef("console", "t", "#metrics")
    sub = await subscribe(engine, clock, channel, at=time(7, 0), zone="UTC")
    assert sub.next_push_at is not None
    await StoryStore(engine).save(story(1, sub.next_push_at - timedelta(hours=1)),
                                  now=clock.now())  # fmt: skip
    before_sent = sample("signalbot_deliveries_total", platform="console", outcome="sent")
    before_lag = sample("signalbot_push_lag_seconds_sum", platform="console")
    before_count = sample("signalbot_push_lag_seconds_count", platform="console")
    clock.set(sub.next_push_at + timedelta(seconds=90))
    await delivery.run_due()
    assert len(sent) == 1
    assert sample("signalbot_deliveries_total", platform="console", outcome="sent") == (
        before_sent + 1
    )
    assert sample("signalbot_push_lag_seconds_count", platform="console") == before_count + 1
    lag = sample("signalbot_push_lag_seconds_sum", platform="console") - before_lag
    assert lag == 90.0


def settings_with_secrets(**more: str) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None, database_url="postgresql+asyncpg://bot:db-password-77@db/signalbot",
        discord_token=DISCORD_TOKEN, slack_bot_token="xoxb-1111-2222-settingstoken",
        slack_signing_secret=SIGNING_SECRET, **more,
    )  # fmt: skip


def logged(settings: Settings, emit: object) -> str:
    stream = io.StringIO()
    handler = logs.configure(settings, stream=stream)
    try:
        assert callable(emit)
        emit(logging.getLogger("tests.observe"))
    finally:
        logging.getLogger().removeHandler(handler)
    return stream.getvalue()


def test_secrets_never_reach_a_log_line_in_messages_arguments_or_tracebacks() -> None:
    settings = settings_with_secrets(log_level="DEBUG")
    workspace_token = "xoxb-9999-8888-oauthtokenfromthedatabase"  # not in the settings

    def emit(log: logging.Logger) -> None:
        log.debug("token %s and secret %s", DISCORD_TOKEN, SIGNING_SECRET)
        log.info("Authorization: Bot %s", "a" * 40)
        log.warning("connecting to postgresql://bot:db-password-77@db/signalbot")
        try:
            raise RuntimeError(f"refused {workspace_token} and xapp-1-A111-2222-appleveltoken")
        except RuntimeError:
            log.exception("sending failed with %s", "xoxb-1111-2222-settingstoken")

    for log_format in ("text", "json"):
        output = logged(settings.model_copy(update={"log_format": log_format}), emit)
        assert "Traceback" in output or '"traceback"' in output
        for secret in (DISCORD_TOKEN, SIGNING_SECRET, "db-password-77", workspace_token,
                       "xoxb-1111-2222-settingstoken", "appleveltoken", "a" * 40):  # fmt: skip
            assert secret not in output, (log_format, secret)
        assert output.count(logs.REDACTED) >= 7


def test_json_logs_are_one_object_a_line() -> None:
    settings = settings_with_secrets(log_format="json")

    def emit(log: logging.Logger) -> None:
        log.warning("a line\nwith a break and \"quotes\"")
        try:
            1 / 0  # noqa: B018
        except ZeroDivisionError:
            log.error("it failed", exc_info=True)

    lines = logged(settings, emit).splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["message"] == 'a line\nwith a break and "quotes"'
    assert first["level"] == "WARNING" and first["logger"] == "tests.observe"
    assert "ZeroDivisionError" in second["traceback"]


async def test_the_gauges_read_the_shared_state(core: Core) -> None:
    """Pauses counted by why (each reason as the code that pauses writes it), claims and
    reservations in flight: what every replica reports alike."""
    now = core.clock.now()
    reasons = {
        "member": f"{PAUSED_BY}ana on 2026-11-25 12:00 UTC",
        "failures": pause_reason("HTTP 500"),
        "uninstalled": UNINSTALLED,
        "token_refused": TOKEN_REFUSED,
        "other": "something else",
    }
    for n, reason in enumerate(reasons.values()):
        sub = await subscribe(core.engine, core.clock, ChannelRef("console", "t", f"#{n}"))  # type: ignore[arg-type]
        assert sub.id is not None
        async with core.engine.begin() as conn:
            await conn.execute(
                text("UPDATE subscriptions SET paused = :yes, paused_reason = :why WHERE id = :id"),
                {"yes": True, "why": reason, "id": sub.id},
            )
    claims = text(
        "INSERT INTO push_claims (subscription_id, claimed_by, claimed_at)"
        " VALUES (901, 'c', :at), (902, 'c', :at)"
    ).bindparams(bindparam("at", now, UTCDateTime))
    async with core.engine.begin() as conn:
        await conn.execute(claims)
    await core.ledger.reserve(
        [Ask(1, ChannelRef("console", "t", "#x"), None, ["s1", "s2"])], token="r", at=now
    )
    await observe.refresh_gauges(core)
    for label in reasons:
        assert REGISTRY.get_sample_value("signalbot_paused_subscriptions", {"reason": label}) == 1
    assert REGISTRY.get_sample_value("signalbot_push_claims") == 2
    assert REGISTRY.get_sample_value("signalbot_messages_reserved") == 1


def test_a_scan_that_outlasts_its_interval_is_not_logged_as_a_fault() -> None:
    def emit(log: logging.Logger) -> None:
        scheduler = logging.getLogger("apscheduler.scheduler")
        scheduler.warning(
            'Execution of job "%s" skipped: maximum number of running instances reached (%d)',
            "BotService.scan", 1,
        )  # fmt: skip
        scheduler.warning("Run time of job %s was missed by %s", "BotService.tidy", "0:00:03")

    output = logged(Settings(_env_file=None), emit)  # type: ignore[call-arg]
    assert "skipped" not in output and "was missed by" in output
