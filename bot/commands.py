"""The command language (the text after ``/signals``), declared once for every platform.

Slack, Discord and the console hand :meth:`CommandService.handle` the text a user typed and a
:class:`CommandContext` (which channel, who, whether they may manage the channel) and render
the :class:`Reply` they get back. Every error a user can cause comes back as a reply that names
what was wrong and what to type instead.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, time
from typing import Protocol
from zoneinfo import ZoneInfo

from bot import regions
from bot.clock import Clock
from bot.digests import pending_digest
from bot.domain import ChannelRef, Filters, Story, Subscription, looks_like_story_id
from bot.ingest.normalize import VERTICALS, split_outlets, vertical_key
from bot.render.model import Digest, StoryCard, card_from_story
from bot.schedule import (
    ScheduleError,
    next_push_for,
    parse_days,
    parse_time_of_day,
    parse_timezone,
    zone_name,
)
from bot.store.ledger import DeliveryLedger
from bot.store.stories import EmptySearch, SearchQuery, StoryStore
from bot.store.subscriptions import SubscriptionStore

log = logging.getLogger(__name__)

PREFIX = "/signals"
LATEST_DEFAULT = 5
LATEST_MAX = 20
SEARCH_LIMIT = 5
_OPTIONS = ("at", "tz", "days", "mode", "topics", "sources", "keywords", "exclude")
_FREE_TEXT = ("sources", "keywords", "exclude")
_OPTION_ALIASES = {"timezone": "tz", "time": "at", "on": "days", "topic": "topics",
                   "source": "sources", "keyword": "keywords", "except": "exclude"}  # fmt: skip


@dataclass(frozen=True)
class CommandContext:
    channel: ChannelRef
    user: str
    can_manage: bool


@dataclass(frozen=True)
class Reply:
    """What a command answers: text (plain, escaped by each platform), story cards or a digest."""

    text: str
    cards: tuple[StoryCard, ...] = ()
    digest: Digest | None = None
    ok: bool = True


class CommandError(Exception):
    """A user's mistake; the message says what was wrong and what to type instead."""


class PushOutcomeLike(Protocol):
    @property
    def summary(self) -> str: ...


class Pusher(Protocol):
    """Sends a subscription's digest now (the delivery engine)."""

    async def push_now(self, sub: Subscription) -> PushOutcomeLike: ...


Handler = Callable[["CommandService", CommandContext, str], Awaitable[Reply]]


@dataclass(frozen=True)
class Command:
    name: str
    usage: str
    summary: str
    details: str
    manages: bool
    handler: Handler = field(repr=False)


COMMANDS: dict[str, Command] = {}


def command(
    name: str, usage: str, summary: str, details: str, *, manages: bool = False
) -> Callable[[Handler], Handler]:
    """Declare a command. The registry is the single list every adapter maps."""

    def register(handler: Handler) -> Handler:
        if name in COMMANDS:
            raise ValueError(f"command {name!r} declared twice")
        COMMANDS[name] = Command(name, usage, summary, details, manages, handler)
        return handler

    return register


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word.lower(), choices, n=1, cutoff=0.6)
    return f' Did you mean "{close[0]}"?' if close else ""


def _region(text: str) -> regions.Region:
    try:
        return regions.resolve(text)
    except regions.UnknownRegion as error:
        raise CommandError(f"{error} Type {PREFIX} regions for the list.") from None


def _split_list(text: str) -> list[str]:
    return [part.strip() for part in re.split(r"[,;]", text) if part.strip()]


def _format_local(when: datetime, zone: str, now: datetime) -> str:
    """'Thu 26 Nov 07:30 CET (in 15 h)', or '(3 h ago)' for a time past."""
    local = when.astimezone(ZoneInfo(zone))
    seconds = (when - now).total_seconds()
    span = abs(seconds)
    if span < 3600:
        amount = f"{max(1, round(span / 60))} min"
    elif span < 48 * 3600:
        amount = f"{round(span / 3600)} h"
    else:
        amount = f"{round(span / 86400)} days"
    rel = "just now" if span < 60 else (f"in {amount}" if seconds > 0 else f"{amount} ago")
    return f"{local:%a} {local.day} {local:%b %H:%M} {local.tzname()} ({rel})"


