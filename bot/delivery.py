"""Fan-out: digests and alerts to every channel, within each platform's rate limits.

A push is claimed in the database (one process gets it), its stories are reserved in the
delivery ledger (a story reaches a channel at most once), then sent with bounded concurrency.
429s are honoured (``Retry-After``), server errors and timeouts are retried with backoff, and
permanent failures (channel gone, bot removed, token revoked) pause a subscription after three
in a row, with a notice in the channel where it still takes messages. One slow or broken
channel never holds up the others.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time as monotonic_time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, NamedTuple, Protocol, TypeVar

from bot import regions
from bot.clock import Clock
from bot.digests import DIGEST_STORY_CAP, Windows, candidates, digest_for
from bot.domain import ChannelRef, Story, Subscription
from bot.render.model import Digest, StoryCard, card_from_story
from bot.schedule import local_day, next_push
from bot.store.claims import PushClaims, PushGroup, PushRecord
from bot.store.ledger import Ask, DeliveryLedger
from bot.store.stories import StoryStore
from bot.store.subscriptions import SubscriptionStore

log = logging.getLogger(__name__)
T = TypeVar("T")

PAUSE_AFTER_FAILURES = 3
CLAIM_LEASE = timedelta(minutes=10)
RETRY_LATER = timedelta(minutes=10)
MAX_ATTEMPTS = 5
MAX_CLAIM = 20000
MAX_RATE_LIMIT_WAITS = 20
# Batches planned (stories reserved) before the senders reach them: enough that a planning
# step held up behind a write-back never leaves the senders idle.
PLAN_AHEAD = 2


@dataclass(frozen=True)
class Outgoing:
    """One message for one channel: a digest, a single story, or a notice from the bot."""

    channel: ChannelRef
    digest: Digest | None = None
    card: StoryCard | None = None
    notice: str | None = None


class DeliveryError(Exception):
    """A send that did not go through.

    ``permanent``: the channel cannot take messages (gone, bot removed, token revoked).
    ``retry_after``: the platform asked us to wait (HTTP 429); ``global_limit`` when the
    wait applies to every channel.
    """

    def __init__(
        self,
        reason: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
        global_limit: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after
        self.global_limit = global_limit


@dataclass(frozen=True)
class RateLimits:
    """A platform's limits: requests per second for the whole bot, messages per window per
    channel, and requests per second per workspace."""

    per_second: float | None = None
    per_channel: tuple[int, float] | None = None
    per_workspace: float | None = None


class Sender(Protocol):
    """Sends messages to one platform; raises :class:`DeliveryError` when a send fails."""

    platform: str
    limits: RateLimits

    async def send(self, message: Outgoing) -> str | None:
        """Send and return the platform's message id (if it has one)."""
        ...


class SlidingWindow:
    """At most ``count`` acquisitions in any ``window`` seconds, first come first served."""

    def __init__(self, count: int, window: float) -> None:
        self.count = count
        self.window = window
        self._times: deque[float] = deque()
        self._lock = asyncio.Lock()
        self.blocked_until = 0.0

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = monotonic_time.monotonic()
                while self._times and now - self._times[0] >= self.window:
                    self._times.popleft()
                wait = self.blocked_until - now
                if len(self._times) >= self.count:
                    wait = max(wait, self._times[0] + self.window - now)
                if wait <= 0:
                    self._times.append(now)
                    return
                await asyncio.sleep(wait)

    def block(self, seconds: float) -> None:
        self.blocked_until = max(self.blocked_until, monotonic_time.monotonic() + seconds)


# Requests leave here in order but reach the platform with a little jitter: windows a shade
# longer than the platform's keep two requests from landing in one of its windows.
JITTER_MARGIN = 0.03


