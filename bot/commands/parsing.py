"""From what a user gave to a :class:`CommandRequest`, and back to a command line.

Two ways in, one request: :func:`parse_text` reads the text typed after ``/signals`` (the
console, Slack), :func:`parse_options` reads typed options (Discord). Both read each value
with :func:`read_value`, so a region, a time or a zone means the same whichever way it came.
:func:`command_line` writes a request back as the line that asks for it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import time

from bot import regions
from bot.commands.registry import ALL, Command, CommandRequest, Kind, Param, Registry, Value
from bot.commands.wording import CommandError, suggest, unknown_command
from bot.domain import PREFIX, WEEKDAYS
from bot.render.model import Action, ActionKind, button_payload
from bot.schedule import (
    ALL_DAYS,
    ScheduleError,
    parse_days,
    parse_time_of_day,
    parse_timezone,
    zone_name,
)
from bot.vocabulary import VERTICALS, split_outlets, vertical_key

# Kinds whose text runs to the next parameter's own name: inside them aliases ("time",
# "source") are ordinary words, so "keywords time travel" is about time travel.
FREE_TEXT = frozenset({Kind.TEXT, Kind.OUTLETS, Kind.WORDS})
MODES = ("digest", "instant")
TOPICS = tuple(sorted(set(VERTICALS.values())))


def split_command(text: str) -> tuple[str, str]:
    """A line (with or without the leading ``/signals``) as the command's name and the rest;
    no name means ``help``."""
    text = text.strip()
    if text.lower().startswith(PREFIX):
        text = text[len(PREFIX) :].strip()
    name, _, args = text.partition(" ")
    return (name.lower() or "help"), args.strip()


def find_command(registry: Registry, name: str) -> Command:
    command = registry.get(name)
    if command is None:
        raise CommandError(unknown_command(name, list(registry)))
    return command


def split_list(text: str) -> list[str]:
    """'a, b; c' -> ['a', 'b', 'c']."""
    return [part.strip() for part in re.split(r"[,;]", text) if part.strip()]


def region_key(text: str) -> str:
    try:
        return regions.resolve(text).key
    except regions.UnknownRegion as error:
        raise CommandError(f"{error} Type {PREFIX} regions for the list.") from None


def read_value(command: Command, param: Param, raw: str | int) -> Value:
    """One parameter's value from what the user gave; a CommandError says what to type."""
    if param.kind is Kind.COUNT:
        return _count(param, raw)
    text = str(raw).strip()
    try:
        value: Value = _READERS[param.kind](command, param, text)
        return value
    except ScheduleError as error:
        raise CommandError(str(error)) from None


def _count(param: Param, raw: str | int) -> int:
    try:
        value = raw if isinstance(raw, int) else int(str(raw).strip())
    except ValueError:
        value = None
    low = param.low if param.low is not None else value
    high = param.high if param.high is not None else value
    if value is None or low is None or high is None or not low <= value <= high:
        raise CommandError(param.invalid or f'"{raw}" is not a number from {low} to {high}.')
    return value


def _region(command: Command, param: Param, text: str) -> str:
    if param.allows_all and text.lower() == ALL:
        return ALL
    return region_key(text)


def _regions(command: Command, param: Param, text: str) -> tuple[str, ...]:
    keys: list[str] = []
    for name in split_list(text):
        key = region_key(name)
        if key not in keys:
            keys.append(key)
    if not keys:
        raise CommandError(_missing(command, param))
    return tuple(keys)


def _mode(command: Command, param: Param, text: str) -> str:
    mode = text.lower()
    if mode not in MODES:
        raise CommandError(
            f'"{mode}" is not a mode: use "mode digest" (one push a day) or "mode instant" '
            "(each story as it arrives)."
        )
    return mode


def _topics(command: Command, param: Param, text: str) -> tuple[str, ...]:
    topics: list[str] = []
    for part in split_list(text):
        # "net zero" is one topic; "security business" is two
        names = [part] if vertical_key(part) in TOPICS else part.split()
        for name in names:
            key = vertical_key(name)
            if key not in TOPICS:
                raise CommandError(
                    f'"{name}" is not a topic.{suggest(key, list(TOPICS))} '
                    f"Topics: {', '.join(TOPICS)}."
                )
            if key not in topics:
                topics.append(key)
    return tuple(topics)  # "topics ," clears the filter


def _command_name(command: Command, param: Param, text: str) -> str:
    words = text.lower().split()
    if words and words[0] == PREFIX:
        words = words[1:]
    return (words[0].removeprefix(PREFIX) if words else "") or "help"


