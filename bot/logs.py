"""The process's log: human-readable lines by default, one JSON object a line with
``SIGNALBOT_LOG_FORMAT=json``; never a token or a secret, in any line at any level, tracebacks
included.

Secrets are taken out of the finished line (message, arguments and traceback together), so
nothing a library logs gets past: the settings' own secrets by value, and anything shaped like
a Slack or Discord token or an ``Authorization`` header by its form (a workspace's OAuth
token lives in the database, not in the settings).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TextIO

from bot.config import Settings

REDACTED = "[redacted]"

# Slack tokens (bot, user, app-level, refresh, config) and Discord bot tokens (three base64url
# parts: the bot's id, a timestamp, an HMAC), and credentials in headers or URLs.
TOKEN_SHAPES = re.compile(
    r"\bxox[abposre]-[0-9A-Za-z-]{8,}"
    r"|\bxapp-[0-9A-Za-z-]{8,}"
    r"|\b[\w-]{23,28}\.[\w-]{6,7}\.[\w-]{27,40}\b"
    r"|(?<=\bBot )[\w.~+/=-]{16,}|(?<=\bBearer )[\w.~+/=-]{16,}|(?<=\bBasic )[\w.~+/=-]{16,}"
    r"|(?<=://)[^/\s:@]+:[^/\s@]+(?=@)"
)


def secrets_of(settings: Settings) -> list[str]:
    """The settings' secret values (and the database password), longest first."""
    found = [
        value.get_secret_value()
        for name in type(settings).model_fields
        if (value := getattr(settings, name)) is not None and hasattr(value, "get_secret_value")
    ]
    match = re.search(r"://[^/\s:@]+:([^/\s@]+)@", settings.database_url)
    if match:
        found.append(match.group(1))
    return sorted({s for s in found if len(s) >= 4}, key=len, reverse=True)


class Redacting(logging.Formatter):
    """Formats a record as its inner formatter does, then takes every secret out."""

    def __init__(self, inner: logging.Formatter, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.inner = inner
        self.secrets = list(secrets)

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(self.inner.format(record))

    def redact(self, line: str) -> str:
        for secret in self.secrets:
            line = line.replace(secret, REDACTED)
        return TOKEN_SHAPES.sub(REDACTED, line)


class JsonLines(logging.Formatter):
    """One JSON object a line: time (UTC), level, logger, message, and the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["traceback"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _not_a_long_run(record: logging.LogRecord) -> bool:
    """False for the scheduler's word that a job's next run was skipped, its last still
    running: a due-scan that outlasts its interval (a big push) is no fault, and the next
    scan takes what is left."""
    return "maximum number of running instances reached" not in str(record.msg)


def configure(
    settings: Settings, *, level: int | None = None, stream: TextIO | None = None
) -> logging.Handler:
    """Send every log record to ``stream`` (stderr) in the chosen format, secrets taken out;
    the root logger at ``level`` (the setting's by default). Returns the handler (replacing
    any before it)."""
    level = settings.log_level_number if level is None else level
    inner = JsonLines() if settings.log_format == "json" else logging.Formatter(TEXT_FORMAT)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(Redacting(inner, secrets_of(settings)))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("alembic", "apscheduler"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, level))
    scheduler = logging.getLogger("apscheduler.scheduler")
    if _not_a_long_run not in scheduler.filters:
        scheduler.addFilter(_not_a_long_run)
    return handler
