"""A workspace at a glance (Slack's App Home): each channel's subscriptions with their next
push in the channel's own time, how the last push went, pauses and why, buttons to pause or
resume for those who may, and the regions one can subscribe to."""

from __future__ import annotations

from datetime import datetime
from itertools import groupby

from bot import regions
from bot.commands.parsing import action
from bot.commands.registry import REGISTRY, CommandRequest
from bot.commands.service import CommandService
from bot.commands.subscriptions import MAX_BUTTONS
from bot.commands.wording import subscription_lines
from bot.domain import PREFIX, Subscription
from bot.render.model import Action, ActionKind, ChannelSummary, Overview


def _lines(sub: Subscription, now: datetime) -> list[str]:
    lines = subscription_lines(sub, now)
    if sub.last_result:
        lines.append(f"    last result: {sub.last_result}")
    return lines


def _button(sub: Subscription) -> Action:
    name = regions.get(sub.region).name
    kind: ActionKind = "resume" if sub.paused else "pause"
    request = CommandRequest(kind, {"region": sub.region})
    return action(REGISTRY, kind, f"{kind.title()} {name}", request, sub.channel.channel)


async def workspace_overview(
    service: CommandService, platform: str, workspace: str, *, can_manage: bool
) -> Overview:
    """The workspace at a glance, with pause and resume buttons for those who may manage
    channels."""
    subs = await service.subscriptions.for_workspace(platform, workspace)
    now = service.clock.now()
    channels = []
    for _, group in groupby(subs, key=lambda s: s.channel):
        mine = list(group)
        text = "\n".join(line for sub in mine for line in _lines(sub, now))
        buttons = tuple(_button(s) for s in mine[:MAX_BUTTONS]) if can_manage else ()
        channels.append(ChannelSummary(mine[0].channel.channel, text, buttons))
    intro = (
        f"Subscriptions in this workspace, by channel. In a channel, type {PREFIX} subscribe "
        f"<region> to add one, {PREFIX} help for every command."
        if channels
        else f"No channel here gets signalbot's news yet. In a channel, type {PREFIX} subscribe "
        f"europe (or another region below), then {PREFIX} preview to see what it will get."
    )
    catalogue = ["Regions (key: name, home city, morning push):"]
    catalogue += [
        f"  {r.key}: {r.name}, {r.home_city}, {r.push_time:%H:%M} {r.timezone.key}"
        for r in regions.REGIONS
    ]
    return Overview("signalbot", intro, tuple(channels), "\n".join(catalogue))
