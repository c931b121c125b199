"""The operator's commands: ``signalbot subscriptions list|export|import``, ``signalbot
deliveries`` and ``signalbot doctor`` (registered in :mod:`bot.cli`, whose helpers they use).

The subscription file ``export`` writes and ``import`` reads is JSON: ``{"format":
"signalbot.subscriptions", "version": 1, "exported_at": ..., "subscriptions": [...]}``, one
object a subscription with everything needed to make it again (see :func:`subscription_record`).
An import checks every row first and names each bad one by its line; then it writes all of
them in one transaction, or nothing.
"""

from __future__ import annotations

import asyncio
import difflib
import json
import os
import re
from bisect import bisect_right
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol, TypeVar

import typer
from rich.table import Table

from bot import regions
from bot.clock import SystemClock
from bot.domain import WEEKDAYS, ChannelRef, DeliveryMode, Filters, Subscription
from bot.logs import secrets_of
from bot.schedule import (
    ScheduleError,
    next_push_for,
    parse_days,
    parse_time_of_day,
    parse_timezone,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from bot.app import Core
    from bot.config import Settings
    from bot.store.db import MigrationState
    from bot.store.ledger import SentMessage

subscriptions_app = typer.Typer(
    help="Look at, export and import the channels' subscriptions.", no_args_is_help=True
)

FILE_FORMAT = "signalbot.subscriptions"
FILE_VERSION = 1
PLATFORMS = ("slack", "discord", "console")  # the adapters' platform names
REQUIRED = ("platform", "workspace", "channel", "region", "time", "timezone")
OPTIONAL = ("days", "mode", "filters", "paused", "paused_reason", "next_push_at",
            "last_push_at", "last_result", "failures", "created_at")  # fmt: skip
FILTERS = ("topics", "sources", "keywords", "exclude")
LONGEST = {"platform": 16, "workspace": 64, "channel": 128, "timezone": 64}  # the columns'
SHOWN_PROBLEMS = 50  # bad rows named, at most
T = TypeVar("T")


def _platform_option(platform: str | None) -> str | None:
    from bot.cli import _fail

    if platform is not None and platform not in PLATFORMS:
        _fail(f"--platform {platform}: use one of {', '.join(PLATFORMS)}")
    return platform


# --- signalbot subscriptions list ----------------------------------------------------------------


def _schedule(sub: Subscription) -> str:
    if sub.mode == "instant":
        return "as stories arrive"
    return f"{sub.days_label} {sub.push_time:%H:%M} {sub.timezone}"


@subscriptions_app.command("list")
def subscriptions_list(
    platform: Annotated[
        str | None, typer.Option(help="Only this platform's: slack, discord or console")
    ] = None,
    paused: Annotated[bool, typer.Option("--paused", help="Only the paused ones")] = False,
) -> None:
    """Every channel's subscriptions: schedule, mode, pause, failures, last result."""
    from bot.cli import _run, _with_core, out

    chosen = _platform_option(platform)
    found = _run(
        lambda: _with_core(
            lambda core: core.subscriptions.matching(platform=chosen, paused=paused or None)
        )
    )
    if not found:
        out.print("No subscriptions match." if chosen or paused else "No subscriptions.")
        return
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for name in ("platform", "workspace", "channel", "region", "schedule", "mode", "paused",
                 "failures", "last result"):  # fmt: skip
        table.add_column(name, overflow="fold", justify="right" if name == "failures" else "left")
    for sub in found:
        why = f"yes: {sub.paused_reason or 'no reason given'}" if sub.paused else "no"
        table.add_row(
            sub.channel.platform, sub.channel.workspace, sub.channel.channel, sub.region,
            _schedule(sub), sub.mode, why, str(sub.failures), sub.last_result or "—",
        )  # fmt: skip
    out.print(table)
    held = sum(sub.paused for sub in found)
    out.print(f"{_count(len(found), 'subscription')}, {held} paused.")


def _count(n: int, noun: str, nouns: str | None = None) -> str:
    return f"{n} {noun if n == 1 else nouns or noun + 's'}"


# --- the subscription file -----------------------------------------------------------------------


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.astimezone(UTC).isoformat()


def subscription_record(sub: Subscription) -> dict[str, Any]:
    """A subscription as the file holds it: what it asks for, then its record of pushes."""
    return {
        "platform": sub.channel.platform,
        "workspace": sub.channel.workspace,
        "channel": sub.channel.channel,
        "region": sub.region,
        "time": f"{sub.push_time:%H:%M}",
        "timezone": sub.timezone,
        "days": [WEEKDAYS[day] for day in sub.days],
        "mode": sub.mode,
        "filters": {name: list(getattr(sub.filters, name)) for name in FILTERS},
        "paused": sub.paused,
        "paused_reason": sub.paused_reason,
        "next_push_at": _iso(sub.next_push_at),
        "last_push_at": _iso(sub.last_push_at),
        "last_result": sub.last_result,
        "failures": sub.failures,
        "created_at": _iso(sub.created_at),
    }


def subscription_file(subs: Iterable[Subscription], now: datetime) -> str:
    """The whole file: indented JSON, one subscription a line (a line names a subscription,
    and two exports compare line by line)."""
    head = {"format": FILE_FORMAT, "version": FILE_VERSION, "exported_at": _iso(now)}
    lines = [f"  {json.dumps(key)}: {json.dumps(value)}," for key, value in head.items()]
    rows = ["    " + json.dumps(subscription_record(sub), ensure_ascii=False) for sub in subs]
    body = ",\n".join(rows)
    return "\n".join(
        ["{", *lines, '  "subscriptions": [', *([body] if rows else []), "  ]", "}", ""]
    )


class BadFile(ValueError):
    """A subscription file that cannot be imported: every problem found, each a sentence that
    starts with the file's name and the line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class _Row:
    """One subscription's object, read field by field; what is wrong gathers in ``problems``."""

    raw: dict[str, Any]
    problems: list[str] = field(default_factory=list)

    def wrong(self, name: str, message: str) -> None:
        self.problems.append(f'"{name}" {message}')

    def text(self, name: str, *, optional: bool = False) -> str | None:
        value = self.raw.get(name)
        if value is None and optional:
            return None
        if not isinstance(value, str) or not value.strip():
            self.wrong(
                name, "must be a text that is not empty" if name in self.raw else "is missing"
            )
            return None
        if len(value) > LONGEST.get(name, 10_000):
            self.wrong(name, f"is longer than {LONGEST.get(name, 10_000)} characters")
            return None
        return value

    def parsed(self, name: str, parse: Callable[[str], Any], *, optional: bool = False) -> Any:
        value = self.text(name, optional=optional)
        if value is None:
            return None
        try:
            return parse(value)
        except ValueError as error:  # ScheduleError, UnknownRegion: a sentence naming it
            self.problems.append(f'"{name}": {error}')
            return None

    def when(self, name: str) -> datetime | None:
        value = self.raw.get(name)
        if value is None:
            return None
        try:
            if not isinstance(value, str):
                raise ValueError
            parsed = datetime.fromisoformat(value)
        except ValueError:
            self.wrong(name, f"{_shown(value)} is not a time (ISO 8601: 2026-11-25T07:00:00+00:00)")
            return None
        if parsed.tzinfo is None:
            self.wrong(name, f"{_shown(value)} has no UTC offset (as in 2026-11-25T07:00:00+00:00)")
            return None
        return parsed.astimezone(UTC)


def _shown(value: Any) -> str:
    """A value as the file has it (JSON)."""
    return json.dumps(value, ensure_ascii=False)


def _region_key(text: str) -> str:
    return regions.resolve(text).key


def _time(text: str) -> time:
    if re.fullmatch(r"\d{1,2}:\d{2}", text.strip()):
        try:
            return parse_time_of_day(text)
        except ScheduleError:
            pass
    raise ScheduleError(f'"{text}" is not a time of day: use 24-hour HH:MM, 00:00 to 23:59')


def _days(row: _Row) -> tuple[int, ...]:
    value = row.raw.get("days")
    if value is None:
        return (0, 1, 2, 3, 4, 5, 6)
    if isinstance(value, list) and all(isinstance(day, str) for day in value):
        value = ",".join(value)
    if isinstance(value, str):
        try:
            return parse_days(value)
        except ScheduleError as error:
            row.wrong("days", str(error))
            return ()
    row.wrong("days", 'must be a list of days like ["mon", "wed", "fri"], or "daily", "weekdays"'
                      ' or "weekends"')  # fmt: skip
    return ()


def _filters(row: _Row) -> Filters:
    value = row.raw.get("filters")
    if value is None:
        return Filters()
    if not isinstance(value, dict):
        row.wrong("filters", f"must be an object with lists: {', '.join(FILTERS)}")
        return Filters()
    lists: dict[str, tuple[str, ...]] = {}
    for name, items in value.items():
        if name not in FILTERS:
            row.wrong("filters", f'has an unknown list "{name}"{_suggest(name, FILTERS)}')
        elif not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            row.wrong("filters", f'"{name}" must be a list of texts')
        else:
            lists[name] = tuple(items)
    return Filters(**lists)


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""


def _subscription(raw: Any) -> Subscription:
    """A subscription from its object in the file; a :class:`ValueError` says what is wrong
    with it (everything wrong, "; " between)."""
    if not isinstance(raw, dict):
        raise ValueError("is not an object (each subscription is a JSON object: {...})")
    row = _Row(raw)
    for name in raw:
        if name not in REQUIRED and name not in OPTIONAL:
            row.problems.append(f'unknown field "{name}"{_suggest(name, REQUIRED + OPTIONAL)}')
    platform = row.text("platform")
    if platform is not None and platform not in PLATFORMS:
        row.wrong("platform", f"{_shown(platform)} is not one of {', '.join(PLATFORMS)}")
    workspace, channel = row.text("workspace"), row.text("channel")
    region = row.parsed("region", _region_key)
    push_time = row.parsed("time", _time)
    zone = row.parsed("timezone", parse_timezone)
    days = _days(row)
    mode = row.raw.get("mode", "digest")
    if mode not in ("digest", "instant"):
        row.wrong("mode", f"{_shown(mode)} is neither digest nor instant")
    paused = row.raw.get("paused", False)
    if not isinstance(paused, bool):
        row.wrong("paused", "must be true or false")
    reason = row.text("paused_reason", optional=True)
    last_result = row.text("last_result", optional=True)
    failures = row.raw.get("failures", 0)
    if isinstance(failures, bool) or not isinstance(failures, int) or failures < 0:
        row.wrong("failures", "must be a whole number, 0 or more")
    filters = _filters(row)
    next_push_at, last_push_at = row.when("next_push_at"), row.when("last_push_at")
    created_at = row.when("created_at")
    if row.problems:
        raise ValueError("; ".join(row.problems))
    assert platform and workspace and channel and region and push_time and zone
    chosen: DeliveryMode = "instant" if mode == "instant" else "digest"
    return Subscription(
        channel=ChannelRef(platform, workspace, channel), region=region, push_time=push_time,
        timezone=zone, days=days, mode=chosen, filters=filters, paused=paused,
        paused_reason=reason if paused else None, next_push_at=next_push_at,
        last_push_at=last_push_at, last_result=last_result, failures=failures,
        created_at=created_at,
    )  # fmt: skip


def _with_next_push(sub: Subscription, now: datetime) -> Subscription:
    """The next push an imported subscription keeps: the file's while it is still ahead (or
    the subscription is paused: resuming sets one), else the next by its schedule; none for
    instant alerts."""
    if sub.mode == "instant":
        return replace(sub, next_push_at=None)
    if sub.next_push_at is not None and (sub.paused or sub.next_push_at >= now):
        return sub
    return replace(sub, next_push_at=next_push_for(sub, now))


_SPACE = re.compile(r"\s*")


def _row_lines(text: str) -> list[int]:
    """The line each subscription of a valid JSON document starts on: the items of its
    top-level list, or of its "subscriptions" list."""
    decoder = json.JSONDecoder()

    def skip(at: int) -> int:
        found = _SPACE.match(text, at)
        return found.end() if found else at

    def members(at: int) -> Iterator[tuple[Any, int]]:
        """Each member of the list or object opening at ``at``: its index or key, and
        where its value starts."""
        closing = "]" if text[at] == "[" else "}"
        at, index = skip(at + 1), 0
        while text[at] != closing:
            key: Any = index
            if closing == "}":
                key, at = decoder.raw_decode(text, at)
                at = skip(skip(at) + 1)  # past the colon
            _, end = decoder.raw_decode(text, at)
            yield key, at
            at, index = skip(end), index + 1
            if text[at] == ",":
                at = skip(at + 1)

    rows = skip(0)
    if text[rows] == "{":
        for key, value in list(members(rows)):
            if key == "subscriptions":  # the last one, as json.loads keeps
                rows = value
    if text[rows] != "[":
        return []
    starts = [0, *(newline.end() for newline in re.finditer("\n", text))]
    return [bisect_right(starts, value) for _, value in members(rows)]


def read_subscription_file(text: str, name: str, now: datetime) -> list[Subscription]:
    """The subscriptions of a file :func:`subscription_file` wrote (or one like it), each with
    the next push it keeps; a :class:`BadFile` names every row that cannot be imported."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise BadFile(
            [f"{name}:{error.lineno}: not valid JSON: {error.msg} (column {error.colno})"]
        ) from None
    if isinstance(document, dict):
        version = document.get("version", FILE_VERSION)
        if document.get("format", FILE_FORMAT) != FILE_FORMAT:
            raise BadFile([f"{name}: not a subscription file (its format is "
                           f"{document.get('format')!r}, not {FILE_FORMAT!r})"])  # fmt: skip
        if not isinstance(version, int) or version > FILE_VERSION:
            raise BadFile([f"{name}: written in format version {version!r}; this signalbot "
                           f"reads version {FILE_VERSION} (upgrade it)"])  # fmt: skip
        rows = document.get("subscriptions")
    else:
        rows = document
    if not isinstance(rows, list):
        raise BadFile([f'{name}: no "subscriptions" list in it (as "signalbot subscriptions '
                       'export" writes)'])  # fmt: skip
    lines = _row_lines(text)
    problems: list[str] = []
    subs: list[Subscription] = []
    seen: dict[tuple[str, str, str, str], int] = {}
    for index, raw in enumerate(rows):
        line = lines[index] if index < len(lines) else None
        where = f"{name}:{line}" if line is not None else name
        try:
            sub = _subscription(raw)
        except ValueError as error:
            problems.append(f"{where}: subscription {index + 1}: {error}")
            continue
        target = (sub.channel.platform, sub.channel.workspace, sub.channel.channel, sub.region)
        if target in seen:
            problems.append(
                f"{where}: subscription {index + 1}: {sub.channel} {sub.region} is already "
                f"subscription {seen[target] + 1}, above: give each channel's region once"
            )
            continue
        seen[target] = index
        subs.append(_with_next_push(sub, now))
    if problems:
        raise BadFile(problems)
    return subs


# --- signalbot subscriptions export / import -----------------------------------------------------


@subscriptions_app.command("export")
def subscriptions_export(
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write to this file (default: standard output)"),
    ] = None,
) -> None:
    """Every subscription as JSON, with all it takes to make it again (see import)."""
    from bot.cli import _fail, _run, _with_core, out

    async def export(core: Core) -> tuple[str, int]:
        found = await core.subscriptions.matching()
        return subscription_file(found, core.clock.now()), len(found)

    document, count = _run(lambda: _with_core(export))
    if output is None:
        typer.echo(document, nl=False)
        return
    partial = output.with_name(f".{output.name}.partial")
    try:
        partial.write_text(document, encoding="utf-8")
        os.replace(partial, output)
    except OSError as error:
        partial.unlink(missing_ok=True)
        _fail(f"{output}: cannot write it ({error.strerror or error})")
    out.print(f"Exported {_count(count, 'subscription')} to {output}.", markup=False)


@subscriptions_app.command("import")
def subscriptions_import(
    file: Annotated[Path, typer.Argument(help="A file 'signalbot subscriptions export' wrote")],
) -> None:
    """Create or update the subscriptions a file holds (one transaction: all or nothing).

    Every row is checked first: one bad row, named by its line, and nothing is written.
    Importing a file again changes nothing; subscriptions not in the file stay as they are.
    """
    from bot.cli import _fail, _run, _with_core, err, out

    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        _fail(f"{file}: no such file")
    except UnicodeDecodeError:
        _fail(f"{file}: not a UTF-8 text file (a subscription file is JSON)")
    except OSError as error:
        _fail(f"{file}: cannot read it ({error.strerror or error})")
    try:
        subs = read_subscription_file(text, str(file), SystemClock().now())
    except BadFile as bad:
        for problem in bad.problems[:SHOWN_PROBLEMS]:
            err.print(f"signalbot: {problem}", markup=False)
        more = len(bad.problems) - SHOWN_PROBLEMS
        if more > 0:
            err.print(f"signalbot: {file}: and {more} more", markup=False)
        _fail(f"{file}: nothing was imported; correct the file and import it again")
    if not subs:
        out.print(f"{file}: no subscriptions in it; nothing changed.", markup=False)
        return
    counts = _run(
        lambda: _with_core(lambda core: core.subscriptions.import_all(subs, now=core.clock.now()))
    )
    if not counts.created and not counts.updated:
        out.print(
            f"{file}: nothing changed: its {_count(len(subs), 'subscription')} are stored "
            "as it has them.",
            markup=False,
        )
        return
    out.print(
        f"{file}: {_count(len(subs), 'subscription')}: {counts.created} created, "
        f"{counts.updated} updated, {counts.unchanged} unchanged.",
        markup=False,
    )


# --- signalbot deliveries ------------------------------------------------------------------------

_CHANNEL = re.compile(r"^(?P<platform>[a-z]+):(?P<workspace>[^/\s]+)/(?P<channel>\S+)$")
_SPAN = re.compile(r"^(?P<amount>\d+)\s*(?P<unit>[mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def _channel_option(value: str | None) -> dict[str, str]:
    """``--channel``: ``platform:workspace/channel`` (as the tables show it) or an id."""
    if value is None:
        return {}
    found = _CHANNEL.match(value.strip())
    if found:
        return found.groupdict()
    return {"channel": value.strip()}


def _since_option(value: str | None, now: datetime) -> datetime | None:
    """``--since``: a date (its midnight, UTC), a time (UTC unless it says), or 24h / 7d ago."""
    from bot.cli import _fail

    if value is None:
        return None
    text = value.strip()
    span = _SPAN.match(text.lower())
    if span:
        return now - timedelta(**{_UNITS[span["unit"]]: int(span["amount"])})
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        _fail(f"--since {value}: not a date or a time span; write 2026-11-25, "
              "2026-11-25T07:00 (UTC), 24h or 7d")  # fmt: skip
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _failure_detail(sub: Subscription) -> str:
    parts = []
    if sub.failures:
        last = sub.last_result or "no result kept"
        parts.append(f"{_count(sub.failures, 'failure')} in a row, the last: {last}")
    if sub.paused:
        parts.append(sub.paused_reason or "paused, no reason given")
    elif sub.next_push_at is not None:
        parts.append(f"next try {sub.next_push_at:%Y-%m-%d %H:%M} UTC")
    return "; ".join(parts)


def deliveries(
    channel: Annotated[
        str | None,
        typer.Option(help="One channel: its id, or platform:workspace/channel as shown"),
    ] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Only the failures")] = False,
    since: Annotated[
        str | None,
        typer.Option(help="Pushes sent since: a date (2026-11-25), a UTC time, or 24h / 7d ago"),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Show the newest this many")] = 50,
) -> None:
    """Recent pushes, failures first.

    The failures are the subscriptions whose deliveries fail now (failures in a row, or
    paused because the platform refused the workspace); a failure shows until a delivery
    succeeds. Then the newest messages sent, which --since narrows.
    """
    from bot import lifecycle
    from bot.cli import _run, _with_core, out

    where = _channel_option(channel)
    after = _since_option(since, SystemClock().now())

    async def look(core: Core) -> tuple[list[Subscription], list[SentMessage]]:
        refusals = (lifecycle.UNINSTALLED, lifecycle.TOKEN_REFUSED)
        failing = await core.subscriptions.failing(refusals=refusals, **where)
        if failed:
            return failing, []
        return failing, await core.ledger.recent(since=after, limit=limit, **where)

    failing, sent = _run(lambda: _with_core(look))
    if not failing and not sent:
        when = f" since {after:%Y-%m-%d %H:%M} UTC" if after else " yet"
        out.print("No failures." if failed else f"No failures, and no pushes{when}.")
        return
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for name in ("status", "when (UTC)", "channel", "region", "stories", "detail"):
        table.add_column(name, overflow="fold", justify="right" if name == "stories" else "left")
    for sub in failing:
        status = "paused" if sub.paused else "failing"
        table.add_row(status, "—", str(sub.channel), sub.region, "—", _failure_detail(sub))
    for message in sent:
        table.add_row(
            "sent" if message.state == "sent" else "sending",
            f"{message.at:%Y-%m-%d %H:%M}", str(message.channel), message.region or "—",
            str(message.stories),
            f"message {message.message_id}" if message.message_id else "",
        )  # fmt: skip
    out.print(table)
    summary = _count(len(failing), "subscription") + " failing"
    if not failed:
        summary += f"; {_count(len(sent), 'push', 'pushes')}"
        summary += f" since {after:%Y-%m-%d %H:%M} UTC" if after else ""
        summary += f" (the newest {limit}: --limit shows more)" if len(sent) == limit else ""
    out.print(summary + ".", markup=False)


# --- signalbot doctor ----------------------------------------------------------------------------

Status = Literal["ok", "FAIL", "skip"]
DATABASE_TIMEOUT = 10.0  # seconds


@dataclass(frozen=True)
class Check:
    """One line of ``signalbot doctor``."""

    status: Status
    name: str
    detail: str


def _describe_settings(settings: Settings) -> str:
    from bot.store.db import normalise_url

    url = normalise_url(settings.database_url)
    where = (
        f"SQLite file {url.database}" if url.get_backend_name() == "sqlite"
        else f"PostgreSQL at {url.host or 'localhost'}"
    )  # fmt: skip
    slack = {
        None: "not set", "http": "one workspace over HTTP", "socket": "one workspace over "
        "Socket Mode", "oauth": "many workspaces (OAuth)",
    }[settings.slack_mode]  # fmt: skip
    discord = "set" if settings.discord_token is not None else "not set"
    return f"database: {where}; Slack: {slack}; Discord: {discord}"


def _missing_sqlite_file(database: str | None) -> str | None:
    """The SQLite file named, when it is not there (connecting would make an empty one)."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return None if Path(database).expanduser().exists() else database


async def _database(settings: Settings) -> tuple[list[Check], AsyncEngine | None]:
    """The database answers, and its migrations are at the newest; the engine when it
    answers."""
    from sqlalchemy import text

    from bot.store import db

    setting = "SIGNALBOT_DATABASE_URL"
    url = db.normalise_url(settings.database_url)
    shown = db.redact(settings.database_url)
    untried = Check("skip", "migrations", "not checked: the database did not answer")
    missing = _missing_sqlite_file(url.database) if url.get_backend_name() == "sqlite" else None
    if missing is not None:
        absent = f"{setting}: no database file at {missing} ('signalbot db upgrade' makes it)"
        return [Check("FAIL", "database", absent), untried], None
    engine = db.create_engine(settings.database_url)
    try:
        async with asyncio.timeout(DATABASE_TIMEOUT):
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            state = await db.migration_state(engine)
    except Exception as error:
        await engine.dispose()
        problem = _database_problem(error, shown)
        if problem is None:
            raise
        return [Check("FAIL", "database", f"{setting}: {problem}"), untried], None
    version = ".".join(str(part) for part in engine.dialect.server_version_info or ())
    kind = "SQLite" if engine.dialect.name == "sqlite" else "PostgreSQL"
    answered = Check("ok", "database", f"{kind} {version} at {shown} answers")
    return [answered, _migrations(state)], engine


def _database_problem(error: Exception, shown: str) -> str | None:
    """What is wrong with the database, as the error says (None: an error of another kind)."""
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError

    if isinstance(error, TimeoutError):
        return f"no answer from {shown} in {DATABASE_TIMEOUT:.0f} s"
    if isinstance(error, DBAPIError | OSError):
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        return f"cannot use the database at {shown} ({reason})"
    if isinstance(error, SQLAlchemyError):
        return f"database error at {shown} ({str(error).splitlines()[0]})"
    return None


def _migrations(state: MigrationState) -> Check:
    upgrade = "run 'signalbot db upgrade' (the bot also does at start)"
    if state.at_head:
        return Check("ok", "migrations", f"at {state.head}, the newest")
    if state.current is None:
        return Check("FAIL", "migrations", f"none applied, the database is empty: {upgrade}")
    if state.behind is None:
        unknown = (
            f"at {state.current}, which this signalbot does not know (its newest is "
            f"{state.head}): a newer signalbot upgraded the database; upgrade this one"
        )
        return Check("FAIL", "migrations", unknown)
    behind = f"at {state.current}, {state.behind} behind the newest ({state.head}): {upgrade}"
    return Check("FAIL", "migrations", behind)


def _platform_check(
    name: str, verdict: str, said: str, token_setting: str, url_setting: str
) -> Check:
    if verdict == "ok":
        return Check("ok", name, said)
    return Check(
        "FAIL", name, f"{url_setting if verdict == 'unreachable' else token_setting}: {said}"
    )


def _missing_extra(name: str, error: ImportError) -> Check:
    return Check("FAIL", name, f"the {name} extra is not installed ({error.name} is missing): "
                               f"pip install 'signalbot[{name}]'")  # fmt: skip


class SlackDoctor(Protocol):
    """What ``adapters.slack.doctor`` answers (the CLI hands it over: bot/ knows no adapter)."""

    async def identify(self, token: str, api_url: str) -> tuple[str, str]: ...

    async def app_token_accepted(self, app_token: str, api_url: str) -> tuple[str, str]: ...

    async def installed_bots(
        self, engine: AsyncEngine, client_id: str
    ) -> list[tuple[str, str, str]]: ...


class DiscordDoctor(Protocol):
    """What ``adapters.discord.doctor`` answers."""

    async def identify(self, token: str, api_url: str) -> tuple[str, str]: ...


@dataclass(frozen=True)
class Doctors:
    """Each platform's checks, or why its adapter could not be imported (its extra missing)."""

    slack: SlackDoctor | ImportError
    discord: DiscordDoctor | ImportError


async def _slack(
    settings: Settings, engine: AsyncEngine | None, doctor: SlackDoctor | ImportError
) -> list[Check]:
    mode = settings.slack_mode
    if mode is None:
        return [Check("skip", "slack", "not configured (no SIGNALBOT_SLACK_BOT_TOKEN or "
                                       "SIGNALBOT_SLACK_CLIENT_ID)")]  # fmt: skip
    if isinstance(doctor, ImportError):
        return [_missing_extra("slack", doctor)]
    api = settings.slack_api_url
    url_setting = "SIGNALBOT_SLACK_API_URL"
    if settings.slack_bot_token is not None:  # one workspace
        checks = [
            _platform_check(
                "slack", *await doctor.identify(settings.slack_bot_token.get_secret_value(), api),
                "SIGNALBOT_SLACK_BOT_TOKEN", url_setting,
            )
        ]  # fmt: skip
        if settings.slack_app_token is not None:
            token = settings.slack_app_token.get_secret_value()
            checks.append(
                _platform_check("slack app", *await doctor.app_token_accepted(token, api),
                                "SIGNALBOT_SLACK_APP_TOKEN", url_setting)
            )  # fmt: skip
        return checks
    # many workspaces: each installation's bot token
    assert settings.slack_client_id is not None
    if engine is None:
        return [Check("skip", "slack", "installations not read: the database did not answer")]
    installed = await doctor.installed_bots(engine, settings.slack_client_id)
    if not installed:
        return [Check("ok", "slack", "no workspace has installed the app yet (at /slack/install)")]
    gate = asyncio.Semaphore(8)

    async def one(team: str, name: str, token: str) -> tuple[str, str, str, str]:
        async with gate:
            verdict, said = await doctor.identify(token, api)
        return team, name, verdict, said

    answers = await asyncio.gather(*(one(*bot) for bot in installed))
    for _, _, verdict, said in answers:
        if verdict == "unreachable":
            return [Check("FAIL", "slack", f"{url_setting}: {said}")]
    refused = [
        Check("FAIL", f"slack {team}", f"workspace {name}: {said}; install the app there again")
        for team, name, verdict, said in answers
        if verdict == "refused"
    ]
    every = (
        f"{_count(len(installed), 'workspace')} installed the app; Slack takes each one's bot token"
    )
    return refused or [Check("ok", "slack", every)]


async def _discord(settings: Settings, doctor: DiscordDoctor | ImportError) -> list[Check]:
    if settings.discord_token is None:
        return [Check("skip", "discord", "not configured (no SIGNALBOT_DISCORD_TOKEN)")]
    if isinstance(doctor, ImportError):
        return [_missing_extra("discord", doctor)]
    verdict, said = await doctor.identify(
        settings.discord_token.get_secret_value(), settings.discord_api_url
    )
    return [_platform_check("discord", verdict, said, "SIGNALBOT_DISCORD_TOKEN",
                            "SIGNALBOT_DISCORD_API_URL")]  # fmt: skip


async def _guarded(name: str, work: Awaitable[T]) -> T | list[Check]:
    """A check that failed unexpectedly is a line like any other, not a traceback."""
    try:
        return await work
    except Exception as error:  # the doctor reports; it does not crash
        return [Check("FAIL", name, f"the check itself failed: {type(error).__name__}: {error}")]


async def examine(settings: Settings, doctors: Doctors) -> list[Check]:
    """Every check of ``signalbot doctor``, in the order printed."""
    checks = [Check("ok", "settings", _describe_settings(settings))]
    database = await _guarded("database", _database(settings))
    engine = None
    if isinstance(database, tuple):
        found, engine = database
        checks += found
    else:
        checks += database
    try:
        for lines in await asyncio.gather(
            _guarded("slack", _slack(settings, engine, doctors.slack)),
            _guarded("discord", _discord(settings, doctors.discord)),
        ):
            checks += lines
    finally:
        if engine is not None:
            await engine.dispose()
    return checks


def doctor() -> None:
    """Check the settings, the database, its migrations and each platform's token.

    One line each: ok, or what is wrong. Exits 1 when anything is wrong.
    """
    from bot.cli import _platform_doctors, _run, loaded_settings, out
    from bot.config import SettingsError

    settings = loaded_settings()
    if isinstance(settings, SettingsError):  # nothing else can be checked without them
        out.print(f"FAIL  {'settings':<10}  {settings}", markup=False)
        out.print("1 problem found: the other checks need the settings.")
        raise typer.Exit(1) from None
    doctors = _platform_doctors()
    checks = _run(lambda: examine(settings, doctors))
    secrets = secrets_of(settings)
    for check in checks:
        line = f"{check.status:<4}  {check.name:<10}  {check.detail}"
        for secret in secrets:  # never shown, whatever a check met
            line = line.replace(secret, "***")
        out.print(line, markup=False)
    wrong = sum(check.status == "FAIL" for check in checks)
    out.print(f"{_count(wrong, 'problem')} found." if wrong else "All checks passed.")
    if wrong:
        raise typer.Exit(1)