class Limiter:
    """A platform's windows: one for the bot, one per workspace, one per channel."""

    def __init__(self, limits: RateLimits) -> None:
        self.limits = limits
        self.limited = bool(limits.per_second or limits.per_channel or limits.per_workspace)
        self.global_window = (
            SlidingWindow(max(1, round(limits.per_second)), 1.0 + JITTER_MARGIN)
            if limits.per_second
            else None
        )
        self._channels: dict[ChannelRef, SlidingWindow] = {}
        self._workspaces: dict[str, SlidingWindow] = {}

    def channel_window(self, channel: ChannelRef) -> SlidingWindow | None:
        if self.limits.per_channel is None:
            return None
        window = self._channels.get(channel)
        if window is None:
            count, seconds = self.limits.per_channel
            window = self._channels[channel] = SlidingWindow(count, seconds + JITTER_MARGIN)
        return window

    async def acquire(self, channel: ChannelRef) -> None:
        # The channel first: waiting for a busy channel must not hold a slot of the bot's.
        window = self.channel_window(channel)
        if window is not None:
            await window.acquire()
        if self.limits.per_workspace:
            ws = self._workspaces.get(channel.workspace)
            if ws is None:
                ws = self._workspaces[channel.workspace] = SlidingWindow(
                    max(1, round(self.limits.per_workspace)), 1.0 + JITTER_MARGIN
                )
            await ws.acquire()
        if self.global_window is not None:
            await self.global_window.acquire()

    def back_off(self, channel: ChannelRef, seconds: float, *, everywhere: bool) -> bool:
        """Hold the windows a 429 names; False when no window holds this channel's next send
        (no limits of that kind are set), so the caller must wait itself."""
        held = False
        if everywhere and self.global_window is not None:
            self.global_window.block(seconds)
            held = True
        window = self.channel_window(channel)
        if window is not None:
            window.block(seconds)
            held = True
        return held


Status = Literal["sent", "empty", "skipped", "failed", "retrying", "paused"]
_Result = tuple[Status, str, str | None]  # status, detail, the platform's message id
_EMPTY: _Result = ("empty", "", None)


class PushOutcome(NamedTuple):
    """How one push went, for the log, ``status`` and send-now."""

    subscription_id: int | None
    channel: ChannelRef
    region: str
    slot: datetime | None  # the push time it was due at (None for a send-now)
    status: Status
    stories: int = 0
    detail: str = ""

    @property
    def summary(self) -> str:
        name = regions.get(self.region).name
        if self.status == "sent":
            return (
                f"Sent the {name} digest: {self.stories} stor{'y' if self.stories == 1 else 'ies'}."
            )
        if self.status == "empty":
            return (
                f"Nothing new for {name} since the last push. "
                f"/signals latest {self.region} shows the newest stories."
            )
        return f"{name}: {self.detail}"


class _Group:
    """Claimed pushes that differ only by channel (see :class:`PushGroup`): their stories are
    chosen once (and while no channel has any of them yet, one digest serves all)."""

    __slots__ = ("candidates", "first", "first_ids", "like")

    def __init__(self, group: PushGroup, candidates: list[Story]) -> None:
        self.like = group.like
        self.candidates = candidates
        self.first = candidates[:DIGEST_STORY_CAP]
        self.first_ids = [s.id for s in self.first]


class _Push:
    """One claimed push: its group, subscription and channel, and the stories it holds in the
    ledger (``tried``: how many of the group's candidates it asked for)."""

    __slots__ = ("channel", "group", "stories", "sub_id", "tried")

    def __init__(self, group: _Group, sub_id: int, channel: ChannelRef) -> None:
        self.group = group
        self.sub_id = sub_id
        self.channel = channel
        self.stories = group.first
        self.tried = len(group.first)


@dataclass
class _Batch:
    """Pushes planned together, and written back together once the last one is sent."""

    token: str  # the scan's reservation in the ledger
    pushes: list[_Push]
    messages: list[Outgoing | None]
    results: list[_Result]
    records: list[PushRecord]  # so far: pushes skipped before sending
    outcomes: list[PushOutcome]
    untaken: int = 0  # messages no sender has taken yet
    unsent: int = 0  # messages not sent (or given up) yet
    drained: asyncio.Event = field(default_factory=asyncio.Event)  # all taken by senders
    done: asyncio.Event = field(default_factory=asyncio.Event)  # all sent (or given up)


@dataclass
class _Made:
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


def _cancel(*groups: Sequence[asyncio.Task[Any]]) -> None:
    for tasks in groups:
        for task in tasks:
            task.cancel()


def _pause_reason(detail: str) -> str:
    return f"paused after {PAUSE_AFTER_FAILURES} failed deliveries in a row: {detail}"