def _describe(sub: Subscription) -> str:
    region = regions.get(sub.region)
    if sub.mode == "instant":
        how = "instant alerts as stories arrive"
    else:
        how = f"digest {sub.days_label} at {sub.push_time:%H:%M} {sub.timezone}"
    return f"{region.name} ({region.key}): {how}"


def _describe_filters(filters: Filters) -> list[str]:
    lines = []
    if filters.topics:
        lines.append("topics: " + ", ".join(filters.topics))
    if filters.sources:
        lines.append("sources: " + ", ".join(filters.sources))
    if filters.keywords:
        lines.append("keywords: " + ", ".join(filters.keywords))
    if filters.exclude:
        lines.append("excluding: " + ", ".join(filters.exclude))
    return lines


@dataclass(frozen=True)
class SubscribeRequest:
    regions: tuple[str, ...]
    at: time | None = None
    tz: str | None = None
    days: tuple[int, ...] | None = None
    mode: str | None = None
    topics: tuple[str, ...] | None = None
    sources: tuple[str, ...] | None = None
    keywords: tuple[str, ...] | None = None
    exclude: tuple[str, ...] | None = None


def parse_subscribe(args: str) -> SubscribeRequest:
    """``<region>[,<region>...] [at HH:MM] [tz Zone] [days ...] [mode ...] [topics ...] ...``."""
    tokens = args.split()
    region_words: list[str] = []
    options: dict[str, list[str]] = {}
    current: str | None = None
    for index, token in enumerate(tokens):
        word = token.lower()
        key = _option_word(word, current)
        value: str | None = None
        if key is None and current in (None, "at") and (region_words or current):
            # what people type without the option words: "europe 08:00 Europe/Brussels",
            # "europe at 8:00 in Europe/Paris"
            following = tokens[index + 1] if index + 1 < len(tokens) else ""
            if "tz" not in options and word == "in" and _zone_word(following):
                key = "tz"
            elif "tz" not in options and _zone_word(token):
                key, value = "tz", token
            elif current is None and "at" not in options and _time_or_none(token):
                key, value = "at", token
        if key is not None:
            if key in options:
                raise CommandError(f'"{key}" is given twice: give each option once.')
            current, options[key] = key, [value] if value else []
        elif current is None:
            region_words.append(token)
        else:
            options[current].append(token)
    names = _split_list(" ".join(region_words))
    if not names:
        raise CommandError(
            f"Which region? For example: {PREFIX} subscribe europe at 07:30 "
            f"(type {PREFIX} regions for the list)."
        )
    keys: list[str] = []
    for name in names:
        key = _region(name).key
        if key not in keys:
            keys.append(key)
    for key, words in options.items():
        if not words:
            raise CommandError(f'"{key}" needs a value, e.g. {_OPTION_EXAMPLES[key]}.')
    request = SubscribeRequest(regions=tuple(keys))
    try:
        if "at" in options:
            request = replace(request, at=parse_time_of_day(" ".join(options["at"])))
        if "tz" in options:
            request = replace(request, tz=parse_timezone(" ".join(options["tz"])))
        if "days" in options:
            request = replace(request, days=parse_days(" ".join(options["days"])))
    except ScheduleError as error:
        raise CommandError(str(error)) from None
    if "mode" in options:
        mode = " ".join(options["mode"]).lower()
        if mode not in ("digest", "instant"):
            raise CommandError(
                f'"{mode}" is not a mode: use "mode digest" (one push a day) or "mode instant" '
                "(each story as it arrives)."
            )
        request = replace(request, mode=mode)
    if "topics" in options:
        known = sorted(set(VERTICALS.values()))
        topics: list[str] = []
        for part in _split_list(" ".join(options["topics"])):
            # "net zero" is one topic; "security business" is two
            names = [part] if vertical_key(part) in known else part.split()
            for name in names:
                key = vertical_key(name)
                if key not in known:
                    raise CommandError(
                        f'"{name}" is not a topic.{_suggest(key, known)} '
                        f"Topics: {', '.join(known)}."
                    )
                if key not in topics:
                    topics.append(key)
        request = replace(request, topics=tuple(topics))
    if "sources" in options:
        request = replace(
            request,
            sources=tuple(split_outlets(" ".join(options["sources"]))),
        )
    if "keywords" in options:
        keywords = tuple(w.lower() for w in _split_list(" ".join(options["keywords"])))
        request = replace(request, keywords=keywords)
    if "exclude" in options:
        excluded = tuple(w.lower() for w in _split_list(" ".join(options["exclude"])))
        request = replace(request, exclude=excluded)
    return request


