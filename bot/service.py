"""The running bot: APScheduler jobs for due-scans, instant alerts and feed polling.

Every adapter (console, Slack, Discord) runs this same service with its own senders. The
scheduler only wakes the jobs; which pushes are due, and who sends them, is settled in the
database (see :mod:`bot.delivery`), so any number of replicas can run side by side.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from math import ceil

from apscheduler.schedulers.asyncio import AsyncIOScheduler  # type: ignore[import-untyped]

from bot.clock import Clock
from bot.config import Settings
from bot.delivery import DeliveryEngine, PushOutcome
from bot.delivery.edits import EditRound
from bot.digests import open_since
from bot.domain import Story
from bot.ingest.fetch import Fetcher
from bot.ingest.sources import read_source
from bot.metrics import INGESTED
from bot.store.events import EventLog
from bot.store.ledger import Pruned
from bot.store.state import Replicas
from bot.store.stories import StoryStore

log = logging.getLogger(__name__)

# CPython's default thresholds (700, 10, 10) suit short scripts. A due-scan holds tens of
# thousands of objects for its length (subscriptions, plans, requests in flight), and with
# the defaults the collector re-walks them over and over: a quarter of a 10,000-channel
# fan-out's time went to it (bench/fanout.py). Larger generations collect the same garbage,
# less often.
GC_THRESHOLDS = (10_000, 50, 10)
EVENT_MEMORY = timedelta(days=1)  # how long a platform event is remembered as handled
TIDY_INTERVAL = timedelta(hours=1)
# How often a process says it is live, and learns how many share the platforms' budgets.
REPLICA_BEAT = timedelta(seconds=2)
# How often a process looks for changed stories and makes the edits due.
EDIT_INTERVAL = timedelta(seconds=5)


def tune_gc() -> None:
    """Collector settings for the long-running bot (``signalbot run`` and the benches)."""
    gc.set_threshold(*GC_THRESHOLDS)


def freeze_startup_heap() -> None:
    """Once the bot is up, what it has built (modules, classes, the libraries' tables: some
    170,000 objects) lives as long as the process: moved out of the collector's sight, a full
    collection walks only what came since. Every full collection walked them all, a pause of
    100-240 ms that every request in flight waited out (bench/discord.py's p99)."""
    gc.collect()
    gc.freeze()


def in_step(now: datetime, interval: float) -> datetime:
    """The first instant from ``now`` a whole number of ``interval`` seconds after the epoch.

    Scans from there fall at the same instants in every process, so replicas find a push due
    together rather than the first to look taking a head start on the others' share; and with
    an interval that divides a minute, on the minute, when pushes fall due.
    """
    return datetime.fromtimestamp(ceil(now.timestamp() / interval) * interval, UTC)


class BotService:
    """The scheduled work of one process (built by :func:`bot.app.build_bot`)."""

    def __init__(
        self,
        *,
        settings: Settings,
        clock: Clock,
        stories: StoryStore,
        delivery: DeliveryEngine,
        fetcher: Callable[[], Fetcher],
        events: EventLog,
        alerts_since: datetime | None = None,
        replicas: Replicas | None = None,
    ) -> None:
        """``alerts_since``: stories stored after this time are news for instant subscribers
        (by default, from :meth:`start`: those stored within the catch-up grace)."""
        self.settings = settings
        self.clock = clock
        self.stories = stories
        self.delivery = delivery
        self.fetcher = fetcher
        self.events = events
        self.replicas = replicas
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self._watermark: datetime | None = alerts_since
        self._scan_lock = asyncio.Lock()
        self._stopping = False

    async def start(self) -> None:
        """Start the jobs; the first due-scan (catch-up after downtime) runs at once."""
        if self._watermark is None:
            self._watermark = self.clock.now() - self.settings.catch_up_grace
        settings = self.settings
        if self.replicas is not None:  # the first scan already keeps this process's share
            await self.heartbeat()
            self.scheduler.add_job(
                self.heartbeat, "interval", seconds=REPLICA_BEAT.total_seconds(), id="heartbeat",
                max_instances=1, coalesce=True, misfire_grace_time=None,
            )  # fmt: skip
        now = datetime.now(UTC)
        self.scheduler.add_job(
            self.scan, "date", run_date=now, id="first-scan", misfire_grace_time=None
        )
        self.scheduler.add_job(
            self.scan, "interval", seconds=settings.scan_interval,
            start_date=in_step(now, settings.scan_interval), id="due-scan", max_instances=1,
            coalesce=True, misfire_grace_time=None,
        )  # fmt: skip
        if settings.feeds:
            self.scheduler.add_job(
                self.poll_feeds, "interval", seconds=settings.feed_interval,
                next_run_time=datetime.now(UTC), id="feed-poll", max_instances=1, coalesce=True,
                misfire_grace_time=None,
            )  # fmt: skip
        self.scheduler.add_job(
            self.edit, "interval", seconds=EDIT_INTERVAL.total_seconds(),
            next_run_time=datetime.now(UTC), id="edits", max_instances=1, coalesce=True,
            misfire_grace_time=None,
        )  # fmt: skip
        self.scheduler.add_job(
            self.tidy, "interval", seconds=TIDY_INTERVAL.total_seconds(), id="tidy",
            max_instances=1, coalesce=True, misfire_grace_time=None,
        )  # fmt: skip
        self.scheduler.add_job(
            self.prune_ledger, "interval", seconds=TIDY_INTERVAL.total_seconds(),
            id="ledger-retention", max_instances=1, coalesce=True, misfire_grace_time=None,
        )  # fmt: skip
        self.scheduler.start()

    async def scan(self) -> list[PushOutcome]:
        """One due-scan plus one look for newly stored stories for instant subscribers."""
        try:
            return await self._scan()
        except asyncio.CancelledError:
            if self._stopping:  # the scheduler shut down while this job waited its turn
                return []
            raise

    async def _scan(self) -> list[PushOutcome]:
        async with self._scan_lock:
            outcomes: list[PushOutcome] = []
            if self._stopping:
                return outcomes
            try:
                outcomes = await self.delivery.track(self.delivery.run_due)
                await self.instant_scan()
            except Exception:  # the next scan tries again; the job must keep running
                log.exception("due-scan failed")
            return outcomes

    async def instant_scan(self) -> int:
        """Alerts for stories stored since the last look (by this or any other process)."""
        since = self._watermark or self.clock.now()
        stories, newest = await self.stories.ingested_since(since)
        if newest is not None:
            self._watermark = newest
        return await self.delivery.deliver_instant(stories)

    async def poll_feeds(self) -> list[Story]:
        """Fetch every configured feed (conditional GETs) and store what is new or changed."""
        changed: list[Story] = []
        async with self.fetcher() as fetcher:
            for feed in self.settings.feeds:
                async for parsed in read_source(feed, fetcher):
                    if parsed.story is not None:
                        outcome = await self.stories.save(
                            parsed.story, now=self.clock.now()
                        )
                        if outcome != "unchanged":
                            changed.append(parsed.story)
                    elif parsed.error:
                        INGESTED.labels("refused").inc()
                        log.warning("feed %s: %s: %s", feed, parsed.source, parsed.error)
        if changed:  # alert now rather than at the next scan, but never beside a scan
            async with self._scan_lock:
                if not self._stopping:
                    await self.delivery.track(self.instant_scan)
        return changed

    async def edit(self) -> EditRound:
        """Edit the messages sent whose stories changed since (see :class:`Editor`)."""
        if self._stopping:
            return EditRound()
        try:
            return await self.delivery.track(self.delivery.run_edits)
        except asyncio.CancelledError:
            if self._stopping:
                return EditRound()
            raise
        except Exception:  # the next round tries again; the job must keep running
            log.exception("editing updated messages failed")
            return EditRound()

    async def heartbeat(self) -> dict[str, int]:
        """Say this process is live; keep its share of each platform's bot-wide budget (the
        processes delivering to a platform split its limits evenly, as they split the due
        pushes between them). Without an answer the shares stay as they were."""
        assert self.replicas is not None
        delivery = self.delivery
        try:
            now = self.clock.now()
            seen = await self.replicas.beat(delivery.token, delivery.senders, now=now)
        except Exception:
            log.exception("the heartbeat failed")
            return {}
        counts = seen.live
        if seen.dead - delivery.dead:
            log.warning("processes stopped without a word (%s): their pushes are taken over",
                        ", ".join(sorted(seen.dead - delivery.dead)))  # fmt: skip
        delivery.dead = seen.dead
        delivery.live = counts
        for platform, limiter in delivery.attempts.limiters.items():
            processes = counts.get(platform, 1)
            if limiter.processes != processes:
                log.info("%s: %d processes deliver, each keeps its share of the bot's limits",
                         platform, processes)  # fmt: skip
                limiter.share(processes)
        return counts

    async def tidy(self) -> int:
        """Forget platform events noted long enough ago that none will come again (Slack
        retries an event for minutes, not a day); how many went."""
        try:
            return await self.events.forget_before(self.clock.now() - EVENT_MEMORY)
        except Exception:  # the next run tries again; the job must keep running
            log.exception("tidying the event log failed")
            return 0

    async def prune_ledger(self) -> Pruned:
        """Forget the deliveries older than the ledger retention, in small transactions:
        never a message in flight, nor a story a push or an alert could still choose (see
        :meth:`DeliveryLedger.prune`); how many went is logged."""
        now = self.clock.now()
        before = now - self.settings.ledger_retention
        keep = open_since(now, self.settings.catch_up_grace)
        if self._watermark is not None:  # alerts of stories stored since then may yet go
            keep = min(keep, self._watermark)
        delivery = self.delivery
        try:
            pruned = await delivery.ledger.prune(
                older_than=before, keep_stories_since=keep, writing=delivery.push_ledger.writing
            )
        except Exception:  # the next run tries again; the job must keep running
            log.exception("pruning the delivery ledger failed")
            return Pruned(0, 0)
        if pruned.stories or pruned.messages:
            log.info("ledger retention: forgot %d delivered stories in %d messages sent before %s",
                     pruned.stories, pruned.messages, f"{before:%Y-%m-%d %H:%M} UTC")  # fmt: skip
        return pruned

    async def stop(self) -> None:
        """Stop the jobs and let deliveries under way finish (SIGTERM).

        No new job starts once paused; a scan under way finishes before the scheduler shuts
        down (its shutdown would cancel a running job mid-delivery).
        """
        self._stopping = True
        if self.scheduler.running:
            self.scheduler.pause()
        async with self._scan_lock:
            if self.scheduler.running:
                self.scheduler.shutdown(wait=False)
            await self.delivery.drain()
        if self.replicas is not None:  # the others take the whole budget at their next beat
            try:
                await self.replicas.leave(self.delivery.token, now=self.clock.now())
            except Exception:
                log.warning("could not say this process stopped", exc_info=True)
