"""A channel's subscriptions: subscribe, unsubscribe, pause, resume, list."""

from __future__ import annotations

from dataclasses import replace

from bot import regions
from bot.commands.parsing import action
from bot.commands.registry import (
    ALL,
    REGISTRY,
    CommandContext,
    CommandRequest,
    Kind,
    Param,
    command,
)
from bot.commands.service import CommandService
from bot.commands.wording import (
    NO_SUBSCRIPTIONS,
    describe,
    describe_filters,
    format_local,
    subscription_lines,
)
from bot.domain import PREFIX, DeliveryMode, Filters, Subscription
from bot.lifecycle import PAUSED_BY
from bot.render.model import Action, Reply
from bot.schedule import next_push_for

MAX_BUTTONS = 4  # a row holds five buttons: these, and the one that posts a lookup


def unsubscribe_button(region_key: str) -> Action:
    name = regions.get(region_key).name
    request = CommandRequest("unsubscribe", {"region": region_key})
    return action(REGISTRY, "unsubscribe", f"Unsubscribe {name}", request)


@command(
    "subscribe",
    "Get a region's news in this channel: a morning digest, or each story as it arrives.",
    "Defaults: 07:00 in the region's home time zone, every day, one digest. Subscribing again "
    "to a region changes that subscription. Filters narrow it: topics (politics, security, "
    "business, tech, net-zero, ...), sources (outlets), keywords (any must appear), exclude "
    f"(none may appear). Examples: {PREFIX} subscribe bxl at 07:30 topics security, or "
    f"simply {PREFIX} subscribe europe 08:00 Europe/Brussels",
    Param(
        "regions", Kind.REGIONS, "Regions, comma-separated: europe, bxl, middle east, sg",
        required=True,
        missing=f"Which region? For example: {PREFIX} subscribe europe at 07:30 "
        f"(type {PREFIX} regions for the list).",
    ),
    Param("at", Kind.TIME, "Push time, 24-hour HH:MM (default 07:00 in the region's home zone)",
          flag=True, aliases=("time",), example='"at 07:30"'),
    Param("tz", Kind.ZONE, "Time zone of the push time, an IANA name like Europe/Brussels",
          flag=True, aliases=("timezone",), example='"tz Europe/Brussels"'),
    Param("days", Kind.DAYS, "Days to push: daily, weekdays, weekends or e.g. mon,wed,fri",
          flag=True, aliases=("on",), example='"days weekdays" or "days mon,wed,fri"'),
    Param("mode", Kind.MODE, "digest: one push a day; instant: each story as it arrives",
          flag=True, example='"mode digest" or "mode instant"'),
    Param("topics", Kind.TOPICS, "Only these topics, e.g. security, business, net zero",
          flag=True, aliases=("topic",), example='"topics security, business"'),
    Param("sources", Kind.OUTLETS, "Only stories with insights from these outlets",
          flag=True, aliases=("source",), example='"sources Financial Times, Bloomberg"'),
    Param("keywords", Kind.WORDS, "Only stories with one of these words or phrases",
          flag=True, aliases=("keyword",), example='"keywords grain, ports"'),
    Param("exclude", Kind.WORDS, "Leave out stories with any of these words or phrases",
          flag=True, aliases=("except",), example='"exclude football"'),
    manages=True,
    posts=True,
)  # fmt: skip
async def subscribe(service: CommandService, ctx: CommandContext, request: CommandRequest) -> Reply:
    now = service.clock.now()
    existing = {s.region: s for s in await service.subscriptions.for_channel(ctx.channel)}
    topics, sources = request.strings("topics"), request.strings("sources")
    keywords, exclude = request.strings("keywords"), request.strings("exclude")
    lines = []
    saved_regions = []
    for key in request.strings("regions") or ():
        region = regions.get(key)
        base = existing.get(key) or Subscription(
            channel=ctx.channel, region=key, push_time=region.push_time,
            timezone=region.timezone.key,
        )  # fmt: skip
        filters = Filters(
            topics=topics if topics is not None else base.filters.topics,
            sources=sources if sources is not None else base.filters.sources,
            keywords=keywords if keywords is not None else base.filters.keywords,
            exclude=exclude if exclude is not None else base.filters.exclude,
        )
        mode: DeliveryMode = "instant" if request.text("mode") == "instant" else "digest"
        sub = replace(
            base,
            push_time=request.time("at") or base.push_time,
            timezone=request.text("tz") or base.timezone,
            days=request.numbers("days") or base.days,
            mode=mode if "mode" in request else base.mode,
            filters=filters,
            paused=False,
            paused_reason=None,
        )
        sub = replace(sub, next_push_at=next_push_for(sub, now) if sub.mode == "digest" else None)
        saved, created = await service.subscriptions.save(sub, now=now)
        saved_regions.append(saved.region)
        line = f"{'Subscribed to' if created else 'Updated'} {describe(saved)}."
        if saved.next_push_at:
            line += f" Next push {format_local(saved.next_push_at, saved.timezone, now)}."
        extra = describe_filters(saved.filters)
        if extra:
            line += " Only stories with " + "; ".join(extra) + "."
        lines.append(line)
    buttons = tuple(unsubscribe_button(key) for key in saved_regions[:MAX_BUTTONS])
    return Reply("\n".join(lines), actions=buttons)