def _time_or_none(text: str) -> time | None:
    try:
        return parse_time_of_day(text) if any(c.isdigit() for c in text) else None
    except ScheduleError:
        return None


def _option_word(word: str, current: str | None) -> str | None:
    """The option a word starts, if any. Inside free text (sources, keywords, exclude) only
    the option names themselves count: "keywords time travel" is about time travel."""
    if word in _OPTIONS:
        return word
    if current not in _FREE_TEXT:
        return _OPTION_ALIASES.get(word)
    return None


def _zone_word(word: str) -> bool:
    # Area/City names only (and UTC): a bare "Singapore" or "Japan" is a region first.
    return ("/" in word or word.upper() in ("UTC", "GMT")) and zone_name(word) is not None


_OPTION_EXAMPLES = {
    "at": '"at 07:30"',
    "tz": '"tz Europe/Brussels"',
    "days": '"days weekdays" or "days mon,wed,fri"',
    "mode": '"mode digest" or "mode instant"',
    "topics": '"topics security, business"',
    "sources": '"sources Financial Times, Bloomberg"',
    "keywords": '"keywords grain, ports"',
    "exclude": '"exclude football"',
}


class CommandService:
    """The core service behind every platform: parses and answers commands."""

    def __init__(
        self,
        *,
        stories: StoryStore,
        subscriptions: SubscriptionStore,
        ledger: DeliveryLedger,
        clock: Clock,
        pusher: Pusher | None = None,
    ) -> None:
        self.stories = stories
        self.subscriptions = subscriptions
        self.ledger = ledger
        self.clock = clock
        self.pusher = pusher

    async def handle(self, text: str, ctx: CommandContext) -> Reply:
        """Answer one command line (with or without the leading ``/signals``)."""
        text = text.strip()
        if text.lower().startswith(PREFIX):
            text = text[len(PREFIX) :].strip()
        name, _, args = text.partition(" ")
        name = name.lower()
        if not name:
            name = "help"
        cmd = COMMANDS.get(name)
        if cmd is None:
            return Reply(
                f'I don\'t know the command "{name}".{_suggest(name, list(COMMANDS))} '
                f"Type {PREFIX} help for the list.",
                ok=False,
            )
        if cmd.manages and not ctx.can_manage:
            return Reply(
                f"Only people who can manage this channel can use {PREFIX} {cmd.name}. "
                f"Ask a channel admin, or type {PREFIX} list to see what is set up.",
                ok=False,
            )
        try:
            return await cmd.handler(self, ctx, args.strip())
        except CommandError as error:
            return Reply(str(error), ok=False)
        except Exception:  # a bug of ours: logged in full, and a plain answer in the chat
            log.exception("%s %s failed in %s", PREFIX, cmd.name, ctx.channel)
            return Reply(
                f"Sorry, {PREFIX} {cmd.name} failed on our side; the error is logged. "
                "Try again in a moment.",
                ok=False,
            )

    # helpers used by several commands

    async def _channel_subscription(
        self, ctx: CommandContext, region_text: str, verb: str
    ) -> list[Subscription]:
        """The channel's subscriptions named by ``region_text`` (all when it is empty or
        "all")."""
        subs = await self.subscriptions.for_channel(ctx.channel)
        if not region_text or region_text.lower() == "all":
            if not subs:
                raise CommandError(
                    f"This channel has no subscriptions yet. Try {PREFIX} subscribe europe "
                    f"(type {PREFIX} regions for the list)."
                )
            return subs
        key = _region(region_text).key
        chosen = [s for s in subs if s.region == key]
        if not chosen:
            have = ", ".join(s.region for s in subs) or "none"
            raise CommandError(
                f"This channel has no {regions.get(key).name} subscription to {verb} "
                f"(it has: {have}). Type {PREFIX} list to see them."
            )
        return chosen


