"""What each push carries: its group's stories chosen once, the stories it holds in the
delivery ledger (reserved before sending, settled after), and its message."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from bot.clock import Clock
from bot.delivery.sender import Outgoing
from bot.digests import DIGEST_STORY_CAP, Windows, digest_for
from bot.domain import ChannelRef, Story, Subscription
from bot.render.model import Digest, StoryCard, card_from_story, shown
from bot.store.claims import PushGroup
from bot.store.ledger import Ask, DeliveryLedger, Sent

if TYPE_CHECKING:
    from bot.delivery.outcomes import Result


class Group:
    """Claimed pushes that differ only by channel (see :class:`PushGroup`): their stories are
    chosen once (and while no channel has any of them yet, one digest serves all)."""

    __slots__ = ("candidates", "first", "first_ids", "like")

    def __init__(self, group: PushGroup, candidates: list[Story]) -> None:
        self.like = group.like
        self.candidates = candidates
        self.first = candidates[:DIGEST_STORY_CAP]
        self.first_ids = [s.id for s in self.first]


class Push:
    """One claimed push: its group, subscription and channel, and the stories it holds in the
    ledger (``tried``: how many of the group's candidates it asked for)."""

    __slots__ = ("channel", "group", "stories", "sub_id", "tried")

    def __init__(self, group: Group, sub_id: int, channel: ChannelRef) -> None:
        self.group = group
        self.sub_id = sub_id
        self.channel = channel
        self.stories = group.first
        self.tried = len(group.first)


@dataclass
class Made:
    """What one scan reads and makes once, however many channels get it: each window's
    stories, each card, each digest (so the payload rendered from a digest is cached once)."""

    windows: Windows = field(default_factory=dict)
    cards: dict[str, StoryCard] = field(default_factory=dict)
    digests: dict[tuple[str, str, tuple[str, ...]], Digest] = field(default_factory=dict)

    def card(self, story: Story) -> StoryCard:
        if story.id not in self.cards:
            self.cards[story.id] = card_from_story(story)
        return self.cards[story.id]

    def digest(self, sub: Subscription, stories: list[Story], now: datetime) -> Digest:
        key = (sub.region, sub.timezone, tuple([s.id for s in stories]))
        digest = self.digests.get(key)
        if digest is None:
            digest = self.digests[key] = digest_for(sub, stories, now, self.card)
        return digest


def message_for(push: Push, made: Made, now: datetime) -> Outgoing | None:
    """The digest a push sends (None when it holds no stories)."""
    if not push.stories:
        return None
    return Outgoing(push.channel, made.digest(push.group.like, push.stories, now))


class PushLedger:
    """The delivery ledger as pushes use it: this process's writes queue on ``writing``
    rather than in SQLite's busy handler, which sleeps in coarse steps while another
    connection holds the write lock."""

    def __init__(self, ledger: DeliveryLedger, clock: Clock, writing: asyncio.Lock) -> None:
        self.ledger = ledger
        self.clock = clock
        self.writing = writing

    async def release_stale(
        self, *, older_than: datetime, dead: Collection[str] = frozenset()
    ) -> None:
        """Release reservations a dead process left pending (see
        :meth:`DeliveryLedger.release_stale`)."""
        async with self.writing:
            await self.ledger.release_stale(older_than=older_than, dead=dead)

    async def reserve(self, pushes: list[Push], token: str) -> None:
        """Reserve each push's stories in the ledger; a push keeps those it holds.

        Usually every row goes in and each push keeps its group's first stories. Where the
        channel has some already (or another of its pushes took them), the push asks for
        its next candidates, up to the cap: it ends with the stories a preview shows.
        """
        asking = [(push, push.group.first) for push in pushes if push.group.first]
        topping_up = False
        while asking:
            wanted = [
                (push, push.group.first_ids if not topping_up else [s.id for s in stories])
                for push, stories in asking
            ]
            async with self.writing:
                got = await self.ledger.reserve(
                    [Ask(push.sub_id, push.channel, push.sub_id, ids) for push, ids in wanted],
                    token=token,
                    at=self.clock.now(),
                )
            if got.complete and not topping_up:
                return  # every push holds its group's first stories, as it was planned
            again: list[tuple[Push, list[Story]]] = []
            for push, stories in asking:
                held = (
                    stories
                    if got.complete
                    else [s for s in stories if got.holds(push.sub_id, s.id)]
                )
                push.stories = push.stories + held if topping_up else held
                missing = DIGEST_STORY_CAP - len(push.stories)
                if missing > 0 and len(held) < len(stories):
                    more = push.group.candidates[push.tried : push.tried + missing]
                    if more:
                        push.tried += len(more)
                        again.append((push, more))
            asking, topping_up = again, True

    @staticmethod
    def sent_record(push: Push, result: Result, message: Outgoing | None) -> Sent | None:
        """What the ledger records of a push whose message went out (with what it shows);
        None where there is nothing to record (not sent, or it asked the ledger for none)."""
        if result[0] != "sent" or not push.group.first:
            return None
        return (push.sub_id, result[2], None if message is None else shown(message.content))

    async def record_sent(
        self, token: str, sent: list[Sent], stored: set[str] | None = None
    ) -> None:
        """Record messages sent ahead of their batch's write-back (see :meth:`settle`)."""
        record = self.ledger.settle(
            token=token, sent=sent, released=[], at=self.clock.now(), stored=stored
        )
        if self.ledger.engine.dialect.name == "postgresql":
            await record  # no other write of the process touches its rows (the scan sees to it)
        else:
            async with self.writing:  # SQLite: one writer at a time
                await record

    async def settle(
        self,
        token: str,
        pushes: list[Push],
        results: list[Result],
        messages: list[Outgoing | None],
        recorded: Collection[int] = frozenset(),
        stored: set[str] | None = None,
    ) -> None:
        """The reservation of each push that asked the ledger for stories: sent (with what
        its message shows; not again for those ``recorded`` already), or released (also
        where it got none, or nothing was sent). ``stored``: see ``DeliveryLedger.settle``."""
        sent: list[Sent] = []
        released: list[tuple[int, list[str]]] = []
        for push, result, message in zip(pushes, results, messages, strict=True):
            if push.group.first:  # it asked (see reserve)
                if (record := self.sent_record(push, result, message)) is not None:
                    if push.sub_id not in recorded:
                        sent.append(record)
                else:
                    released.append((push.sub_id, [s.id for s in push.stories]))
        if sent or released:
            await self.ledger.settle(
                token=token, sent=sent, released=released, at=self.clock.now(), stored=stored
            )
