"""``bot.schedule`` on its own: what users type for times, days and zones, and when pushes
fall, across DST changes in both directions."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain import ChannelRef, Subscription
from bot.schedule import (
    ALL_DAYS,
    ScheduleError,
    next_push,
    next_push_for,
    parse_days,
    parse_time_of_day,
    parse_timezone,
)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("07:30", time(7, 30)), ("7:30", time(7, 30)), ("19:05", time(19, 5)),
        ("00:00", time(0, 0)), ("23:59", time(23, 59)), ("7am", time(7, 0)),
        ("7 pm", time(19, 0)), ("7:30pm", time(19, 30)), ("7:30 P.M.", time(19, 30)),
        ("12am", time(0, 0)), ("12pm", time(12, 0)), (" 6:05AM ", time(6, 5)),
    ],
)  # fmt: skip
def test_times_of_day(typed: str, expected: time) -> None:
    assert parse_time_of_day(typed) == expected


@pytest.mark.parametrize("typed", ["25:00", "24:00", "07:60", "7", "13pm", "0am", "noon", ""])
def test_what_is_not_a_time_of_day_says_what_to_type(typed: str) -> None:
    with pytest.raises(ScheduleError, match="24-hour HH:MM"):
        parse_time_of_day(typed)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("daily", ALL_DAYS), ("every day", ALL_DAYS), ("weekdays", (0, 1, 2, 3, 4)),
        ("Weekends", (5, 6)), ("mon,wed,fri", (0, 2, 4)), ("fri, mon", (0, 4)),
        ("tuesday thu", (1, 3)), ("sun,sun", (6,)),
    ],
)  # fmt: skip
def test_days(typed: str, expected: tuple[int, ...]) -> None:
    assert parse_days(typed) == expected


@pytest.mark.parametrize("typed", ["funday", "mo", "mon,xyz", ",", ""])
def test_what_is_not_a_day_list_says_what_to_type(typed: str) -> None:
    with pytest.raises(ScheduleError, match="weekdays, weekends or days like mon,wed,fri"):
        parse_days(typed)


def test_time_zones_get_their_proper_spelling() -> None:
    assert parse_timezone("europe/paris") == "Europe/Paris"
    assert parse_timezone(" AMERICA/NEW_YORK ") == "America/New_York"
    assert parse_timezone("UTC") == "UTC"


def test_a_zone_misspelt_gets_a_suggestion() -> None:
    with pytest.raises(ScheduleError, match='Did you mean "Europe/Paris"'):
        parse_timezone("Europe/Pari")
    with pytest.raises(ScheduleError, match="IANA name") as raised:
        parse_timezone("nowhere at all")
    assert "Did you mean" not in str(raised.value)


def local(zone: str, *fields: int, fold: int = 0) -> datetime:
    return datetime(*fields, tzinfo=ZoneInfo(zone), fold=fold)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("zone", "at", "day", "fires", "fold"),
    [
        # spring forward: a time that does not exist fires an hour on, at the same instant
        ("Europe/Brussels", time(2, 30), date(2026, 3, 29), time(3, 30), 0),
        ("America/New_York", time(2, 30), date(2026, 3, 8), time(3, 30), 0),
        # fall back: a time that happens twice fires the first time only
        ("Europe/Brussels", time(2, 30), date(2026, 10, 25), time(2, 30), 0),
        ("America/New_York", time(1, 30), date(2026, 11, 1), time(1, 30), 0),
        ("Asia/Singapore", time(7, 0), date(2026, 3, 29), time(7, 0), 0),  # no DST at all
    ],
)
def test_next_push_across_dst(zone: str, at: time, day: date, fires: time, fold: int) -> None:
    tz = ZoneInfo(zone)
    eve = datetime.combine(day - timedelta(days=1), time(12, 0), tzinfo=tz)
    first = next_push(at, zone, ALL_DAYS, eve.astimezone(UTC), last_local_day=eve.date())
    local_first = first.astimezone(tz)
    assert first.tzinfo == UTC
    assert (local_first.date(), local_first.time(), local_first.fold) == (day, fires, fold)
    # asked again just after it fired (the fall-back hour repeats): the next day's
    after = next_push(at, zone, ALL_DAYS, first + timedelta(minutes=1), last_local_day=day)
    assert after.astimezone(tz).date() == day + timedelta(days=1)
    assert after.astimezone(tz).time() == at


def test_next_push_keeps_to_the_days_and_wants_an_aware_time() -> None:
    friday_evening = datetime(2026, 11, 27, 20, 0, tzinfo=UTC)
    monday = next_push(time(7, 0), "UTC", (0, 1, 2, 3, 4), friday_evening)
    assert monday == datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="timezone-aware"):
        next_push(time(7, 0), "UTC", ALL_DAYS, datetime(2026, 11, 27, 20, 0))


@pytest.mark.parametrize(
    ("zone", "at", "pushed"),
    [
        ("America/New_York", time(1, 30), local("America/New_York", 2026, 11, 1, 1, 30)),
        ("Europe/Brussels", time(2, 30), local("Europe/Brussels", 2026, 10, 25, 2, 30)),
        ("Europe/Brussels", time(7, 0), local("Europe/Brussels", 2026, 11, 25, 7, 0)),
    ],
)
def test_next_push_for_is_never_twice_a_local_day(zone: str, at: time, pushed: datetime) -> None:
    sub = Subscription(channel=ChannelRef("console", "t", "#s"), region="europe", push_time=at,
                       timezone=zone, last_push_at=pushed.astimezone(UTC))  # fmt: skip
    for minutes in (0, 1, 61, 120):  # through the repeated hour, where there is one
        following = next_push_for(sub, pushed.astimezone(UTC) + timedelta(minutes=minutes))
        assert following.astimezone(ZoneInfo(zone)).date() == pushed.date() + timedelta(days=1)