@command(
    "help",
    "help [<command>]",
    "List the commands, or explain one.",
    "Shows every command with a line on what it does; help <command> shows one in full.",
)
async def _help(service: CommandService, ctx: CommandContext, args: str) -> Reply:
    if args:
        name = args.split()[0].lower().removeprefix(PREFIX).strip() or "help"
        cmd = COMMANDS.get(name)
        if cmd is None:
            raise CommandError(
                f'There is no command "{name}".{_suggest(name, list(COMMANDS))} '
                f"Type {PREFIX} help for the list."
            )
        note = "\nOnly people who can manage this channel can use it." if cmd.manages else ""
        return Reply(f"{PREFIX} {cmd.usage}\n{cmd.summary}\n\n{cmd.details}{note}")
    lines = [f"{PREFIX} commands:"]
    lines.extend(f"  {PREFIX} {c.usage}\n      {c.summary}" for c in COMMANDS.values())
    lines.append(f"Type {PREFIX} help <command> for more on one.")
    return Reply("\n".join(lines))


@command(
    "regions",
    "regions",
    "The regions you can subscribe to, with aliases and morning push times.",
    "Each region has a home city and time zone; a subscription pushes at 07:00 there unless "
    "you choose a time. Groups (asia, americas, world) cover several regions.",
)
async def _regions(service: CommandService, ctx: CommandContext, args: str) -> Reply:
    lines = ["Regions (key: name, home city, default push, aliases):"]
    for region in regions.REGIONS:
        aliases = ", ".join(region.aliases[:6]) or "-"
        covers = f" covers {', '.join(region.children)};" if region.children else ""
        lines.append(
            f"  {region.key}: {region.name}, {region.home_city}, {region.push_time:%H:%M} "
            f"{region.timezone.key};{covers} aliases: {aliases}"
        )
    return Reply("\n".join(lines))


@command(
    "subscribe",
    "subscribe <region>[,<region>...] [at HH:MM] [tz <zone>] [days daily|weekdays|mon,wed,fri] "
    "[mode digest|instant] [topics <topics>] [sources <outlets>] [keywords <words>] "
    "[exclude <words>]",
    "Get a region's news in this channel: a morning digest, or each story as it arrives.",
    "Defaults: 07:00 in the region's home time zone, every day, one digest. Subscribing again "
    "to a region changes that subscription. Filters narrow it: topics (politics, security, "
    "business, tech, net-zero, ...), sources (outlets), keywords (any must appear), exclude "
    "(none may appear). Examples: /signals subscribe bxl at 07:30 topics security, or "
    "simply /signals subscribe europe 08:00 Europe/Brussels",
    manages=True,
)
async def _subscribe(service: CommandService, ctx: CommandContext, args: str) -> Reply:
    request = parse_subscribe(args)
    now = service.clock.now()
    existing = {s.region: s for s in await service.subscriptions.for_channel(ctx.channel)}
    lines = []
    for key in request.regions:
        region = regions.get(key)
        old = existing.get(key)
        base = old or Subscription(
            channel=ctx.channel, region=key, push_time=region.push_time,
            timezone=region.timezone.key,
        )  # fmt: skip
        filters = Filters(
            topics=request.topics if request.topics is not None else base.filters.topics,
            sources=request.sources if request.sources is not None else base.filters.sources,
            keywords=request.keywords if request.keywords is not None else base.filters.keywords,
            exclude=request.exclude if request.exclude is not None else base.filters.exclude,
        )
        sub = replace(
            base,
            push_time=request.at or base.push_time,
            timezone=request.tz or base.timezone,
            days=request.days or base.days,
            mode=request.mode or base.mode,  # type: ignore[arg-type]
            filters=filters,
            paused=False,
            paused_reason=None,
        )
        sub = replace(sub, next_push_at=next_push_for(sub, now) if sub.mode == "digest" else None)
        saved, created = await service.subscriptions.save(sub, now=now)
        verb = "Subscribed to" if created else "Updated"
        line = f"{verb} {_describe(saved)}."
        if saved.next_push_at:
            line += f" Next push {_format_local(saved.next_push_at, saved.timezone, now)}."
        extra = _describe_filters(saved.filters)
        if extra:
            line += " Only stories with " + "; ".join(extra) + "."
        lines.append(line)
    return Reply("\n".join(lines))


