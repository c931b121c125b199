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
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, Protocol, TypeVar

from bot import regions
from bot.clock import Clock
from bot.digests import Windows, digest_for, select_stories
from bot.domain import ChannelRef, Story, Subscription
from bot.render.model import Digest, StoryCard, card_from_story
from bot.schedule import local_day, next_push
from bot.store.stories import StoryStore
from bot.store.subscriptions import (
    DeliveryLedger,
    PushRecord,
    SubscriptionStore,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

PAUSE_AFTER_FAILURES = 3
CLAIM_LEASE = timedelta(minutes=10)
RETRY_LATER = timedelta(minutes=10)
MAX_ATTEMPTS = 5
MAX_CLAIM = 20000
MAX_RATE_LIMIT_WAITS = 20


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

    def back_off(self, channel: ChannelRef, seconds: float, *, everywhere: bool) -> None:
        if everywhere and self.global_window is not None:
            self.global_window.block(seconds)
        window = self.channel_window(channel)
        if window is not None:
            window.block(seconds)


Status = Literal["sent", "empty", "skipped", "failed", "retrying", "paused"]
_Results = list[tuple[Status, str, str | None]]


@dataclass(frozen=True)
class PushOutcome:
    subscription: Subscription
    status: Status
    stories: int = 0
    detail: str = ""

    @property
    def summary(self) -> str:
        name = regions.get(self.subscription.region).name
        if self.status == "sent":
            return (
                f"Sent the {name} digest: {self.stories} stor{'y' if self.stories == 1 else 'ies'}."
            )
        if self.status == "empty":
            return (
                f"Nothing new for {name} since the last push. "
                f"/signals latest {self.subscription.region} shows the newest stories."
            )
        return f"{name}: {self.detail}"


@dataclass
class _Plan:
    sub: Subscription
    stories: list[Story] = field(default_factory=list)


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

    def digest(self, plan: _Plan, now: datetime) -> Digest:
        sub = plan.sub
        key = (sub.region, sub.timezone, tuple([s.id for s in plan.stories]))
        digest = self.digests.get(key)
        if digest is None:
            digest = self.digests[key] = digest_for(sub, plan.stories, now, self.card)
        return digest


def _pause_reason(detail: str) -> str:
    return f"paused after {PAUSE_AFTER_FAILURES} failed deliveries in a row: {detail}"


class DeliveryEngine:
    def __init__(
        self,
        *,
        stories: StoryStore,
        subscriptions: SubscriptionStore,
        ledger: DeliveryLedger,
        senders: Mapping[str, Sender],
        clock: Clock,
        grace: timedelta = timedelta(hours=6),
        concurrency: int = 64,
        batch: int = 500,
    ) -> None:
        self.stories = stories
        self.subscriptions = subscriptions
        self.ledger = ledger
        self.senders = dict(senders)
        self.clock = clock
        self.grace = grace
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
        """One due-scan: claim every due push and deliver them all."""
        if self._closing:
            return []
        now = self.clock.now()
        await self.ledger.release_stale(older_than=now - CLAIM_LEASE)
        claimed = await self.subscriptions.claim_due(
            now, self.token, stale_before=now - CLAIM_LEASE, platforms=self.senders,
            limit=self._claim_limit(),
        )  # fmt: skip
        # A small first batch, so the first messages leave while the next batch is planned.
        first = min(len(claimed), max(1, self.batch // 10))
        batches = [claimed[:first]] if claimed else []
        batches += [claimed[i : i + self.batch] for i in range(first, len(claimed), self.batch)]
        outcomes: list[PushOutcome] = []
        bookkeeping: list[asyncio.Task[None]] = []
        made = _Made()
        # A pipeline: while one batch is being sent, the next is planned and the last one's
        # results are written, so the database never holds up the network (or the reverse).
        planned = asyncio.ensure_future(self._prepare(batches[0], now, made)) if batches else None
        for index in range(len(batches)):
            assert planned is not None
            records, skipped, plans = await planned
            if index + 1 < len(batches):
                planned = asyncio.ensure_future(self._prepare(batches[index + 1], now, made))
            results = await self._send_plans(plans, now, made)
            batch_outcomes = self._conclude(plans, results, records, now)
            outcomes.extend(skipped + batch_outcomes)
            bookkeeping.append(asyncio.ensure_future(self._write_back(plans, results, records)))
        await asyncio.gather(*bookkeeping)
        return outcomes

    def _claim_limit(self) -> int:
        """No more than half a lease's worth of sending at the slowest platform's pace, so a
        claim never goes stale (and to another process) while its push is still queued."""
        rates = [s.limits.per_second for s in self.senders.values() if s.limits.per_second]
        if not rates:
            return MAX_CLAIM
        return max(1, min(MAX_CLAIM, int(CLAIM_LEASE.total_seconds() * min(rates) / 2)))

    async def _prepare(
        self, claims: list[int], now: datetime, made: _Made
    ) -> tuple[list[PushRecord], list[PushOutcome], list[_Plan]]:
        """Load a claimed batch; skip pushes missed beyond the grace window; plan the rest."""
        records: list[PushRecord] = []
        skipped: list[PushOutcome] = []
        live: list[Subscription] = []
        for sub in await self.subscriptions.load(claims):
            if sub.paused:  # paused since the scan, which dropped the claim: nothing to do
                continue
            slot = sub.next_push_at or now
            if now - slot > self.grace:
                log.warning(
                    "skipping push of %s to %s due %s: older than the %s grace window",
                    sub.region, sub.channel, slot.isoformat(), self.grace,
                )  # fmt: skip
                result = f"missed the push due {slot:%Y-%m-%d %H:%M} UTC (bot was down)"
                records.append(self._record(sub, now, result))
                skipped.append(PushOutcome(sub, "skipped", detail="missed while the bot was down"))
            else:
                live.append(sub)
        return records, skipped, await self._plan(live, now, windows=made.windows)

    def _conclude(
        self,
        plans: list[_Plan],
        results: list[tuple[Status, str, str | None]],
        records: list[PushRecord],
        now: datetime,
    ) -> list[PushOutcome]:
        """What each push's result means for its subscription (appended to ``records``)."""
        outcomes: list[PushOutcome] = []
        for plan, (status, detail, _) in zip(plans, results, strict=True):
            sub = plan.sub
            if status == "empty":
                result = f"nothing new at {now:%Y-%m-%d %H:%M} UTC"
                records.append(self._record(sub, now, result, pushed_at=None))
            elif status == "sent":
                result = f"sent {len(plan.stories)} stories"
                records.append(self._record(sub, now, result, pushed_at=now))
            elif status == "retrying":
                retry = min(now + RETRY_LATER, self._following(sub, now))
                result = f"delivery failed ({detail}); retrying at {retry:%H:%M} UTC"
                records.append(PushRecord(sub.id or 0, retry, result, failures=sub.failures))
            else:  # failed permanently
                failures = sub.failures + 1
                reason = _pause_reason(detail) if failures >= PAUSE_AFTER_FAILURES else None
                if reason:
                    status = "paused"
                    self._spawn(self._notice(sub, reason))
                following = self._following(sub, now)
                records.append(
                    PushRecord(
                        sub.id or 0, following, f"delivery failed: {detail}",
                        failures=failures, pause_reason=reason,
                    )
                )  # fmt: skip
            outcomes.append(PushOutcome(sub, status, len(plan.stories), detail))
        return outcomes

    async def _write_back(
        self,
        plans: list[_Plan],
        results: list[tuple[Status, str, str | None]],
        records: list[PushRecord],
    ) -> None:
        """Settle the ledger (sent or released), then store each push's outcome."""
        async with self._writing:
            await self._settle(self.token, plans, results)
            await self.subscriptions.finish(self.token, records)

    async def _settle(self, token: str, plans: list[_Plan], results: _Results) -> None:
        """The ledger rows of each push that reserved stories: sent, or released."""
        sent: list[tuple[int | None, str | None, str | None]] = []
        released: list[tuple[int | None, str | None]] = []
        for plan, (status, _detail, message_id) in zip(plans, results, strict=True):
            if plan.stories:
                if status == "sent":
                    sent.append((plan.sub.id, None, message_id))
                else:
                    released.append((plan.sub.id, None))
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

    def _record(
        self, sub: Subscription, now: datetime, result: str, *, pushed_at: datetime | None = None
    ) -> PushRecord:
        return PushRecord(
            sub.id or 0, self._following(sub, now), result, failures=0, pushed_at=pushed_at
        )

    async def _plan(
        self,
        subs: list[Subscription],
        now: datetime,
        *,
        token: str | None = None,
        windows: Windows | None = None,
    ) -> list[_Plan]:
        """Each subscription's stories (see :func:`select_stories`), reserved in the ledger."""
        selected = await select_stories(self.stories, self.ledger, subs, now, windows)
        plans = [_Plan(sub, picked) for sub, picked in zip(subs, selected, strict=True)]
        wanted = [(p.sub.channel, p.sub.id, [s.id for s in p.stories]) for p in plans]
        async with self._writing:
            got = await self.ledger.reserve(wanted, token=token or self.token, at=self.clock.now())
        if not got.complete:
            for plan in plans:
                plan.stories = [
                    s for s in plan.stories if got.holds(plan.sub.channel, s.id, plan.sub.id)
                ]
        return plans

    async def _send_plans(
        self, plans: list[_Plan], now: datetime, made: _Made | None = None
    ) -> list[tuple[Status, str, str | None]]:
        made = made or _Made()
        sending = [plan for plan in plans if plan.stories]
        sent = iter(
            await asyncio.gather(
                *(
                    self._deliver(Outgoing(p.sub.channel, digest=made.digest(p, now)))
                    for p in sending
                )
            )
        )
        return [next(sent) if plan.stories else ("empty", "", None) for plan in plans]

    async def _deliver(self, message: Outgoing) -> tuple[Status, str, str | None]:
        """Send with limits, 429 waits and retries: sent, retrying (transient) or failed."""
        sender = self.senders[message.channel.platform]
        limiter = self._limiters[message.channel.platform]
        async with self._gate:
            attempt = waits = 0
            # Waiting is bounded by the claim's lease: past it another process may take the
            # push over, and the message would go out twice.
            deadline = monotonic_time.monotonic() + CLAIM_LEASE.total_seconds() / 2
            while True:
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
                        limiter.back_off(
                            message.channel, error.retry_after, everywhere=error.global_limit
                        )
                        waits += 1
                        if waits >= MAX_RATE_LIMIT_WAITS:
                            return "retrying", error.reason, None
                        continue
                    attempt += 1
                    if attempt >= MAX_ATTEMPTS:
                        return "retrying", error.reason, None
                    await asyncio.sleep(
                        min(8.0, 0.25 * 2 ** (attempt - 1)) * (0.5 + random.random())
                    )
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
            self._spawn(self._notice(sub, reason))

    async def _notice(self, sub: Subscription, reason: str) -> None:
        text = (
            f"signalbot paused this channel's {regions.get(sub.region).name} subscription: "
            f"{reason}. Fix the problem, then type /signals resume {sub.region}."
        )
        try:
            await self.senders[sub.channel.platform].send(Outgoing(sub.channel, notice=text))
        except DeliveryError as error:
            log.info("pause notice to %s not delivered: %s", sub.channel, error.reason)

    # ---- send-now and instant alerts ---------------------------------------------------

    async def push_now(self, sub: Subscription) -> PushOutcome:
        """Deliver a subscription's digest now; the scheduled push then carries only newer."""
        now = self.clock.now()
        # A token of its own: a scheduled push of the same subscription may be under way.
        token = uuid.uuid4().hex[:16]
        (plan,) = await self._plan([sub], now, token=token)
        results = await self._send_plans([plan], now)
        ((status, detail, _),) = results
        await self._settle(token, [plan], results)
        if status == "sent" and sub.id is not None:
            await self.subscriptions.record_success(
                sub.id, result=f"sent {len(plan.stories)} stories (send-now)", pushed_at=now
            )
        elif status == "failed":
            await self._count_failure(sub, f"delivery failed: {detail}", detail)
        if status in ("failed", "retrying"):
            return PushOutcome(sub, status, 0, f"the digest could not be delivered ({detail})")
        return PushOutcome(sub, status, len(plan.stories), detail)

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
        token = uuid.uuid4().hex[:16]
        by_sub: dict[int | None, tuple[Subscription, list[str]]] = {}
        for sub, story in pairs:
            by_sub.setdefault(sub.id, (sub, []))[1].append(story.id)
        got = await self.ledger.reserve(
            [(sub.channel, sub.id, ids) for sub, ids in by_sub.values()],
            token=token, at=self.clock.now(),
        )  # fmt: skip
        todo = [(sub, story) for sub, story in pairs if got.holds(sub.channel, story.id, sub.id)]

        cards = {story.id: card_from_story(story) for _, story in todo}  # one per story
        results = await asyncio.gather(
            *(self._deliver(Outgoing(sub.channel, card=cards[story.id])) for sub, story in todo)
        )
        sent: list[tuple[int | None, str | None, str | None]] = []
        released: list[tuple[int | None, str | None]] = []
        failures: list[tuple[Subscription, str]] = []
        reached: dict[int | None, Subscription] = {}
        for (sub, story), (status, detail, message_id) in zip(todo, results, strict=True):
            if status == "sent":
                sent.append((sub.id, story.id, message_id))
                reached[sub.id] = sub
            else:
                released.append((sub.id, story.id))
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
