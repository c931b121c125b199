"""``build_core(settings)``: the one place the core's objects are wired together."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import Clock, SystemClock
from bot.commands import CommandService
from bot.config import Settings
from bot.delivery import DeliveryEngine, Sender
from bot.ingest.fetch import USER_AGENT, Fetcher, ValidatorCache
from bot.lifecycle import Lifecycle
from bot.store import db
from bot.store.claims import PushClaims
from bot.store.ledger import DeliveryLedger
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
    lifecycle: Lifecycle
    clock: Clock = field(default_factory=SystemClock)

    def fetcher(self) -> Fetcher:
        """A fetcher that remembers validators in the database (use with ``async with``)."""
        return make_fetcher(self.settings, cache=self.validators)

    def delivery(self, senders: Mapping[str, Sender], *, concurrency: int = 64) -> DeliveryEngine:
        return DeliveryEngine(
            stories=self.stories,
            subscriptions=self.subscriptions,
            claims=self.claims,
            ledger=self.ledger,
            senders=senders,
            clock=self.clock,
            grace=self.settings.catch_up_grace,
            concurrency=concurrency,
        )

    def commands(self, delivery: DeliveryEngine | None = None) -> CommandService:
        return CommandService(
            stories=self.stories,
            subscriptions=self.subscriptions,
            ledger=self.ledger,
            clock=self.clock,
            pusher=delivery,
        )

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
        lifecycle=Lifecycle(subscriptions, ledger, clock),
        clock=clock,
    )