@command(
    "unsubscribe",
    "Stop a region's news in this channel (or all of it).",
    f"Removes the subscription; {PREFIX} pause keeps it but stops the pushes for a while.",
    Param(
        "region", Kind.REGION, "The region to stop, or all", required=True, allows_all=True,
        placeholder="<region>|all",
        missing=f"Which region? For example: {PREFIX} unsubscribe europe, or all.",
    ),
    manages=True,
)  # fmt: skip
async def unsubscribe(
    service: CommandService, ctx: CommandContext, request: CommandRequest
) -> Reply:
    if request.text("region") == ALL:
        count = await service.subscriptions.delete(ctx.channel, None)
        if not count:
            return Reply("This channel had no subscriptions.")
        return Reply(f"Removed all {count} subscription(s) from this channel.")
    subs = await service.channel_subscriptions(ctx, request.text("region"), "remove")
    await service.subscriptions.delete(ctx.channel, [s.region for s in subs])
    return Reply(f"Unsubscribed from {regions.get(subs[0].region).name}.")


@command(
    "pause",
    "Hold this channel's pushes (one region, or all) until you resume.",
    f"Nothing is lost: {PREFIX} resume starts again from the next push time.",
    Param("region", Kind.REGION, "The region to pause (all when not given)", allows_all=True),
    manages=True,
)
async def pause(service: CommandService, ctx: CommandContext, request: CommandRequest) -> Reply:
    subs = await service.channel_subscriptions(ctx, request.text("region"), "pause")
    now = service.clock.now()
    reason = f"{PAUSED_BY}{ctx.user} on {now:%Y-%m-%d %H:%M} UTC"
    await service.subscriptions.set_paused(
        ctx.channel, [s.region for s in subs], paused=True, reason=reason, now=now
    )
    names = ", ".join(regions.get(s.region).name for s in subs)
    return Reply(f"Paused {names}. Type {PREFIX} resume to start again.")


@command(
    "resume",
    "Restart paused pushes (one region, or all).",
    "Also clears a pause the bot made after repeated delivery failures.",
    Param("region", Kind.REGION, "The region to resume (all when not given)", allows_all=True),
    manages=True,
    posts=True,
)
async def resume(service: CommandService, ctx: CommandContext, request: CommandRequest) -> Reply:
    subs = await service.channel_subscriptions(ctx, request.text("region"), "resume")
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
            line += f" Next push {format_local(following[sub.id], sub.timezone, now)}."
        lines.append(line)
    return Reply("\n".join(lines))


@command(
    "list",
    "This channel's subscriptions, each with its next push in local time.",
    "Shows region, mode, schedule, filters and whether it is paused.",
)
async def list_subscriptions(
    service: CommandService, ctx: CommandContext, request: CommandRequest
) -> Reply:
    subs = await service.subscriptions.for_channel(ctx.channel)
    if not subs:
        return Reply(NO_SUBSCRIPTIONS)
    now = service.clock.now()
    lines = ["This channel's subscriptions:"]
    for sub in subs:
        lines.extend(subscription_lines(sub, now, indent="  "))
    buttons = tuple(unsubscribe_button(s.region) for s in subs[:MAX_BUTTONS])
    return Reply("\n".join(lines), actions=buttons)
