"""``/signals`` for Discord is generated from the command registry: every command and
parameter once, typed, within Discord's rules for application commands."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import discord
import pytest
from discord import app_commands

from adapters.discord.commands import commands_hash, signals_group
from bot.platform import REGISTRY, Kind, Registry, option_spec

NAME = re.compile(r"^[-_\w]{1,32}$")
STRING, INTEGER, SUBCOMMAND = 3, 4, 1


async def _ignored(*_: Any) -> Any:
    return []


def tree_for(registry: Registry) -> app_commands.CommandTree[Any]:
    tree: app_commands.CommandTree[Any] = app_commands.CommandTree(
        discord.Client(intents=discord.Intents(guilds=True))
    )
    tree.add_command(signals_group(registry, _ignored, _ignored))
    return tree


@pytest.fixture
def synced() -> dict[str, Any]:
    tree = tree_for(REGISTRY)
    (command,) = [c.to_dict(tree) for c in tree.get_commands()]
    return command


def test_every_command_is_a_subcommand_with_its_parameters_as_options(
    synced: dict[str, Any],
) -> None:
    assert synced["name"] == "signals" and synced["type"] == 1
    subcommands = {option["name"]: option for option in synced["options"]}
    assert list(subcommands) == list(REGISTRY)  # every command, in the registry's order
    assert len(subcommands) <= 25
    for name, command in REGISTRY.items():
        sub = subcommands[name]
        assert sub["type"] == SUBCOMMAND and sub["description"] == command.summary
        options = {option["name"]: option for option in sub["options"]}
        assert set(options) == {p.name for p in command.params}
        required = [o["required"] for o in sub["options"]]
        assert required == sorted(required, reverse=True)  # required ones first, as Discord asks
        for param in command.params:
            option = options[param.name]
            spec = option_spec(param)
            assert option["description"] == param.help
            assert option["required"] is param.required
            assert option["type"] == (INTEGER if spec.type == "integer" else STRING)
            if spec.autocomplete:
                assert option.get("autocomplete") is True and "choices" not in option
            elif spec.choices:
                assert [c["value"] for c in option["choices"]] == [c.value for c in spec.choices]
            if param.kind is Kind.COUNT:
                assert (option["min_value"], option["max_value"]) == (param.low, param.high)


def test_the_definitions_keep_to_discords_rules(synced: dict[str, Any]) -> None:
    def check(item: dict[str, Any]) -> None:
        assert NAME.match(item["name"]) and item["name"] == item["name"].lower()
        assert 1 <= len(item["description"]) <= 100
        assert len(item.get("options", [])) <= 25
        assert len(item.get("choices", [])) <= 25
        assert not (item.get("autocomplete") and item.get("choices"))
        for option in item.get("options", []):
            check(option)

    check(synced)


def test_the_hash_changes_with_the_definitions_only() -> None:
    first, again = commands_hash(tree_for(REGISTRY), None), commands_hash(tree_for(REGISTRY), None)
    assert first == again
    changed = Registry()
    for name, command in REGISTRY.items():
        if name == "latest":
            command = replace(command, summary="The newest stories, told differently.")
        changed.add(command)
    assert commands_hash(tree_for(changed), None) != first
