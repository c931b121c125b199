"""Settings from the environment (``SIGNALBOT_*``) and an optional ``.env`` file.

Built by :func:`load_settings`, never at import time, so tests and tools construct their own.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.store.db import DatabaseURLError, normalise_url

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/signalbot.db"
ENV_PREFIX = "SIGNALBOT_"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _also(name: str) -> AliasChoices:
    """Read as ``SIGNALBOT_<NAME>`` and also as the platform's usual ``<NAME>``."""
    return AliasChoices(name.lower(), ENV_PREFIX + name, name)


SlackMode = Literal["http", "socket", "oauth"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL: a SQLite file (default) or postgresql+asyncpg://…",
    )
    feeds: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="RSS/Atom feed URLs to poll, comma-separated"
    )
    fetch_timeout: float = Field(15.0, gt=0, description="Seconds before a fetch gives up")
    fetch_retries: int = Field(3, ge=0, le=10, description="Retries after a failed fetch")
    user_agent: str | None = Field(None, description="User-Agent for fetches (a polite default)")
    slack_bot_token: SecretStr | None = Field(
        None, validation_alias=_also("SLACK_BOT_TOKEN"), description="Slack bot token (xoxb-…)"
    )
    slack_signing_secret: SecretStr | None = Field(
        None, validation_alias=_also("SLACK_SIGNING_SECRET"), description="Slack signing secret"
    )
    slack_app_token: SecretStr | None = Field(
        None, validation_alias=_also("SLACK_APP_TOKEN"),
        description="Slack app-level token (xapp-…): one workspace over Socket Mode",
    )  # fmt: skip
    slack_client_id: str | None = Field(
        None, validation_alias=_also("SLACK_CLIENT_ID"),
        description="Slack app's client id: many workspaces, installed through OAuth",
    )  # fmt: skip
    slack_client_secret: SecretStr | None = Field(
        None, validation_alias=_also("SLACK_CLIENT_SECRET"), description="Slack client secret"
    )
    slack_api_url: str = Field(
        "https://slack.com/api/", validation_alias=_also("SLACK_API_URL"),
        description="Where Slack Web API calls go (a proxy, a test server)",
    )  # fmt: skip
    slack_workspace_rate: float = Field(
        10.0,
        ge=0,
        description="Messages a second to one Slack workspace, every replica together (Slack "
        "allows several hundred a minute; 0: no pacing of our own, only Slack's 429s)",
    )
    slack_managers: Literal["everyone", "admins"] = Field(
        "everyone", validation_alias=_also("SLACK_MANAGERS"),
        description="Who may change a channel's subscriptions: everyone, or workspace admins",
    )  # fmt: skip
    http_host: str = Field("0.0.0.0", description="Address the HTTP server listens on")
    http_port: int = Field(3000, ge=0, le=65535, description="Port of the HTTP server (0: any)")
    discord_token: SecretStr | None = Field(
        None, validation_alias=_also("DISCORD_TOKEN"), description="Discord bot token"
    )
    discord_guild_id: int | None = Field(
        None, gt=0, description="Sync the commands to this one Discord server only (development)"
    )
    discord_shard_count: int | None = Field(
        None, ge=1, le=16384, description="Discord shards in all (with DISCORD_SHARD_IDS)"
    )
    discord_shard_ids: Annotated[list[int] | None, NoDecode] = Field(
        None, description="The Discord shards this process runs, comma-separated (e.g. 0,1)"
    )
    discord_rate: float = Field(
        49.0,
        ge=0,
        description="Requests a second to Discord for the whole bot, every replica together "
        "(Discord's global limit is 50, more for a bot Discord has raised; 0: no pacing of "
        "our own, only Discord's 429s)",
    )
    discord_api_url: str = Field(
        "https://discord.com/api/v10",
        description="Where Discord REST calls go (a proxy, a test server)",
    )
    discord_gateway_url: str | None = Field(
        None, description="Where the Discord gateway is (default: what Discord says)"
    )
    log_level: str = Field("INFO", description="Logging level")
    log_format: Literal["text", "json"] = Field(
        "text", description="Log lines for people (text) or one JSON object a line (json)"
    )
    catch_up_grace: timedelta = Field(
        timedelta(hours=6),
        description="Missed pushes younger than this go out at start (seconds or PT6H)",
    )
    scan_interval: float = Field(5.0, gt=0, le=60, description="Seconds between due-scans")
    feed_interval: float = Field(300.0, ge=30, description="Seconds between feed polls")
    ledger_retention: timedelta = Field(
        timedelta(days=90),
        description="How long the ledger keeps what was delivered (pruned hourly, never a "
        "story a push could still choose): seconds or P90D",
    )
    edit_window: timedelta = Field(
        timedelta(hours=48),
        description="Messages sent within this are edited when a story they show changes "
        "(seconds or PT48H; 0 edits nothing)",
    )

    @field_validator("catch_up_grace", "ledger_retention", "edit_window", mode="before")
    @classmethod
    def _seconds(cls, value: Any) -> Any:
        if isinstance(value, str) and re.fullmatch(r"-?\d+(\.\d+)?", value.strip()):
            return timedelta(seconds=float(value))
        return value

    @field_validator("catch_up_grace", "edit_window")
    @classmethod
    def _not_negative(cls, value: timedelta) -> timedelta:
        if value < timedelta(0):
            raise ValueError("must not be negative (seconds, or a duration like PT6H)")
        return value

    @field_validator("ledger_retention")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be positive (seconds, or a duration like P90D)")
        return value

    @field_validator("database_url")
    @classmethod
    def _database(cls, value: str) -> str:
        try:
            normalise_url(value)
        except DatabaseURLError as error:
            raise ValueError(str(error)) from None
        return value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            levels = ", ".join(LOG_LEVELS)
            raise ValueError(f"{value!r} is not a logging level: use one of {levels}")
        return level

    @field_validator("slack_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value.strip()):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.strip().rstrip("/") + "/"

    @field_validator("slack_bot_token", "slack_app_token")
    @classmethod
    def _token_kind(cls, value: SecretStr | None, info: Any) -> SecretStr | None:
        start = "xoxb-" if info.field_name == "slack_bot_token" else "xapp-"
        if value is not None and not value.get_secret_value().startswith(start):
            kind = "bot token" if start == "xoxb-" else "app-level token"
            raise ValueError(f"not a Slack {kind} (it starts with {start})")
        return value

    @field_validator("discord_api_url")
    @classmethod
    def _discord_api_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value.strip()):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.strip().rstrip("/")

    @field_validator("discord_gateway_url")
    @classmethod
    def _gateway_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^wss?://[^/\s]+", value.strip()):
            raise ValueError(f"{value!r} is not a ws(s) URL")
        return value.strip() if value else None

    @field_validator("discord_shard_ids", mode="before")
    @classmethod
    def _split_shards(cls, value: Any) -> Any:
        if isinstance(value, str):
            parts = [part for part in re.split(r"[\s,]+", value) if part]
            if not all(part.isdigit() for part in parts):
                raise ValueError(f"{value!r} is not a list of shard numbers (e.g. 0,1)")
            return [int(part) for part in parts] or None
        return value

    @field_validator("discord_token")
    @classmethod
    def _discord_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.fullmatch(r"[\w.\-]{20,}", value.get_secret_value()):
            raise ValueError("not a Discord bot token (the token from the Bot page)")
        return value

    @model_validator(mode="after")
    def _slack_complete(self) -> Settings:
        self.slack_mode  # noqa: B018 (raises where the Slack settings do not make one mode)
        return self

    @model_validator(mode="after")
    def _shards(self) -> Settings:
        ids, count = self.discord_shard_ids, self.discord_shard_count
        if ids is not None and count is None:
            count_name, ids_name = _env("discord_shard_count"), _env("discord_shard_ids")
            raise ValueError(f"{count_name}: needed with {ids_name}")
        if ids is not None and count is not None:
            wrong = [n for n in ids if n >= count]
            if wrong:
                raise ValueError(
                    f"{_env('discord_shard_ids')}: shard {wrong[0]} is not below "
                    f"{_env('discord_shard_count')} ({count})"
                )
            if len(set(ids)) != len(ids):
                raise ValueError(f"{_env('discord_shard_ids')}: a shard is named twice")
        return self

    @property
    def slack_mode(self) -> SlackMode | None:
        """How the bot reaches Slack, from the settings present: one workspace over HTTP or
        Socket Mode, or many workspaces through OAuth; None without Slack settings."""
        oauth = self.slack_client_id is not None or self.slack_client_secret is not None
        if oauth:
            for name in ("slack_client_id", "slack_client_secret", "slack_signing_secret"):
                if getattr(self, name) is None:
                    raise ValueError(f"{_env(name)}: needed to install in many workspaces")
            if self.slack_bot_token is not None or self.slack_app_token is not None:
                raise ValueError(
                    f"{_env('slack_bot_token')}: set either a bot token (one workspace) or a "
                    "client id and secret (many workspaces), not both"
                )
            return "oauth"
        if self.slack_bot_token is None:
            for name in ("slack_app_token", "slack_signing_secret"):
                if getattr(self, name) is not None:
                    raise ValueError(f"{_env('slack_bot_token')}: needed with {_env(name)}")
            return None
        if self.slack_app_token is not None:
            return "socket"
        if self.slack_signing_secret is None:
            raise ValueError(
                f"{_env('slack_signing_secret')}: needed with the bot token to take Slack's "
                f"requests over HTTP (or set {_env('slack_app_token')} for Socket Mode)"
            )
        return "http"

    @property
    def log_level_number(self) -> int:
        return logging.getLevelNamesMapping()[self.log_level]

    @field_validator("feeds", mode="before")
    @classmethod
    def _split_feeds(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part for part in re.split(r"[\s,]+", value) if part]
        return value


def _env(field: str) -> str:
    return ENV_PREFIX + field.upper()


class SettingsError(ValueError):
    """A setting that cannot be used: the message names it (``SIGNALBOT_LOG_LEVEL: ...``)."""


def load_settings(**overrides: Any) -> Settings:
    """The settings from the environment and ``.env``; a :class:`SettingsError` names the first
    setting that cannot be used and why."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        first = error.errors()[0]
        field = str(first["loc"][0]).lower() if first["loc"] else ""
        field = field.removeprefix(ENV_PREFIX.lower())
        reason = str(first["msg"]).removeprefix("Value error, ")
        if not field:  # a rule across settings: its message names the setting
            raise SettingsError(reason) from None
        name = _env(field)
        given = first.get("input")
        shown = isinstance(given, str | int | float) and not _secret(field)
        if shown and repr(given) not in reason:
            reason += f" (got {given!r})"
        raise SettingsError(f"{name}: {reason}") from None


def _secret(field: str) -> bool:
    if field == "database_url":  # it may hold a password
        return True
    annotation = Settings.model_fields[field].annotation if field in Settings.model_fields else None
    return "SecretStr" in str(annotation)
