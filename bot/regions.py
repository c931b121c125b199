"""The region catalogue: keys, aliases, groups, home cities, time zones and push times.

Every region a channel can subscribe to is a key here. Leaf regions are what stories carry;
groups (``asia``, ``americas``, ``world``) and the ``europe`` > ``uk`` nesting expand to leaves
when a subscription is delivered. Aliases cover Semafor's bureau names (``bxl``, ``dc``, ``sg``,
...) and the names people type.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from datetime import time
from functools import cache
from zoneinfo import ZoneInfo

DEFAULT_PUSH_TIME = time(7, 0)


@dataclass(frozen=True)
class Region:
    key: str
    name: str
    home_city: str
    timezone: ZoneInfo
    push_time: time = DEFAULT_PUSH_TIME
    children: tuple[str, ...] = ()
    aliases: tuple[str, ...] = field(default=())
    # How Semafor's category line prints the region ("Middle East", "UK"), if it does.
    category_name: str | None = None
    # A pure group (asia, americas, world) is never a story's region; europe has a child (uk)
    # but is a region of its own.
    is_group: bool = False


def _region(
    key: str,
    name: str,
    city: str,
    tz: str,
    *,
    aliases: tuple[str, ...] = (),
    children: tuple[str, ...] = (),
    category: str | None = None,
) -> Region:
    return Region(
        key=key,
        name=name,
        home_city=city,
        timezone=ZoneInfo(tz),
        aliases=aliases,
        children=children,
        category_name=category,
        is_group=bool(children) and category is None,
    )


REGIONS: tuple[Region, ...] = (
    _region(
        "africa",
        "Africa",
        "Lagos",
        "Africa/Lagos",
        aliases=("lagos", "nigeria", "nairobi", "kenya", "dakar", "sub-saharan-africa"),
        category="Africa",
    ),
    _region(
        "europe",
        "Europe",
        "Brussels",
        "Europe/Brussels",
        aliases=("bxl", "brussels", "eu", "paris", "berlin"),
        children=("uk",),
        category="Europe",
    ),
    _region(
        "uk",
        "United Kingdom",
        "London",
        "Europe/London",
        aliases=("london", "britain", "great-britain", "united-kingdom", "england", "gb"),
        category="UK",
    ),
    _region(
        "middle-east",
        "Middle East",
        "Riyadh",
        "Asia/Riyadh",
        aliases=("riyadh", "dubai", "gulf", "mideast", "mena", "saudi", "saudi-arabia", "uae"),
        category="Middle East",
    ),
    _region(
        "east-asia",
        "East Asia",
        "Beijing",
        "Asia/Shanghai",
        aliases=("beijing", "china", "japan", "tokyo", "korea", "seoul", "hong-kong", "taiwan"),
        category="East Asia",
    ),
    _region(
        "south-asia",
        "South Asia",
        "New Delhi",
        "Asia/Kolkata",
        aliases=("india", "delhi", "new-delhi", "pakistan", "bangladesh", "mumbai"),
        category="South Asia",
    ),
    _region(
        "southeast-asia",
        "Southeast Asia",
        "Singapore",
        "Asia/Singapore",
        aliases=("sg", "singapore", "asean", "sea", "indonesia", "jakarta", "vietnam"),
        category="Southeast Asia",
    ),
    _region(
        "north-america",
        "North America",
        "Washington, D.C.",
        "America/New_York",
        aliases=(
            "dc",
            "d.c.",
            "washington",
            "us",
            "usa",
            "u.s.",
            "united-states",
            "america",
            "canada",
            "mexico",
            "new-york",
        ),
        category="North America",
    ),
    _region(
        "south-america",
        "South America",
        "São Paulo",
        "America/Sao_Paulo",
        aliases=("latam", "latin-america", "brazil", "sao-paulo", "argentina", "colombia"),
        category="South America",
    ),
    _region(
        "americas",
        "The Americas",
        "Washington, D.C.",
        "America/New_York",
        children=("north-america", "south-america"),
    ),
    _region(
        "asia",
        "Asia",
        "Singapore",
        "Asia/Singapore",
        children=("east-asia", "south-asia", "southeast-asia"),
    ),
    _region(
        "world",
        "World",
        "Washington, D.C.",
        "America/New_York",
        aliases=("all", "global", "everywhere"),
        children=("africa", "europe", "middle-east", "asia", "americas"),
    ),
)

_BY_KEY: dict[str, Region] = {r.key: r for r in REGIONS}


def _norm(text: str) -> str:
    """Lower-case, trim, spaces/underscores to hyphens: 'Middle East' -> 'middle-east'."""
    return re.sub(r"[\s_]+", "-", text.strip().lower())


@cache
def _lookup_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for region in REGIONS:
        for name in (region.key, region.name, *region.aliases):
            table[_norm(name)] = region.key
            table[_norm(name).replace("-", "")] = region.key
    # Accented spellings people type without accents are covered by the aliases above.
    return table


class UnknownRegion(ValueError):
    """A region name that is not in the catalogue, with the closest suggestion if any."""

    def __init__(self, text: str, suggestion: str | None) -> None:
        self.text = text
        self.suggestion = suggestion
        hint = f' Did you mean "{suggestion}"?' if suggestion else ""
        super().__init__(f'"{text}" is not a region I know.{hint}')


def get(key: str) -> Region:
    """The region with this exact catalogue key."""
    return _BY_KEY[key]


def find(text: str) -> Region | None:
    """The region a user's word names (key, name or alias, any case), or None."""
    key = _lookup_table().get(_norm(text))
    if key is None:
        key = _lookup_table().get(_norm(text).replace("-", ""))
    return _BY_KEY[key] if key else None


def resolve(text: str) -> Region:
    """Like :func:`find`, but raise :class:`UnknownRegion` with a "did you mean" suggestion."""
    region = find(text)
    if region is not None:
        return region
    return _raise_unknown(text)


def _raise_unknown(text: str) -> Region:
    candidates = list(_lookup_table())
    close = difflib.get_close_matches(_norm(text), candidates, n=1, cutoff=0.6)
    suggestion = _BY_KEY[_lookup_table()[close[0]]].key if close else None
    raise UnknownRegion(text, suggestion)


@cache
def leaves(key: str) -> frozenset[str]:
    """The leaf regions a key covers: ``asia`` -> its three sub-regions, ``europe`` -> europe+uk."""
    region = _BY_KEY[key]
    out = set() if region.is_group else {key}
    for child in region.children:
        out |= leaves(child)
    return frozenset(out)


def leaf_regions() -> tuple[Region, ...]:
    """The regions a story can carry (every region that is not a pure group)."""
    return tuple(r for r in REGIONS if not r.is_group)


@cache
def _category_table() -> dict[str, str]:
    return {r.category_name: r.key for r in REGIONS if r.category_name}


def from_category(name: str) -> str | None:
    """Map a Semafor category-line region ("Middle East", "UK") to a catalogue key."""
    return _category_table().get(name.strip()) or (
        region.key if (region := find(name)) is not None and not region.is_group else None
    )


def category_names() -> tuple[str, ...]:
    """Region names as Semafor's category line prints them, longest first (for matching)."""
    return tuple(sorted(_category_table(), key=len, reverse=True))
