"""The delivery engine: the one object the bot and the commands talk to, delegating to the
due-scan, send-now and alerts, which share its senders, limits, stores and work in flight."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import timedelta
from typing import TypeVar

from bot.clock import Clock
from bot.delivery.alerts import Alerts
from bot.delivery.attempts import Attempts
from bot.delivery.edits import Editor, EditRound
from bot.delivery.inflight import InFlight
from bot.delivery.outcomes import Outcomes, PushOutcome
from bot.delivery.plan import PushLedger
from bot.delivery.scan import DueScan
from bot.delivery.sender import Sender
from bot.domain import Story, Subscription
from bot.store.claims import PushClaims
from bot.store.edits import EditQueue
from bot.store.ledger import DeliveryLedger
from bot.store.rows import new_token
from bot.store.stories import StoryStore
from bot.store.subscriptions import SubscriptionStore

T = TypeVar("T")


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
        edits: EditQueue | None = None,
        edit_window: timedelta = timedelta(hours=48),
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
        self.token = new_token()  # this process's claims
        # Processes that died (their heartbeat stopped): their claims and reservations are
        # taken over at once (without heartbeats, after the claim's lease).
        self.dead: frozenset[str] = frozenset()
        # Live processes delivering to each platform, this one included (from the
        # heartbeats; none yet: this one alone): each scan claims its share of what is due.
        self.live: dict[str, int] = {}
        self.in_flight = InFlight()
        self.attempts = Attempts(self.senders, concurrency)
        self.outcomes = Outcomes(subscriptions, self.senders, self.in_flight)
        # This process's writes queue here rather than in SQLite's busy handler, which
        # sleeps in coarse steps while another connection holds the write lock.
        self.push_ledger = PushLedger(ledger, clock, asyncio.Lock())
        # Edits of sent messages whose stories changed (none without their queue).
        self.editor = (
            None
            if edits is None
            else Editor(
                stories=stories, queue=edits, attempts=self.attempts, clock=clock,
                token=self.token, window=edit_window, writing=self.push_ledger.writing,
            )
        )  # fmt: skip
        self.alerts = Alerts(
            stories=stories, subscriptions=subscriptions, ledger=self.push_ledger,
            attempts=self.attempts, outcomes=self.outcomes, in_flight=self.in_flight, clock=clock,
        )  # fmt: skip

    async def run_due(self) -> list[PushOutcome]:
        """One due-scan: claim every due push and deliver them all (see :class:`DueScan`)."""
        return await DueScan(
            stories=self.stories, claims=self.claims, ledger=self.push_ledger,
            attempts=self.attempts, outcomes=self.outcomes, in_flight=self.in_flight,
            clock=self.clock, token=self.token, grace=self.grace, concurrency=self.concurrency,
            batch=self.batch, dead=self.dead, live=self.live,
        ).run()  # fmt: skip

    async def run_edits(self) -> EditRound:
        """Edit the sent messages whose stories changed (see :class:`Editor`)."""
        if self.editor is None:
            return EditRound()
        self.editor.dead = self.dead
        return await self.editor.run()

    async def push_now(self, subs: Sequence[Subscription]) -> list[PushOutcome]:
        """Deliver these subscriptions' digests now; their scheduled pushes then carry only
        what is newer."""
        return await self.alerts.push_now(subs)

    async def deliver_instant(self, stories: Iterable[Story]) -> int:
        """Send each new story to the instant subscribers it matches; how many went out."""
        return await self.alerts.deliver_instant(stories)

    async def track(self, work: Callable[[], Awaitable[T]]) -> T:
        """Run ``work`` as in-flight delivery: :meth:`drain` waits for it to finish."""
        return await self.in_flight.track(work)

    async def drain(self, within: float = 30.0) -> None:
        """Stop taking new work and wait for deliveries under way (SIGTERM)."""
        await self.in_flight.drain(within)