class DeliveryEngine:
    def __init__(
        self,
        *,
        stories: StoryStore,
        subscriptions: SubscriptionStore,
        claims: PushClaims,
        ledger: DeliveryLedger,
        senders: Mapping[str, Sender],
        clock: Clock,
        grace: timedelta = timedelta(hours=6),
        concurrency: int = 64,
        batch: int = 1000,
    ) -> None:
        self.stories = stories
        self.subscriptions = subscriptions
        self.claims = claims
        self.ledger = ledger
        self.senders = dict(senders)
        self.clock = clock
        self.grace = grace
        self.concurrency = concurrency
        self.batch = batch
        self.token = uuid.uuid4().hex[:16]
        self._gate = asyncio.Semaphore(concurrency)
        self._limiters = {name: Limiter(s.limits) for name, s in self.senders.items()}
        self._inflight: set[asyncio.Task[object]] = set()
        # This process's writes queue here rather than in SQLite's busy handler, which
        # sleeps in coarse steps while another connection holds the write lock.
        self._writing = asyncio.Lock()
        self._closing = False

    # ---- scheduled pushes -------------------------------------------------------------

    async def run_due(self) -> list[PushOutcome]:
        """One due-scan: claim every due push and deliver them all.

        A pipeline: a planner loads, plans and reserves the claimed pushes a batch at a time,
        never more than :data:`PLAN_AHEAD` batches ahead of the senders; a fixed set of
        senders takes the messages in order, so the network never waits for the database,
        nor one slow channel for a batch; each batch is written back as soon as its last
        message is settled. Cancelled, it stops at once: what it had claimed or reserved
        and not written back goes out again once its lease is over.
        """
        if self._closing:
            return []
        now = self.clock.now()
        async with self._writing:
            await self.ledger.release_stale(older_than=now - CLAIM_LEASE)
        limit = self._claim_limit()
        # Claims grow: a small first one, so the first messages leave at once, then the rest
        # of the first full batch, then everything else, each while the last is being sent.
        first = max(1, self.batch // 10)
        steps = iter([first, self.batch - first])
        size = min(limit, next(steps))
        claimed = await self._claim(now, size)
        if not claimed:
            return []
        taken = len(claimed)
        more = taken < limit and len(claimed) == size  # a full claim: there may be more due
        batches = deque([claimed])
        queue: asyncio.Queue[tuple[_Batch, int] | None] = asyncio.Queue()
        senders = [
            asyncio.ensure_future(self._sender(queue))
            for _ in range(self.concurrency if more else min(self.concurrency, len(claimed)))
        ]
        made = _Made()
        # The ledger reservation is this scan's own (claims are the process's): a message a
        # failed write-back left pending is never taken for one of a later scan's.
        token = uuid.uuid4().hex[:16]
        written: list[asyncio.Task[list[PushOutcome]]] = []
        try:
            ahead: deque[_Batch] = deque()
            while batches:
                batch = await self._prepare(batches.popleft(), now, made, token)
                for index, message in enumerate(batch.messages):
                    if message is not None:
                        queue.put_nowait((batch, index))
                if not batch.unsent:
                    batch.drained.set()
                    batch.done.set()
                written.append(asyncio.ensure_future(self._write_back(batch, now)))
                if more and not self._closing:  # stopping: claim nothing more
                    size = min(limit - taken, next(steps, limit) or limit)
                    got = await self._claim(now, size)
                    taken += len(got)
                    more = taken < limit and len(got) == size
                    batches.extend(got[i : i + self.batch] for i in range(0, len(got), self.batch))
                ahead.append(batch)
                if len(ahead) > PLAN_AHEAD:  # plan no further ahead of the senders than this
                    await ahead.popleft().drained.wait()
        except asyncio.CancelledError:
            _cancel(senders, written)
            raise
        except Exception:  # planning failed: what is queued still goes out and is written back
            await self._wind_down(queue, senders, written)
            raise
        finished = await self._wind_down(queue, senders, written)
        return [outcome for outcomes in finished for outcome in outcomes]

    @staticmethod
    async def _wind_down(
        queue: asyncio.Queue[tuple[_Batch, int] | None],
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

    async def _sender(self, queue: asyncio.Queue[tuple[_Batch, int] | None]) -> None:
        """Send queued messages one after another until told to stop."""
        while (item := await queue.get()) is not None:
            batch, index = item
            message = batch.messages[index]
            assert message is not None
            batch.untaken -= 1
            if not batch.untaken:
                batch.drained.set()
            try:
                batch.results[index] = await self._attempt(message)
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

    async def _claim(self, now: datetime, limit: int) -> list[int]:
        async with self._writing:  # a claim is a write: it queues behind this process's own
            return await self.claims.claim_due(
                now, self.token, stale_before=now - CLAIM_LEASE, platforms=self.senders,
                limit=limit,
            )  # fmt: skip

    def _claim_limit(self) -> int:
        """No more than half a lease's worth of sending at the slowest platform's pace, so a
        claim never goes stale (and to another process) while its push is still queued."""
        rates = [s.limits.per_second for s in self.senders.values() if s.limits.per_second]
        if not rates:
            return MAX_CLAIM
        return max(1, min(MAX_CLAIM, int(CLAIM_LEASE.total_seconds() * min(rates) / 2)))

    async def _prepare(self, claims: list[int], now: datetime, made: _Made, token: str) -> _Batch:
        """Load a claimed batch; skip pushes missed beyond the grace window; choose and
        reserve the rest's stories; make their messages."""
        records: list[PushRecord] = []
        outcomes: list[PushOutcome] = []
        pushes: list[_Push] = []
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
                records.append(PushRecord(ids, self._following(like, now), result, failures=0))
                outcomes.extend(
                    PushOutcome(sub_id, channel, like.region, slot, "skipped",
                                detail="missed while the bot was down")
                    for sub_id, channel in group.members
                )  # fmt: skip
                continue
            planned = _Group(group, await candidates(self.stories, like, now, made.windows))
            pushes.extend([_Push(planned, sub_id, channel) for sub_id, channel in group.members])
        await self._reserve(pushes, token)
        messages = [self._message(push, made, now) for push in pushes]
        batch = _Batch(token, pushes, messages, [_EMPTY] * len(pushes), records, outcomes)
        batch.untaken = batch.unsent = sum(1 for m in messages if m is not None)
        return batch

    async def _reserve(self, pushes: list[_Push], token: str) -> None:
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
            async with self._writing:
                got = await self.ledger.reserve(
                    [Ask(push.sub_id, push.channel, push.sub_id, ids) for push, ids in wanted],
                    token=token,
                    at=self.clock.now(),
                )
            if got.complete and not topping_up:
                return  # every push holds its group's first stories, as it was planned
            again: list[tuple[_Push, list[Story]]] = []
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
    def _message(push: _Push, made: _Made, now: datetime) -> Outgoing | None:
        if not push.stories:
            return None
        return Outgoing(push.channel, digest=made.digest(push.group.like, push.stories, now))

    async def _write_back(self, batch: _Batch, now: datetime) -> list[PushOutcome]:
        """Once a batch is sent: settle its ledger rows, store how each push went."""
        await batch.done.wait()
        self._conclude(batch, now)
        async with self._writing:
            # The ledger first, committed on its own: a push outcome that fails to be written
            # must never take back the record of what was sent.
            await self._settle(batch.token, batch.pushes, batch.results)
            await self.claims.finish(self.token, batch.records)
        return batch.outcomes

    def _conclude(self, batch: _Batch, now: datetime) -> None:
        """What each push's result means for its subscription: one record per group of
        pushes that ended alike (added to the batch's records and outcomes)."""
        alike: dict[tuple[int, Status, str, int], list[_Push]] = {}
        for push, (status, detail, _) in zip(batch.pushes, batch.results, strict=True):
            alike.setdefault((id(push.group), status, detail, len(push.stories)), []).append(push)
        for (_, status, detail, count), pushes in alike.items():
            like = pushes[0].group.like
            ids = [push.sub_id for push in pushes]
            following = self._following(like, now)
            if status == "empty":
                result = f"nothing new at {now:%Y-%m-%d %H:%M} UTC"
                batch.records.append(PushRecord(ids, following, result, failures=0))
            elif status == "sent":
                result = f"sent {count} stories"
                batch.records.append(PushRecord(ids, following, result, 0, pushed_at=now))
            elif status == "retrying":
                retry = min(now + RETRY_LATER, following)
                result = f"delivery failed ({detail}); retrying at {retry:%H:%M} UTC"
                batch.records.append(PushRecord(ids, retry, result, failures=like.failures))
            else:  # failed permanently
                failures = like.failures + 1
                reason = _pause_reason(detail) if failures >= PAUSE_AFTER_FAILURES else None
                if reason:
                    status = "paused"
                    for push in pushes:
                        self._spawn(self._notice(push.channel, like.region, reason))
                batch.records.append(
                    PushRecord(
                        ids, following, f"delivery failed: {detail}", failures=failures,
                        pause_reason=reason,
                    )
                )  # fmt: skip
            batch.outcomes.extend(
                PushOutcome(push.sub_id, push.channel, like.region, like.next_push_at, status,
                            count, detail)
                for push in pushes
            )  # fmt: skip

    async def _settle(self, token: str, pushes: list[_Push], results: list[_Result]) -> None:
        """The reservation of each push that asked the ledger for stories: sent, or released
        (also where it got none, or nothing was sent)."""
        sent: list[tuple[int, str | None]] = []
        released: list[tuple[int, list[str]]] = []
        for push, (status, _detail, message_id) in zip(pushes, results, strict=True):
            if push.group.first:  # it asked (see _reserve)
                if status == "sent":
                    sent.append((push.sub_id, message_id))
                else:
                    released.append((push.sub_id, [s.id for s in push.stories]))
        if sent or released:
            await self.ledger.settle(token=token, sent=sent, released=released, at=self.clock.now())

    def _following(self, sub: Subscription, now: datetime) -> datetime:
        """The push after the one due at the subscription's slot: never on or before the
        local day that push belonged to."""
        slot = sub.next_push_at or now
        day = local_day(slot, sub.timezone)
        if slot.astimezone(sub.zone).time() < sub.push_time:
            # a retry that ran past local midnight (retries never pass the next push): its
            # push was the previous day's
            day -= timedelta(days=1)
        return next_push(sub.push_time, sub.timezone, sub.days, max(now, slot), last_local_day=day)

    async def _deliver(self, message: Outgoing) -> _Result:
        """:meth:`_attempt` within the engine's bound on sends under way (a scan's senders
        are that bound themselves)."""
        async with self._gate:
            return await self._attempt(message)

    async def _attempt(self, message: Outgoing) -> _Result:
        """Send with limits, 429 waits and retries: sent, retrying (transient) or failed."""
        sender = self.senders[message.channel.platform]
        limiter = self._limiters[message.channel.platform]
        attempt = waits = 0
        # Waiting is bounded by the claim's lease: past it another process may take the
        # push over, and the message would go out twice.
        deadline = monotonic_time.monotonic() + CLAIM_LEASE.total_seconds() / 2
        while True:
            if limiter.limited:
                await limiter.acquire(message.channel)
            try:
                message_id = await sender.send(message)
                return "sent", "", message_id
            except DeliveryError as error:
                if error.permanent:
                    return "failed", error.reason, None
                if error.retry_after is not None:
                    # asked to wait: not a failure, unless the wait outlasts the lease
                    if monotonic_time.monotonic() + error.retry_after > deadline:
                        return "retrying", error.reason, None
                    if not limiter.back_off(
                        message.channel, error.retry_after, everywhere=error.global_limit
                    ):
                        await asyncio.sleep(error.retry_after)
                    waits += 1
                    if waits >= MAX_RATE_LIMIT_WAITS:
                        return "retrying", error.reason, None
                    continue
                attempt += 1
                if attempt >= MAX_ATTEMPTS:
                    return "retrying", error.reason, None
                await asyncio.sleep(min(8.0, 0.25 * 2 ** (attempt - 1)) * (0.5 + random.random()))
            except Exception as error:  # a bug in a sender must not stop the others
                log.exception("sender %s failed on %s", sender.platform, message.channel)
                return "retrying", f"internal error ({error.__class__.__name__})", None

    async def _count_failure(self, sub: Subscription, result: str, detail: str) -> None:
        """A failure outside a claimed push; pauses (with a notice) at the third in a row."""
        if sub.id is None:
            return
        reason = _pause_reason(detail)
        paused_now = await self.subscriptions.record_failure(
            sub.id, result=result, pause_after=PAUSE_AFTER_FAILURES, pause_reason=reason
        )
        if paused_now:
            self._spawn(self._notice(sub.channel, sub.region, reason))

    async def _notice(self, channel: ChannelRef, region: str, reason: str) -> None:
        text = (
            f"signalbot paused this channel's {regions.get(region).name} subscription: "
            f"{reason}. Fix the problem, then type /signals resume {region}."
        )
        try:
            await self.senders[channel.platform].send(Outgoing(channel, notice=text))
        except DeliveryError as error:
            log.info("pause notice to %s not delivered: %s", channel, error.reason)

    # ---- send-now and instant alerts ---------------------------------------------------

    async def push_now(self, sub: Subscription) -> PushOutcome:
        """Deliver a subscription's digest now; the scheduled push then carries only newer."""
        if sub.id is None:
            raise ValueError("send-now needs a stored subscription")
        now = self.clock.now()
        # A token of its own: a scheduled push of the same subscription may be under way.
        token = uuid.uuid4().hex[:16]
        group = _Group(
            PushGroup(sub, [(sub.id, sub.channel)]), await candidates(self.stories, sub, now)
        )
        push = _Push(group, sub.id, sub.channel)
        await self._reserve([push], token)
        message = self._message(push, _Made(), now)
        result = await self._deliver(message) if message is not None else _EMPTY
        await self._settle(token, [push], [result])
        status, detail, _ = result
        if status == "sent":
            await self.subscriptions.record_success(
                sub.id, result=f"sent {len(push.stories)} stories (send-now)", pushed_at=now
            )
        elif status == "failed":
            await self._count_failure(sub, f"delivery failed: {detail}", detail)
        if status in ("failed", "retrying"):
            detail = f"the digest could not be delivered ({detail})"
            return PushOutcome(sub.id, sub.channel, sub.region, None, status, 0, detail)
        return PushOutcome(sub.id, sub.channel, sub.region, None, status, len(push.stories))

    async def deliver_instant(self, stories: Iterable[Story]) -> int:
        """Send each new story to the instant subscribers it matches; how many went out."""
        stories = list(stories)
        if not stories or self._closing:
            return 0
        subs = [s for s in await self.subscriptions.instant_subscribers()
                if s.channel.platform in self.senders]  # fmt: skip
        pairs = [
            (sub, story)
            for sub in subs
            for story in stories
            if story.region in regions.leaves(sub.region) and sub.filters.matches(story)
        ]
        if not pairs:
            return 0
        # A token of this call's own: rows another call holds are never mistaken for ours.
        # Each alert is a message of its own, numbered by its place in ``pairs``.
        token = uuid.uuid4().hex[:16]
        got = await self.ledger.reserve(
            [Ask(n, sub.channel, sub.id, [story.id]) for n, (sub, story) in enumerate(pairs)],
            token=token, at=self.clock.now(),
        )  # fmt: skip
        todo: list[int] = []
        released: list[tuple[int, list[str]]] = []
        for n, (_, story) in enumerate(pairs):
            if got.holds(n, story.id):
                todo.append(n)
            else:  # the channel has it: this alert's send holds nothing
                released.append((n, []))

        wanted = {pairs[n][1].id for n in todo}
        cards = {s.id: card_from_story(s) for s in stories if s.id in wanted}  # one per story
        results = await asyncio.gather(
            *(
                self._deliver(Outgoing(pairs[n][0].channel, card=cards[pairs[n][1].id]))
                for n in todo
            )
        )
        sent: list[tuple[int, str | None]] = []
        failures: list[tuple[Subscription, str]] = []
        reached: dict[int | None, Subscription] = {}
        for n, (status, detail, message_id) in zip(todo, results, strict=True):
            sub = pairs[n][0]
            if status == "sent":
                sent.append((n, message_id))
                reached[sub.id] = sub
            else:
                released.append((n, [pairs[n][1].id]))
                if status == "failed":
                    failures.append((sub, detail))
        if sent or released:
            await self.ledger.settle(token=token, sent=sent, released=released, at=self.clock.now())
        # Each failed alert counts (the third in a row pauses, with one notice); an alert
        # that went out clears the count, as a pushed digest does.
        for sub, detail in failures:
            await self._count_failure(sub, f"alert failed: {detail}", detail)
        failed_ids = {sub.id for sub, _ in failures}
        for sub_id, sub in reached.items():
            if sub_id is not None and sub_id not in failed_ids and sub.failures:
                await self.subscriptions.record_success(sub_id, result="alert sent", pushed_at=None)
        return len(sent)

    # ---- life cycle --------------------------------------------------------------------

    def _spawn(self, work: Awaitable[object]) -> None:
        task: asyncio.Task[object] = asyncio.ensure_future(work)
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def track(self, work: Callable[[], Awaitable[T]]) -> T:
        """Run ``work`` as in-flight delivery: :meth:`drain` waits for it to finish."""
        task: asyncio.Task[T] = asyncio.ensure_future(work())
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)
        return await asyncio.shield(task)

    async def drain(self, within: float = 30.0) -> None:
        """Stop taking new work and wait for deliveries under way (SIGTERM)."""
        self._closing = True
        if self._inflight:
            await asyncio.wait(set(self._inflight), timeout=within)
