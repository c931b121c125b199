"""The ``/signals`` command for Discord, generated from the command registry: one
subcommand per command, one typed option per parameter (its help as the description,
choices or autocomplete from :func:`option_spec`), never declared a second time.

discord.py reads a command's options from its callback's signature; each subcommand's
callback is one generic function given the signature its parameters make, with the
descriptions, choices and autocomplete callbacks discord.py's decorators would attach.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Optional

import discord
from discord import app_commands

from bot.platform import COMMAND_NAME, Command, Param, Registry, option_spec

GROUP_DESCRIPTION = "World news from Semafor Signals: look up stories, subscribe this channel"

# What the adapter does with a subcommand and its options, and with an option being typed.
OnCommand = Callable[[discord.Interaction, Command, Mapping[str, Any]], Awaitable[None]]
OnTyping = Callable[[discord.Interaction, Param, str], Awaitable[list[app_commands.Choice[str]]]]


def _annotation(param: Param) -> Any:
    spec = option_spec(param)
    kind: Any = str
    if spec.type == "integer":
        low = spec.min_value if spec.min_value is not None else -(2**53)
        high = spec.max_value if spec.max_value is not None else 2**53
        kind = app_commands.Range[int, low, high]
    return kind if param.required else Optional[kind]  # noqa: UP045 (read by discord.py)


def _subcommand(command: Command, on_command: OnCommand, on_typing: OnTyping) -> Any:
    """The callback for ``command``, with the signature discord.py reads its options from."""

    async def callback(interaction: discord.Interaction, **options: Any) -> None:
        await on_command(interaction, command, options)

    def typing(param: Param) -> Callable[..., Awaitable[list[app_commands.Choice[str]]]]:
        async def suggest(
            interaction: discord.Interaction, current: str
        ) -> list[app_commands.Choice[str]]:
            return await on_typing(interaction, param, current)

        return suggest

    parameters = [
        inspect.Parameter(
            "interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=discord.Interaction
        )
    ]
    descriptions: dict[str, str] = {}
    choices: dict[str, list[app_commands.Choice[str]]] = {}
    autocomplete: dict[str, Any] = {}
    # Discord lists required options first; the registry's order otherwise.
    for param in sorted(command.params, key=lambda p: not p.required):
        parameters.append(
            inspect.Parameter(
                param.name,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=_annotation(param),
                default=inspect.Parameter.empty if param.required else None,
            )
        )
        descriptions[param.name] = param.help
        spec = option_spec(param)
        if spec.autocomplete is not None:  # offered as typed: never fixed choices as well
            autocomplete[param.name] = typing(param)
        elif spec.choices:
            choices[param.name] = [
                app_commands.Choice(name=c.name, value=c.value) for c in spec.choices
            ]
    callback.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    callback.__discord_app_commands_param_description__ = descriptions  # type: ignore[attr-defined]
    callback.__discord_app_commands_param_choices__ = choices  # type: ignore[attr-defined]
    callback.__discord_app_commands_param_autocomplete__ = autocomplete  # type: ignore[attr-defined]
    return callback


def signals_group(
    registry: Registry, on_command: OnCommand, on_typing: OnTyping
) -> app_commands.Group:
    """``/signals`` with a subcommand for every command of ``registry``, in its order."""
    group = app_commands.Group(name=COMMAND_NAME, description=GROUP_DESCRIPTION)
    for name in registry:
        command = registry[name]
        group.add_command(
            app_commands.Command(
                name=command.name,
                description=command.summary,
                callback=_subcommand(command, on_command, on_typing),
                parent=group,
            )
        )
    return group


def commands_hash(tree: app_commands.CommandTree[Any], guild: discord.abc.Snowflake | None) -> str:
    """A digest of the command definitions ``tree`` would sync (to ``guild``, or globally):
    a restart with the same definitions finds the same hash and syncs nothing."""
    payload = [command.to_dict(tree) for command in tree.get_commands(guild=guild)]
    encoded = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()
