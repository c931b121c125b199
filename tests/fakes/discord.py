"""A fake Discord on loopback, strict enough that an unmodified discord.py runs end to end on it.

REST under ``/api/v10`` and the gateway WebSocket, as Discord speaks them: a bot token on every
bot route (401 otherwise), HELLO / IDENTIFY / READY / GUILD_CREATE with sequence numbers,
heartbeats, RESUME, sharding by ``(guild_id >> 22) % shard_count``, zlib-stream compression
when asked for. It refuses what Discord refuses, with Discord's status and error code:

- app commands past Discord's rules (names, lengths, 25 options / subcommands / choices,
  autocomplete with choices, required after optional): 400 / 50035 with an ``errors`` tree;
- messages past the limits (2000 characters, 10 embeds, the embed field limits and 6000 across
  a message's embeds, 5 action rows of at most 5 buttons, custom ids, labels): 400 / 50035;
  an empty message: 400 / 50006;
- an unknown channel (404 / 10003), a channel the bot cannot see (403 / 50001), one it cannot
  send to or embed links in (403 / 50013), an unknown message (404 / 10008);
- an interaction answered twice (400 / 40060) or later than 3 s (404 / 10062), a follow-up on
  a token older than 15 minutes (401 / 50027);
- more than Discord's global (50 requests/s) or per-channel (5 messages per 5 s) limits: 429
  with ``Via``, ``Retry-After``, ``X-RateLimit-Scope`` and a JSON ``retry_after``. Every message
  answer carries real bucket headers, so discord.py paces itself as it does against Discord.

Everything is recorded: REST calls, messages per channel, command syncs, interaction callbacks
and follow-ups (a test can await an interaction's first answer), gateway identifies, 429s by
scope. Helpers dispatch gateway events (GUILD_CREATE, GUILD_DELETE, CHANNEL_DELETE,
CHANNEL_UPDATE, INTERACTION_CREATE for slash commands, autocomplete and buttons) to the
connection that holds the guild.

Point discord.py at it with ``discord.http.Route.BASE = fake.api_url`` and
``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import math
import re
import secrets
import time
import zlib
from collections import Counter, defaultdict, deque
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.web import serve_app

API_PREFIX = "/api/v10"
GATEWAY_PATH = "/gateway"
RESUME_PATH = "/gateway-resume"
DISCORD_EPOCH_MS = 1_420_070_400_000

# Permission bits (Discord's "Permissions" table)
CREATE_INSTANT_INVITE = 1 << 0
KICK_MEMBERS = 1 << 1
BAN_MEMBERS = 1 << 2
ADMINISTRATOR = 1 << 3
MANAGE_CHANNELS = 1 << 4
MANAGE_GUILD = 1 << 5
ADD_REACTIONS = 1 << 6
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
SEND_TTS_MESSAGES = 1 << 12
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17
USE_EXTERNAL_EMOJIS = 1 << 18
CHANGE_NICKNAME = 1 << 26
USE_APPLICATION_COMMANDS = 1 << 31
MANAGE_THREADS = 1 << 34
CREATE_PUBLIC_THREADS = 1 << 35
SEND_MESSAGES_IN_THREADS = 1 << 38
ALL_PERMISSIONS = 8_866_461_766_385_663
ALL_CHANNEL_PERMISSIONS = 8_555_290_110_197_585  # what losing View Channel takes away
# What the bot gets when invited with the usual scopes, and what @everyone has by default.
BOT_PERMISSIONS = (
    VIEW_CHANNEL | SEND_MESSAGES | SEND_MESSAGES_IN_THREADS | EMBED_LINKS | ATTACH_FILES
    | READ_MESSAGE_HISTORY | ADD_REACTIONS | USE_EXTERNAL_EMOJIS | USE_APPLICATION_COMMANDS
)  # fmt: skip
MEMBER_PERMISSIONS = (
    CREATE_INSTANT_INVITE | ADD_REACTIONS | VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS
    | ATTACH_FILES | READ_MESSAGE_HISTORY | USE_EXTERNAL_EMOJIS | CHANGE_NICKNAME
    | USE_APPLICATION_COMMANDS | CREATE_PUBLIC_THREADS | SEND_MESSAGES_IN_THREADS
)  # fmt: skip
DM_APP_PERMISSIONS = (
    VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | ATTACH_FILES | READ_MESSAGE_HISTORY
    | ADD_REACTIONS | USE_EXTERNAL_EMOJIS | USE_APPLICATION_COMMANDS
)  # fmt: skip

# Channel types
TEXT, DM, VOICE, CATEGORY, NEWS = 0, 1, 2, 4, 5
NEWS_THREAD, PUBLIC_THREAD, PRIVATE_THREAD, STAGE, FORUM = 10, 11, 12, 13, 15
THREADS = frozenset({NEWS_THREAD, PUBLIC_THREAD, PRIVATE_THREAD})
MESSAGEABLE = frozenset({TEXT, DM, VOICE, NEWS, STAGE}) | THREADS

# Gateway intents
GUILDS_INTENT = 1 << 0
GUILD_MEMBERS_INTENT = 1 << 1
GUILD_PRESENCES_INTENT = 1 << 8
GUILD_MESSAGES_INTENT = 1 << 9
DIRECT_MESSAGES_INTENT = 1 << 12
MESSAGE_CONTENT_INTENT = 1 << 15
PRIVILEGED_INTENTS = GUILD_MEMBERS_INTENT | GUILD_PRESENCES_INTENT | MESSAGE_CONTENT_INTENT
ALL_INTENTS = (1 << 26) - 1

# Message flags
SUPPRESS_EMBEDS = 1 << 2
EPHEMERAL = 1 << 6
LOADING = 1 << 7
SUPPRESS_NOTIFICATIONS = 1 << 12
IS_COMPONENTS_V2 = 1 << 15

# Interaction types and callback types
PING, APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 1, 2, 3, 4, 5
CALLBACKS_FOR = {
    APPLICATION_COMMAND: frozenset({4, 5, 9, 12}),
    MESSAGE_COMPONENT: frozenset({4, 5, 6, 7, 9}),
    AUTOCOMPLETE: frozenset({8}),
    MODAL_SUBMIT: frozenset({4, 5, 6, 7}),
}

# Limits
CONTENT = 2000
EMBEDS = 10
EMBED_TITLE, EMBED_DESCRIPTION, EMBED_FIELDS = 256, 4096, 25
FIELD_NAME, FIELD_VALUE, FOOTER_TEXT, AUTHOR_NAME = 256, 1024, 2048, 256
EMBEDS_TOTAL = 6000
ACTION_ROWS, ROW_BUTTONS, CUSTOM_ID, BUTTON_LABEL = 5, 5, 100, 80
SELECT_OPTIONS, SELECT_PLACEHOLDER = 25, 150
COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")
COMMAND_DESCRIPTION, COMMAND_OPTIONS, COMMAND_CHOICES, COMMAND_SIZE = 100, 25, 25, 4000
CHAT_INPUT_COMMANDS, CONTEXT_MENU_COMMANDS = 100, 15
DAILY_COMMAND_CREATES = 200
AUTOCOMPLETE_CHOICES, CHOICE_NAME, CHOICE_VALUE = 25, 100, 100
MODAL_TITLE = 45

ERRORS = {
    0: "",
    10002: "Unknown Application",
    10003: "Unknown Channel",
    10004: "Unknown Guild",
    10008: "Unknown Message",
    10013: "Unknown User",
    10015: "Unknown Webhook",
    10062: "Unknown interaction",
    30034: "Max number of daily application command creates has been reached (200)",
    40060: "Interaction has already been acknowledged.",
    50001: "Missing Access",
    50005: "Cannot edit a message authored by another user",
    50006: "Cannot send an empty message",
    50007: "Cannot send messages to this user",
    50008: "Cannot send messages in a non-text channel",
    50013: "Missing Permissions",
    50027: "Invalid Webhook Token",
    50035: "Invalid Form Body",
    50109: "The request body contains invalid JSON.",
}
STATUS_TEXT = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
               405: "Method Not Allowed", 429: "Too Many Requests", 500: "Internal Server Error",
               502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}  # fmt: skip
DEFAULT_CODE = {403: 50013, 404: 10003}  # fail_next with a bare status


def snowflake_at(ms: float, increment: int = 0) -> int:
    """A snowflake for this Unix time in milliseconds."""
    return (int(ms) - DISCORD_EPOCH_MS) << 22 | (1 << 17) | (increment & 0xFFF)


def shard_of(guild_id: int, shard_count: int) -> int:
    return (guild_id >> 22) % shard_count


def iso(at: float | None = None) -> str:
    return datetime.fromtimestamp(time.time() if at is None else at, UTC).isoformat()


def text_length(value: Any) -> int:
    return len(value) if isinstance(value, str) else 0


class DiscordError(Exception):
    """An answer Discord gives instead of doing what was asked."""

    def __init__(
        self,
        status: int,
        code: int = 0,
        message: str | None = None,
        *,
        errors: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        if message is None:
            message = ERRORS.get(code) or f"{status}: {STATUS_TEXT.get(status, 'Error')}"
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.body: dict[str, Any] = body or {"message": message, "code": code}
        if errors:
            self.body["errors"] = errors
        self.headers = headers or {}


def invalid_form(errors: dict[str, Any]) -> DiscordError:
    return DiscordError(400, 50035, errors=errors)


class Errors:
    """Discord's nested ``errors`` object, built up path by path."""

    def __init__(self) -> None:
        self.tree: dict[str, Any] = {}

    def add(self, path: Iterable[str | int], code: str, message: str) -> None:
        node = self.tree
        for part in path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def length(self, path: Iterable[str | int], value: Any, most: int, least: int = 0) -> None:
        size = text_length(value)
        if value is not None and not isinstance(value, str):
            self.add(path, "BASE_TYPE_STRING", "Must be a string.")
        elif least and size < least:
            self.add(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {least} and {most} in length.")
        elif size > most:
            code = "BASE_TYPE_BAD_LENGTH" if least else "BASE_TYPE_MAX_LENGTH"
            text = (
                f"Must be between {least} and {most} in length."
                if least
                else f"Must be {most} or fewer in length."
            )
            self.add(path, code, text)

    def __bool__(self) -> bool:
        return bool(self.tree)


# ---------------------------------------------------------------------------------------------
# Validation: messages, components, commands


def _valid_url(value: Any) -> bool:
    return isinstance(value, str) and bool(re.match(r"^(https?|attachment)://\S+$", value))


def embed_errors(embeds: Any, errors: Errors) -> None:
    if not isinstance(embeds, list):
        errors.add(["embeds"], "BASE_TYPE_ARRAY", "Must be an array.")
        return
    if len(embeds) > EMBEDS:
        errors.add(["embeds"], "BASE_TYPE_MAX_LENGTH", f"Must be {EMBEDS} or fewer in length.")
    total = 0
    for n, embed in enumerate(embeds):
        at: list[str | int] = ["embeds", n]
        if not isinstance(embed, dict):
            errors.add(at, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
            continue
        errors.length([*at, "title"], embed.get("title"), EMBED_TITLE)
        errors.length([*at, "description"], embed.get("description"), EMBED_DESCRIPTION)
        total += text_length(embed.get("title")) + text_length(embed.get("description"))
        for key in ("url",):
            if embed.get(key) is not None and not _valid_url(embed[key]):
                errors.add([*at, key], "URL_TYPE_INVALID_URL", "Not a well formed URL.")
        for part in ("image", "thumbnail"):
            value = embed.get(part)
            if value is not None and not _valid_url((value or {}).get("url")):
                errors.add([*at, part, "url"], "URL_TYPE_INVALID_URL", "Not a well formed URL.")
        colour = embed.get("color")
        if colour is not None and (not isinstance(colour, int) or not 0 <= colour <= 0xFFFFFF):
            errors.add([*at, "color"], "NUMBER_TYPE_MAX", "int value should be <= 16777215.")
        fields = embed.get("fields") or []
        if len(fields) > EMBED_FIELDS:
            errors.add(
                [*at, "fields"],
                "BASE_TYPE_MAX_LENGTH",
                f"Must be {EMBED_FIELDS} or fewer in length.",
            )
        for k, item in enumerate(fields):
            where: list[str | int] = [*at, "fields", k]
            name, value = (item or {}).get("name"), (item or {}).get("value")
            for key, text, most in (("name", name, FIELD_NAME), ("value", value, FIELD_VALUE)):
                if not text:
                    errors.add([*where, key], "BASE_TYPE_REQUIRED", "This field is required")
                else:
                    errors.length([*where, key], text, most)
            total += text_length(name) + text_length(value)
        footer = embed.get("footer")
        if footer is not None:
            if not (footer or {}).get("text"):
                errors.add([*at, "footer", "text"], "BASE_TYPE_REQUIRED", "This field is required")
            errors.length([*at, "footer", "text"], footer.get("text"), FOOTER_TEXT)
            total += text_length(footer.get("text"))
        author = embed.get("author")
        if author is not None:
            if not (author or {}).get("name"):
                errors.add([*at, "author", "name"], "BASE_TYPE_REQUIRED", "This field is required")
            errors.length([*at, "author", "name"], author.get("name"), AUTHOR_NAME)
            total += text_length(author.get("name"))
    if total > EMBEDS_TOTAL:
        errors.add(
            ["embeds"],
            "MAX_EMBED_SIZE_EXCEEDED",
            f"Embed size exceeds maximum size of {EMBEDS_TOTAL}",
        )


def component_errors(components: Any, errors: Errors, *, v2: bool = False) -> list[str]:
    """Check action rows of buttons and selects; the custom ids they carry."""
    ids: list[str] = []
    if not isinstance(components, list):
        errors.add(["components"], "BASE_TYPE_ARRAY", "Must be an array.")
        return ids
    if v2:  # Components V2 layouts: only the overall count and the custom ids are checked
        stack = list(components)
        count = 0
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                count += 1
                stack.extend(item.get("components") or [])
                if item.get("accessory"):
                    stack.append(item["accessory"])
                if item.get("custom_id"):
                    ids.append(item["custom_id"])
        if count > 40:
            errors.add(["components"], "BASE_TYPE_MAX_LENGTH", "Must be 40 or fewer in length.")
        return ids
    if len(components) > ACTION_ROWS:
        errors.add(
            ["components"], "BASE_TYPE_MAX_LENGTH", f"Must be {ACTION_ROWS} or fewer in length."
        )
    for n, row in enumerate(components):
        at: list[str | int] = ["components", n]
        if not isinstance(row, dict) or row.get("type") != 1:
            errors.add(
                [*at, "type"], "UNION_TYPE_CHOICES", 'Value of field "type" must be one of (1,).'
            )
            continue
        items = row.get("components") or []
        if not items:
            errors.add(
                [*at, "components"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length."
            )
        if len(items) > ROW_BUTTONS:
            errors.add(
                [*at, "components"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length."
            )
        selects = [i for i in items if isinstance(i, dict) and i.get("type") in (3, 5, 6, 7, 8)]
        if selects and len(items) > 1:
            errors.add([*at, "components"], "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                       "The specified component exceeds the maximum width")  # fmt: skip
        for k, item in enumerate(items):
            where: list[str | int] = [*at, "components", k]
            kind = item.get("type") if isinstance(item, dict) else None
            if kind == 2:
                style = item.get("style")
                if style not in (1, 2, 3, 4, 5, 6):
                    errors.add(
                        [*where, "style"],
                        "BASE_TYPE_CHOICES",
                        "Value must be one of {1, 2, 3, 4, 5, 6}.",
                    )
                errors.length([*where, "label"], item.get("label"), BUTTON_LABEL)
                if style == 5:
                    if not _valid_url(item.get("url")):
                        errors.add([*where, "url"], "BASE_TYPE_REQUIRED", "This field is required")
                    if item.get("custom_id") is not None:
                        errors.add([*where, "custom_id"], "COMPONENT_CUSTOM_ID_NOT_ALLOWED",
                                   "A custom id cannot be set on a link button")  # fmt: skip
                elif style != 6:
                    if not item.get("custom_id"):
                        errors.add(
                            [*where, "custom_id"], "BASE_TYPE_REQUIRED", "This field is required"
                        )
                    if style != 6 and not (item.get("label") or item.get("emoji")):
                        errors.add(
                            [*where, "label"], "BASE_TYPE_REQUIRED", "This field is required"
                        )
            elif kind in (3, 5, 6, 7, 8):
                if not item.get("custom_id"):
                    errors.add(
                        [*where, "custom_id"], "BASE_TYPE_REQUIRED", "This field is required"
                    )
                errors.length([*where, "placeholder"], item.get("placeholder"), SELECT_PLACEHOLDER)
                if kind == 3:
                    options = item.get("options") or []
                    if not 1 <= len(options) <= SELECT_OPTIONS:
                        errors.add([*where, "options"], "BASE_TYPE_BAD_LENGTH",
                                   f"Must be between 1 and {SELECT_OPTIONS} in length.")  # fmt: skip
                    for j, option in enumerate(options):
                        errors.length([*where, "options", j, "label"], option.get("label"), 100, 1)
                        errors.length([*where, "options", j, "value"], option.get("value"), 100, 1)
                        errors.length(
                            [*where, "options", j, "description"], option.get("description"), 100
                        )
            else:
                errors.add(
                    [*where, "type"], "UNION_TYPE_CHOICES", "Not a component this row can hold."
                )
                continue
            custom_id = item.get("custom_id")
            if custom_id is not None:
                errors.length([*where, "custom_id"], custom_id, CUSTOM_ID)
                if custom_id in ids:
                    errors.add([*where, "custom_id"], "COMPONENT_CUSTOM_ID_DUPLICATED",
                               "Component custom id cannot be duplicated")  # fmt: skip
                ids.append(custom_id)
    return ids


def message_errors(body: dict[str, Any]) -> Errors:
    """Why Discord would refuse this message body (content, embeds, components, mentions)."""
    errors = Errors()
    content = body.get("content")
    if content is not None:
        errors.length(["content"], content, CONTENT)
    flags = body.get("flags") or 0
    if not isinstance(flags, int):
        errors.add(["flags"], "NUMBER_TYPE_COERCE", "Value is not int.")
        flags = 0
    v2 = bool(flags & IS_COMPONENTS_V2)
    if v2 and (content or body.get("embeds")):
        errors.add(["content" if content else "embeds"], "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
                   "The 'content' and 'embeds' fields cannot be used when using MessageFlags.IS_COMPONENTS_V2")  # fmt: skip
    if body.get("embeds") is not None:
        embed_errors(body["embeds"], errors)
    if body.get("components") is not None:
        component_errors(body["components"], errors, v2=v2)
    mentions = body.get("allowed_mentions")
    if mentions is not None:
        parse = mentions.get("parse", [])
        if not isinstance(parse, list) or any(
            p not in ("users", "roles", "everyone") for p in parse
        ):
            errors.add(["allowed_mentions", "parse"], "BASE_TYPE_CHOICES",
                       "Value must be one of {'users', 'roles', 'everyone'}.")  # fmt: skip
        for kind in ("users", "roles"):
            listed = mentions.get(kind) or []
            if kind in parse and listed:
                errors.add(["allowed_mentions"], "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                           f'parse:["{kind}"] and {kind}: [ids...] are mutually exclusive.')  # fmt: skip
            if len(listed) > 100:
                errors.add(
                    ["allowed_mentions", kind],
                    "BASE_TYPE_MAX_LENGTH",
                    "Must be 100 or fewer in length.",
                )
    return errors


def is_empty(message: dict[str, Any]) -> bool:
    return not (
        message.get("content") or message.get("embeds") or message.get("components")
        or message.get("attachments") or message.get("sticker_ids") or message.get("poll")
    )  # fmt: skip


def _option_size(option: dict[str, Any]) -> int:
    size = text_length(option.get("name")) + text_length(option.get("description"))
    for choice in option.get("choices") or []:
        size += text_length(choice.get("name")) + len(str(choice.get("value", "")))
    return size + sum(_option_size(o) for o in option.get("options") or [] if isinstance(o, dict))


def _name_errors(
    errors: Errors, at: list[str | int], name: Any, *, chat_input: bool = True
) -> None:
    if not isinstance(name, str) or not 1 <= len(name) <= 32:
        errors.add([*at, "name"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length.")
    elif chat_input and (not COMMAND_NAME.match(name) or name != name.lower()):
        errors.add([*at, "name"], "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")


def _options_errors(errors: Errors, at: list[str | int], options: Any, depth: int) -> None:
    """depth 0: a command's options; 1: a group's; 2: a subcommand's."""
    if not isinstance(options, list):
        errors.add([*at, "options"], "BASE_TYPE_ARRAY", "Must be an array.")
        return
    if len(options) > COMMAND_OPTIONS:
        errors.add(
            [*at, "options"],
            "BASE_TYPE_MAX_LENGTH",
            f"Must be {COMMAND_OPTIONS} or fewer in length.",
        )
    kinds = [o.get("type") for o in options if isinstance(o, dict)]
    subs = [k for k in kinds if k in (1, 2)]
    if subs and len(subs) != len(kinds):
        errors.add([*at, "options"], "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                   "Sub-command and sub-command group option types are mutually exclusive to all other types")  # fmt: skip
    names: set[str] = set()
    seen_optional = False
    for n, option in enumerate(options):
        where: list[str | int] = [*at, "options", n]
        if not isinstance(option, dict):
            errors.add(where, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
            continue
        kind = option.get("type")
        _name_errors(errors, where, option.get("name"))
        errors.length([*where, "description"], option.get("description"), COMMAND_DESCRIPTION, 1)
        if option.get("name") in names:
            errors.add(
                [*where, "name"],
                "APPLICATION_COMMAND_OPTION_NAME_ALREADY_EXISTS",
                "Option names must be unique",
            )
        names.add(option.get("name", ""))
        if (kind == 2 and depth != 0) or (kind == 1 and depth == 2) or kind not in range(1, 12):
            errors.add(
                [*where, "type"],
                "APPLICATION_COMMAND_OPTION_TYPE_INVALID",
                "Option type is invalid here",
            )
            continue
        if kind in (1, 2):
            inner = option.get("options") or []
            if kind == 2 and any(o.get("type") != 1 for o in inner if isinstance(o, dict)):
                errors.add([*where, "options"], "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                           "A sub-command group may only hold sub-commands")  # fmt: skip
            _options_errors(errors, where, inner, 1 if kind == 2 else 2)
            continue
        if option.get("options"):
            errors.add(
                [*where, "options"],
                "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                "Only sub-commands take options",
            )
        required = bool(option.get("required"))
        if required and seen_optional:
            errors.add([*where, "required"], "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                       "Required options must be placed before non-required options")  # fmt: skip
        seen_optional = seen_optional or not required
        choices = option.get("choices")
        if choices:
            if kind not in (3, 4, 10):
                errors.add([*where, "choices"], "APPLICATION_COMMAND_OPTION_CHOICES_INVALID",
                           "Only string, integer and number options take choices")  # fmt: skip
            if len(choices) > COMMAND_CHOICES:
                errors.add(
                    [*where, "choices"],
                    "BASE_TYPE_MAX_LENGTH",
                    f"Must be {COMMAND_CHOICES} or fewer in length.",
                )
            for k, choice in enumerate(choices):
                errors.length([*where, "choices", k, "name"], choice.get("name"), CHOICE_NAME, 1)
                if kind == 3:
                    errors.length(
                        [*where, "choices", k, "value"], choice.get("value"), CHOICE_VALUE, 1
                    )
        if option.get("autocomplete"):
            if choices:
                errors.add([*where, "autocomplete"], "APPLICATION_COMMAND_AUTOCOMPLETE_WITH_CHOICES",
                           "Autocomplete cannot be set together with choices")  # fmt: skip
            if kind not in (3, 4, 10):
                errors.add([*where, "autocomplete"], "APPLICATION_COMMAND_OPTION_AUTOCOMPLETE_INVALID",
                           "Only string, integer and number options autocomplete")  # fmt: skip
        if option.get("channel_types") and kind != 7:
            errors.add(
                [*where, "channel_types"],
                "APPLICATION_COMMAND_OPTION_INVALID",
                "Only channel options take channel_types",
            )
        for key in ("min_length", "max_length"):
            value = option.get(key)
            if value is not None and (
                kind != 3 or not isinstance(value, int) or not 0 <= value <= 6000
            ):
                errors.add(
                    [*where, key], "NUMBER_TYPE_MAX", "int value should be between 0 and 6000."
                )


def command_errors(commands: Any) -> Errors:
    """Why Discord would refuse this bulk overwrite of application commands."""
    errors = Errors()
    if not isinstance(commands, list):
        errors.add([], "BASE_TYPE_ARRAY", "Must be an array.")
        return errors
    kinds = Counter(c.get("type", 1) for c in commands if isinstance(c, dict))
    if (
        kinds[1] > CHAT_INPUT_COMMANDS
        or kinds[2] > CONTEXT_MENU_COMMANDS
        or kinds[3] > CONTEXT_MENU_COMMANDS
    ):
        errors.add([], "APPLICATION_COMMANDS_TOO_MANY", "Too many application commands of one type")
    seen: set[tuple[int, str]] = set()
    for n, command in enumerate(commands):
        at: list[str | int] = [n]
        if not isinstance(command, dict):
            errors.add(at, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
            continue
        kind = command.get("type", 1)
        if kind not in (1, 2, 3, 4):
            errors.add([*at, "type"], "BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3, 4}.")
            continue
        _name_errors(errors, at, command.get("name"), chat_input=kind == 1)
        key = (kind, str(command.get("name")))
        if key in seen:
            errors.add(
                [*at, "name"],
                "APPLICATION_COMMANDS_DUPLICATE_NAME",
                "Application command names must be unique",
            )
        seen.add(key)
        if kind == 1:
            errors.length([*at, "description"], command.get("description"), COMMAND_DESCRIPTION, 1)
            _options_errors(errors, at, command.get("options") or [], 0)
            if _option_size(command) > COMMAND_SIZE:
                errors.add(
                    at,
                    "APPLICATION_COMMAND_TOO_LARGE",
                    f"Command exceeds maximum size ({COMMAND_SIZE})",
                )
        elif command.get("description") or command.get("options"):
            errors.add([*at, "description"], "APPLICATION_COMMAND_CONTEXT_MENU_DESCRIPTION",
                       "Context menu commands cannot have a description or options")  # fmt: skip
        permissions = command.get("default_member_permissions")
        if permissions is not None and not str(permissions).isdigit():
            errors.add(
                [*at, "default_member_permissions"], "NUMBER_TYPE_COERCE", "Value is not int."
            )
        for key_name, allowed in (("contexts", {0, 1, 2}), ("integration_types", {0, 1})):
            value = command.get(key_name)
            if value is not None and (not isinstance(value, list) or not set(value) <= allowed):
                errors.add(
                    [*at, key_name], "BASE_TYPE_CHOICES", f"Value must be one of {sorted(allowed)}."
                )
    return errors


# ---------------------------------------------------------------------------------------------
# State


@dataclass
class User:
    id: int
    username: str
    bot: bool = False
    dms_open: bool = True

    def payload(self) -> dict[str, Any]:
        return {"id": str(self.id), "username": self.username, "discriminator": "0",
                "global_name": self.username.title(), "avatar": None, "bot": self.bot,
                "system": False, "public_flags": 0, "flags": 0, "banner": None,
                "accent_color": None, "avatar_decoration_data": None, "collectibles": None,
                "primary_guild": None}  # fmt: skip


@dataclass
class Channel:
    """A channel (or thread) and the bot's permissions in it."""

    id: int
    guild_id: int  # 0 for a DM
    name: str = "general"
    type: int = TEXT
    parent_id: int | None = None  # a thread's channel; a channel's category
    position: int = 0
    permissions: int | None = (
        None  # the bot's permissions here; None: the guild's (a thread: its parent's)
    )
    topic: str | None = None
    recipient_id: int | None = None  # a DM's user
    archived: bool = False
    locked: bool = False


@dataclass
class Guild:
    id: int
    name: str
    channels: dict[int, Channel] = field(default_factory=dict)
    bot_permissions: int = BOT_PERMISSIONS  # the bot's role
    everyone_permissions: int = MEMBER_PERMISSIONS  # @everyone
    owner_id: int = 80_351_110_224_678_912
    member_count: int = 42
    features: list[str] = field(default_factory=list)
    locale: str = "en-US"
    joined: bool = True  # the bot is a member (False after it was removed)
    unavailable: bool = False  # an outage
    commands_scope: bool = True  # installed with applications.commands
    joined_at: str = field(default_factory=iso)
    bot_role_id: int = 0  # the bot's managed role (set when the fake adds the guild)

    def shard(self, shard_count: int) -> int:
        return shard_of(self.id, shard_count)


@dataclass
class Call:
    """A REST request and what the fake answered."""

    method: str
    path: str
    route: str
    status: int
    body: Any
    at: float
    code: int | None = None


@dataclass
class CommandSync:
    """One bulk overwrite of application commands (``guild_id`` None: global)."""

    guild_id: int | None
    payload: list[dict[str, Any]]
    status: int
    answered: list[dict[str, Any]] = field(default_factory=list)
    at: float = field(default_factory=time.monotonic)


@dataclass
class Response:
    """An interaction callback, follow-up, edit or delete (``status`` is what the fake answered)."""

    interaction_id: int
    kind: str  # "callback", "followup", "edit", "delete"
    type: int | None  # the callback type (4 message, 5 deferred, 6, 7 update, 8 choices, 9 modal)
    body: dict[str, Any]
    flags: int
    status: int
    at: float
    code: int | None = None
    message_id: int | None = None
    replaced_original: bool = (
        False  # a first follow-up after a deferral resolves the loading message
    )

    @property
    def ok(self) -> bool:
        return self.status < 300

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    @property
    def data(self) -> dict[str, Any]:
        """The message (or choices) it carried: a callback's ``data``, a follow-up's body."""
        if self.kind == "callback":
            data: dict[str, Any] = self.body.get("data") or {}
            return data
        return self.body


@dataclass
class Interaction:
    """An INTERACTION_CREATE the fake dispatched, and what became of it."""

    id: int
    token: str
    type: int
    channel_id: int
    guild_id: int | None
    user_id: int
    payload: dict[str, Any]
    dispatched_at: float = 0.0
    callback: Response | None = None  # the accepted first answer
    original_id: int | None = None  # the @original message
    loading: bool = False  # deferred (type 5) and not yet resolved
    ephemeral: bool = False
    message_id: int | None = None  # the message a component was on
    focused_type: int | None = None  # autocomplete: the focused option's type
    followups: list[int] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)  # set at each recorded answer
    _answered: asyncio.Future[Response] | None = None

    def answered(self) -> asyncio.Future[Response]:
        if self._answered is None:
            self._answered = asyncio.get_running_loop().create_future()
        return self._answered


@dataclass
class Session:
    id: str
    shard_id: int
    shard_count: int
    intents: int
    seq: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    connection: Connection | None = None
    ready: bool = False


class Connection:
    """One gateway WebSocket: what it negotiated, and a lock that keeps frames in order."""

    def __init__(self, socket: web.WebSocketResponse, *, compress: bool, path: str) -> None:
        self.socket = socket
        self.path = path
        self.compressor = zlib.compressobj() if compress else None
        self.session: Session | None = None
        self.lock = asyncio.Lock()
        self.received: list[dict[str, Any]] = []
        self.heartbeats = 0
        self.close_code: int | None = None
        self._received_at: deque[float] = deque()

    async def send(self, payload: dict[str, Any]) -> None:
        data = json.dumps(payload, separators=(",", ":"))
        async with self.lock:
            if self.socket.closed:
                return
            if self.compressor is None:
                await self.socket.send_str(data)
            else:
                packed = self.compressor.compress(data.encode()) + self.compressor.flush(
                    zlib.Z_SYNC_FLUSH
                )
                await self.socket.send_bytes(packed)

    async def close(self, code: int, reason: str) -> None:
        self.close_code = code
        await self.socket.close(code=code, message=reason.encode())


@dataclass
class Route:
    method: str
    pattern: re.Pattern[str]
    template: str
    handler: str
    auth: bool = True  # needs the bot token
    bucket: str | None = None  # a per-channel rate limit bucket
    global_limit: bool = True  # counts against the global limit


def _route(method: str, template: str, handler: str, **options: Any) -> Route:
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
    return Route(method, re.compile(f"^{regex}$"), template, handler, **options)


ROUTES = [
    _route("GET", "/users/@me", "users_me"),
    _route("POST", "/users/@me/channels", "open_dm"),
    _route("GET", "/oauth2/applications/@me", "application"),
    _route("GET", "/applications/@me", "application"),
    _route("GET", "/gateway", "gateway_info", auth=False, global_limit=False),
    _route("GET", "/gateway/bot", "gateway_bot"),
    _route("GET", "/applications/{app}/commands", "get_commands"),
    _route("PUT", "/applications/{app}/commands", "put_commands"),
    _route("GET", "/applications/{app}/guilds/{guild}/commands", "get_commands"),
    _route("PUT", "/applications/{app}/guilds/{guild}/commands", "put_commands"),
    _route("GET", "/channels/{channel}", "get_channel"),
    _route("POST", "/channels/{channel}/messages", "create_message", bucket="create-message"),
    _route("GET", "/channels/{channel}/messages/{message}", "get_message"),
    _route(
        "PATCH", "/channels/{channel}/messages/{message}", "edit_message", bucket="edit-message"
    ),
    _route(
        "DELETE",
        "/channels/{channel}/messages/{message}",
        "delete_message",
        bucket="delete-message",
    ),
    _route(
        "POST",
        "/interactions/{interaction}/{token}/callback",
        "callback",
        auth=False,
        global_limit=False,
    ),
    _route("POST", "/webhooks/{app}/{token}", "followup", auth=False, global_limit=False),
    _route(
        "GET",
        "/webhooks/{app}/{token}/messages/{message}",
        "webhook_get",
        auth=False,
        global_limit=False,
    ),
    _route(
        "PATCH",
        "/webhooks/{app}/{token}/messages/{message}",
        "webhook_edit",
        auth=False,
        global_limit=False,
    ),
    _route(
        "DELETE",
        "/webhooks/{app}/{token}/messages/{message}",
        "webhook_delete",
        auth=False,
        global_limit=False,
    ),
]


@dataclass
class Window:
    """A fixed rate limit window, as Discord's buckets are: it opens with the first request."""

    limit: int
    seconds: float
    opened: float = 0.0
    used: int = 0

    def take(self, now: float) -> float:
        """Take one request; the seconds to wait instead when the window is full."""
        if now >= self.opened + self.seconds:
            self.opened, self.used = now, 0
        if self.used >= self.limit:
            return self.opened + self.seconds - now
        self.used += 1
        return 0.0

    def headers(self, now: float, bucket: str) -> dict[str, str]:
        after = max(0.0, self.opened + self.seconds - now)
        after = math.ceil(after * 1000) / 1000
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, self.limit - self.used)),
            "X-RateLimit-Reset": f"{time.time() + after:.3f}",
            "X-RateLimit-Reset-After": f"{after:.3f}",
            "X-RateLimit-Bucket": bucket,
        }


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON answer with exactly ``Content-Type: application/json``, as Discord sends it."""
    all_headers = {"Content-Type": "application/json", "Via": "1.1 google", **(headers or {})}
    return web.Response(status=status, body=json.dumps(body).encode(), headers=all_headers)


class RateLimited(DiscordError):
    def __init__(
        self, retry_after: float, scope: str, headers: dict[str, str] | None = None
    ) -> None:
        retry_after = math.ceil(max(retry_after, 0.001) * 1000) / 1000
        is_global = scope == "global"
        all_headers = {"Retry-After": str(max(1, math.ceil(retry_after))), "X-RateLimit-Scope": scope,
                       **(headers or {})}  # fmt: skip
        if is_global:
            all_headers["X-RateLimit-Global"] = "true"
        body: dict[str, Any] = {"message": "You are being rate limited.", "retry_after": retry_after,
                                "global": is_global}  # fmt: skip
        super().__init__(429, 0, body["message"], headers=all_headers, body=body)
        self.scope = scope


@dataclass
class FakeDiscord:
    """Discord's state as the bot sees it, and everything the bot did to it."""

    token: str = "fake-bot-token"
    application_id: int = 1_180_000_000_000_000_001
    bot_user_id: int = 1_180_000_000_000_000_002
    bot_name: str = "signalbot"
    shards: int = 1  # recommended shard count (GET /gateway/bot)
    max_concurrency: int = 1  # identifies per 5 s per bucket
    privileged_intents: int = 0  # intents enabled for the app in the developer portal
    global_limit: tuple[int, float] | None = (50, 1.0)  # requests per seconds, all bot routes
    channel_limit: tuple[int, float] | None = (5, 5.0)  # messages per seconds, per channel
    interaction_deadline: float = 3.0  # seconds to the first callback
    token_lifetime: float = 900.0  # seconds an interaction token lives
    heartbeat_interval: int = 41250  # milliseconds
    injected_retry_after: float = 0.25  # retry_after of a 429 asked for with fail_next
    identify_interval: float = 5.0  # seconds between identifies in one max_concurrency bucket
    guilds: dict[int, Guild] = field(default_factory=dict)
    users: dict[int, User] = field(default_factory=dict)
    dm_channels: dict[int, Channel] = field(default_factory=dict)  # by user id
    commands: dict[int | None, dict[tuple[int, str], dict[str, Any]]] = field(default_factory=dict)
    command_syncs: list[CommandSync] = field(default_factory=list)
    interactions: dict[int, Interaction] = field(default_factory=dict)
    responses: list[Response] = field(default_factory=list)
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)
    sent: dict[int, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    edited: dict[int, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    calls: list[Call] = field(default_factory=list)
    rejected_429: Counter[str] = field(default_factory=Counter)  # by scope: user, global, shared
    invalid_requests: int = 0  # 401, 403 and 429 answers (Discord bans an IP at 10,000 in 10 min)
    fail_next: dict[int, list[int | tuple[int, int]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    identifies: list[dict[str, Any]] = field(default_factory=list)
    sessions: dict[str, Session] = field(default_factory=dict)
    connections: list[Connection] = field(default_factory=list)
    port: int = 0
    _global: deque[float] = field(default_factory=deque)
    _windows: dict[tuple[str, int], Window] = field(default_factory=dict)
    _creates: Counter[int | None] = field(default_factory=Counter)
    _identify_at: dict[int, float] = field(
        default_factory=dict
    )  # concurrency bucket: last identify
    _sequence: int = 0
    _changed: asyncio.Condition | None = None

    # --- addresses -----------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}{GATEWAY_PATH}"

    @property
    def resume_gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}{RESUME_PATH}"

    # --- building state --------------------------------------------------------------------------

    def snowflake(self) -> int:
        self._sequence += 1
        return snowflake_at(time.time() * 1000, self._sequence)

    def guild(
        self,
        guild_id: int,
        name: str = "Newsroom",
        channels: Iterable[int | Channel] = (),
        **options: Any,
    ) -> Guild:
        """Add a guild the bot is in; ``channels`` are ids (text channels) or :class:`Channel`."""
        guild = self.guilds[guild_id] = Guild(guild_id, name, **options)
        guild.bot_role_id = guild.bot_role_id or self.snowflake()
        for position, item in enumerate(channels):
            channel = (
                item
                if isinstance(item, Channel)
                else Channel(item, guild_id, f"channel-{position}", position=position)
            )
            channel.guild_id = guild_id
            if channel.type in THREADS and channel.parent_id is None:
                raise ValueError(f"thread {channel.id} needs a parent_id")
            guild.channels[channel.id] = channel
        return guild

    def add_channel(self, guild_id: int, channel: Channel) -> Channel:
        """Add a channel to a guild's state (a connected client learns of it from
        :meth:`channel_create`)."""
        channel.guild_id = guild_id
        if channel.type in THREADS and channel.parent_id is None:
            raise ValueError(f"thread {channel.id} needs a parent_id")
        self.guilds[guild_id].channels[channel.id] = channel
        return channel

    def deny(self, channel_id: int, *bits: int) -> Channel:
        """Take permissions away from the bot in a channel (before the client connects, or
        follow with ``await fake.channel_update(channel_id)``)."""
        channel = self._known(channel_id)
        value = self._own_permissions(channel)
        for bit in bits:
            value &= ~bit
        channel.permissions = value
        return channel

    def allow(self, channel_id: int, *bits: int) -> Channel:
        channel = self._known(channel_id)
        value = self._own_permissions(channel)
        for bit in bits:
            value |= bit
        channel.permissions = value
        return channel

    def _known(self, channel_id: int) -> Channel:
        channel = self.channel(channel_id)
        if channel is None or channel.type == DM:
            raise LookupError(f"no guild channel {channel_id}")
        return channel

    def _own_permissions(self, channel: Channel) -> int:
        """The bot's permissions set on this channel, before the implicit rules."""
        guild = self.guilds[channel.guild_id]
        if channel.permissions is not None:
            return channel.permissions
        if channel.type in THREADS and channel.parent_id in guild.channels:
            return self._own_permissions(guild.channels[channel.parent_id])
        return guild.bot_permissions | guild.everyone_permissions

    def channel(self, channel_id: int) -> Channel | None:
        """A guild channel, thread or DM by id."""
        for guild in self.guilds.values():
            if channel_id in guild.channels:
                return guild.channels[channel_id]
        return next((c for c in self.dm_channels.values() if c.id == channel_id), None)

    def user(self, user_id: int, username: str | None = None) -> User:
        if user_id not in self.users:
            self.users[user_id] = User(user_id, username or f"user{user_id % 10000}")
        return self.users[user_id]

    def dm_channel(self, user_id: int) -> Channel:
        if user_id not in self.dm_channels:
            self.user(user_id)
            self.dm_channels[user_id] = Channel(self.snowflake(), 0, "", DM, recipient_id=user_id)
        return self.dm_channels[user_id]

    @property
    def bot_user(self) -> User:
        return User(self.bot_user_id, self.bot_name, bot=True)

    def permissions_in(self, channel_id: int) -> int:
        """The bot's resolved permissions in a channel (what ``app_permissions`` carries there)."""
        channel = self.channel(channel_id)
        if channel is None:
            raise LookupError(f"no channel {channel_id}")
        return self.bot_permissions(channel)

    def bot_permissions(self, channel: Channel) -> int:
        """The bot's resolved permissions in a channel, with Discord's implicit rules applied."""
        if channel.type == DM:
            return DM_APP_PERMISSIONS
        guild = self.guilds[channel.guild_id]
        if (guild.bot_permissions | guild.everyone_permissions) & ADMINISTRATOR:
            return ALL_PERMISSIONS
        value = self._own_permissions(channel)
        if not value & SEND_MESSAGES:
            value &= ~(SEND_TTS_MESSAGES | MENTION_EVERYONE | EMBED_LINKS | ATTACH_FILES)
        if channel.type in THREADS and not value & SEND_MESSAGES_IN_THREADS:
            value &= ~(SEND_TTS_MESSAGES | MENTION_EVERYONE | EMBED_LINKS | ATTACH_FILES)
        if not value & VIEW_CHANNEL:
            value &= ~ALL_CHANNEL_PERMISSIONS
        return value

    # --- recorded -------------------------------------------------------------------------------

    def posted(self, channel_id: int | None = None) -> list[dict[str, Any]]:
        """Message bodies accepted in a channel (or everywhere), in order."""
        if channel_id is not None:
            return list(self.sent.get(channel_id, []))
        return [body for bodies in self.sent.values() for body in bodies]

    def responses_to(self, interaction_id: int) -> list[Response]:
        return [r for r in self.responses if r.interaction_id == interaction_id]

    def syncs(self, guild_id: int | None = None) -> list[CommandSync]:
        return [s for s in self.command_syncs if s.guild_id == guild_id]

    async def first_response(self, interaction: int | Interaction, within: float = 5.0) -> Response:
        """The first accepted callback of this interaction, once it comes."""
        record = self.interactions[interaction if isinstance(interaction, int) else interaction.id]
        return await asyncio.wait_for(asyncio.shield(record.answered()), within)

    async def responded(
        self, interaction: int | Interaction, count: int = 1, within: float = 5.0
    ) -> list[Response]:
        """Wait until ``count`` answers (callbacks, follow-ups, edits; accepted or refused) to this
        interaction are recorded; all of them."""
        record = self.interactions[interaction if isinstance(interaction, int) else interaction.id]
        async with asyncio.timeout(within):
            while True:
                record.changed.clear()
                answers = self.responses_to(record.id)
                if len(answers) >= count:
                    return answers
                await record.changed.wait()

    # --- REST -----------------------------------------------------------------------------------

    async def rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        now = time.monotonic()
        call = Call(request.method, path, "", 0, None, now)
        self.calls.append(call)
        headers: dict[str, str] = {}
        try:
            route, params = self._match(request.method, path)
            call.route = f"{route.method} {route.template}"
            if route.auth:
                auth = request.headers.get("Authorization", "")
                if auth != f"Bot {self.token}":
                    raise DiscordError(401, 0, "401: Unauthorized")
            if route.global_limit and self.global_limit:
                count, seconds = self.global_limit
                while self._global and now - self._global[0] >= seconds:
                    self._global.popleft()
                if len(self._global) >= count:
                    raise RateLimited(self._global[0] + seconds - now, "global")
                self._global.append(now)
            body = await self._body(request)
            call.body = body
            if route.bucket:
                headers = self._take_bucket(route.bucket, int(params["channel"]), now)
            status, answer = await getattr(self, "_" + route.handler)(request, params, body)
        except DiscordError as error:
            call.status, call.code = error.status, error.code
            if isinstance(error, RateLimited):
                self.rejected_429[error.scope] += 1
                if error.scope != "shared":
                    self.invalid_requests += 1
            elif error.status in (401, 403):
                self.invalid_requests += 1
            return _json(error.status, error.body, {**headers, **error.headers})
        call.status = status
        if answer is None:
            return web.Response(status=status, headers={"Via": "1.1 google", **headers})
        return _json(status, answer, headers)

    def _match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        allowed = False
        for route in ROUTES:
            found = route.pattern.match(path)
            if found:
                if route.method == method:
                    return route, found.groupdict()
                allowed = True
        if allowed:
            raise DiscordError(405, 0, "405: Method Not Allowed")
        raise DiscordError(404, 0, "404: Not Found")

    @staticmethod
    async def _body(request: web.Request) -> Any:
        if request.method in ("GET", "DELETE"):
            return None
        if request.content_type == "multipart/form-data":
            body: dict[str, Any] = {}
            attachments: list[dict[str, Any]] = []
            reader = await request.multipart()
            async for part in reader:
                name = getattr(part, "name", None) or ""
                data = await part.read()  # type: ignore[union-attr]
                if name == "payload_json":
                    try:
                        body = json.loads(data)
                    except ValueError:
                        raise DiscordError(400, 50109) from None
                elif name.startswith("files["):
                    filename = getattr(part, "filename", None) or "file"
                    attachments.append(
                        {"id": str(len(attachments)), "filename": filename, "size": len(data)}
                    )
            if attachments:
                body.setdefault("attachments", [])
                body["_files"] = attachments
            return body
        raw = await request.read()
        if not raw:
            return {}
        if request.content_type != "application/json":
            return {}  # Discord reads only JSON (and multipart) bodies
        try:
            return json.loads(raw)
        except ValueError:
            raise DiscordError(400, 50109) from None

    def _take_bucket(self, bucket: str, channel_id: int, now: float) -> dict[str, str]:
        """Take a request from a per-channel bucket: its headers, or a 429 (scope user)."""
        if self.channel_limit is None:
            return {}
        key = (bucket, channel_id)
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = Window(*self.channel_limit)
        digest = hashlib.sha1(f"{bucket}".encode()).hexdigest()[:32]
        wait = window.take(now)
        headers = window.headers(now, digest)
        if wait > 0:
            raise RateLimited(wait, "user", headers)
        return headers

    def _failure(self, channel_id: int) -> None:
        """Play an injected failure for this channel, if one is queued."""
        queued = self.fail_next.get(channel_id)
        if not queued:
            return
        item = queued.pop(0)
        status, code = item if isinstance(item, tuple) else (item, DEFAULT_CODE.get(item, 0))
        if status == 429:
            raise RateLimited(self.injected_retry_after, "user")
        raise DiscordError(status, code)

    # bot and gateway

    async def _users_me(
        self, request: web.Request, params: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        me = self.bot_user.payload()
        me.update(verified=True, mfa_enabled=False, locale="en-US", email=None)
        return 200, me

    async def _application(
        self, request: web.Request, params: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        return 200, self._application_payload()

    def _application_flags(self) -> int:
        flags = 1 << 23  # APPLICATION_COMMAND_BADGE
        for intent, flag in ((GUILD_PRESENCES_INTENT, 1 << 13), (GUILD_MEMBERS_INTENT, 1 << 15),
                             (MESSAGE_CONTENT_INTENT, 1 << 19)):  # fmt: skip
            if self.privileged_intents & intent:
                flags |= flag  # the _LIMITED flag: an unverified bot under 100 servers
        return flags

    def _application_payload(self) -> dict[str, Any]:
        owner = User(80_351_110_224_678_912, "owner").payload()
        return {
            "id": str(self.application_id), "name": self.bot_name, "icon": None,
            "description": "", "summary": "", "type": None, "bot_public": True,
            "bot_require_code_grant": False, "owner": owner, "team": None,
            "verify_key": hashlib.sha256(str(self.application_id).encode()).hexdigest(),
            "flags": self._application_flags(), "hook": True, "guild_id": None,
            "interactions_endpoint_url": None, "redirect_uris": [], "tags": [],
            "approximate_guild_count": sum(g.joined for g in self.guilds.values()),
            "bot": self.bot_user.payload(),
            "install_params": {"scopes": ["bot", "applications.commands"],
                               "permissions": str(BOT_PERMISSIONS)},
            "integration_types_config": {"0": {}},
        }  # fmt: skip

    async def _gateway_info(
        self, request: web.Request, params: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        return 200, {"url": self.gateway_url}

    async def _gateway_bot(
        self, request: web.Request, params: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        return 200, {
            "url": self.gateway_url,
            "shards": self.shards,
            "session_start_limit": {"total": 1000, "remaining": 1000 - len(self.identifies),
                                    "reset_after": 86_400_000, "max_concurrency": self.max_concurrency},
        }  # fmt: skip

    async def _open_dm(
        self, request: web.Request, params: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        user_id = int((body or {}).get("recipient_id") or 0)
        if user_id not in self.users:
            raise DiscordError(400, 50035, errors={"recipient_id": {"_errors": [
                {"code": "USER_NOT_FOUND", "message": "Unknown User"}]}})  # fmt: skip
        return 200, self._channel_payload(self.dm_channel(user_id))

    # app commands

    def _command_scope(self, params: dict[str, str]) -> int | None:
        if int(params["app"]) != self.application_id:
            raise DiscordError(403, 50001)
        if "guild" not in params:
            return None
        guild = self.guilds.get(int(params["guild"]))
        if guild is None or not guild.joined or not guild.commands_scope:
            raise DiscordError(403, 50001)
        return guild.id

    async def _get_commands(
        self, request: web.Request, params: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        scope = self._command_scope(params)
        return 200, list(self.commands.get(scope, {}).values())

    async def _put_commands(
        self, request: web.Request, params: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        scope = self._command_scope(params)
        sync = CommandSync(scope, body if isinstance(body, list) else [], 400)
        self.command_syncs.append(sync)
        errors = command_errors(body)
        if errors:
            raise invalid_form(errors.tree)
        old = self.commands.get(scope, {})
        created = [c for c in body if (c.get("type", 1), c["name"]) not in old]
        if self._creates[scope] + len(created) > DAILY_COMMAND_CREATES:
            sync.status = 429
            raise DiscordError(429, 30034, headers={"Retry-After": "86400", "X-RateLimit-Scope": "shared"},
                               body={"message": ERRORS[30034], "code": 30034, "retry_after": 86400.0,
                                     "global": False})  # fmt: skip
        self._creates[scope] += len(created)
        fresh: dict[tuple[int, str], dict[str, Any]] = {}
        for command in body:
            key = (command.get("type", 1), command["name"])
            previous = old.get(key)
            fresh[key] = self._command_payload(command, scope, previous)
        self.commands[scope] = fresh
        sync.status = 200
        sync.answered = list(fresh.values())
        return 200, list(fresh.values())

    def _command_payload(
        self, command: dict[str, Any], scope: int | None, previous: dict[str, Any] | None
    ) -> dict[str, Any]:
        permissions = command.get("default_member_permissions")
        answer = {
            "id": previous["id"] if previous else str(self.snowflake()),
            "application_id": str(self.application_id),
            "version": str(self.snowflake()),
            "default_member_permissions": None if permissions is None else str(permissions),
            "type": command.get("type", 1),
            "name": command["name"],
            "name_localizations": command.get("name_localizations"),
            "description": command.get("description", ""),
            "description_localizations": command.get("description_localizations"),
            "contexts": command.get("contexts"),
            "integration_types": command.get("integration_types") or [0],
            "nsfw": bool(command.get("nsfw")),
        }
        if command.get("options"):
            answer["options"] = command["options"]
        if scope is None:
            answer["dm_permission"] = command.get("dm_permission", True) is not False
        else:
            answer["guild_id"] = str(scope)
        return answer

    # channels and messages

    def _visible_channel(self, channel_id: int) -> Channel:
        """The channel if the bot may see it: 404 Unknown Channel, 403 Missing Access otherwise."""
        channel = self.channel(channel_id)
        if channel is None:
            raise DiscordError(404, 10003)
        if channel.type == DM:
            return channel
        guild = self.guilds[channel.guild_id]
        if not guild.joined or not self.bot_permissions(channel) & VIEW_CHANNEL:
            raise DiscordError(403, 50001)
        return channel

    async def _get_channel(
        self, request: web.Request, params: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        channel = self._visible_channel(int(params["channel"]))
        return 200, self._channel_payload(channel)

    async def _create_message(
        self, request: web.Request, params: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        channel_id = int(params["channel"])
        body = body if isinstance(body, dict) else {}
        self._failure(channel_id)
        channel = self._visible_channel(channel_id)
        if channel.type not in MESSAGEABLE:
            raise DiscordError(400, 50008)
        errors = message_errors(body)
        if errors:
            raise invalid_form(errors.tree)
        if channel.type == DM:
            recipient = self.users.get(channel.recipient_id or 0)
            if recipient is None or not recipient.dms_open:
                raise DiscordError(403, 50007)
        else:
            allowed = self.bot_permissions(channel)
            needed = SEND_MESSAGES_IN_THREADS if channel.type in THREADS else SEND_MESSAGES
            if not allowed & needed:
                raise DiscordError(403, 50013)
            if body.get("embeds") and not allowed & EMBED_LINKS:
                raise DiscordError(403, 50013)
            if body.get("_files") and not allowed & ATTACH_FILES:
                raise DiscordError(403, 50013)
            if channel.type in THREADS and channel.locked and not allowed & MANAGE_THREADS:
                raise DiscordError(403, 50013)
        if is_empty({**body, "attachments": body.get("_files")}):
            raise DiscordError(400, 50006)
        message = self._new_message(
            channel,
            body,
            flags=(body.get("flags") or 0)
            & (SUPPRESS_EMBEDS | SUPPRESS_NOTIFICATIONS | IS_COMPONENTS_V2),
        )
        self.sent[channel_id].append(body)
        await self._message_event("MESSAGE_CREATE", channel, message)
        return 200, message

    async def _get_message(
        self, request: web.Request, params: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        channel = self._visible_channel(int(params["channel"]))
        if not self.bot_permissions(channel) & READ_MESSAGE_HISTORY:
            raise DiscordError(403, 50013)
        return 200, self.public(self._message_in(channel.id, params["message"]))

    @staticmethod
    def public(message: dict[str, Any]) -> dict[str, Any]:
        """A stored message as Discord shows it (without the fake's own ``_`` keys)."""
        return {k: v for k, v in message.items() if not k.startswith("_")}

    def _message_in(self, channel_id: int, message_id: str) -> dict[str, Any]:
        message = self.messages.get(int(message_id)) if message_id.isdigit() else None
        if (
            message is None
            or int(message["channel_id"]) != channel_id
            or message["flags"] & EPHEMERAL
        ):
            raise DiscordError(404, 10008)
        return message

    async def _edit_message(
        self, request: web.Request, params: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        channel_id = int(params["channel"])
        body = body if isinstance(body, dict) else {}
        self._failure(channel_id)
        channel = self._visible_channel(channel_id)
        message = self._message_in(channel.id, params["message"])
        if int(message["author"]["id"]) != self.bot_user_id or message.get("webhook_id"):
            raise DiscordError(403, 50005)
        self._edit(message, body)
        self.edited[channel_id].append(body)
        await self._message_event("MESSAGE_UPDATE", channel, message)
        return 200, self.public(message)

    async def _delete_message(
        self, request: web.Request, params: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        channel = self._visible_channel(int(params["channel"]))
        message = self._message_in(channel.id, params["message"])
        if (
            int(message["author"]["id"]) != self.bot_user_id
            and not self.bot_permissions(channel) & MANAGE_MESSAGES
        ):
            raise DiscordError(403, 50013)
        del self.messages[int(message["id"])]
        return 204, None

    def _edit(self, message: dict[str, Any], body: dict[str, Any]) -> None:
        """Apply an edit to a stored message: validated, and not left empty."""
        errors = message_errors(body)
        if errors:
            raise invalid_form(errors.tree)
        merged = dict(message)
        for key in ("content", "embeds", "components", "attachments", "allowed_mentions"):
            if key in body:
                merged[key] = (
                    body[key] if body[key] is not None else ([] if key != "content" else "")
                )
        if "allowed_mentions" in body:
            merged["_allowed_mentions"] = body["allowed_mentions"]
        if is_empty(merged):
            raise DiscordError(400, 50006)
        merged["embeds"] = [self._embed(e) for e in merged.get("embeds") or []]
        if "flags" in body and body["flags"] is not None:
            keep = message["flags"] & ~(SUPPRESS_EMBEDS | LOADING)
            merged["flags"] = keep | (body["flags"] & SUPPRESS_EMBEDS)
        else:
            merged["flags"] = message["flags"] & ~LOADING
        merged["edited_timestamp"] = iso()
        channel = self.channel(int(message["channel_id"]))
        if channel is not None:
            self._mentions(merged, channel)
        merged.pop("allowed_mentions", None)
        message.clear()
        message.update(merged)

    @staticmethod
    def _embed(embed: dict[str, Any]) -> dict[str, Any]:
        out = {"type": "rich", **embed}
        if "fields" in out:
            out["fields"] = [{"inline": False, **f} for f in out["fields"]]
        return out

    def _mentions(self, message: dict[str, Any], channel: Channel) -> None:
        """Who this message pings, by its content and its allowed_mentions."""
        allowed = message.get("allowed_mentions")
        content = str(message.get("content") or "")
        parse = (
            ["users", "roles", "everyone"] if allowed is None else list(allowed.get("parse") or [])
        )
        users = {int(u) for u in re.findall(r"<@!?(\d+)>", content)}
        roles = {int(r) for r in re.findall(r"<@&(\d+)>", content)}
        if "users" not in parse:
            users &= {int(u) for u in (allowed or {}).get("users") or []}
        if "roles" not in parse:
            roles &= {int(r) for r in (allowed or {}).get("roles") or []}
        everyone = bool(re.search(r"@(everyone|here)\b", content)) and "everyone" in parse
        if everyone and channel.type != DM:
            everyone = bool(self.bot_permissions(channel) & MENTION_EVERYONE)
        message["mentions"] = [self.user(u).payload() for u in sorted(users)]
        message["mention_roles"] = [str(r) for r in sorted(roles)]
        message["mention_everyone"] = everyone

    def _new_message(
        self,
        channel: Channel,
        body: dict[str, Any],
        *,
        flags: int = 0,
        interaction: Interaction | None = None,
    ) -> dict[str, Any]:
        message_id = self.snowflake()
        message: dict[str, Any] = {
            "id": str(message_id), "type": 0, "channel_id": str(channel.id),
            "author": self.bot_user.payload(), "content": body.get("content") or "",
            "timestamp": iso(), "edited_timestamp": None, "tts": bool(body.get("tts")),
            "embeds": [self._embed(e) for e in body.get("embeds") or []],
            "attachments": [
                {"id": str(self.snowflake()), "filename": f["filename"], "size": f["size"],
                 "url": f"https://cdn.discordapp.example/attachments/{channel.id}/{f['filename']}",
                 "proxy_url": f"https://media.discordapp.example/{f['filename']}"}
                for f in body.get("_files") or []
            ],
            "components": body.get("components") or [], "pinned": False, "flags": flags,
            "nonce": body.get("nonce"), "allowed_mentions": body.get("allowed_mentions"),
        }  # fmt: skip
        if channel.type in THREADS:
            message["position"] = len(self.sent.get(channel.id, []))
        if interaction is not None:
            message["type"] = 20 if interaction.type == APPLICATION_COMMAND else 0
            message["webhook_id"] = str(self.application_id)
            message["application_id"] = str(self.application_id)
            message["interaction_metadata"] = {
                "id": str(interaction.id), "type": interaction.type,
                "user": self.user(interaction.user_id).payload(),
                "authorizing_integration_owners": interaction.payload["authorizing_integration_owners"],
            }  # fmt: skip
            if interaction.original_id is not None:
                message["type"] = 0  # a follow-up
            if interaction.type == MESSAGE_COMPONENT and interaction.message_id is not None:
                message["interaction_metadata"]["interacted_message_id"] = str(
                    interaction.message_id
                )
        self._mentions(message, channel)
        message.pop("allowed_mentions", None)
        message["_allowed_mentions"] = body.get("allowed_mentions")
        self.messages[message_id] = message
        return self.public(message)

    async def _message_event(self, event: str, channel: Channel, message: dict[str, Any]) -> None:
        """MESSAGE_CREATE / MESSAGE_UPDATE for the bot's own (non-ephemeral) message."""
        if message.get("flags", 0) & EPHEMERAL:
            return
        intent = DIRECT_MESSAGES_INTENT if channel.type == DM else GUILD_MESSAGES_INTENT
        data = self.public(message)
        if channel.type != DM:
            data["guild_id"] = str(channel.guild_id)
        session = self._live_session(channel.guild_id if channel.type != DM else None)
        if session is not None and session.intents & intent:
            await self._dispatch(session, event, data)

    # interactions

    def _interaction(self, interaction_id: str, token: str) -> Interaction:
        record = self.interactions.get(int(interaction_id)) if interaction_id.isdigit() else None
        if record is None or not secrets.compare_digest(record.token, token):
            raise DiscordError(404, 10062)
        return record

    def _by_token(self, app: str, token: str) -> Interaction:
        if app != str(self.application_id):
            raise DiscordError(404, 10015)
        record = next((i for i in self.interactions.values() if i.token == token), None)
        if record is None or time.monotonic() - record.dispatched_at > self.token_lifetime:
            raise DiscordError(401, 50027)
        return record

    def _record(self, record: Interaction, kind: str, kind_type: int | None, body: Any, error: DiscordError | None,
                **extra: Any) -> Response:  # fmt: skip
        body = body if isinstance(body, dict) else {}
        data = body.get("data") if kind == "callback" else body
        flags = int((data or {}).get("flags") or 0) if isinstance(data, dict) else 0
        response = Response(record.id, kind, kind_type, body, flags, error.status if error else 200,
                            time.monotonic(), error.code if error else None, **extra)  # fmt: skip
        self.responses.append(response)
        record.changed.set()
        return response

    async def _callback(
        self, request: web.Request, params: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        record = self._interaction(params["interaction"], params["token"])
        kind = body.get("type") if isinstance(body, dict) else None
        try:
            answer = await self._answer(
                record, kind, body or {}, request.query.get("with_response")
            )
        except DiscordError as error:
            self._record(record, "callback", kind, body, error)
            raise
        response = self._record(record, "callback", kind, body, None, message_id=record.original_id)
        record.callback = response
        future = record.answered()
        if not future.done():
            future.set_result(response)
        return (200, answer) if answer is not None else (204, None)

    async def _answer(
        self, record: Interaction, kind: Any, body: dict[str, Any], with_response: str | None
    ) -> Any:
        if record.callback is not None:
            raise DiscordError(400, 40060)
        if time.monotonic() - record.dispatched_at > self.interaction_deadline:
            raise DiscordError(404, 10062)
        if kind not in CALLBACKS_FOR.get(record.type, frozenset()):
            raise invalid_form({"type": {"_errors": [{"code": "INTERACTION_CALLBACK_TYPE_INVALID",
                                                      "message": "This callback type is not valid for this interaction"}]}})  # fmt: skip
        data = body.get("data") or {}
        if not isinstance(data, dict):
            raise invalid_form(
                {
                    "data": {
                        "_errors": [{"code": "MODEL_TYPE_CONVERT", "message": "Must be an object."}]
                    }
                }
            )
        channel = self.channel(record.channel_id)
        assert channel is not None
        message: dict[str, Any] | None = None
        if kind == 4:
            errors = message_errors(data)
            if errors:
                raise invalid_form({"data": errors.tree})
            if is_empty(data):
                raise DiscordError(400, 50006)
            flags = int(data.get("flags") or 0) & (
                EPHEMERAL | SUPPRESS_EMBEDS | SUPPRESS_NOTIFICATIONS | IS_COMPONENTS_V2
            )
            record.ephemeral = bool(flags & EPHEMERAL)
            message = self._new_message(channel, data, flags=flags, interaction=record)
            record.original_id = int(message["id"])
            await self._message_event("MESSAGE_CREATE", channel, self.messages[record.original_id])
        elif kind == 5:
            flags = int(data.get("flags") or 0) & EPHEMERAL
            record.ephemeral, record.loading = bool(flags), True
            message = self._new_message(channel, {}, flags=flags | LOADING, interaction=record)
            record.original_id = int(message["id"])
        elif kind in (6, 7):
            record.original_id = record.message_id
            if kind == 7:
                stored = self.messages.get(record.message_id or 0)
                if stored is None:
                    raise DiscordError(404, 10008)
                try:
                    self._edit(stored, data)
                except DiscordError as error:
                    if error.code == 50035:
                        raise invalid_form({"data": error.body.get("errors", {})}) from None
                    raise
                message = self.public(stored)
        elif kind == 8:
            self._check_choices(record, data)
        elif kind == 9:
            errors = Errors()
            errors.length(["data", "custom_id"], data.get("custom_id"), CUSTOM_ID, 1)
            errors.length(["data", "title"], data.get("title"), MODAL_TITLE, 1)
            if not 1 <= len(data.get("components") or []) <= 5:
                errors.add(
                    ["data", "components"],
                    "BASE_TYPE_BAD_LENGTH",
                    "Must be between 1 and 5 in length.",
                )
            if errors:
                raise invalid_form(errors.tree)
        if with_response not in ("1", "true", "True"):
            return None
        callback: dict[str, Any] = {"id": str(record.id), "type": record.type,
                                    "response_message_id": None if record.original_id is None else str(record.original_id),
                                    "response_message_loading": kind == 5,
                                    "response_message_ephemeral": record.ephemeral}  # fmt: skip
        answer: dict[str, Any] = {"interaction": callback}
        if message is not None:
            answer["resource"] = {"type": kind, "message": message}
        return answer

    def _check_choices(self, record: Interaction, data: dict[str, Any]) -> None:
        choices = data.get("choices")
        errors = Errors()
        if not isinstance(choices, list):
            errors.add(["data", "choices"], "BASE_TYPE_REQUIRED", "This field is required")
            raise invalid_form(errors.tree)
        if len(choices) > AUTOCOMPLETE_CHOICES:
            errors.add(
                ["data", "choices"],
                "BASE_TYPE_MAX_LENGTH",
                f"Must be {AUTOCOMPLETE_CHOICES} or fewer in length.",
            )
        for n, choice in enumerate(choices):
            errors.length(["data", "choices", n, "name"], choice.get("name"), CHOICE_NAME, 1)
            value = choice.get("value")
            if record.focused_type == 3:
                errors.length(["data", "choices", n, "value"], value, CHOICE_VALUE, 1)
            elif record.focused_type in (4, 10) and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                errors.add(
                    ["data", "choices", n, "value"], "NUMBER_TYPE_COERCE", "Value is not a number."
                )
        if errors:
            raise invalid_form(errors.tree)

    async def _followup(
        self, request: web.Request, params: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        record = self._by_token(params["app"], params["token"])
        body = body if isinstance(body, dict) else {}
        try:
            if record.callback is None or record.callback.type == 8:
                raise DiscordError(404, 10015)
            errors = message_errors(body)
            if errors:
                raise invalid_form(errors.tree)
            if is_empty({**body, "attachments": body.get("_files")}):
                raise DiscordError(400, 50006)
            channel = self.channel(record.channel_id)
            assert channel is not None
            replaced = record.loading and record.original_id is not None
            if replaced:
                # the first follow-up after a deferral resolves the loading message; its ephemeral
                # state is the deferral's, whatever the follow-up's flags say
                stored = self.messages[record.original_id or 0]
                self._edit(stored, body)
                record.loading = False
                message = self.public(stored)
            else:
                flags = int(body.get("flags") or 0) & (
                    EPHEMERAL | SUPPRESS_EMBEDS | SUPPRESS_NOTIFICATIONS | IS_COMPONENTS_V2
                )
                message = self._new_message(channel, body, flags=flags, interaction=record)
                record.followups.append(int(message["id"]))
                await self._message_event(
                    "MESSAGE_CREATE", channel, self.messages[int(message["id"])]
                )
        except DiscordError as error:
            self._record(record, "followup", None, body, error)
            raise
        self._record(
            record,
            "followup",
            None,
            body,
            None,
            message_id=int(message["id"]),
            replaced_original=replaced,
        )
        wait = request.query.get("wait", "true").lower() in ("1", "true")
        return (200, message) if wait else (204, None)

    def _webhook_message(self, record: Interaction, message_id: str) -> dict[str, Any]:
        if message_id == "@original":
            if record.callback is None or record.original_id is None:
                raise DiscordError(404, 10008)
            found = self.messages.get(record.original_id)
        elif message_id.isdigit() and (
            int(message_id) in record.followups or int(message_id) == record.original_id
        ):
            found = self.messages.get(int(message_id))
        else:
            found = None
        if found is None:
            raise DiscordError(404, 10008)
        return found

    async def _webhook_get(
        self, request: web.Request, params: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        record = self._by_token(params["app"], params["token"])
        message = self._webhook_message(record, params["message"])
        return 200, self.public(message)

    async def _webhook_edit(
        self, request: web.Request, params: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        record = self._by_token(params["app"], params["token"])
        body = body if isinstance(body, dict) else {}
        try:
            message = self._webhook_message(record, params["message"])
            self._edit(message, body)
        except DiscordError as error:
            self._record(record, "edit", None, body, error)
            raise
        if params["message"] == "@original" or int(params["message"]) == record.original_id:
            record.loading = False
        self._record(record, "edit", None, body, None, message_id=int(message["id"]))
        return 200, self.public(message)

    async def _webhook_delete(
        self, request: web.Request, params: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        record = self._by_token(params["app"], params["token"])
        try:
            message = self._webhook_message(record, params["message"])
        except DiscordError as error:
            self._record(record, "delete", None, {}, error)
            raise
        del self.messages[int(message["id"])]
        if int(message["id"]) == record.original_id:
            record.loading = False  # nothing left for a follow-up to resolve: it is a new message
        self._record(record, "delete", None, {}, None, message_id=int(message["id"]))
        return 204, None

    # --- payloads -----------------------------------------------------------------------------

    def _channel_payload(
        self, channel: Channel, *, member_permissions: int | None = None
    ) -> dict[str, Any]:
        if channel.type == DM:
            recipient = self.user(channel.recipient_id or 0)
            payload: dict[str, Any] = {"id": str(channel.id), "type": DM, "flags": 0,
                                       "last_message_id": None, "recipients": [recipient.payload()]}  # fmt: skip
            if member_permissions is not None:
                payload["permissions"] = str(member_permissions)
            return payload
        guild = self.guilds[channel.guild_id]
        payload = {
            "id": str(channel.id), "type": channel.type, "guild_id": str(guild.id),
            "name": channel.name, "position": channel.position, "flags": 0,
            "parent_id": None if channel.parent_id is None else str(channel.parent_id),
            "nsfw": False, "rate_limit_per_user": 0, "last_message_id": None,
        }  # fmt: skip
        if channel.type in THREADS:
            payload.update(
                owner_id=str(self.bot_user_id), message_count=len(self.sent.get(channel.id, [])),
                member_count=2, total_message_sent=len(self.sent.get(channel.id, [])),
                thread_metadata={"archived": channel.archived, "locked": channel.locked,
                                 "auto_archive_duration": 1440, "archive_timestamp": iso(),
                                 "create_timestamp": iso()},
            )  # fmt: skip
        else:
            payload["permission_overwrites"] = self._overwrites(guild, channel)
            payload["topic"] = channel.topic
            if channel.type in (VOICE, STAGE):
                payload.update(bitrate=64000, user_limit=0, rtc_region=None)
            if channel.type == FORUM:
                payload.update(available_tags=[], default_reaction_emoji=None, default_sort_order=None,
                               default_forum_layout=0)  # fmt: skip
        if member_permissions is not None:
            payload["permissions"] = str(member_permissions)
        return payload

    def _overwrites(self, guild: Guild, channel: Channel) -> list[dict[str, Any]]:
        """A member overwrite for the bot that gives it exactly ``channel.permissions`` here."""
        if channel.permissions is None:
            return []
        base = guild.bot_permissions | guild.everyone_permissions
        allow, deny = channel.permissions & ~base, base & ~channel.permissions
        return [{"id": str(self.bot_user_id), "type": 1, "allow": str(allow), "deny": str(deny)}]

    def _guild_payload(self, guild: Guild, *, initial: bool) -> dict[str, Any]:
        threads = [c for c in guild.channels.values() if c.type in THREADS]
        channels = [c for c in guild.channels.values() if c.type not in THREADS]
        bot_member = {"user": self.bot_user.payload(), "roles": [str(guild.bot_role_id)],
                      "joined_at": guild.joined_at, "deaf": False, "mute": False, "flags": 0,
                      "nick": None, "avatar": None, "banner": None, "premium_since": None,
                      "pending": False, "communication_disabled_until": None}  # fmt: skip
        roles = [
            {"id": str(guild.id), "name": "@everyone", "permissions": str(guild.everyone_permissions),
             "position": 0, "color": 0, "colors": {"primary_color": 0, "secondary_color": None,
                                                   "tertiary_color": None},
             "hoist": False, "managed": False, "mentionable": False, "icon": None,
             "unicode_emoji": None, "flags": 0},
            {"id": str(guild.bot_role_id), "name": self.bot_name, "permissions": str(guild.bot_permissions),
             "position": 1, "color": 0, "colors": {"primary_color": 0, "secondary_color": None,
                                                   "tertiary_color": None},
             "hoist": False, "managed": True, "mentionable": False, "icon": None,
             "unicode_emoji": None, "flags": 0, "tags": {"bot_id": str(self.bot_user_id)}},
        ]  # fmt: skip
        payload: dict[str, Any] = {
            "id": str(guild.id), "name": guild.name, "icon": None, "splash": None,
            "discovery_splash": None, "banner": None, "description": None,
            "owner_id": str(guild.owner_id), "region": "deprecated", "afk_channel_id": None,
            "afk_timeout": 300, "verification_level": 1, "default_message_notifications": 1,
            "explicit_content_filter": 2, "roles": roles, "emojis": [], "stickers": [],
            "features": list(guild.features), "mfa_level": 0, "application_id": None,
            "system_channel_id": None if not channels else str(channels[0].id),
            "system_channel_flags": 0, "rules_channel_id": None, "public_updates_channel_id": None,
            "safety_alerts_channel_id": None, "max_members": 500000, "max_presences": None,
            "vanity_url_code": None, "premium_tier": 0, "premium_subscription_count": 0,
            "preferred_locale": guild.locale, "nsfw_level": 0, "premium_progress_bar_enabled": False,
            "incidents_data": None, "lazy": True, "large": guild.member_count >= 250,
            "member_count": guild.member_count, "joined_at": guild.joined_at,
            "voice_states": [], "members": [bot_member], "presences": [],
            "channels": [self._channel_payload(c) for c in channels],
            "threads": [self._channel_payload(c) for c in threads],
            "stage_instances": [], "guild_scheduled_events": [], "soundboard_sounds": [],
            "embedded_activities": [], "activity_instances": [], "application_command_counts": {},
            "hub_type": None, "latest_onboarding_question_id": None, "version": 1,
        }  # fmt: skip
        if initial:
            payload["unavailable"] = False
        return payload

    # --- gateway ----------------------------------------------------------------------------------

    def _condition(self) -> asyncio.Condition:
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed

    async def _notify(self) -> None:
        condition = self._condition()
        async with condition:
            condition.notify_all()

    async def gateway(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(autoping=True, max_msg_size=4096 * 1024)
        await socket.prepare(request)
        connection = Connection(
            socket, compress=request.query.get("compress") == "zlib-stream", path=request.path
        )
        self.connections.append(connection)
        try:
            if request.query.get("v") not in ("9", "10"):
                await connection.close(4012, "Invalid API version.")
                return socket
            if request.query.get("encoding", "json") != "json":
                await connection.close(4002, "Error while decoding payload.")
                return socket
            await connection.send({"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval,
                                                   "_trace": ["[\"gateway-fake\"]"]}, "s": None, "t": None})  # fmt: skip
            async for frame in socket:
                if frame.type != WSMsgType.TEXT:
                    await connection.close(4002, "Error while decoding payload.")
                    break
                try:
                    payload = json.loads(frame.data)
                    op = payload["op"]
                except (ValueError, KeyError, TypeError):
                    await connection.close(4002, "Error while decoding payload.")
                    break
                connection.received.append(payload)
                now = time.monotonic()
                connection._received_at.append(now)
                while connection._received_at and now - connection._received_at[0] >= 60:
                    connection._received_at.popleft()
                if len(connection._received_at) > 120:
                    await connection.close(4008, "Rate limited.")
                    break
                await self._on_gateway(connection, op, payload.get("d"))
                if socket.closed:
                    break
        finally:
            if connection.session is not None and connection.session.connection is connection:
                connection.session.connection = None
            await self._notify()
        return socket

    async def _on_gateway(self, connection: Connection, op: Any, data: Any) -> None:
        if op == 1:
            connection.heartbeats += 1
            await connection.send({"op": 11, "d": None, "s": None, "t": None})
        elif op == 2:
            await self._identify(connection, data or {})
        elif op == 6:
            await self._resume(connection, data or {})
        elif op in (3, 4):
            if connection.session is None:
                await connection.close(4003, "Not authenticated.")
        elif op == 8:
            if connection.session is None:
                await connection.close(4003, "Not authenticated.")
                return
            guild_id = int((data or {}).get("guild_id") or 0)
            guild = self.guilds.get(guild_id)
            members = [] if guild is None else self._guild_payload(guild, initial=False)["members"]
            await self._dispatch(connection.session, "GUILD_MEMBERS_CHUNK", {
                "guild_id": str(guild_id), "members": members, "chunk_index": 0, "chunk_count": 1,
                "not_found": [], "nonce": (data or {}).get("nonce")})  # fmt: skip
        else:
            await connection.close(4001, "Unknown opcode.")

    async def _identify(self, connection: Connection, data: dict[str, Any]) -> None:
        if connection.session is not None:
            await connection.close(4005, "Already authenticated.")
            return
        self.identifies.append(
            {k: v for k, v in data.items() if k != "token"}
            | {"token_ok": data.get("token") == self.token}
        )
        if data.get("token") != self.token:
            await connection.close(4004, "Authentication failed.")
            return
        shard = data.get("shard") or [0, 1]
        shard_id, shard_count = (
            [*shard, None, None][:2] if isinstance(shard, list) else (None, None)
        )
        if (
            not isinstance(shard_id, int)
            or not isinstance(shard_count, int)
            or not 0 <= shard_id < shard_count
        ):
            await connection.close(4010, "Invalid shard.")
            return
        intents = data.get("intents")
        if not isinstance(intents, int) or intents < 0 or intents & ~ALL_INTENTS:
            await connection.close(4013, "Invalid intent(s).")
            return
        if intents & PRIVILEGED_INTENTS & ~self.privileged_intents:
            await connection.close(4014, "Disallowed intent(s).")
            return
        held = [g for g in self.guilds.values() if g.joined and g.shard(shard_count) == shard_id]
        if len(held) > 2500:
            await connection.close(4011, "Sharding required.")
            return
        bucket = shard_id % max(1, self.max_concurrency)
        now = time.monotonic()
        if now - self._identify_at.get(bucket, -1e9) < self.identify_interval:
            # more identifies than max_concurrency allows within 5 s: the client closes, waits
            # and identifies again
            await connection.send({"op": 9, "d": False, "s": None, "t": None})
            return
        self._identify_at[bucket] = now
        session = Session(secrets.token_hex(16), shard_id, shard_count, intents)
        self.sessions[session.id] = session
        session.connection = connection
        connection.session = session
        me = self.bot_user.payload()
        me.update(verified=True, mfa_enabled=False, email=None)
        await self._dispatch(session, "READY", {
            "v": 10, "user": me, "guilds": [{"id": str(g.id), "unavailable": True} for g in held],
            "session_id": session.id, "session_type": "normal",
            "resume_gateway_url": self.resume_gateway_url, "shard": [shard_id, shard_count],
            "application": {"id": str(self.application_id), "flags": self._application_flags()},
            "private_channels": [], "relationships": [], "presences": [], "guild_join_requests": [],
            "user_settings": {}, "geo_ordered_rtc_regions": [], "auth": {},
            "_trace": ["[\"gateway-fake\"]"],
        })  # fmt: skip
        for guild in held:
            if intents & GUILDS_INTENT and not guild.unavailable:
                await self._dispatch(
                    session, "GUILD_CREATE", self._guild_payload(guild, initial=True)
                )
        session.ready = True
        await self._notify()

    async def _resume(self, connection: Connection, data: dict[str, Any]) -> None:
        session = self.sessions.get(str(data.get("session_id")))
        if data.get("token") != self.token:
            await connection.close(4004, "Authentication failed.")
            return
        if session is None:
            await connection.send({"op": 9, "d": False, "s": None, "t": None})
            return
        seq = data.get("seq") or 0
        old = session.connection
        if old is not None and old is not connection:
            await old.close(4000, "Session resumed elsewhere.")
        session.connection = connection
        connection.session = session
        for event in session.events:
            if event["s"] > seq:
                await connection.send(event)
        await self._dispatch(session, "RESUMED", {"_trace": ['["gateway-fake"]']})
        await self._notify()

    async def _dispatch(self, session: Session, event: str, data: dict[str, Any]) -> None:
        session.seq += 1
        payload = {"op": 0, "t": event, "s": session.seq, "d": data}
        session.events.append(payload)
        del session.events[:-1000]
        if session.connection is not None:
            await session.connection.send(payload)

    def _live_session(self, guild_id: int | None) -> Session | None:
        """The newest ready session that holds this guild (None: DMs, which go to shard 0)."""
        for session in reversed(list(self.sessions.values())):
            if not session.ready or session.connection is None:
                continue
            shard = 0 if guild_id is None else shard_of(guild_id, session.shard_count)
            if shard == session.shard_id:
                return session
        return None

    async def session_for(self, guild_id: int | None, within: float = 5.0) -> Session:
        """Wait for a ready gateway connection that holds this guild (None: shard 0, for DMs)."""
        condition = self._condition()
        try:
            async with condition:
                await asyncio.wait_for(
                    condition.wait_for(lambda: self._live_session(guild_id) is not None), within
                )
        except TimeoutError:
            raise TimeoutError(f"no ready gateway connection holds guild {guild_id}") from None
        session = self._live_session(guild_id)
        assert session is not None
        return session

    async def wait_ready(self, shard_id: int = 0, within: float = 5.0) -> Session:
        """Wait until shard ``shard_id`` has been sent READY and its GUILD_CREATEs."""
        condition = self._condition()

        def ready() -> Session | None:
            return next((s for s in reversed(list(self.sessions.values()))
                         if s.ready and s.shard_id == shard_id and s.connection is not None), None)  # fmt: skip

        async with condition:
            await asyncio.wait_for(condition.wait_for(lambda: ready() is not None), within)
        session = ready()
        assert session is not None
        return session

    async def guild_create(self, guild_id: int) -> None:
        """GUILD_CREATE for a guild the bot just joined (or that came back from an outage)."""
        guild = self.guilds[guild_id]
        back = guild.unavailable
        guild.joined, guild.unavailable = True, False
        session = await self.session_for(guild_id)
        if session.intents & GUILDS_INTENT:
            await self._dispatch(session, "GUILD_CREATE", self._guild_payload(guild, initial=back))

    async def guild_delete(self, guild_id: int, unavailable: bool = False) -> None:
        """GUILD_DELETE: the bot was removed (``unavailable=False``) or the guild is in an outage."""
        guild = self.guilds[guild_id]
        session = await self.session_for(guild_id)
        if unavailable:
            guild.unavailable = True
        else:
            guild.joined = False
        data: dict[str, Any] = {"id": str(guild_id)}
        if unavailable:
            data["unavailable"] = True
        if session.intents & GUILDS_INTENT:
            await self._dispatch(session, "GUILD_DELETE", data)

    async def channel_delete(self, channel_id: int) -> None:
        """CHANNEL_DELETE (THREAD_DELETE for a thread); the channel is gone for REST too."""
        channel = self.channel(channel_id)
        assert channel is not None and channel.type != DM, f"no guild channel {channel_id}"
        guild = self.guilds[channel.guild_id]
        payload = self._channel_payload(channel)
        del guild.channels[channel_id]
        session = await self.session_for(guild.id)
        if not session.intents & GUILDS_INTENT:
            return
        if channel.type in THREADS:
            await self._dispatch(session, "THREAD_DELETE", {"id": str(channel_id), "guild_id": str(guild.id),
                                                            "parent_id": payload["parent_id"], "type": channel.type})  # fmt: skip
        else:
            await self._dispatch(session, "CHANNEL_DELETE", payload)

    async def channel_create(self, guild_id: int, channel: Channel) -> Channel:
        """A channel (or thread) appears in a guild: CHANNEL_CREATE (THREAD_CREATE)."""
        self.add_channel(guild_id, channel)
        session = await self.session_for(guild_id)
        if session.intents & GUILDS_INTENT:
            event = "THREAD_CREATE" if channel.type in THREADS else "CHANNEL_CREATE"
            payload = self._channel_payload(channel)
            if channel.type in THREADS:
                payload["newly_created"] = True
            await self._dispatch(session, event, payload)
        return channel

    async def channel_update(self, channel_id: int) -> None:
        """CHANNEL_UPDATE after a test changed a channel (its name, the bot's permissions)."""
        channel = self.channel(channel_id)
        assert channel is not None and channel.type != DM
        session = await self.session_for(channel.guild_id)
        if session.intents & GUILDS_INTENT:
            event = "THREAD_UPDATE" if channel.type in THREADS else "CHANNEL_UPDATE"
            await self._dispatch(session, event, self._channel_payload(channel))

    async def reconnect(self, guild_id: int | None = None) -> None:
        """Op 7 RECONNECT to the connection holding a guild: the client should RESUME."""
        session = await self.session_for(guild_id)
        assert session.connection is not None
        await session.connection.send({"op": 7, "d": None, "s": None, "t": None})

    # --- interactions: builders --------------------------------------------------------------

    def _find_command(
        self, path: str, guild_id: int | None, kind: int = 1
    ) -> tuple[dict[str, Any], list[str], dict[str, Any], bool]:
        names = path.split()
        if not names:
            raise LookupError("no command named")
        scoped = self.commands.get(guild_id, {}) if guild_id is not None else {}
        command = scoped.get((kind, names[0]))
        is_guild = command is not None
        if command is None:
            command = self.commands.get(None, {}).get((kind, names[0]))
        if command is None:
            raise LookupError(
                f"/{names[0]} is not registered for guild {guild_id} or globally: Discord could not send it"
            )
        node = command
        for name in names[1:]:
            sub = next(
                (
                    o
                    for o in node.get("options") or []
                    if o.get("name") == name and o.get("type") in (1, 2)
                ),
                None,
            )
            if sub is None:
                raise LookupError(f"/{path}: no subcommand {name!r}")
            node = sub
        if any(o.get("type") in (1, 2) for o in node.get("options") or []):
            raise LookupError(f"/{path} is a group: Discord invokes only its subcommands")
        return command, names, node, is_guild

    def _option_value(
        self,
        option: dict[str, Any],
        value: Any,
        guild: Guild | None,
        resolved: dict[str, Any],
        permissions: int,
    ) -> Any:
        kind = option["type"]
        name = option["name"]
        if kind == 3 and not isinstance(value, str):
            raise TypeError(f"option {name} takes a string")
        if kind == 4 and (isinstance(value, bool) or not isinstance(value, int)):
            raise TypeError(f"option {name} takes an integer")
        if kind == 5 and not isinstance(value, bool):
            raise TypeError(f"option {name} takes a boolean")
        if kind == 10 and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise TypeError(f"option {name} takes a number")
        choices = option.get("choices")
        if choices and value not in [c["value"] for c in choices]:
            raise ValueError(f"option {name}: {value!r} is not one of its choices")
        for low, high in (("min_value", "max_value"), ("min_length", "max_length")):
            if option.get(low) is None and option.get(high) is None:
                continue
            measured = len(value) if low == "min_length" else value
            if (option.get(low) is not None and measured < option[low]) or (
                option.get(high) is not None and measured > option[high]
            ):
                raise ValueError(f"option {name}: {value!r} out of its range")
        if kind == 6 or (kind == 9 and int(value) in self.users):
            user = self.user(int(value))
            resolved.setdefault("users", {})[str(user.id)] = user.payload()
            if guild is not None:
                resolved.setdefault("members", {})[str(user.id)] = {
                    "roles": [], "joined_at": iso(), "flags": 0, "nick": None, "avatar": None,
                    "premium_since": None, "pending": False, "permissions": str(MEMBER_PERMISSIONS),
                    "communication_disabled_until": None}  # fmt: skip
            return str(value)
        if kind == 7:
            channel = self.channel(int(value))
            if channel is None or guild is None or channel.guild_id != guild.id:
                raise ValueError(f"option {name}: no channel {value} in this guild")
            if option.get("channel_types") and channel.type not in option["channel_types"]:
                raise ValueError(f"option {name}: channel type {channel.type} not allowed")
            data = self._channel_payload(channel, member_permissions=permissions)
            resolved.setdefault("channels", {})[str(channel.id)] = data
            return str(value)
        if kind in (8, 9):
            if guild is None:
                raise ValueError(f"option {name}: roles exist only in guilds")
            roles = {r["id"]: r for r in self._guild_payload(guild, initial=False)["roles"]}
            if str(value) not in roles:
                raise ValueError(f"option {name}: no role {value}")
            resolved.setdefault("roles", {})[str(value)] = roles[str(value)]
            return str(value)
        return value

    async def _dispatch_interaction(
        self,
        kind: int,
        channel_id: int | None,
        data: dict[str, Any],
        *,
        user_id: int,
        permissions: int,
        roles: Iterable[int],
        locale: str,
        message: dict[str, Any] | None = None,
        focused_type: int | None = None,
    ) -> Interaction:
        if channel_id is None:
            channel = self.dm_channel(user_id)
        else:
            found = self.channel(channel_id)
            if found is None:
                raise LookupError(f"no channel {channel_id}")
            channel = found
        guild = None if channel.type == DM else self.guilds[channel.guild_id]
        if guild is not None and not guild.joined:
            raise LookupError(f"the bot is not in guild {guild.id}")
        user = self.user(user_id)
        interaction_id = self.snowflake()
        token = "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(96)
        payload: dict[str, Any] = {
            "id": str(interaction_id), "application_id": str(self.application_id), "type": kind,
            "data": data, "token": token, "version": 1, "locale": locale,
            "channel_id": str(channel.id),
            "channel": self._channel_payload(channel, member_permissions=permissions if guild else None),
            "app_permissions": str(self.bot_permissions(channel)),
            "entitlements": [], "entitlement_sku_ids": [],
            "attachment_size_limit": 10 * 1024 * 1024,
        }  # fmt: skip
        if guild is not None:
            payload.update(
                guild_id=str(guild.id), guild_locale=guild.locale,
                guild={"id": str(guild.id), "locale": guild.locale, "features": list(guild.features)},
                member={"user": user.payload(), "roles": [str(r) for r in roles], "permissions": str(permissions),
                        "joined_at": iso(), "deaf": False, "mute": False, "flags": 0, "nick": None,
                        "avatar": None, "banner": None, "premium_since": None, "pending": False,
                        "communication_disabled_until": None, "unusual_dm_activity_until": None},
                authorizing_integration_owners={"0": str(guild.id)}, context=0,
            )  # fmt: skip
        else:
            payload.update(
                user=user.payload(), authorizing_integration_owners={"0": "0"}, context=1
            )
        if message is not None:
            payload["message"] = self.public(message)
        record = Interaction(interaction_id, token, kind, channel.id, None if guild is None else guild.id,
                             user_id, payload, focused_type=focused_type,
                             message_id=None if message is None else int(message["id"]))  # fmt: skip
        self.interactions[interaction_id] = record
        record.answered()
        session = await self.session_for(None if guild is None else guild.id)
        record.dispatched_at = time.monotonic()
        await self._dispatch(session, "INTERACTION_CREATE", payload)
        return record

    def _command_data(self, command: dict[str, Any], names: list[str], is_guild: bool, guild_id: int | None,
                      leaf_options: list[dict[str, Any]], resolved: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
        options = leaf_options
        chain = [command]
        for name in names[1:]:
            chain.append(next(o for o in chain[-1]["options"] if o["name"] == name))
        for node in reversed(chain[1:]):
            options = [{"name": node["name"], "type": node["type"], "options": options}]
        data: dict[str, Any] = {"id": command["id"], "name": command["name"], "type": command.get("type", 1),
                                "options": options}  # fmt: skip
        if is_guild:
            data["guild_id"] = str(guild_id)
        if resolved:
            data["resolved"] = resolved
        return data

    def _can_invoke(self, command: dict[str, Any], guild_id: int | None) -> None:
        if guild_id is None:
            contexts = command.get("contexts")
            if (contexts is not None and 1 not in contexts) or command.get(
                "dm_permission"
            ) is False:
                raise LookupError(f"/{command['name']} cannot be used in DMs")
        elif command.get("contexts") is not None and 0 not in command["contexts"]:
            raise LookupError(f"/{command['name']} cannot be used in guilds")

    async def slash(
        self,
        command: str,
        options: dict[str, Any] | None = None,
        *,
        channel_id: int | None = None,
        user_id: int = 80_351_110_224_678_913,
        permissions: int = MEMBER_PERMISSIONS,
        roles: Iterable[int] = (),
        locale: str = "en-US",
    ) -> Interaction:
        """A user runs ``/command [group] subcommand`` with these option values (INTERACTION_CREATE
        type 2) in a guild channel, or in a DM with the bot when ``channel_id`` is None.

        The command must have been synced (globally or to the channel's guild), the options must
        match its definition, as Discord's client ensures. ``permissions`` are the member's in the
        channel (``member.permissions``)."""
        channel = None if channel_id is None else self.channel(channel_id)
        guild_id = None if channel is None or channel.type == DM else channel.guild_id
        found, names, leaf, is_guild = self._find_command(command, guild_id)
        self._can_invoke(found, guild_id)
        guild = None if guild_id is None else self.guilds[guild_id]
        given = dict(options or {})
        resolved: dict[str, Any] = {}
        values = []
        for option in leaf.get("options") or []:
            if option["name"] in given:
                value = self._option_value(
                    option, given.pop(option["name"]), guild, resolved, permissions
                )
                values.append({"name": option["name"], "type": option["type"], "value": value})
            elif option.get("required"):
                raise ValueError(f"/{command}: required option {option['name']!r} missing")
        if given:
            raise LookupError(f"/{command} has no option(s) {sorted(given)}")
        data = self._command_data(found, names, is_guild, guild_id, values, resolved)
        return await self._dispatch_interaction(APPLICATION_COMMAND, channel_id, data, user_id=user_id,
                                                permissions=permissions, roles=roles, locale=locale)  # fmt: skip

    async def autocomplete(
        self,
        command: str,
        focused: str,
        value: str,
        options: dict[str, Any] | None = None,
        *,
        channel_id: int | None = None,
        user_id: int = 80_351_110_224_678_913,
        permissions: int = MEMBER_PERMISSIONS,
        roles: Iterable[int] = (),
        locale: str = "en-US",
    ) -> Interaction:
        """A user types ``value`` into the autocompleted option ``focused`` (INTERACTION_CREATE
        type 4, the option marked ``focused: true``); other options already filled in go in
        ``options``."""
        channel = None if channel_id is None else self.channel(channel_id)
        guild_id = None if channel is None or channel.type == DM else channel.guild_id
        found, names, leaf, is_guild = self._find_command(command, guild_id)
        self._can_invoke(found, guild_id)
        target = next((o for o in leaf.get("options") or [] if o["name"] == focused), None)
        if target is None or not target.get("autocomplete"):
            raise LookupError(f"/{command}: option {focused!r} does not autocomplete")
        guild = None if guild_id is None else self.guilds[guild_id]
        given = dict(options or {})
        resolved: dict[str, Any] = {}
        values = []
        for option in leaf.get("options") or []:
            if option["name"] == focused:
                values.append(
                    {"name": focused, "type": option["type"], "value": value, "focused": True}
                )
            elif option["name"] in given:
                item = self._option_value(
                    option, given.pop(option["name"]), guild, resolved, permissions
                )
                values.append({"name": option["name"], "type": option["type"], "value": item})
        if given:
            raise LookupError(f"/{command} has no option(s) {sorted(given)}")
        data = self._command_data(found, names, is_guild, guild_id, values, resolved)
        return await self._dispatch_interaction(AUTOCOMPLETE, channel_id, data, user_id=user_id,
                                                permissions=permissions, roles=roles, locale=locale,
                                                focused_type=target["type"])  # fmt: skip

    async def button(
        self,
        custom_id: str,
        *,
        message_id: int | None = None,
        values: list[str] | None = None,
        user_id: int = 80_351_110_224_678_913,
        permissions: int = MEMBER_PERMISSIONS,
        roles: Iterable[int] = (),
        locale: str = "en-US",
    ) -> Interaction:
        """A user presses the button (or picks ``values`` in the select) ``custom_id`` on a message
        the bot sent (the newest carrying it, unless ``message_id`` says which): INTERACTION_CREATE
        type 3 with the message."""

        def carries(message: dict[str, Any]) -> dict[str, Any] | None:
            stack = list(message.get("components") or [])
            while stack:
                item: dict[str, Any] = stack.pop()
                if item.get("custom_id") == custom_id:
                    return item
                stack.extend(item.get("components") or [])
                if item.get("accessory"):
                    stack.append(item["accessory"])
            return None

        if message_id is not None:
            message = self.messages.get(message_id)
            if message is None or carries(message) is None:
                raise LookupError(f"message {message_id} has no component {custom_id!r}")
        else:
            message = next((m for m in reversed(list(self.messages.values())) if carries(m)), None)
            if message is None:
                raise LookupError(f"no message carries a component {custom_id!r}")
        component = carries(message)
        assert component is not None
        if component.get("disabled"):
            raise LookupError(f"component {custom_id!r} is disabled")
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": component.get("type", 2)}
        if component.get("type") in (3, 5, 6, 7, 8):
            data["values"] = list(values or [])
        channel = self.channel(int(message["channel_id"]))
        assert channel is not None
        return await self._dispatch_interaction(
            MESSAGE_COMPONENT, None if channel.type == DM else channel.id, data,
            user_id=(channel.recipient_id or user_id) if channel.type == DM else user_id,
            permissions=permissions, roles=roles, locale=locale, message=message)  # fmt: skip

    # --- own endpoints ------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        return {
            "posted": {str(c): len(b) for c, b in self.sent.items()},
            "edited": {str(c): len(b) for c, b in self.edited.items() if b},
            "rejected_429": dict(self.rejected_429),
            "invalid_requests": self.invalid_requests,
            "requests": len(self.calls),
            "responses": sum(r.ok for r in self.responses),
            "syncs": len(self.command_syncs),
        }

    async def _stats(self, request: web.Request) -> web.Response:
        """What Discord has seen (for a benchmark that runs it in another process)."""
        return _json(200, self.stats())

    async def _reset(self, request: web.Request) -> web.Response:
        self.calls.clear()
        self.sent.clear()
        self.edited.clear()
        self.responses.clear()
        self.rejected_429.clear()
        self.invalid_requests = 0
        self._global.clear()
        self._windows.clear()
        return _json(200, {"ok": True})


@asynccontextmanager
async def serve_discord(fake: FakeDiscord) -> AsyncIterator[FakeDiscord]:
    """Serve the fake on 127.0.0.1 (an ephemeral port): REST at ``fake.api_url``, the gateway at
    ``fake.gateway_url``, and its own ``GET /stats``, ``POST /reset``."""
    app = web.Application()
    app.router.add_route("*", API_PREFIX + "/{tail:.*}", fake.rest)
    app.router.add_get(GATEWAY_PATH, fake.gateway)
    app.router.add_get(GATEWAY_PATH + "/", fake.gateway)
    app.router.add_get(RESUME_PATH, fake.gateway)
    app.router.add_get(RESUME_PATH + "/", fake.gateway)
    app.router.add_get("/stats", fake._stats)
    app.router.add_post("/reset", fake._reset)
    async with serve_app(app, backlog=1024) as port:
        fake.port = port
        try:
            yield fake
        finally:
            for connection in list(fake.connections):
                with contextlib.suppress(Exception):
                    await connection.socket.close(code=1001, message=b"going away")


def run_discord_process(
    port_out: Any,
    guilds: list[tuple[int, list[int]]],
    channel_limit: Any = (5, 5.0),
    global_limit: Any = (50, 1.0),
    token: str = "fake-bot-token",
) -> None:
    """Entry point of a child process serving a FakeDiscord until it is terminated
    (``ChildServer(run_discord_process, [(guild_id, [channel_id, ...])], (5, 5.0))``)."""

    async def main() -> None:
        fake = FakeDiscord(token=token, channel_limit=channel_limit, global_limit=global_limit)
        for guild_id, channels in guilds:
            fake.guild(guild_id, channels=channels)
        async with serve_discord(fake):
            port_out.put(fake.port)
            await asyncio.Event().wait()

    asyncio.run(main())
