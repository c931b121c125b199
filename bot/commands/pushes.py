"""A channel's pushes: what the next one would hold, one sent now, and how they have gone."""

from __future__ import annotations

from bot import regions
from bot.commands.lookups import REGION_HELP, more_from
from bot.commands.registry import CommandContext, CommandRequest, Kind, Param, command
from bot.commands.service import CommandService
from bot.commands.wording import CommandError, format_local
from bot.digests import pending_digest
from bot.domain import PREFIX, Subscription
from bot.render.model import Reply


async def subscription_or_default(
    service: CommandService, ctx: CommandContext, key: str | None
) -> Subscription:
    """The channel's subscription to ``key`` (or, unsubscribed, that region's defaults), or
    its only subscription when no region is named."""
    subs = await service.subscriptions.for_channel(ctx.channel)
    if key is not None:
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
    "What the next push would contain (sent to you only).",
    "Shows the digest as it stands now: stories since the last push that this channel has "
    "not seen yet, with the subscription's filters.",
    Param("region", Kind.REGION, REGION_HELP),
)
async def preview(service: CommandService, ctx: CommandContext, request: CommandRequest) -> Reply:
    sub = await subscription_or_default(service, ctx, request.text("region"))
    now = service.clock.now()
    pending = await pending_digest(service.stories, service.ledger, sub, now)
    name = regions.get(sub.region).name
    if pending.empty:
        since = format_local(pending.since, sub.timezone, now)
        return Reply(
            f"Nothing new for {name} since {since}: the next push would be empty. "
            f"{PREFIX} latest {sub.region} shows the newest stories.",
            actions=(more_from(sub.region),),
        )
    when = f" at {format_local(sub.next_push_at, sub.timezone, now)}" if sub.next_push_at else ""
    return Reply(f"The next {name} push{when} would hold {len(pending.stories)} stories:",
                 digest=pending.digest(now))  # fmt: skip


@command(
    "send-now",
    "Deliver the digest to this channel now instead of waiting for the push time.",
    f"Sends what {PREFIX} preview shows; the regular push then carries only what is newer.",
    Param("region", Kind.REGION, "The region to send (all when not given)", allows_all=True),
    manages=True,
    slow=True,
    posts=True,
)
async def send_now(service: CommandService, ctx: CommandContext, request: CommandRequest) -> Reply:
    subs = await service.channel_subscriptions(ctx, request.text("region"), "send")
    if service.pusher is None:
        raise CommandError("Sending is not available in this process.")
    outcomes = await service.pusher.push_now(subs)
    return Reply("\n".join(outcome.summary for outcome in outcomes))


@command(
    "status",
    "Last push, next push, failures, and anything paused (and why).",
    "For each of this channel's subscriptions, plus how many stories the bot holds.",
)
async def status(service: CommandService, ctx: CommandContext, request: CommandRequest) -> Reply:
    now = service.clock.now()
    subs = await service.subscriptions.for_channel(ctx.channel)
    total = await service.stories.count()
    newest = await service.stories.latest(limit=1)
    lines = [f"Stories held: {total}."]
    if newest and newest[0].published_at:
        lines[0] += f" Newest published {format_local(newest[0].published_at, 'UTC', now)}."
    if not subs:
        lines.append(f"This channel has no subscriptions. Try {PREFIX} subscribe europe.")
    for sub in subs:
        lines.append(f"{regions.get(sub.region).name}:")
        if sub.last_push_at:
            lines.append(f"  last push: {format_local(sub.last_push_at, sub.timezone, now)}")
        else:
            lines.append("  last push: none yet")
        if sub.last_result:
            lines.append(f"  last result: {sub.last_result}")
        if sub.paused:
            lines.append(f"  PAUSED: {sub.paused_reason or 'no reason given'}. "
                         f"Type {PREFIX} resume {sub.region} to restart.")  # fmt: skip
        elif sub.next_push_at:
            lines.append(f"  next push: {format_local(sub.next_push_at, sub.timezone, now)}")
        elif sub.mode == "instant":
            lines.append("  instant alerts: each new story as it arrives")
        if sub.failures:
            lines.append(f"  failures in a row: {sub.failures}")
    return Reply("\n".join(lines))
