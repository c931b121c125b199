"""The ``/signals`` command language, declared once for every platform.

:mod:`~bot.commands.registry` declares each command and its typed parameters;
:mod:`~bot.commands.parsing` reads a line of text or typed options into a request;
:mod:`~bot.commands.service` answers it with the handlers, grouped by feature
(:mod:`~bot.commands.lookups`, :mod:`~bot.commands.subscriptions`, :mod:`~bot.commands.pushes`);
:mod:`~bot.commands.wording` holds the sentences; :mod:`~bot.commands.options` what a client
with typed options offers.
"""

from bot.commands import lookups, overview, pushes, subscriptions
from bot.commands.options import (
    MAX_SUGGESTIONS,
    OPTION_TYPES,
    Choice,
    OptionSpec,
    option_spec,
    region_choices,
    suggestions,
)
from bot.commands.overview import workspace_overview
from bot.commands.parsing import (
    TEXT_KINDS,
    command_line,
    parse_args,
    parse_options,
    parse_text,
    payload_target,
)
from bot.commands.parsing import split_command as parse_command_name
from bot.commands.registry import (
    ALL,
    HELP_LIMIT,
    REGISTRY,
    Command,
    CommandContext,
    CommandRequest,
    Kind,
    Param,
    Registry,
    Value,
    command,
)
from bot.commands.service import CommandService, Pusher
from bot.commands.wording import FAILED, CommandError

__all__ = [
    "ALL",
    "FAILED",
    "HELP_LIMIT",
    "MAX_SUGGESTIONS",
    "OPTION_TYPES",
    "REGISTRY",
    "TEXT_KINDS",
    "Choice",
    "Command",
    "CommandContext",
    "CommandError",
    "CommandRequest",
    "CommandService",
    "Kind",
    "OptionSpec",
    "Param",
    "Pusher",
    "Registry",
    "Value",
    "command",
    "command_line",
    "lookups",
    "option_spec",
    "overview",
    "parse_args",
    "parse_command_name",
    "parse_options",
    "parse_text",
    "payload_target",
    "pushes",
    "region_choices",
    "subscriptions",
    "suggestions",
    "workspace_overview",
]
