"""The contract between the core and a platform adapter: the one module adapters import.

An adapter maps its platform's requests onto the command registry (a line of text, or typed
options built from each command's parameters with :func:`option_spec` and
:func:`suggestions`), hands them to :class:`CommandService` with a :class:`CommandContext`,
and renders the :class:`Reply` for its format with :func:`render_reply`: privately when
``reply.private`` (the payload says so too), with ``reply.actions`` as buttons. A command
that may be ``slow`` is acknowledged first, deferred as ``command.private`` says; an error is
always private (on a public deferral, a private follow-up). A pressed button comes back as
its kind and payload (:func:`slack_button` reads Slack's ``action_id`` (the value is the
payload), :func:`discord_button` Discord's ``custom_id``) for :meth:`CommandService.press`.

It delivers pushes by implementing :class:`Sender` (raising :class:`DeliveryError` with the
failure's scope), rendering each :class:`Outgoing` with :func:`render_push` or
:func:`encoded_push`. When the platform says a channel or workspace is gone, the app was
installed again, or the bot lost access, it tells the core's :class:`Lifecycle`.
"""

from __future__ import annotations

from bot.app import Bot
from bot.commands import (
    ALL,
    FAILED,
    HELP_LIMIT,
    MAX_SUGGESTIONS,
    REGISTRY,
    Choice,
    Command,
    CommandContext,
    CommandError,
    CommandRequest,
    CommandService,
    Kind,
    OptionSpec,
    Param,
    Registry,
    command_line,
    option_spec,
    parse_command_name,
    parse_options,
    parse_text,
    payload_target,
    region_choices,
    suggestions,
    workspace_overview,
)
from bot.config import Settings, SettingsError
from bot.delivery import DeliveryError, FailureScope, Outgoing, RateLimits, Sender
from bot.domain import COMMAND_NAME, PREFIX, ChannelRef
from bot.lifecycle import Lifecycle
from bot.metrics import RATE_LIMITED
from bot.render.discord import pressed as discord_button
from bot.render.messages import (
    FORMATS,
    Format,
    Payload,
    encoded_push,
    render_push,
    render_reply,
)
from bot.render.model import Action, Digest, Notice, PushContent, Reply, StoryCard
from bot.render.slack import home_view as slack_home_view
from bot.render.slack import pressed as slack_button
from bot.web import WebServer

__all__ = [
    "ALL",
    "COMMAND_NAME",
    "FAILED",
    "FORMATS",
    "HELP_LIMIT",
    "MAX_SUGGESTIONS",
    "PREFIX",
    "RATE_LIMITED",
    "REGISTRY",
    "Action",
    "Bot",
    "ChannelRef",
    "Choice",
    "Command",
    "CommandContext",
    "CommandError",
    "CommandRequest",
    "CommandService",
    "DeliveryError",
    "Digest",
    "FailureScope",
    "Format",
    "Kind",
    "Lifecycle",
    "Notice",
    "OptionSpec",
    "Outgoing",
    "Param",
    "Payload",
    "PushContent",
    "RateLimits",
    "Registry",
    "Reply",
    "Sender",
    "Settings",
    "SettingsError",
    "StoryCard",
    "WebServer",
    "command_line",
    "discord_button",
    "encoded_push",
    "option_spec",
    "parse_command_name",
    "parse_options",
    "parse_text",
    "payload_target",
    "region_choices",
    "render_push",
    "render_reply",
    "slack_button",
    "slack_home_view",
    "suggestions",
    "workspace_overview",
]
