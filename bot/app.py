"""``build_core(settings)``: the one place the core's objects are wired together."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.ingest.fetch import USER_AGENT, Fetcher, ValidatorCache
from bot.store import db
from bot.store.stories import StoryStore, ValidatorStore


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
    return Core(
        settings=settings,
        engine=engine,
        stories=StoryStore(engine),
        validators=ValidatorStore(engine, clock),
        clock=clock,
    )
