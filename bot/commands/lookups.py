"""Looking things up: help, regions, the latest stories, search, one story."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC

from bot import regions
from bot.commands.parsing import action
from bot.commands.registry import REGISTRY, CommandContext, CommandRequest, Kind, Param, command
from bot.commands.service import CommandService
from bot.commands.wording import CommandError, stories_word, suggest
from bot.domain import PREFIX, looks_like_story_id
from bot.render.model import Action, Reply, card_from_story
from bot.store.stories import EmptySearch, SearchQuery

LATEST_DEFAULT = 5
LATEST_MAX = 20
SEARCH_LIMIT = 5
REGION_HELP = f"A region key, bureau or name: europe, bxl, middle east, sg (see {PREFIX} regions)"


def more_from(region_key: str) -> Action:
    """The button for the newest stories of a region."""
    request = CommandRequest("latest", {"region": region_key})
    return action(REGISTRY, "more", f"More from {regions.get(region_key).name}", request)


@command(
    "help",
    "List the commands, or explain one.",
    "Shows every command with a line on what it does; help <command> shows one in full.",
    Param("command", Kind.COMMAND, "The command to explain, e.g. subscribe"),
)
async def show_help(service: CommandService, ctx: CommandContext, request: CommandRequest) -> Reply:
    name = request.text("command")
    if name is not None:
        cmd = service.registry.get(name)
        if cmd is None:
            raise CommandError(
                f'There is no command "{name}".{suggest(name, list(service.registry))} '
                f"Type {PREFIX} help for the list."
            )
        note = "\nOnly people who can manage this channel can use it." if cmd.manages else ""
        return Reply(f"{PREFIX} {cmd.usage}\n{cmd.summary}\n\n{cmd.details}{note}")
    lines = [f"{PREFIX} commands:"]
    lines.extend(f"  {PREFIX} {c.usage}\n      {c.summary}" for c in service.registry.values())
    lines.append(f"Type {PREFIX} help <command> for more on one.")
    return Reply("\n".join(lines))


@command(
    "regions",
    "The regions you can subscribe to, with aliases and morning push times.",
    "Each region has a home city and time zone; a subscription pushes at 07:00 there unless "
    "you choose a time. Groups (asia, americas, world) cover several regions.",
)
async def show_regions(
    service: CommandService, ctx: CommandContext, request: CommandRequest
) -> Reply:
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
    "latest",
    "The newest stories (for a region, or this channel's regions, or everywhere).",
    f"Up to {LATEST_MAX} stories, newest first. Example: {PREFIX} latest asia 3",
    Param("region", Kind.REGION, REGION_HELP),
    Param(
        "count", Kind.COUNT, f"How many stories, 1 to {LATEST_MAX} (default {LATEST_DEFAULT})",
        low=1, high=LATEST_MAX,
        invalid=f"Ask for 1 to {LATEST_MAX} stories, e.g. {PREFIX} latest 5.",
    ),
)  # fmt: skip
async def latest(service: CommandService, ctx: CommandContext, request: CommandRequest) -> Reply:
    count = request.count("count") or LATEST_DEFAULT
    key = request.text("region")
    if key is not None:
        region = regions.get(key)
        keys: frozenset[str] | None = regions.leaves(region.key)
        where = f" in {region.name}"
    else:
        subs = await service.subscriptions.for_channel(ctx.channel)
        keys = frozenset().union(*(regions.leaves(s.region) for s in subs)) if subs else None
        where = " for this channel's regions" if subs else ""
    found = await service.stories.latest(regions=keys, limit=count)
    if not found:
        return Reply(f"No stories{where} yet.")
    return Reply(f"Latest {len(found)} {stories_word(len(found))}{where}:",
                 cards=tuple(card_from_story(s) for s in found))  # fmt: skip


def split_search(args: str) -> dict[str, str]:
    """``<words> [in <region>]``: a trailing "in" names a region only if it is one
    ("fighting in gaza" is all words)."""
    match = re.match(r"^(.*?)\s+in\s+([^,]+)$", args, re.I)
    if match and regions.find(match.group(2)) is not None:
        return {"words": match.group(1), "region": match.group(2)}
    return {"words": args} if args.strip() else {}


@command(
    "search",
    "Find stories by words in their headline, news and insights.",
    "Every word must appear, in any form (export finds exports). Example: "
    f"{PREFIX} search grain exports in africa",
    Param(
        "words", Kind.TEXT, "Words that must all appear, e.g. grain exports", required=True,
        missing=f"Search for what? Give some words, e.g. {PREFIX} search grain exports",
    ),
    Param("region", Kind.REGION, "Only stories from this region", flag=True, word="in"),
    split=split_search,
)  # fmt: skip
async def search(service: CommandService, ctx: CommandContext, request: CommandRequest) -> Reply:
    key = request.text("region")
    keys, where = None, ""
    if key is not None:
        keys, where = regions.leaves(key), f" in {regions.get(key).name}"
    try:
        query = SearchQuery.parse(request.text("words") or "", regions=keys, limit=SEARCH_LIMIT)
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
    "Show one story: its id is under every story the bot posts.",
    f"Accepts the 8-character id or the story's link. Example: {PREFIX} story k3v9q2xa",
    Param(
        "story", Kind.STORY, "The story's 8-character id (under every story) or its link",
        required=True,
        missing=f"Which story? Give its id or link, e.g. {PREFIX} story k3v9q2xa",
    ),
)  # fmt: skip
async def story(service: CommandService, ctx: CommandContext, request: CommandRequest) -> Reply:
    key = request.text("story") or ""
    if not key:
        raise CommandError(service.registry["story"].param("story").missing or "")
    lookup = await service.stories.find_with_change(key)
    if lookup is None:
        if key.startswith(("http://", "https://")) or looks_like_story_id(key.lower()):
            raise CommandError(
                f'No story "{key}" is stored. Ids are the 8 characters shown under each story; '
                f"{PREFIX} search finds stories by words."
            )
        raise CommandError(
            f'"{key}" is not a story id or link. Ids are 8 letters and digits, like k3v9q2xa; '
            f"{PREFIX} search finds stories by words."
        )
    found, changed = lookup
    actions = (more_from(found.region),) if found.region else ()
    card = card_from_story(found)
    updated = found.updated_at or changed
    if updated is not None:  # shown in each reader's own time zone where the platform can
        card = replace(card, updated_at=updated.astimezone(UTC))
    channels = await service.ledger.channels_with(found.id)
    reach = (
        f"signalbot has sent it to {channels} channel{'' if channels == 1 else 's'}"
        if channels
        else "signalbot has not sent it to any channel yet"
    )
    if updated is not None:
        reach += "; " + card.updated_line.replace("Updated", "updated", 1)
    return Reply(f"{reach}.", cards=(card,), actions=actions)
