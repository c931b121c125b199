"""Settings from the environment (``SIGNALBOT_*``) and an optional ``.env`` file.

Built by :func:`load_settings`, never at import time, so tests and tools construct their own.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/signalbot.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SIGNALBOT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
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
        if isinstance(value, str) and re.fullmatch(r"\d+(\.\d+)?", value.strip()):
            return timedelta(seconds=float(value))
        return value

    @field_validator("feeds", mode="before")
    @classmethod
    def _split_feeds(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part for part in re.split(r"[\s,]+", value) if part]
        return value


def load_settings(**overrides: Any) -> Settings:
    return Settings(**overrides)
