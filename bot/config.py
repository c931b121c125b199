"""Settings from the environment (``SIGNALBOT_*``) and an optional ``.env`` file.

Built by :func:`load_settings`, never at import time, so tests and tools construct their own.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.store.db import DatabaseURLError, normalise_url

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/signalbot.db"
ENV_PREFIX = "SIGNALBOT_"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", env_file_encoding="utf-8", extra="ignore"
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
    slack_bot_token: SecretStr | None = Field(None, description="Slack bot token (xoxb-…)")
    slack_signing_secret: SecretStr | None = Field(None, description="Slack signing secret")
    slack_app_token: SecretStr | None = Field(None, description="Slack app token for Socket Mode")
    discord_token: SecretStr | None = Field(None, description="Discord bot token")
    log_level: str = Field("INFO", description="Logging level")
    catch_up_grace: timedelta = Field(
        timedelta(hours=6),
        description="Missed pushes younger than this go out at start (seconds or PT6H)",
    )
    scan_interval: float = Field(5.0, gt=0, le=60, description="Seconds between due-scans")
    feed_interval: float = Field(300.0, ge=30, description="Seconds between feed polls")

    @field_validator("catch_up_grace", mode="before")
    @classmethod
    def _seconds(cls, value: Any) -> Any:
        if isinstance(value, str) and re.fullmatch(r"-?\d+(\.\d+)?", value.strip()):
            return timedelta(seconds=float(value))
        return value

    @field_validator("catch_up_grace")
    @classmethod
    def _not_negative(cls, value: timedelta) -> timedelta:
        if value < timedelta(0):
            raise ValueError("must not be negative (seconds, or a duration like PT6H)")
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

    @property
    def log_level_number(self) -> int:
        return logging.getLevelNamesMapping()[self.log_level]

    @field_validator("feeds", mode="before")
    @classmethod
    def _split_feeds(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part for part in re.split(r"[\s,]+", value) if part]
        return value


class SettingsError(ValueError):
    """A setting that cannot be used: the message names it (``SIGNALBOT_LOG_LEVEL: ...``)."""


def load_settings(**overrides: Any) -> Settings:
    """The settings from the environment and ``.env``; a :class:`SettingsError` names the first
    setting that cannot be used and why."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        first = error.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else ""
        name = ENV_PREFIX + field.upper() if field else "settings"
        reason = str(first["msg"]).removeprefix("Value error, ")
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
