"""What a push holds: the stories for a subscription's regions and filters that the channel
has not been sent yet, since its last push (the first push looks back a day).

One choice of candidates serves both the delivery engine (which reserves them, and what the
ledger refuses is left out) and ``/signals preview`` (which leaves out what the ledger has),
so a preview always matches the push.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot import regions
from bot.domain import Story, Subscription
from bot.render.model import Digest, StoryCard, build_digest, card_from_story
from bot.schedule import local_day
from bot.store.ledger import DeliveryLedger, ledger_key
from bot.store.stories import LATE_ARRIVAL_WINDOW, StoryStore

FIRST_PUSH_WINDOW = timedelta(hours=24)
DIGEST_STORY_CAP = 25  # a digest holds at most this many stories (newest first)


def digest_since(sub: Subscription, now: datetime) -> datetime:
    """Where a subscription's next digest starts: its last push, or a day back."""
    return sub.last_push_at or (now - FIRST_PUSH_WINDOW)


def open_since(now: datetime, grace: timedelta) -> datetime:
    """The oldest time a story may have been published, or first stored, and still be chosen
    from ``now`` on by a subscription that has not pushed yet (its first push looks back
    :data:`FIRST_PUSH_WINDOW`, and :data:`LATE_ARRIVAL_WINDOW` further for a story stored
    late: see :meth:`StoryStore.for_digest`) or by an alert after a restart (stories stored
    within the catch-up ``grace``). A subscription that has pushed looks back to its last
    push: the ledger reads those windows itself when it prunes (``DeliveryLedger.prune``)."""
    return now - max(FIRST_PUSH_WINDOW + LATE_ARRIVAL_WINDOW, grace)


Windows = dict[tuple[frozenset[str], datetime], list[Story]]


async def candidates(
    stories: StoryStore, sub: Subscription, now: datetime, windows: Windows | None = None
) -> list[Story]:
    """The stories of the subscription's regions that pass its filters, published (or
    arrived late) since its last push, newest first: what its push would carry, before the
    channel's ledger has its say. ``windows`` keeps each window's stories for later calls
    (the batches of one scan)."""
    windows = {} if windows is None else windows
    window = (regions.leaves(sub.region), digest_since(sub, now))
    found = windows.get(window)
    if found is None:
        found = await stories.for_digest(window[0], since=window[1])
        found.sort(key=lambda s: s.published_at or now, reverse=True)  # newest first
        windows[window] = found
    return [s for s in found if sub.filters.matches(s)] if sub.filters else found


async def select_stories(
    stories: StoryStore, ledger: DeliveryLedger, sub: Subscription, now: datetime
) -> list[Story]:
    """The stories the subscription's push would carry now, newest first: its
    :func:`candidates` not yet sent (or being sent) to its channel, at most
    :data:`DIGEST_STORY_CAP`. A push reaches the same choice by reserving its candidates in
    the ledger, which refuses what the channel has, and asking for the next ones instead
    (see ``DeliveryEngine._reserve``).
    """
    found = await candidates(stories, sub, now)
    done = await ledger.delivered_to([sub.channel], {s.id for s in found})
    fresh = [s for s in found if ledger_key(sub.channel, s.id) not in done]
    return fresh[:DIGEST_STORY_CAP]


def digest_for(
    sub: Subscription,
    stories: list[Story],
    now: datetime,
    card: Callable[[Story], StoryCard] = card_from_story,
) -> Digest:
    """The digest a subscription's push carries (and its preview shows) for these stories."""
    return build_digest(sub.region, local_day(now, sub.timezone), stories, card=card)


@dataclass(frozen=True)
class PendingDigest:
    subscription: Subscription
    since: datetime
    stories: list[Story]  # newest first

    @property
    def empty(self) -> bool:
        return not self.stories

    def digest(self, now: datetime) -> Digest:
        return digest_for(self.subscription, self.stories, now)


async def pending_digest(
    stories: StoryStore, ledger: DeliveryLedger, sub: Subscription, now: datetime
) -> PendingDigest:
    """The digest the subscription's next push would carry if it went out ``now``."""
    picked = await select_stories(stories, ledger, sub, now)
    return PendingDigest(sub, digest_since(sub, now), picked)