@command(
    "unsubscribe",
    "unsubscribe <region>|all",
    "Stop a region's news in this channel (or all of it).",
    "Removes the subscription; /signals pause keeps it but stops the pushes for a while.",
    manages=True,
)
async def _unsubscribe(service: CommandService, ctx: CommandContext, args: str) -> Reply:
    if not args:
        raise CommandError(f"Which region? For example: {PREFIX} unsubscribe europe, or all.")
    if args.lower() == "all":
        count = await service.subscriptions.delete(ctx.channel, None)
        if not count:
            return Reply("This channel had no subscriptions.")
        return Reply(f"Removed all {count} subscription(s) from this channel.")
    subs = await service._channel_subscription(ctx, args, "remove")
    await service.subscriptions.delete(ctx.channel, [s.region for s in subs])
    return Reply(f"Unsubscribed from {regions.get(subs[0].region).name}.")


@command(
    "pause",
    "pause [<region>]",
    "Hold this channel's pushes (one region, or all) until you resume.",
    "Nothing is lost: /signals resume starts again from the next push time.",
    manages=True,
)
async def _pause(service: CommandService, ctx: CommandContext, args: str) -> Reply:
    subs = await service._channel_subscription(ctx, args, "pause")
    now = service.clock.now()
    reason = f"paused by {ctx.user} on {now:%Y-%m-%d %H:%M} UTC"
    await service.subscriptions.set_paused(
        ctx.channel, [s.region for s in subs], paused=True, reason=reason, now=now
    )
    names = ", ".join(regions.get(s.region).name for s in subs)
    return Reply(f"Paused {names}. Type {PREFIX} resume to start again.")


@command(
    "resume",
    "resume [<region>]",
    "Restart paused pushes (one region, or all).",
    "Also clears a pause the bot made after repeated delivery failures.",
    manages=True,
)
async def _resume(service: CommandService, ctx: CommandContext, args: str) -> Reply:
    subs = await service._channel_subscription(ctx, args, "resume")
    now = service.clock.now()
    following = {
        s.id: next_push_for(s, now) for s in subs if s.id is not None and s.mode == "digest"
    }
    await service.subscriptions.set_paused(
        ctx.channel, [s.region for s in subs], paused=False, reason=None, now=now,
        next_push=following or None,
    )  # fmt: skip
    lines = []
    for sub in subs:
        line = f"Resumed {regions.get(sub.region).name}."
        if sub.id in following:
            line += f" Next push {_format_local(following[sub.id], sub.timezone, now)}."
        lines.append(line)
    return Reply("\n".join(lines))


@command(
    "list",
    "list",
    "This channel's subscriptions, each with its next push in local time.",
    "Shows region, mode, schedule, filters and whether it is paused.",
)
async def _list(service: CommandService, ctx: CommandContext, args: str) -> Reply:
    subs = await service.subscriptions.for_channel(ctx.channel)
    if not subs:
        return Reply(
            f"This channel has no subscriptions yet. Try {PREFIX} subscribe europe "
            f"(type {PREFIX} regions for the list)."
        )
    now = service.clock.now()
    lines = ["This channel's subscriptions:"]
    for sub in subs:
        line = f"  • {_describe(sub)}"
        if sub.paused:
            line += f" — PAUSED ({sub.paused_reason or 'no reason given'})"
        elif sub.next_push_at:
            line += f" — next push {_format_local(sub.next_push_at, sub.timezone, now)}"
        lines.append(line)
        lines.extend(f"      {f}" for f in _describe_filters(sub.filters))
    return Reply("\n".join(lines))


