"""The settings as an env file: ``deploy/signalbot.env.example`` is :func:`env_example`'s text.

Made from :class:`bot.config.Settings` (names, defaults, descriptions), so the example cannot
drift from the code: ``signalbot settings example > deploy/signalbot.env.example`` (or ``make
env-example``) writes it again, and ``tests/test_deploy.py`` fails when the two differ.
Every setting is commented out at its default: copied as it is, the file changes nothing.
"""

from __future__ import annotations

import sys
import textwrap
from datetime import timedelta
from typing import Any

import typer
from pydantic import AliasChoices, SecretStr, TypeAdapter
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from bot.config import Settings

WIDTH = 100
REGENERATE = "signalbot settings example > deploy/signalbot.env.example"

HEADER = (
    "signalbot settings: every one, commented out at its default.",
    "Generated from bot.config.Settings: change a setting's description in bot/config.py, not "
    "here, and write this file again with `make env-example`, or:",
    f"  {REGENERATE}",
    "Copy it to .env in the directory signalbot runs in (for the systemd unit, "
    "/opt/signalbot/.env), or to deploy/signalbot.env for deploy/compose.yaml; then uncomment "
    "and set what you need. A setting left commented out keeps its default; one set in the "
    "environment wins over the file. Write values bare, without quotes. Secrets have no "
    "default: keep the file readable by the bot's user only.",
)

# (name prefix, heading, what to know): settings in the order they are declared, each under the
# first section whose prefix its name starts with; the rest under the "" section.
SECTIONS: tuple[tuple[str, str, str], ...] = (
    (
        "database_",
        "Database",
        "A SQLite file for one machine; PostgreSQL for several replicas sharing one database "
        "(postgresql+asyncpg://user:password@host:5432/signalbot).",
    ),
    ("", "Feeds, schedule and logs", ""),
    (
        "slack_",
        "Slack",
        "See deploy/slack/manifest.yml and the README. One workspace: the bot token with the "
        "signing secret (Slack's requests over HTTP) or with an app-level token (Socket Mode). "
        "Many workspaces: the client id and secret with the signing secret (OAuth).",
    ),
    (
        "http_",
        "HTTP server",
        "Slack's requests (POST /slack/events), GET /healthz and GET /metrics.",
    ),
    (
        "discord_",
        "Discord",
        "See the README. Intents: guilds only; no privileged intent. The shard settings split "
        "the gateway across processes.",
    ),
)


def env_names(settings: type[BaseSettings], name: str) -> list[str]:
    """The environment variables a setting is read from, its own name first."""
    prefix = str(settings.model_config.get("env_prefix", ""))
    own = (prefix + name).upper()
    alias = settings.model_fields[name].validation_alias
    choices = alias.choices if isinstance(alias, AliasChoices) else [alias]
    names = [c.upper() for c in choices if isinstance(c, str)] or [own]
    first = own if own in names else names[0]
    return [first, *dict.fromkeys(n for n in names if n != first)]


def _secret(field: FieldInfo) -> bool:
    return "SecretStr" in str(field.annotation)


def env_value(value: Any) -> str:
    """A default as it is written in the env file (what the setting reads back as itself)."""
    if value is None or isinstance(value, SecretStr):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, timedelta):
        return str(TypeAdapter(timedelta).dump_python(value, mode="json"))
    if isinstance(value, list | tuple | set | frozenset):
        return ",".join(env_value(item) for item in value)
    return str(value)


def _comment(text: str) -> list[str]:
    return textwrap.wrap(text, WIDTH - 2, initial_indent="# ", subsequent_indent="# ")


def _setting(settings: type[BaseSettings], name: str) -> list[str]:
    field = settings.model_fields[name]
    first, *others = env_names(settings, name)
    lines = _comment(field.description or name.replace("_", " "))
    if others:
        lines += _comment(f"Also read as {', '.join(others)}.")
    default = "" if _secret(field) else env_value(field.get_default(call_default_factory=True))
    return [*lines, f"# {first}={default}"]


def _section(name: str) -> str:
    return next((p for p, _, _ in SECTIONS if p and name.startswith(p)), "")


def env_example(settings: type[BaseSettings] = Settings) -> str:
    """Every setting of ``settings`` as a commented-out env file line at its default, under
    its description (and the other names it is read as), grouped by :data:`SECTIONS`."""
    lines: list[str] = []
    for paragraph in HEADER:
        text = [f"# {paragraph}"] if paragraph.startswith(" ") else _comment(paragraph)
        lines += [*(["#"] if lines else []), *text]
    for prefix, heading, about in SECTIONS:
        names = [n for n in settings.model_fields if _section(n) == prefix]
        if not names:
            continue
        lines += ["", "", f"# ---- {heading} ----"]
        if about:
            lines += _comment(about)
        for name in names:
            lines += ["", *_setting(settings, name)]
    return "\n".join(lines) + "\n"


settings_app = typer.Typer(help="The settings, as an env file.", no_args_is_help=True)


@settings_app.command("example")
def example() -> None:
    """Print every setting at its default, described: deploy/signalbot.env.example's text."""
    sys.stdout.write(env_example())


if __name__ == "__main__":
    sys.stdout.write(env_example())
