from __future__ import annotations

from datetime import time

import pytest

from bot import regions


@pytest.mark.parametrize(
    ("word", "key"),
    [
        ("dc", "north-america"),
        ("D.C.", "north-america"),
        ("washington", "north-america"),
        ("BXL", "europe"),
        ("brussels", "europe"),
        ("lagos", "africa"),
        ("Riyadh", "middle-east"),
        ("dubai", "middle-east"),
        ("gulf", "middle-east"),
        ("beijing", "east-asia"),
        ("china", "east-asia"),
        ("SG", "southeast-asia"),
        ("singapore", "southeast-asia"),
        ("london", "uk"),
        ("us", "north-america"),
        ("latam", "south-america"),
        ("india", "south-asia"),
        ("Middle East", "middle-east"),
        ("middle_east", "middle-east"),
        ("southeast asia", "southeast-asia"),
        ("world", "world"),
        ("asia", "asia"),
        ("americas", "americas"),
    ],
)
def test_aliases_and_names(word: str, key: str) -> None:
    assert regions.resolve(word).key == key


def test_groups_expand_to_leaves() -> None:
    assert regions.leaves("asia") == {"east-asia", "south-asia", "southeast-asia"}
    assert regions.leaves("americas") == {"north-america", "south-america"}
    assert regions.leaves("europe") == {"europe", "uk"}
    assert regions.leaves("uk") == {"uk"}
    assert regions.leaves("world") == {r.key for r in regions.leaf_regions()}
    assert len(regions.leaf_regions()) == 9


def test_every_region_has_home_city_zone_and_morning_push() -> None:
    for region in regions.REGIONS:
        assert region.home_city
        assert region.timezone.key
        assert region.push_time == time(7, 0)


def test_category_line_names_map_to_keys() -> None:
    for name, key in {
        "Europe": "europe",
        "UK": "uk",
        "Middle East": "middle-east",
        "Africa": "africa",
        "South Asia": "south-asia",
        "East Asia": "east-asia",
        "North America": "north-america",
        "South America": "south-america",
    }.items():
        assert regions.from_category(name) == key


def test_unknown_region_suggests_the_closest() -> None:
    with pytest.raises(regions.UnknownRegion) as caught:
        regions.resolve("eurpoe")
    assert caught.value.suggestion == "europe"
    assert 'Did you mean "europe"?' in str(caught.value)
    with pytest.raises(regions.UnknownRegion) as nothing_close:
        regions.resolve("qqqqqq")
    assert nothing_close.value.suggestion is None