def _parse_latest(args: str) -> tuple[str | None, int]:
    count = LATEST_DEFAULT
    words = []
    for token in args.split():
        if token.isdigit() or (token.startswith("-") and token[1:].isdigit()):
            count = int(token)
            if not 1 <= count <= LATEST_MAX:
                raise CommandError(f"Ask for 1 to {LATEST_MAX} stories, e.g. {PREFIX} latest 5.")
        else:
            words.append(token)
    return (" ".join(words) or None), count


@command(
    "latest",
    "latest [<region>] [<count>]",
    "The newest stories (for a region, or this channel's regions, or everywhere).",
    f"Up to {LATEST_MAX} stories, newest first. Example: /signals latest asia 3",
)
async def _latest(service: CommandService, ctx: CommandContext, args: str) -> Reply:
    region_text, count = _parse_latest(args)
    if region_text:
        region = _region(region_text)
        keys: frozenset[str] | None = regions.leaves(region.key)
        where = f" in {region.name}"
    else:
        subs = await service.subscriptions.for_channel(ctx.channel)
        keys = frozenset().union(*(regions.leaves(s.region) for s in subs)) if subs else None
        where = " for this channel's regions" if subs else ""
    found = await service.stories.latest(regions=keys, limit=count)
    if not found:
        return Reply(f"No stories{where} yet.")
    return Reply(f"Latest {len(found)} stor{'y' if len(found) == 1 else 'ies'}{where}:",
                 cards=tuple(card_from_story(s) for s in found))  # fmt: skip


@command(
    "search",
    "search <words> [in <region>]",
    "Find stories by words in their headline, news and insights.",
    "Every word must appear, in any form (export finds exports). Example: "
    "/signals search grain exports in africa",
)
async def _search(service: CommandService, ctx: CommandContext, args: str) -> Reply:
    words, keys, where = args, None, ""
    match = re.match(r"^(.*?)\s+in\s+([^,]+)$", args, re.I)
    region = regions.find(match.group(2)) if match else None
    if match and region is not None:
        words = match.group(1)
        keys, where = regions.leaves(region.key), f" in {region.name}"
    try:
        query = SearchQuery.parse(words, regions=keys, limit=SEARCH_LIMIT)
    except EmptySearch:
        raise CommandError(
            f"Search for what? Give some words, e.g. {PREFIX} search grain exports"
        ) from None
    found = await service.stories.search(query)
    if not found:
        return Reply(
            f'No stories match "{" ".join(query.words)}"{where}. Try fewer or other words, '
            f"or {PREFIX} latest."
        )
    return Reply(f'Stories matching "{" ".join(query.words)}"{where}:',
                 cards=tuple(card_from_story(s) for s in found))  # fmt: skip


@command(
    "story",
    "story <id or url>",
    "Show one story: its id is under every story the bot posts.",
    "Accepts the 8-character id or the story's link. Example: /signals story k3v9q2xa",
)
async def _story(service: CommandService, ctx: CommandContext, args: str) -> Reply:
    key = args.strip().strip("<>")
    if not key:
        raise CommandError(f"Which story? Give its id or link, e.g. {PREFIX} story k3v9q2xa")
    found: Story | None = await service.stories.find(key)
    if found is None:
        if key.startswith(("http://", "https://")) or looks_like_story_id(key.lower()):
            raise CommandError(
                f'No story "{key}" is stored. Ids are the 8 characters shown under each story; '
                f"{PREFIX} search finds stories by words."
            )
        raise CommandError(
            f'"{key}" is not a story id or link. Ids are 8 letters and digits, like k3v9q2xa; '
            f"{PREFIX} search finds stories by words."
        )
    return Reply("", cards=(card_from_story(found),))


