"""The due-scan: claim every due push, plan and reserve them a batch at a time, send them
with a fixed set of senders, and write each batch back once its last message is settled."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.clock import Clock
from bot.delivery.attempts import CLAIM_LEASE, Attempts, Refusals
from bot.delivery.inflight import InFlight
from bot.delivery.outcomes import EMPTY, Outcomes, Pausing, PushOutcome, Result, following
from bot.delivery.plan import Group, Made, Push, PushLedger, message_for
from bot.delivery.sender import Outgoing
from bot.digests import candidates
from bot.metrics import PUSH_LAG
from bot.store.claims import PushClaims, PushRecord
from bot.store.ledger import Sent
from bot.store.rows import new_token
from bot.store.stories import StoryStore

log = logging.getLogger(__name__)

MAX_CLAIM = 20000
# Batches planned (stories reserved) before the senders reach them: enough that a planning
# step held up behind a write-back never leaves the senders idle.
PLAN_AHEAD = 2
# When what was sent is recorded in the ledger, ahead of its batch's write-back: by count
# first, so that processes sharing a push, each at part of the pace, record no more often
# for it (at 32 messages or 0.25 s, two made 180 such transactions for 10,000 pushes against
# 61 for one; at 128, 70 against 35: one alone records more at a time, as the database
# keeps up); by time at a slow pace.
SETTLE_AT = 128
SETTLE_EVERY = 1.0


@dataclass
class Batch:
    """Pushes planned together, and written back together once the last one is sent."""

    token: str  # the scan's reservation in the ledger
    pushes: list[Push]
    messages: list[Outgoing | None]
    results: list[Result]
    records: list[PushRecord]  # so far: pushes skipped before sending
    outcomes: list[PushOutcome]
    untaken: int = 0  # messages no sender has taken yet
    unsent: int = 0  # messages not sent (or given up) yet
    drained: asyncio.Event = field(default_factory=asyncio.Event)  # all taken by senders
    done: asyncio.Event = field(default_factory=asyncio.Event)  # all sent (or given up)


def _cancel(*groups: Sequence[asyncio.Task[Any]]) -> None:
    for tasks in groups:
        for task in tasks:
            task.cancel()


class DueScan:
    """One due-scan of one process (see :meth:`run`)."""

    def __init__(
        self,
        *,
        stories: StoryStore,
        claims: PushClaims,
        ledger: PushLedger,
        attempts: Attempts,
        outcomes: Outcomes,
        in_flight: InFlight,
        clock: Clock,
        token: str,
        grace: timedelta,
        concurrency: int,
        batch: int,
        dead: frozenset[str] = frozenset(),
        live: Mapping[str, int] | None = None,
    ) -> None:
        self.stories = stories
        self.claims = claims
        self.ledger = ledger
        self.attempts = attempts
        self.outcomes = outcomes
        self.in_flight = in_flight
        self.clock = clock
        self.token = token  # the process's claims
        self.grace = grace
        self.concurrency = concurrency
        self.batch = batch
        # The ledger reservation is this scan's own (claims are the process's): a message a
        # failed write-back left pending is never taken for one of a later scan's.
        # It begins with the process's token: a dead process's reservations are known by it.
        self.reservation = token + new_token()
        self.dead = dead
        self.live = live or {}  # live processes delivering to each platform, this one included
        self.made = Made()
        self.refusals = Refusals()  # channels and workspaces refused for good in this scan
        self.pausing = Pausing()  # subscriptions paused in this scan: one notice a channel
        self.unsettled: list[Sent] = []  # sent, not yet in the ledger
        self.enough_unsettled = asyncio.Event()
        # Held by an early record and by a write-back's settle: never both at once. Both
        # update the same rows (a write-back settles what no early record has yet), each in
        # its own order: together, they deadlocked on PostgreSQL, which broke the tie after
        # a second (its deadlock_timeout) and left this process that far behind.
        self.recording = asyncio.Lock()
        self.recorded: set[int] = set()  # pushes whose message is recorded sent (by number)
        self.stored: set[str] = set()  # what those messages show, stored: by record key

    async def run(self) -> list[PushOutcome]:
        """Claim every due push and deliver them all.

        A pipeline: a planner loads, plans and reserves the claimed pushes a batch at a time,
        never more than :data:`PLAN_AHEAD` batches ahead of the senders; a fixed set of
        senders takes the messages in order, so the network never waits for the database,
        nor one slow channel for a batch; each batch is written back as soon as its last
        message is settled. Cancelled, it stops at once: what it had claimed or reserved
        and not written back goes out again once its lease is over.
        """
        if self.in_flight.closing:
            return []
        now = self.clock.now()
        await self.ledger.release_stale(older_than=now - CLAIM_LEASE, dead=self.dead)
        limit = await self._claim_limit(now)
        if not limit:  # with other processes live, nothing is due: no claim to try
            return []
        # Claims grow: a small first one, so the first messages leave at once, then the rest
        # of the first full batch, then a batch at a time as the senders get through them:
        # what this process has not claimed yet, another process on the database can take.
        first = max(1, self.batch // 10)
        steps = iter([first, self.batch - first])
        size = min(limit, next(steps))
        claimed = await self._claim(now, size)
        if not claimed:
            return []
        taken = len(claimed)
        more = taken < limit and len(claimed) == size  # a full claim: there may be more due
        batches = deque([claimed])
        queue: asyncio.Queue[tuple[Batch, int] | None] = asyncio.Queue()
        senders = [
            asyncio.ensure_future(self._sender(queue))
            for _ in range(self.concurrency if more else min(self.concurrency, len(claimed)))
        ]
        settling = asyncio.ensure_future(self._settle_as_sent())
        written: list[asyncio.Task[list[PushOutcome]]] = []
        try:
            ahead: deque[Batch] = deque()
            while batches:
                batch = await self._prepare(batches.popleft(), now)
                for index, message in enumerate(batch.messages):
                    if message is not None:
                        queue.put_nowait((batch, index))
                if not batch.unsent:
                    batch.drained.set()
                    batch.done.set()
                written.append(asyncio.ensure_future(self._write_back(batch, now)))
                if more and not self.in_flight.closing:  # stopping: claim nothing more
                    size = min(limit - taken, next(steps, self.batch) or self.batch)
                    got = await self._claim(now, size)
                    taken += len(got)
                    # a short claim may be another process's doing, not the end of what is
                    # due: this one claims on until a claim comes back empty
                    more = taken < limit and bool(got)
                    batches.extend(got[i : i + self.batch] for i in range(0, len(got), self.batch))
                ahead.append(batch)
                if len(ahead) > PLAN_AHEAD:  # plan no further ahead of the senders than this
                    await ahead.popleft().drained.wait()
        except asyncio.CancelledError:
            _cancel(senders, written, [settling])
            raise
        except Exception:  # planning failed: what is queued still goes out and is written back
            await self._wind_down(queue, senders, written)
            _cancel([settling])
            self.outcomes.notify(self.pausing)
            raise
        finished = await self._wind_down(queue, senders, written)
        _cancel([settling])
        self.outcomes.notify(self.pausing)
        return [outcome for outcomes in finished for outcome in outcomes]

    @staticmethod
    async def _wind_down(
        queue: asyncio.Queue[tuple[Batch, int] | None],
        senders: list[asyncio.Task[None]],
        written: list[asyncio.Task[list[PushOutcome]]],
    ) -> list[list[PushOutcome]]:
        """Let the senders empty the queue, then wait for every batch's write-back (all of
        them stop at once if this is cancelled)."""
        for _ in senders:
            queue.put_nowait(None)
        try:
            await asyncio.gather(*senders)
            return await asyncio.gather(*written)
        except asyncio.CancelledError:
            _cancel(senders, written)
            raise

    async def _sender(self, queue: asyncio.Queue[tuple[Batch, int] | None]) -> None:
        """Send queued messages one after another until told to stop."""
        attempt = self.attempts.attempt
        refusals = self.refusals
        while (item := await queue.get()) is not None:
            batch, index = item
            message = batch.messages[index]
            assert message is not None
            batch.untaken -= 1
            if not batch.untaken:
                batch.drained.set()
            try:
                batch.results[index] = result = await attempt(message, refusals)
                record = self.ledger.sent_record(batch.pushes[index], result, message)
                if record is not None:
                    self.unsettled.append(record)
                    if len(self.unsettled) >= SETTLE_AT:
                        self.enough_unsettled.set()
            except Exception as error:  # never leave a batch waiting for its write-back
                log.exception("sending to %s failed", message.channel)
                batch.results[index] = (
                    "retrying",
                    f"internal error ({type(error).__name__})",
                    None,
                )
            batch.unsent -= 1
            if not batch.unsent:
                batch.done.set()

    async def _settle_as_sent(self) -> None:
        """Record what was sent every :data:`SETTLE_AT` messages or :data:`SETTLE_EVERY`
        (what comes first), ahead of its batch's write-back (about as many records for the
        same messages whatever the number of processes): a process killed mid-push then
        leaves few messages whose record did not reach the ledger (they go out again once
        another process takes its pushes over)."""
        while True:
            with contextlib.suppress(TimeoutError):  # SETTLE_AT sent, or SETTLE_EVERY passed
                await asyncio.wait_for(self.enough_unsettled.wait(), SETTLE_EVERY)
            self.enough_unsettled.clear()
            if not self.unsettled:
                continue
            async with self.recording:
                sent, self.unsettled = self.unsettled, []
                try:
                    await self.ledger.record_sent(self.reservation, sent, self.stored)
                except Exception:  # the batch's write-back records them all the same
                    log.warning("recording sent messages early failed", exc_info=True)
                    continue
                self.recorded.update(record[0] for record in sent)

    async def _claim(self, now: datetime, limit: int) -> list[int]:
        async with self.ledger.writing:  # a claim is a write: it queues behind the process's own
            return await self.claims.claim_due(
                now, self.token, stale_before=now - CLAIM_LEASE, dead=self.dead,
                platforms=self.attempts.senders, limit=limit,
            )  # fmt: skip

    async def _claim_limit(self, now: datetime) -> int:
        """No more than half a lease's worth of sending at the slowest platform's pace, so a
        claim never goes stale (and to another process) while its push is still queued;
        with other processes live, no more than this one's share of what is due (0: none is
        due, and the count stood in for an empty claim).

        The share keeps one process from taking the lion's part by starting its scan first
        (it claims a few batches ahead of its senders): what is due is shared as evenly as
        the platforms' budgets are. What a slower process leaves goes at the next scans,
        each taking its share of the rest, and all of it once that process stops beating.
        """
        senders = self.attempts.senders
        rates = [s.limits.per_second for s in senders.values() if s.limits.per_second]
        limit = MAX_CLAIM
        if rates:
            limit = max(1, min(limit, int(CLAIM_LEASE.total_seconds() * min(rates) / 2)))
        if any(self.live.get(platform, 1) > 1 for platform in senders):
            due = await self.claims.count_due(now, senders)
            share = sum(-(-n // max(1, self.live.get(p, 1))) for p, n in due.items())
            limit = min(limit, share)
        return limit

    async def _prepare(self, claims: list[int], now: datetime) -> Batch:
        """Load a claimed batch; skip pushes missed beyond the grace window; choose and
        reserve the rest's stories; make their messages."""
        records: list[PushRecord] = []
        outcomes: list[PushOutcome] = []
        pushes: list[Push] = []
        made = self.made
        for group in await self.claims.load_groups(claims):
            like = group.like
            if like.paused:  # paused since the scan, which dropped the claim: nothing to do
                continue
            slot = like.next_push_at or now
            if now - slot > self.grace:
                log.warning(
                    "skipping %d push(es) of %s due %s: older than the %s grace window",
                    len(group.members), like.region, slot.isoformat(), self.grace,
                )  # fmt: skip
                result = f"missed the push due {slot:%Y-%m-%d %H:%M} UTC (bot was down)"
                ids = [sub_id for sub_id, _ in group.members]
                records.append(PushRecord(ids, following(like, now), result, failures=0))
                outcomes.extend(
                    PushOutcome(sub_id, channel, like.region, slot, "skipped",
                                detail="missed while the bot was down")
                    for sub_id, channel in group.members
                )  # fmt: skip
                continue
            planned = Group(group, await candidates(self.stories, like, now, made.windows))
            pushes.extend([Push(planned, sub_id, channel) for sub_id, channel in group.members])
        await self.ledger.reserve(pushes, self.reservation)
        messages = [message_for(push, made, now) for push in pushes]
        batch = Batch(self.reservation, pushes, messages, [EMPTY] * len(pushes), records, outcomes)
        batch.untaken = batch.unsent = sum(1 for m in messages if m is not None)
        return batch

    async def _write_back(self, batch: Batch, now: datetime) -> list[PushOutcome]:
        """Once a batch is sent: settle its ledger rows, pause the workspaces refused, store
        how each push went."""
        await batch.done.wait()
        sent_at = self.clock.now()
        for push, (status, _, _) in zip(batch.pushes, batch.results, strict=True):
            if status == "sent" and (slot := push.group.like.next_push_at) is not None:
                PUSH_LAG.labels(push.channel.platform).observe(
                    max(0.0, (sent_at - slot).total_seconds())
                )
        self.outcomes.conclude(
            batch.pushes, batch.results, now, batch.records, batch.outcomes, self.refusals,
            self.pausing,
        )  # fmt: skip
        # The ledger first, committed on its own: a push outcome that fails to be written
        # must never take back the record of what was sent (recording, then writing, as an
        # early record takes them on SQLite). Then the pauses, which drop their
        # subscriptions' claims: the outcomes never write over them.
        async with self.recording, self.ledger.writing:
            await self.ledger.settle(
                batch.token, batch.pushes, batch.results, batch.messages, self.recorded,
                self.stored,
            )
        async with self.ledger.writing:
            await self.outcomes.pause_refused(self.refusals, now)
            await self.claims.finish(self.token, batch.records)
        return batch.outcomes
