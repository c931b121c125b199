"""How the commands word things: times in a channel's zone, subscriptions, filters, hints.

Every sentence a command answers with is built here or beside the handler that says it; no
platform words anything of its own.
"""

from __future__ import annotations

import difflib
from datetime import datetime
from zoneinfo import ZoneInfo

from bot import regions
from bot.domain import PREFIX, Filters, Subscription


class CommandError(Exception):
    """A user's mistake; the message says what was wrong and what to type instead."""


def suggest(word: str, choices: list[str]) -> str:
    """' Did you mean "x"?' for the closest choice, or nothing."""
    close = difflib.get_close_matches(word.lower(), choices, n=1, cutoff=0.6)
    return f' Did you mean "{close[0]}"?' if close else ""


def format_local(when: datetime, zone: str, now: datetime) -> str:
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


def describe(sub: Subscription) -> str:
    """'Europe (europe): digest daily at 07:30 Europe/Brussels'."""
    region = regions.get(sub.region)
    if sub.mode == "instant":
        how = "instant alerts as stories arrive"
    else:
        how = f"digest {sub.days_label} at {sub.push_time:%H:%M} {sub.timezone}"
    return f"{region.name} ({region.key}): {how}"


def describe_filters(filters: Filters) -> list[str]:
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


def subscription_lines(sub: Subscription, now: datetime, indent: str = "") -> list[str]:
    """A subscription as ``list`` and the workspace overview show it: what it is, whether it
    is paused (and why) or when it next pushes, then its filters."""
    line = f"{indent}• {describe(sub)}"
    if sub.paused:
        line += f" — PAUSED ({sub.paused_reason or 'no reason given'})"
    elif sub.next_push_at:
        line += f" — next push {format_local(sub.next_push_at, sub.timezone, now)}"
    return [line, *(f"{indent}    {f}" for f in describe_filters(sub.filters))]


def stories_word(count: int) -> str:
    return f"stor{'y' if count == 1 else 'ies'}"


NO_SUBSCRIPTIONS = (
    f"This channel has no subscriptions yet. Try {PREFIX} subscribe europe "
    f"(type {PREFIX} regions for the list)."
)


def unknown_command(name: str, known: list[str]) -> str:
    return (
        f'I don\'t know the command "{name}".{suggest(name, known)} '
        f"Type {PREFIX} help for the list."
    )


def not_a_manager(name: str, managers: str) -> str:
    return (
        f"Only {managers} can use {PREFIX} {name}. "
        f"Ask a channel admin, or type {PREFIX} list to see what is set up."
    )


# A failure no command caught (in an adapter, or under a button): what the user is told.
FAILED = f"Sorry, that failed on our side; the error is logged. Try {PREFIX} again in a moment."


def failed_on_our_side(name: str) -> str:
    return f"Sorry, {PREFIX} {name} failed on our side; the error is logged. Try again in a moment."