_READERS = {
    Kind.REGION: _region,
    Kind.REGIONS: _regions,
    Kind.TIME: lambda command, param, text: parse_time_of_day(text),
    Kind.ZONE: lambda command, param, text: parse_timezone(text),
    Kind.DAYS: lambda command, param, text: parse_days(text),
    Kind.MODE: _mode,
    Kind.STORY: lambda command, param, text: text.strip("<>").strip(),
    Kind.TEXT: lambda command, param, text: text,
    Kind.TOPICS: _topics,
    Kind.OUTLETS: lambda command, param, text: tuple(split_outlets(text)),
    Kind.WORDS: lambda command, param, text: tuple(w.lower() for w in split_list(text)),
    Kind.COMMAND: _command_name,
}
TEXT_KINDS = frozenset(_READERS) | {Kind.COUNT}  # every kind the text reading knows


def _missing(command: Command, param: Param) -> str:
    return (
        param.missing or f"{command.line} needs {param.usage}: type {PREFIX} help {command.name}."
    )


def _needs_value(param: Param) -> str:
    example = f", e.g. {param.example}" if param.example else ""
    return f'"{param.flag_word}" needs a value{example}.'


def _looks_like_count(token: str) -> bool:
    return token.isdigit() or (token.startswith("-") and token[1:].isdigit())


def _time_or_none(text: str) -> time | None:
    try:
        return parse_time_of_day(text) if any(c.isdigit() for c in text) else None
    except ScheduleError:
        return None


def _zone_word(word: str) -> bool:
    # Area/City names only (and UTC): a bare "Singapore" or "Japan" is a region first.
    return ("/" in word or word.upper() in ("UTC", "GMT")) and zone_name(word) is not None


def _first_flag(command: Command, kind: Kind) -> Param | None:
    return next((p for p in command.flagged if p.kind is kind), None)


def split_text(command: Command, args: str) -> dict[str, str]:
    """The raw text of each parameter given in ``args`` (the text after the command's name).

    Positional parameters come first; a flagged one starts at its word (``at``, ``tz``, ...)
    and runs to the next. A time and a zone typed without their words are taken for what
    they are ("europe 08:00 Europe/Brussels", "europe at 8:00 in Europe/Paris").
    """
    if command.split is not None:
        return command.split(args)
    words = {p.flag_word: p for p in command.flagged}
    aliases = {alias: p for p in command.flagged for alias in p.aliases}
    at, tz = _first_flag(command, Kind.TIME), _first_flag(command, Kind.ZONE)
    positional: list[str] = []
    options: dict[str, list[str]] = {}
    current: Param | None = None
    tokens = args.split()
    for index, token in enumerate(tokens):
        word = token.lower()
        param = words.get(word)
        if param is None and (current is None or current.kind not in FREE_TEXT):
            param = aliases.get(word)
        value: str | None = None
        if param is None and (current is None or current is at) and (positional or current):
            following = tokens[index + 1] if index + 1 < len(tokens) else ""
            if tz is not None and tz.name not in options:
                if word == "in" and _zone_word(following):
                    param = tz
                elif _zone_word(token):
                    param, value = tz, token
            bare_time = at is not None and current is None and at.name not in options
            if param is None and bare_time and _time_or_none(token):
                param, value = at, token
        if param is not None:
            if param.name in options:
                raise CommandError(f'"{param.flag_word}" is given twice: give each option once.')
            current, options[param.name] = param, [value] if value else []
        elif current is None:
            positional.append(token)
        else:
            options[current.name].append(token)
    raw = _place(command.positional, positional)
    raw.update((name, " ".join(given)) for name, given in options.items())
    return raw  # an option given without a value is "": answered once the rest is read


def _place(params: tuple[Param, ...], tokens: list[str]) -> dict[str, str]:
    """Positional words onto positional parameters: a count takes the numbers, the other
    parameter the rest."""
    if not params or not tokens:
        return {}
    counts = [p for p in params if p.kind is Kind.COUNT]
    others = [p for p in params if p.kind is not Kind.COUNT]
    raw: dict[str, str] = {}
    if counts:
        numbers = [t for t in tokens if _looks_like_count(t)]
        tokens = [t for t in tokens if not _looks_like_count(t)]
        for number in numbers[:-1]:  # the last one counts; each must be one
            _count(counts[0], number)
        if numbers:
            raw[counts[0].name] = numbers[-1]
    if others and tokens:
        raw[others[0].name] = " ".join(tokens)
    return raw


