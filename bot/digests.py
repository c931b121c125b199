"""What a push holds: the stories for a subscription's regions and filters that the channel
has not been sent yet, since its last push (the first push looks back a day)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot import regions
from bot.domain import Story, Subscription
from bot.render.model import Digest, build_digest
from bot.schedule import local_day
from bot.store.stories import StoryStore
from bot.store.subscriptions import DeliveryLedger

FIRST_PUSH_WINDOW = timedelta(hours=24)
DIGEST_STORY_CAP = 25  # a digest holds at most this many stories (newest first)


@dataclass(frozen=True)
class PendingDigest:
    subscription: Subscription
    since: datetime
    stories: list[Story]  # newest first

    @property
    def empty(self) -> bool:
        return not self.stories

    def digest(self, now: datetime) -> Digest:
        return build_digest(
            self.subscription.region,
            local_day(now, self.subscription.timezone),
            self.stories,
            more_hint=f"/signals latest {self.subscription.region}",
        )


async def pending_digest(
    stories: StoryStore, ledger: DeliveryLedger, sub: Subscription, now: datetime
) -> PendingDigest:
    """The stories the subscription's next push would carry if it went out ``now``."""
    since = sub.last_push_at or (now - FIRST_PUSH_WINDOW)
    candidates = await stories.for_digest(regions.leaves(sub.region), since=since)
    matching = [s for s in candidates if sub.filters.matches(s)]
    sent = await ledger.delivered(sub.channel, [s.id for s in matching])
    fresh = [s for s in matching if s.id not in sent]
    fresh.sort(key=lambda s: s.published_at or since, reverse=True)
    return PendingDigest(sub, since, fresh[:DIGEST_STORY_CAP])
