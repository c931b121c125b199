"""The one composition root: :func:`build_core` wires the stores from the settings, and
:func:`build_bot` the running bot for a set of senders (delivery, commands, scheduled work).
Nothing else constructs these objects."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import Clock, SystemClock
from bot.commands import CommandService
from bot.config import Settings
from bot.delivery import DeliveryEngine, Sender
from bot.ingest.fetch import USER_AGENT, Fetcher, ValidatorCache
from bot.lifecycle import Lifecycle
from bot.service import BotService
from bot.store import db
from bot.store.claims import PushClaims
from bot.store.edits import EditQueue
from bot.store.events import EventLog
from bot.store.ledger import DeliveryLedger
from bot.store.state import PlatformState, Replicas
from bot.store.stories import StoryStore, ValidatorStore
from bot.store.subscriptions import SubscriptionStore


def make_fetcher(settings: Settings, *, cache: ValidatorCache | None = None) -> Fetcher:
    return Fetcher(
        cache=cache,
        timeout=settings.fetch_timeout,
        retries=settings.fetch_retries,
        user_agent=settings.user_agent or USER_AGENT,
    )


@dataclass
class Core:
    settings: Settings
    engine: AsyncEngine
    stories: StoryStore
    validators: ValidatorStore
    subscriptions: SubscriptionStore
    claims: PushClaims
    ledger: DeliveryLedger
    edits: EditQueue
    lifecycle: Lifecycle
    events: EventLog
    state: PlatformState
    clock: Clock = field(default_factory=SystemClock)

    def fetcher(self) -> Fetcher:
        """A fetcher that remembers validators in the database (use with ``async with``)."""
        return make_fetcher(self.settings, cache=self.validators)

    async def start(self) -> None:
        """Apply migrations; raises if the database cannot be reached."""
        await db.upgrade(self.engine)

    async def close(self) -> None:
        await self.engine.dispose()


def build_core(settings: Settings, *, clock: Clock | None = None) -> Core:
    engine = db.create_engine(settings.database_url)
    clock = clock or SystemClock()
    subscriptions = SubscriptionStore(engine)
    ledger = DeliveryLedger(engine)
    return Core(
        settings=settings,
        engine=engine,
        stories=StoryStore(engine),
        validators=ValidatorStore(engine, clock),
        subscriptions=subscriptions,
        claims=PushClaims(engine),
        ledger=ledger,
        edits=EditQueue(engine),
        lifecycle=Lifecycle(subscriptions, ledger, clock),
        events=EventLog(engine),
        state=PlatformState(engine),
        clock=clock,
    )


@dataclass
class Bot:
    """The running bot for one set of senders: what adapters are given."""

    core: Core
    delivery: DeliveryEngine
    commands: CommandService
    service: BotService

    @property
    def lifecycle(self) -> Lifecycle:
        return self.core.lifecycle

    async def start(self) -> None:
        """Start the scheduled work (due-scans, alerts, feed polls)."""
        await self.service.start()

    async def stop(self) -> None:
        """Stop the scheduled work; deliveries under way finish first."""
        await self.service.stop()


def build_bot(
    core: Core,
    senders: Mapping[str, Sender],
    *,
    concurrency: int = 64,
    alerts_since: datetime | None = None,
) -> Bot:
    """Delivery to ``senders`` (by platform), the command service and the scheduled work,
    over ``core``'s stores."""
    delivery = DeliveryEngine(
        stories=core.stories,
        subscriptions=core.subscriptions,
        claims=core.claims,
        ledger=core.ledger,
        senders=senders,
        clock=core.clock,
        grace=core.settings.catch_up_grace,
        concurrency=concurrency,
        edits=core.edits,
        edit_window=core.settings.edit_window,
    )
    commands = CommandService(
        stories=core.stories,
        subscriptions=core.subscriptions,
        ledger=core.ledger,
        clock=core.clock,
        pusher=delivery,
    )
    service = BotService(
        settings=core.settings,
        clock=core.clock,
        stories=core.stories,
        delivery=delivery,
        fetcher=core.fetcher,
        events=core.events,
        alerts_since=alerts_since,
        replicas=Replicas(core.state),
    )
    return Bot(core, delivery, commands, service)
