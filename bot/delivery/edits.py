"""Living messages: a message the bot sent is edited in place when a story it shows changes.

Each sent message's row in the ledger keeps what it shows (its digest's header, and each
story with the version of it shown: see :func:`bot.render.model.shown`). A look for stories
changed since the last one queues an edit of every message within the edit window that
shows one of them (:class:`EditQueue`), due a short while later: a burst of updates to a
story makes one edit. A due edit is claimed by one process, re-rendered from the stories as
they are now (same stories, same order; a story whose version changed says it was updated),
and sent only if something a reader sees differs, through the same limits and retries as a
push. A message someone deleted is never edited again, and pauses nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot import regions
from bot.clock import Clock
from bot.delivery.attempts import CLAIM_LEASE, Attempts
from bot.delivery.sender import Outgoing
from bot.domain import Story
from bot.render.model import Digest, PushContent, StoryCard, card_from_story, shown
from bot.store.edits import EditJob, EditQueue
from bot.store.stories import StoryStore

log = logging.getLogger(__name__)

# An edit waits this long after the change that queued it: updates within it make one edit.
EDIT_DELAY = timedelta(seconds=30)
EDIT_BATCH = 500
CHANGES_AT_ONCE = 1000
# How far behind the newest change seen each look for changes starts (see Editor.plan).
LOOK_BACK = timedelta(minutes=2)
# An edit the platform kept refusing for now (5xx, long 429s) is given up after this many.
MAX_EDIT_TRIES = 5


@dataclass
class EditRound:
    """What one round of edits did, by outcome (edited, unchanged, gone, failed, later...)."""

    planned: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    def count(self, outcome: str, n: int = 1) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + n


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def restored(
    data: Mapping[str, Any], stories: Mapping[str, tuple[Story, datetime]], zone: ZoneInfo
) -> tuple[PushContent, bool] | None:
    """The content a message that shows ``data`` (what :func:`bot.render.model.shown`
    recorded, read) shows now: the same stories in the same order (and the same digest
    header), each as the store has it, and whether a reader sees any difference. A story
    whose version changed says it was updated (when the page says, else when the store saw
    the change), in ``zone``. None if a story is no longer stored."""
    cards: list[StoryCard] = []
    changed = False
    for story_id, version, updated in data["cards"]:
        found = stories.get(story_id)
        if found is None:
            return None
        story, changed_at = found
        card = card_from_story(story)
        at: datetime | None
        if card.version != version:
            changed = True
            at = story.updated_at if story.updated_at is not None else changed_at
        else:
            at = None if updated is None else datetime.fromisoformat(updated)
        cards.append(card if at is None else replace(card, updated_at=at.astimezone(zone)))
    if "digest" not in data:
        return cards[0], changed
    key, local_date, more_hint = data["digest"]
    digest = Digest(
        region_key=key,
        region_name=regions.get(key).name,
        local_date=date.fromisoformat(local_date),
        cards=tuple(cards),
        more_hint=more_hint,
    )
    return digest, changed


class Editor:
    """The edits of one process: finds changed stories, queues and makes their edits."""

    def __init__(
        self,
        *,
        stories: StoryStore,
        queue: EditQueue,
        attempts: Attempts,
        clock: Clock,
        token: str,
        window: timedelta,
        writing: asyncio.Lock,
        delay: timedelta = EDIT_DELAY,
        batch: int = EDIT_BATCH,
    ) -> None:
        self.stories = stories
        self.queue = queue
        self.attempts = attempts
        self.clock = clock
        self.token = token
        self.window = window
        self.writing = writing  # the process's writes queue here (see PushLedger)
        self.delay = delay
        self.batch = batch
        self.dead: frozenset[str] = frozenset()
        # Changes seen up to here. A process starts a window back: a story changed while
        # it was down is still edited (what was already edited compares equal: no request).
        self.watermark: datetime | None = None
        self._planned: dict[str, datetime] = {}  # story id: its change planned lately

    async def run(self) -> EditRound:
        """Queue edits for the stories changed since the last look, then make every due edit."""
        done = EditRound()
        if self.window <= timedelta(0):
            return done
        done.planned = await self.plan()
        while True:
            claimed = await self.edit_due(done)
            if claimed < self.batch:
                return done

    async def plan(self) -> int:
        """Queue an edit of each message within the window that shows a story changed since
        the last look; how many messages that is.

        Each look goes :data:`LOOK_BACK` behind the newest change seen: a change whose time
        was read before another process's later change committed is still found (what was
        planned already is known by its story and change time, and not planned again)."""
        now = self.clock.now()
        since = now - self.window if self.watermark is None else self.watermark - LOOK_BACK
        after, newest, planned = "", self.watermark, 0
        while True:
            changes = await self.stories.changed_since(since, after=after, limit=CHANGES_AT_ONCE)
            fresh = [(sid, at) for sid, at in changes if self._planned.get(sid) != at]
            if fresh:
                last = max(at for _, at in fresh)
                async with self.writing:  # due a delay after the change (those after it join it)
                    planned += await self.queue.plan(
                        [sid for sid, _ in fresh], changed_at=last,
                        sent_since=now - self.window, due=last + self.delay,
                    )  # fmt: skip
                self._planned.update(fresh)
            if changes:
                after, since = changes[-1]
                newest = since if newest is None else max(newest, since)
            if len(changes) < CHANGES_AT_ONCE:
                break
        self.watermark = newest if newest is not None else now - self.window
        horizon = self.watermark - LOOK_BACK
        self._planned = {sid: at for sid, at in self._planned.items() if at >= horizon}
        return planned

    async def edit_due(self, done: EditRound | None = None) -> int:
        """Claim a batch of due edits and make them; how many were claimed."""
        done = done if done is not None else EditRound()
        now = self.clock.now()
        async with self.writing:
            jobs = await self.queue.claim(
                self.token, now=now, stale_before=now - CLAIM_LEASE, dead=self.dead,
                platforms=self.attempts.senders, limit=self.batch,
            )  # fmt: skip
        if not jobs:
            return 0
        shows = {job.send_id: json.loads(job.content) for job in jobs if job.content}
        stories = await self.stories.with_changes(
            {entry[0] for data in shows.values() for entry in data["cards"]}
        )
        finished: list[tuple[EditJob, str | None]] = []
        later: list[tuple[EditJob, datetime]] = []
        left: list[EditJob] = []  # nothing to change, or nothing that could be
        sending: list[tuple[EditJob, Outgoing, str | None]] = []
        for job in jobs:
            if not job.state:  # the ledger no longer has the message (released, pruned)
                left.append(job)
                done.count("not editable")
            elif job.sent_at < now - self.window:
                left.append(job)
                done.count("too old")
            elif job.content is None or job.message_id is None:
                left.append(job)  # deleted meanwhile, or a platform without message ids
                done.count("not editable")
            elif (now_shown := restored(shows[job.send_id], stories, _zone(job.timezone))) is None:
                left.append(job)
                done.count("story gone")
            elif not now_shown[1]:
                left.append(job)
                done.count("unchanged")
            else:
                content = now_shown[0]
                message = Outgoing(job.channel, content, replaces=job.message_id)
                sending.append((job, message, shown(content)))
        results = await asyncio.gather(
            *(self.attempts.deliver(message) for _, message, _ in sending)
        )
        for (job, _, recorded), (status, detail, _) in zip(sending, results, strict=True):
            done.count(status)  # and counted on /metrics as every attempt is
            if status == "sent":
                finished.append((job, recorded))
            elif status == "gone":  # deleted by someone: never edited again
                finished.append((job, None))
            elif status == "retrying" and job.tries + 1 < MAX_EDIT_TRIES:
                later.append((job, now + self.delay * 2**job.tries))
            else:
                log.warning("editing message %s in %s failed: %s", job.message_id,
                            job.channel, detail)  # fmt: skip
                left.append(job)
        async with self.writing:
            await self.queue.finish(self.token, finished, later, left)
        return len(jobs)

