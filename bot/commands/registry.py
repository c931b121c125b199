"""The command registry: every command of the ``/signals`` language, declared once, as data.

A command declares its name, a summary and details for ``help``, whether it changes the
channel's subscriptions (``manages``: only channel managers may use it, and its answer is for
the whole channel), whether it may be slow (an adapter acknowledges first), and its parameters.
A parameter is data too: its name, its :class:`Kind`, whether it is required, one line of
help, and how it is typed in text (by position, or after its name: ``at 07:30``).

Every platform builds the same :class:`CommandRequest` from what a user gave (the console
and Slack from a line of text, Discord from typed options, see :mod:`bot.commands.parsing`),
and one handler answers it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import time
from enum import StrEnum
from typing import TYPE_CHECKING, cast

from bot.domain import PREFIX, ChannelRef
from bot.render.model import Reply

if TYPE_CHECKING:
    from bot.commands.service import CommandService

HELP_LIMIT = 100  # characters of a parameter's help (Discord's limit for an option)
ALL = "all"  # what a region parameter that allows it holds for "every subscription"


class Kind(StrEnum):
    """What a parameter holds, and so how text and typed options are read into it."""

    REGION = "region"  # one region key (or ALL where the parameter allows it)
    REGIONS = "regions"  # region keys, comma-separated in text
    TIME = "time"  # a time of day
    ZONE = "zone"  # an IANA time zone name
    DAYS = "days"  # weekday numbers (Monday is 0)
    MODE = "mode"  # digest or instant
    COUNT = "count"  # a whole number within the parameter's bounds
    STORY = "story"  # a story id or URL
    TEXT = "text"  # free text (search words)
    TOPICS = "topics"  # verticals, comma-separated
    OUTLETS = "outlets"  # outlet names, comma- or "and"-separated
    WORDS = "words"  # words or phrases, comma-separated
    COMMAND = "command"  # the name of a command


# How each kind reads in a usage line when the parameter gives no placeholder of its own.
PLACEHOLDERS: dict[Kind, str] = {
    Kind.REGION: "<region>",
    Kind.REGIONS: "<region>[,<region>...]",
    Kind.TIME: "HH:MM",
    Kind.ZONE: "<zone>",
    Kind.DAYS: "daily|weekdays|mon,wed,fri",
    Kind.MODE: "digest|instant",
    Kind.COUNT: "<count>",
    Kind.STORY: "<id or url>",
    Kind.TEXT: "<words>",
    Kind.TOPICS: "<topics>",
    Kind.OUTLETS: "<outlets>",
    Kind.WORDS: "<words>",
    Kind.COMMAND: "<command>",
}

# A parameter's value once read: the same whichever way the user gave it.
Value = str | int | time | tuple[str, ...] | tuple[int, ...]


@dataclass(frozen=True)
class Param:
    """One parameter of a command.

    ``flag``: typed after a word in text (``at 07:30``): its name, or ``word`` when set
    (``in <region>`` for search); otherwise it is typed by position. ``aliases``: other
    words that start it (``timezone`` for ``tz``). ``allows_all``: ``all`` means every
    subscription of the channel. ``low``/``high`` bound a count.
    """

    name: str
    kind: Kind
    help: str
    required: bool = False
    flag: bool = False
    word: str | None = None
    aliases: tuple[str, ...] = ()
    allows_all: bool = False
    placeholder: str | None = None
    low: int | None = None
    high: int | None = None
    example: str | None = None  # an example, for a "needs a value" answer
    missing: str | None = None  # the answer when a required parameter is not given
    invalid: str | None = None  # the answer when a value cannot be read (counts)

    @property
    def flag_word(self) -> str:
        return self.word or self.name

    @property
    def usage(self) -> str:
        shown = self.placeholder or PLACEHOLDERS[self.kind]
        if self.flag:
            return f"[{self.flag_word} {shown}]"
        return shown if self.required else f"[{shown}]"


Handler = Callable[["CommandService", "CommandContext", "CommandRequest"], Awaitable[Reply]]


@dataclass(frozen=True)
class Command:
    name: str
    summary: str
    details: str
    params: tuple[Param, ...]
    handler: Handler = field(repr=False)
    manages: bool = False
    slow: bool = False
    # A change after which the bot posts in the channel (its pushes): an adapter that can
    # tell checks the bot may post there before the change is made.
    posts: bool = False
    # Splits the text after the command's name into raw values by parameter, for commands
    # whose text the general reading cannot take apart ("search <words> [in <region>]").
    split: Callable[[str], dict[str, str]] | None = field(default=None, repr=False)

    @property
    def usage(self) -> str:
        """``subscribe <region>[,<region>...] [at HH:MM] ...``, built from the parameters."""
        return " ".join([self.name, *(p.usage for p in self.params)])

    @property
    def private(self) -> bool:
        """Whether its answer is for the asker only (every lookup), not the channel (a
        change): what an adapter that acknowledges first (``slow``) defers with. An error is
        always for the asker only."""
        return not self.manages

    @property
    def line(self) -> str:
        return f"{PREFIX} {self.name}"

    def param(self, name: str) -> Param:
        for param in self.params:
            if param.name == name:
                return param
        raise KeyError(f"{self.name} has no parameter {name!r}")

    @property
    def positional(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if not p.flag)

    @property
    def flagged(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if p.flag)


@dataclass(frozen=True)
class CommandContext:
    """Who asks, and where: the channel, the user, and whether they may manage the channel."""

    channel: ChannelRef
    user: str
    can_manage: bool
    # Who may change the channel's subscriptions, as the platform decides it: what a person
    # who may not is told.
    managers: str = "people who can manage this channel"


@dataclass(frozen=True)
class CommandRequest:
    """A command and its parameters' values, as every platform builds it (see
    :mod:`bot.commands.parsing`). A parameter not given is absent from ``args``."""

    command: str
    args: Mapping[str, Value] = field(default_factory=dict)

    def __contains__(self, name: str) -> bool:
        return name in self.args

    def text(self, name: str) -> str | None:
        return cast("str | None", self.args.get(name))

    def count(self, name: str) -> int | None:
        return cast("int | None", self.args.get(name))

    def time(self, name: str) -> time | None:
        return cast("time | None", self.args.get(name))

    def strings(self, name: str) -> tuple[str, ...] | None:
        return cast("tuple[str, ...] | None", self.args.get(name))

    def numbers(self, name: str) -> tuple[int, ...] | None:
        return cast("tuple[int, ...] | None", self.args.get(name))


# The order ``help`` lists the commands in (any others follow in the order declared).
ORDER = (
    "help", "regions", "subscribe", "unsubscribe", "pause", "resume", "list", "latest",
    "search", "story", "preview", "send-now", "status",
)  # fmt: skip


class Registry(Mapping[str, Command]):
    """The commands by name, in :data:`ORDER`."""

    def __init__(self) -> None:
        self._commands: dict[str, Command] = {}

    def __getitem__(self, name: str) -> Command:
        return self._commands[name]

    def __iter__(self) -> Iterator[str]:
        rank = {name: n for n, name in enumerate(ORDER)}
        return iter(sorted(self._commands, key=lambda name: rank.get(name, len(rank))))

    def __len__(self) -> int:
        return len(self._commands)

    def add(self, command: Command) -> Command:
        if command.name in self._commands:
            raise ValueError(f"command {command.name!r} declared twice")
        names = [p.name for p in command.params]
        if len(set(names)) != len(names):
            raise ValueError(f"command {command.name!r} declares a parameter twice")
        for param in command.params:
            if len(param.help) > HELP_LIMIT:
                raise ValueError(f"{command.name} {param.name}: help over {HELP_LIMIT} characters")
        self._commands[command.name] = command
        return command

    def remove(self, name: str) -> None:
        del self._commands[name]

    def command(
        self,
        name: str,
        summary: str,
        details: str,
        *params: Param,
        manages: bool = False,
        slow: bool = False,
        posts: bool = False,
        split: Callable[[str], dict[str, str]] | None = None,
    ) -> Callable[[Handler], Handler]:
        """Declare a command answered by the decorated handler."""

        def register(handler: Handler) -> Handler:
            self.add(
                Command(name, summary, details, params, handler, manages, slow, posts, split)
            )
            return handler

        return register


REGISTRY = Registry()
command = REGISTRY.command