async def _subscription_or_default(
    service: CommandService, ctx: CommandContext, args: str
) -> Subscription:
    subs = await service.subscriptions.for_channel(ctx.channel)
    if args:
        key = _region(args).key
        for sub in subs:
            if sub.region == key:
                return sub
        region = regions.get(key)
        return Subscription(channel=ctx.channel, region=key, push_time=region.push_time,
                            timezone=region.timezone.key)  # fmt: skip
    if len(subs) == 1:
        return subs[0]
    if not subs:
        raise CommandError(f"Name a region, e.g. {PREFIX} preview europe.")
    raise CommandError(
        "This channel has several subscriptions; name one: "
        + ", ".join(f"{PREFIX} preview {s.region}" for s in subs)
    )


@command(
    "preview",
    "preview [<region>]",
    "What the next push would contain (sent to you only).",
    "Shows the digest as it stands now: stories since the last push that this channel has "
    "not seen yet, with the subscription's filters.",
)
async def _preview(service: CommandService, ctx: CommandContext, args: str) -> Reply:
    sub = await _subscription_or_default(service, ctx, args)
    now = service.clock.now()
    pending = await pending_digest(service.stories, service.ledger, sub, now)
    name = regions.get(sub.region).name
    if pending.empty:
        since = _format_local(pending.since, sub.timezone, now)
        return Reply(
            f"Nothing new for {name} since {since}: the next push would be empty. "
            f"{PREFIX} latest {sub.region} shows the newest stories."
        )
    when = f" at {_format_local(sub.next_push_at, sub.timezone, now)}" if sub.next_push_at else ""
    return Reply(f"The next {name} push{when} would hold {len(pending.stories)} stories:",
                 digest=pending.digest(now))  # fmt: skip


@command(
    "send-now",
    "send-now [<region>]",
    "Deliver the digest to this channel now instead of waiting for the push time.",
    "Sends what /signals preview shows; the regular push then carries only what is newer.",
    manages=True,
)
async def _send_now(service: CommandService, ctx: CommandContext, args: str) -> Reply:
    subs = await service._channel_subscription(ctx, args, "send")
    if service.pusher is None:
        raise CommandError("Sending is not available in this process.")
    lines = []
    for sub in subs:
        outcome = await service.pusher.push_now(sub)
        lines.append(outcome.summary)
    return Reply("\n".join(lines))


@command(
    "status",
    "status",
    "Last push, next push, failures, and anything paused (and why).",
    "For each of this channel's subscriptions, plus how many stories the bot holds.",
)
async def _status(service: CommandService, ctx: CommandContext, args: str) -> Reply:
    now = service.clock.now()
    subs = await service.subscriptions.for_channel(ctx.channel)
    total = await service.stories.count()
    newest = await service.stories.latest(limit=1)
    lines = [f"Stories held: {total}."]
    if newest and newest[0].published_at:
        lines[0] += f" Newest published {_format_local(newest[0].published_at, 'UTC', now)}."
    if not subs:
        lines.append(f"This channel has no subscriptions. Try {PREFIX} subscribe europe.")
    for sub in subs:
        lines.append(f"{regions.get(sub.region).name}:")
        if sub.last_push_at:
            lines.append(f"  last push: {_format_local(sub.last_push_at, sub.timezone, now)}")
        else:
            lines.append("  last push: none yet")
        if sub.last_result:
            lines.append(f"  last result: {sub.last_result}")
        if sub.paused:
            lines.append(f"  PAUSED: {sub.paused_reason or 'no reason given'}. "
                         f"Type {PREFIX} resume {sub.region} to restart.")  # fmt: skip
        elif sub.next_push_at:
            lines.append(f"  next push: {_format_local(sub.next_push_at, sub.timezone, now)}")
        elif sub.mode == "instant":
            lines.append("  instant alerts: each new story as it arrives")
        if sub.failures:
            lines.append(f"  failures in a row: {sub.failures}")
    return Reply("\n".join(lines))