def parse_args(command: Command, args: str) -> CommandRequest:
    """The request for ``command`` given the text after its name."""
    return _request(command, split_text(command, args))


def parse_text(registry: Registry, text: str) -> CommandRequest:
    """The request a command line asks for (with or without the leading ``/signals``)."""
    name, args = split_command(text)
    return parse_args(find_command(registry, name), args)


def parse_options(command: Command, options: Mapping[str, str | int | None]) -> CommandRequest:
    """The request typed options ask for (a Discord slash command's), read as text is."""
    raw: dict[str, str | int] = {}
    for name, value in options.items():
        if name not in {p.name for p in command.params}:
            raise CommandError(f'{command.line} has no option "{name}".')
        if value is not None and (not isinstance(value, str) or value.strip()):
            raw[name] = value
    return _request(command, raw)


def _request(command: Command, raw: Mapping[str, str | int]) -> CommandRequest:
    for param in command.params:
        if param.required and param.name not in raw:
            raise CommandError(_missing(command, param))
    values: dict[str, Value] = {}
    for param in command.params:  # read in declared order: the first mistake is answered
        if param.name in raw:
            given = raw[param.name]
            if param.kind is not Kind.COUNT and not str(given).strip():
                if param.required:
                    raise CommandError(_missing(command, param))
                if param.flag:
                    raise CommandError(_needs_value(param))
                continue
            value = read_value(command, param, given)
            if param.required and value in ("", ()):  # "story <>": nothing left to read
                raise CommandError(_missing(command, param))
            values[param.name] = value
    return CommandRequest(command.name, values)


def _show(param: Param, value: Value) -> str:
    """A value as it would be typed."""
    if isinstance(value, time):
        return f"{value:%H:%M}"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value
    if param.kind is Kind.DAYS:
        days = tuple(int(d) for d in value)
        return "daily" if days == ALL_DAYS else ",".join(WEEKDAYS[d] for d in days)
    return ", ".join(str(v) for v in value) or ","  # an empty list: a filter cleared


def command_line(registry: Registry, request: CommandRequest) -> str:
    """The line that asks for ``request``: ``/signals subscribe europe at 07:30 tz ...``."""
    command = registry[request.command]
    parts = [command.line]
    for param in command.positional:
        if param.name in request.args:
            parts.append(_show(param, request.args[param.name]))
    for param in command.flagged:
        if param.name in request.args:
            parts.extend([param.flag_word, _show(param, request.args[param.name])])
    return " ".join(parts)


def request_payload(
    registry: Registry, request: CommandRequest, channel: str | None = None
) -> str:
    """A request as a button carries it: each value as it would be typed, read back by
    :func:`read_payload` as typed options are (exactly: no text has to be taken apart)."""
    command = registry[request.command]
    shown = {name: _show(command.param(name), value) for name, value in request.args.items()}
    return button_payload(request.command, shown, channel)


def read_payload(registry: Registry, payload: str) -> CommandRequest:
    """The request a button carried; a CommandError if it is not one (an old or forged
    button)."""
    try:
        name, options, *_ = json.loads(payload)  # then, maybe, the channel it acts in
        if not isinstance(name, str) or not isinstance(options, dict):
            raise ValueError(payload)
        if not all(isinstance(v, str) for v in options.values()):
            raise ValueError(payload)
        return parse_options(find_command(registry, name), options)
    except (ValueError, TypeError, CommandError):
        raise CommandError(
            f"That button no longer works. Type the command instead ({PREFIX} help lists them)."
        ) from None


def payload_target(payload: str) -> tuple[str, str | None]:
    """What a button runs, before it is read in full: its command's name ("" if it has none)
    and the channel it acts in, when it says (one pressed on a home tab). An adapter needs
    both to know who may press it, and where."""
    try:
        packed = json.loads(payload)
    except ValueError:
        return "", None
    if not isinstance(packed, list) or not packed or not isinstance(packed[0], str):
        return "", None
    channel = packed[2] if len(packed) == 3 and isinstance(packed[2], str) else None
    return packed[0], channel


def action(
    registry: Registry,
    kind: ActionKind,
    label: str,
    request: CommandRequest,
    channel: str | None = None,
) -> Action:
    """A button that runs ``request`` (in ``channel``, when pressed away from it)."""
    payload = request_payload(registry, request, channel)
    return Action(kind, label, command_line(registry, request), payload)
