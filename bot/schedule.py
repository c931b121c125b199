"""When pushes are due: APScheduler's cron trigger in each subscription's own time zone.

A daily push goes out once per local day across DST changes: on the spring-forward day a time
that does not exist (02:30 in New York) fires at the same instant as 03:30; on the fall-back
day a time that happens twice (01:30) fires only the first time, because the next push is
always looked for from the start of the local day after the last one.
"""

from __future__ import annotations

import difflib
import re
import zoneinfo
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, lru_cache
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]

from bot.domain import Subscription

ALL_DAYS = (0, 1, 2, 3, 4, 5, 6)
_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_TIME = re.compile(r"^(\d{1,2})(?::(\d{2}))?\s*([ap]\.?m\.?)?$", re.I)


class ScheduleError(ValueError):
    """A time, day list or time zone a user typed that cannot be used; says what to type."""


def parse_time_of_day(text: str) -> time:
    """'07:30', '7:30', '7am', '19:05', '7:30pm' -> a time; '25:00' -> ScheduleError."""
    match = _TIME.match(text.strip())
    if match:
        hour, minute = int(match.group(1)), int(match.group(2) or 0)
        meridiem = (match.group(3) or "").lower().replace(".", "")
        if meridiem:
            if not 1 <= hour <= 12:
                match = None
            else:
                hour = hour % 12 + (12 if meridiem == "pm" else 0)
        if match and hour <= 23 and minute <= 59 and (match.group(2) or meridiem):
            return time(hour, minute)
    raise ScheduleError(
        f'"{text}" is not a time of day: use 24-hour HH:MM from 00:00 to 23:59, e.g. "at 07:30"'
    )


def parse_days(text: str) -> tuple[int, ...]:
    """'daily', 'weekdays', 'weekends' or a list like 'mon,wed,fri' -> weekday numbers."""
    word = text.strip().lower()
    if word in ("daily", "every day", "everyday", "all"):
        return ALL_DAYS
    if word == "weekdays":
        return (0, 1, 2, 3, 4)
    if word == "weekends":
        return (5, 6)
    days: set[int] = set()
    for part in re.split(r"[\s,]+", word):
        if not part:
            continue
        found = [i for i, name in enumerate(_DAY_NAMES) if len(part) >= 3 and name.startswith(part)]
        if not found:
            raise ScheduleError(
                f'"{part}" is not a day: use daily, weekdays, weekends or days like mon,wed,fri'
            )
        days.add(found[0])
    if not days:
        raise ScheduleError("no days given: use daily, weekdays, weekends or days like mon,wed,fri")
    return tuple(sorted(days))


@cache
def _zone_names() -> dict[str, str]:
    return {name.lower(): name for name in zoneinfo.available_timezones()}


def zone_name(text: str) -> str | None:
    """The proper spelling of an IANA zone name, or None if ``text`` is not exactly one."""
    return _zone_names().get(text.strip().lower())


def parse_timezone(text: str) -> str:
    """An IANA zone name in its proper spelling ('europe/paris' -> 'Europe/Paris')."""
    name = zone_name(text)
    if name is not None:
        return name
    close = difflib.get_close_matches(text.strip().lower(), list(_zone_names()), n=1, cutoff=0.6)
    hint = f' Did you mean "{_zone_names()[close[0]]}"?' if close else ""
    raise ScheduleError(
        f'"{text}" is not a time zone I know: use an IANA name like Europe/Brussels or '
        f"America/New_York.{hint}"
    )


@cache
def _trigger(hour: int, minute: int, days: tuple[int, ...], zone: str) -> CronTrigger:
    return CronTrigger(
        hour=hour,
        minute=minute,
        second=0,
        day_of_week=",".join(str(d) for d in days),
        timezone=ZoneInfo(zone),
    )


@lru_cache(maxsize=4096)  # a scan asks the same question for every channel with that schedule
def next_push(
    push_time: time,
    zone: str,
    days: tuple[int, ...],
    after: datetime,
    *,
    last_local_day: date | None = None,
) -> datetime:
    """The next push at or after ``after`` (UTC), never on or before ``last_local_day``."""
    if after.tzinfo is None:
        raise ValueError("after must be timezone-aware")
    tz = ZoneInfo(zone)
    start = after
    if last_local_day is not None:
        day_after = datetime.combine(last_local_day + timedelta(days=1), time(0), tzinfo=tz)
        start = max(start, day_after)
    fire: datetime | None = _trigger(
        push_time.hour, push_time.minute, days, zone
    ).get_next_fire_time(None, start)
    if fire is None:  # a cron trigger without an end date always has a next time
        raise AssertionError("cron trigger returned no next fire time")
    return fire.astimezone(UTC)


def next_push_for(sub: Subscription, after: datetime) -> datetime:
    """The next push of a subscription, at most one per local day."""
    last_day = sub.last_push_at.astimezone(sub.zone).date() if sub.last_push_at else None
    return next_push(sub.push_time, sub.timezone, sub.days, after, last_local_day=last_day)


@lru_cache(maxsize=4096)  # a due-scan asks for the same few (time, zone) pairs thousands of times
def local_day(when: datetime, zone: str) -> date:
    """The date at ``when`` in ``zone``."""
    return when.astimezone(ZoneInfo(zone)).date()
