"""Settings fail fast: a bad value ends every command with status 2 and one line naming it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import SettingsError, load_settings
from tests.test_cli import assert_clean_failure, run

BAD = [
    ("SIGNALBOT_LOG_LEVEL", "bogus", "is not a logging level"),
    ("SIGNALBOT_SCAN_INTERVAL", "-1", "greater than 0"),
    ("SIGNALBOT_FEED_INTERVAL", "often", "valid number"),
    ("SIGNALBOT_CATCH_UP_GRACE", "-60", "must not be negative"),
    ("SIGNALBOT_LEDGER_RETENTION", "0", "must be positive"),
    ("SIGNALBOT_LEDGER_RETENTION", "-PT1H", "must be positive"),
    ("SIGNALBOT_LEDGER_RETENTION", "ninety days", "valid timedelta"),
    ("SIGNALBOT_FETCH_RETRIES", "99", "less than or equal to 10"),
    ("SIGNALBOT_DATABASE_URL", "mysql://root@localhost/db", "unsupported database"),
    ("SIGNALBOT_DATABASE_URL", "::nonsense::", "not a database URL"),
    ("SIGNALBOT_DISCORD_TOKEN", "short", "not a Discord bot token"),
    ("DISCORD_TOKEN", "has spaces in it, which no token has", "not a Discord bot token"),
    ("SIGNALBOT_DISCORD_SHARD_IDS", "0,1", "SIGNALBOT_DISCORD_SHARD_COUNT: needed"),
    ("SIGNALBOT_DISCORD_SHARD_IDS", "zero", "is not a list of shard numbers"),
    ("SIGNALBOT_DISCORD_GUILD_ID", "my-server", "valid integer"),
    ("SIGNALBOT_DISCORD_API_URL", "discord.com/api", "is not an http(s) URL"),
    ("SIGNALBOT_DISCORD_GATEWAY_URL", "http://gateway", "is not a ws(s) URL"),
    ("SIGNALBOT_DISCORD_RATE", "-5", "greater than or equal to 0"),
    ("SIGNALBOT_SLACK_WORKSPACE_RATE", "fast", "valid number"),
]


@pytest.mark.parametrize(("name", "value", "reason"), BAD)
def test_a_bad_setting_is_named_with_its_reason(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, reason: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as raised:
        load_settings(_env_file=None)
    named = name if name.startswith("SIGNALBOT_") else f"SIGNALBOT_{name}"
    if reason.startswith("SIGNALBOT_"):  # a rule across settings names the one missing
        named = reason.split(":")[0]
    assert str(raised.value).startswith(f"{named}: ")
    assert reason in str(raised.value)
    assert value not in str(raised.value) or "TOKEN" not in name  # a token is never echoed


def test_discord_shards_are_checked_against_their_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNALBOT_DISCORD_SHARD_COUNT", "2")
    monkeypatch.setenv("SIGNALBOT_DISCORD_SHARD_IDS", "1, 2")
    with pytest.raises(SettingsError) as raised:
        load_settings(_env_file=None)
    assert str(raised.value) == (
        "SIGNALBOT_DISCORD_SHARD_IDS: shard 2 is not below SIGNALBOT_DISCORD_SHARD_COUNT (2)"
    )
    monkeypatch.setenv("SIGNALBOT_DISCORD_SHARD_IDS", "0,1")
    monkeypatch.setenv("DISCORD_TOKEN", "a" * 24 + "." + "b" * 6 + "." + "c" * 27)
    settings = load_settings(_env_file=None)
    assert settings.discord_shard_ids == [0, 1] and settings.discord_token is not None


def test_good_settings_are_read_and_normalised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNALBOT_LOG_LEVEL", "debug")
    monkeypatch.setenv("SIGNALBOT_CATCH_UP_GRACE", "90")
    settings = load_settings(_env_file=None)
    assert settings.log_level == "DEBUG" and settings.catch_up_grace == timedelta(seconds=90)
    assert settings.ledger_retention == timedelta(days=90)  # the default
    for given, retention in (("86400", timedelta(days=1)), ("P30D", timedelta(days=30))):
        monkeypatch.setenv("SIGNALBOT_LEDGER_RETENTION", given)
        assert load_settings(_env_file=None).ledger_retention == retention


@pytest.mark.parametrize(
    "url", ["mysql://bob:hunter2@db/x", "postgresql://bob:hunter2@db:notaport/x", "::bob:hunter2@x"]
)
def test_a_database_password_is_never_echoed(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("SIGNALBOT_DATABASE_URL", url)
    with pytest.raises(SettingsError) as raised:
        load_settings(_env_file=None)
    assert str(raised.value).startswith("SIGNALBOT_DATABASE_URL: ")
    assert "hunter2" not in str(raised.value)


def test_a_secret_is_never_echoed() -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(_env_file=None, discord_token=987654321)
    assert str(raised.value).startswith("SIGNALBOT_DISCORD_TOKEN: ")
    assert "987654321" not in str(raised.value)
    with pytest.raises(SettingsError) as raised:
        load_settings(_env_file=None, scan_interval=-3)
    assert "(got -3)" in str(raised.value)  # other values are shown


@pytest.mark.parametrize(
    "args", [["run"], ["regions"], ["stories", "list"], ["db", "upgrade"], ["parse", "x.txt"]]
)
def test_every_command_stops_at_a_bad_setting(tmp_path: Path, args: list[str]) -> None:
    result = run(*args, db=tmp_path / "s.db", SIGNALBOT_LOG_LEVEL="bogus")
    assert_clean_failure(result, "SIGNALBOT_LOG_LEVEL", "'bogus' is not a logging level")


@pytest.mark.parametrize(
    ("env", "mode"),
    [
        ({}, None),
        ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}, "http"),
        ({"SIGNALBOT_SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"}, "socket"),
        ({"SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "c", "SLACK_SIGNING_SECRET": "s"}, "oauth"),
    ],
)
def test_the_slack_settings_present_choose_how_slack_is_reached(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], mode: str | None
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert load_settings(_env_file=None).slack_mode == mode


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SIGNALBOT_SLACK_SIGNING_SECRET: needed with the bot token"),
        ({"SLACK_BOT_TOKEN": "xoxp-1", "SLACK_SIGNING_SECRET": "s"}, "SIGNALBOT_SLACK_BOT_TOKEN: not a Slack bot token"),
        ({"SLACK_APP_TOKEN": "xapp-1"}, "SIGNALBOT_SLACK_BOT_TOKEN: needed with SIGNALBOT_SLACK_APP_TOKEN"),
        ({"SLACK_CLIENT_ID": "1.2", "SLACK_SIGNING_SECRET": "s"}, "SIGNALBOT_SLACK_CLIENT_SECRET: needed"),
        ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "SLACK_MANAGERS": "owners"}, "SIGNALBOT_SLACK_MANAGERS"),
        ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "SLACK_API_URL": "slack"}, "SIGNALBOT_SLACK_API_URL: 'slack' is not an http(s) URL"),
        ({"SIGNALBOT_HTTP_PORT": "70000"}, "SIGNALBOT_HTTP_PORT"),
    ],
)  # fmt: skip
def test_slack_settings_that_do_not_fit_are_named(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as raised:
        load_settings(_env_file=None)
    assert str(raised.value).startswith(message)
    assert "xoxb-1" not in str(raised.value) and "xoxp-1" not in str(raised.value)
