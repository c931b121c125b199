"""The whole registry at once: every command and parameter is well formed and every kind is
known to both ways in (text and typed options)."""

from __future__ import annotations

import re

import pytest

from bot.commands import (
    HELP_LIMIT,
    MAX_SUGGESTIONS,
    OPTION_TYPES,
    REGISTRY,
    TEXT_KINDS,
    Kind,
    option_spec,
    region_choices,
    suggestions,
)
from bot.commands.options import suggest_regions, suggest_zones

COMMANDS = list(REGISTRY.values())
PARAMS = [(c, p) for c in COMMANDS for p in c.params]


def test_names_are_unique_and_typeable() -> None:
    assert len({c.name for c in COMMANDS}) == len(COMMANDS)
    for command in COMMANDS:
        assert re.fullmatch(r"[a-z][a-z-]{1,31}", command.name)  # a Discord subcommand name
        assert command.summary and len(command.summary) <= HELP_LIMIT  # a subcommand's text
        assert command.details
        names = [p.name for p in command.params]
        assert len(set(names)) == len(names), command.name
        words = [w for p in command.flagged for w in (p.flag_word, *p.aliases)]
        assert len(set(words)) == len(words), command.name


@pytest.mark.parametrize(("command", "param"), PARAMS, ids=lambda x: getattr(x, "name", ""))
def test_every_parameter_is_described_and_known_both_ways(command: object, param: object) -> None:
    from bot.commands import Param

    assert isinstance(param, Param)
    assert re.fullmatch(r"[a-z][a-z_]{0,31}", param.name)  # a Discord option name
    assert 0 < len(param.help) <= HELP_LIMIT
    assert param.kind in TEXT_KINDS
    assert param.kind in OPTION_TYPES
    spec = option_spec(param)
    if param.kind is Kind.COUNT:
        assert spec.type == "integer" and spec.min_value is not None and spec.max_value
    if param.kind in (Kind.REGION, Kind.REGIONS):
        assert spec.autocomplete == "regions"
    if param.kind is Kind.ZONE:
        assert spec.autocomplete == "zones"
    if param.kind is Kind.MODE:  # a fixed set
        assert spec.choices and not spec.autocomplete
    if param.kind is Kind.DAYS:  # suggested: any list of days stays typeable
        assert spec.autocomplete == "days" and spec.choices
    if param.required:
        assert not param.flag  # a typed client lists required options first


def test_every_kind_is_known_to_both_ways_in() -> None:
    assert set(Kind) == set(TEXT_KINDS) == set(OPTION_TYPES)


def test_usage_is_built_from_the_parameters() -> None:
    usages = {c.name: c.usage for c in COMMANDS}
    assert usages["unsubscribe"] == "unsubscribe <region>|all"
    assert usages["latest"] == "latest [<region>] [<count>]"
    assert usages["search"] == "search <words> [in <region>]"
    assert usages["story"] == "story <id or url>"


def test_regions_offer_keys_names_and_aliases() -> None:
    choices = region_choices()
    assert len(choices) <= MAX_SUGGESTIONS
    europe = next(c for c in choices if c.value == "europe")
    assert europe.name == "Europe (europe)" and "bxl" in europe.aliases
    assert [c.value for c in suggest_regions("bxl")] == ["europe"]
    assert suggest_regions("middle")[0].value == "middle-east"
    assert [c.value for c in suggest_regions("europe, lag")] == ["europe, africa"]
    assert suggest_regions("al", allows_all=True)[0].value == "all"


@pytest.mark.parametrize("typed", ["zzzzqqq", "\x00\x1f", "%" * 500, "🙂🙂", "europe/../../etc"])
def test_garbage_gets_an_empty_list(typed: str) -> None:
    assert suggest_regions(typed) == []
    assert suggest_zones(typed) == []


def test_zones_match_what_is_typed_with_likely_ones_first() -> None:
    found = [c.value for c in suggest_zones("paris")]
    assert found == ["Europe/Paris"]
    found = [c.value for c in suggest_zones("america/", likely=["America/Chicago"])]
    assert found[0] == "America/Chicago" and len(found) == MAX_SUGGESTIONS
    assert "America/New_York" in found[:3]  # a region's home zone comes early
    first = [c.value for c in suggest_zones("", likely=["Asia/Kolkata"])]
    assert first[0] == "Asia/Kolkata" and "Europe/Brussels" in first


def test_suggestions_follow_each_parameters_kind() -> None:
    subscribe = REGISTRY["subscribe"]
    assert [c.value for c in suggestions(subscribe.param("mode"), "inst")] == ["instant"]
    assert [c.value for c in suggestions(subscribe.param("days"), "week")] == [
        "weekdays",
        "weekends",
    ]
    assert [c.value for c in suggestions(subscribe.param("days"), "Mon,Wed")] == ["mon,wed"]
    assert suggestions(subscribe.param("days"), "someday") == []
    assert suggestions(subscribe.param("tz"), "brussels")[0].value == "Europe/Brussels"
    assert suggestions(REGISTRY["pause"].param("region"), "")[0].value == "all"
    assert suggestions(subscribe.param("keywords"), "anything") == []
