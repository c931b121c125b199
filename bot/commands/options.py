"""What a client with typed options (Discord) needs to offer the parameters: each kind's
option type, fixed choices, and suggestions as the user types (regions with their aliases,
IANA zones with the likely ones first).

Suggestions never fail: whatever was typed, the answer is a list (empty for garbage), at
most :data:`MAX_SUGGESTIONS` long.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Literal

from bot import regions
from bot.commands.registry import Kind, Param
from bot.domain import WEEKDAYS
from bot.schedule import ScheduleError, parse_days

MAX_SUGGESTIONS = 25  # Discord's limit for autocomplete answers and choices
CHOICE_LIMIT = 100  # characters of a choice's name and value


@dataclass(frozen=True)
class Choice:
    value: str
    name: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class OptionSpec:
    """How a typed client offers one parameter."""

    type: Literal["string", "integer"]
    autocomplete: Literal["regions", "zones", "days"] | None = None
    choices: tuple[Choice, ...] = ()
    min_value: int | None = None
    max_value: int | None = None


_DAYS = (Choice("daily", "every day"), Choice("weekdays", "Monday to Friday"),
         Choice("weekends", "Saturday and Sunday"))  # fmt: skip
_MODES = (Choice("digest", "digest: one push a day"),
          Choice("instant", "instant: each story as it arrives"))  # fmt: skip

# Every kind, as a typed option (the registry test checks none is missing).
OPTION_TYPES: dict[Kind, OptionSpec] = {
    Kind.REGION: OptionSpec("string", autocomplete="regions"),
    Kind.REGIONS: OptionSpec("string", autocomplete="regions"),
    Kind.TIME: OptionSpec("string"),
    Kind.ZONE: OptionSpec("string", autocomplete="zones"),
    # suggested, not fixed choices: "mon,wed,fri" must stay typeable
    Kind.DAYS: OptionSpec("string", autocomplete="days", choices=_DAYS),
    Kind.MODE: OptionSpec("string", choices=_MODES),
    Kind.COUNT: OptionSpec("integer"),
    Kind.STORY: OptionSpec("string"),
    Kind.TEXT: OptionSpec("string"),
    Kind.TOPICS: OptionSpec("string"),
    Kind.OUTLETS: OptionSpec("string"),
    Kind.WORDS: OptionSpec("string"),
    Kind.COMMAND: OptionSpec("string"),
}


def option_spec(param: Param) -> OptionSpec:
    spec = OPTION_TYPES[param.kind]
    if param.kind is Kind.COUNT:
        return OptionSpec("integer", min_value=param.low, max_value=param.high)
    return spec


@cache
def region_choices() -> tuple[Choice, ...]:
    """Every region a channel can subscribe to: its key, its name, and its aliases."""
    return tuple(
        Choice(r.key, f"{r.name} ({r.key})"[:CHOICE_LIMIT], r.aliases) for r in regions.REGIONS
    )


def suggest_regions(typed: str, *, allows_all: bool = False) -> list[Choice]:
    """Regions whose key, name or an alias matches what was typed (``bxl`` offers Europe);
    for a list ("europe, as") the last item is completed."""
    head, _, last = typed.rpartition(",")
    word = " ".join(last.lower().replace("-", " ").split())
    prefix = f"{head.strip()}, " if head.strip() else ""
    ranked: list[tuple[int, int, Choice]] = []
    for order, choice in enumerate(region_choices()):
        names = [choice.value.replace("-", " "), choice.name.lower()]
        names += [alias.replace("-", " ") for alias in choice.aliases]
        if not word or any(name.startswith(word) for name in names):
            rank = 0
        elif any(word in name for name in names):
            rank = 1
        else:
            continue
        ranked.append((rank, order, choice))
    ranked.sort(key=lambda item: item[:2])
    found = [
        Choice(f"{prefix}{c.value}"[:CHOICE_LIMIT], f"{prefix}{c.name}"[:CHOICE_LIMIT], c.aliases)
        for _, _, c in ranked
    ]
    if allows_all and (not word or "all".startswith(word)) and not prefix:
        found.insert(0, Choice("all", "all of this channel's subscriptions"))
    return found[:MAX_SUGGESTIONS]


@cache
def _zones() -> tuple[str, ...]:
    return tuple(sorted(z for z in zoneinfo.available_timezones() if "/" in z or z == "UTC"))


def suggest_zones(typed: str, likely: Iterable[str] = ()) -> list[Choice]:
    """IANA zones containing what was typed (``paris``, ``europe/pa``, ``new york``), the
    ``likely`` ones (the channel's, the regions' home zones) first."""
    word = typed.strip().lower().replace(" ", "_")
    if len(word) > CHOICE_LIMIT:
        return []
    likely = list(dict.fromkeys(likely))
    home = [r.timezone.key for r in regions.REGIONS]
    order = {name: n for n, name in enumerate(dict.fromkeys([*likely, *home]))}

    def rank(zone: str) -> tuple[int, int, str]:
        lower = zone.lower()
        starts = lower.startswith(word) or any(p.startswith(word) for p in lower.split("/"))
        return (order.get(zone, len(order)), 0 if starts else 1, zone)

    if not word:
        return [Choice(z, z) for z in order][:MAX_SUGGESTIONS]
    matches = [z for z in _zones() if word in z.lower()]
    return [Choice(z, z) for z in sorted(matches, key=rank)[:MAX_SUGGESTIONS]]


def suggestions(param: Param, typed: str, *, likely_zones: Iterable[str] = ()) -> list[Choice]:
    """What to offer for ``param`` as the user types ``typed``."""
    spec = option_spec(param)
    if spec.autocomplete == "regions":
        return suggest_regions(typed, allows_all=param.allows_all)
    if spec.autocomplete == "zones":
        return suggest_zones(typed, likely_zones)
    word = typed.strip().lower()
    found = [c for c in spec.choices if word in c.value or word in c.name.lower()]
    if spec.autocomplete == "days" and word and not found:
        try:  # a list of days typed out: offered back as it will be read
            days = parse_days(word)
        except ScheduleError:
            return []
        shown = ",".join(WEEKDAYS[d] for d in days)
        found = [Choice(shown, shown)]
    return found[:MAX_SUGGESTIONS]
