"""Living messages: 10,000 delivered messages over 2,000 stories, then 100 of the stories
updated at once; how long finding and claiming every message to edit takes, and whether each
is edited exactly once.

Setup (not timed): 2,000 stories over 42 hours in eight regions, saved through the story
store. Each region's stories go out five at a time as a digest to 20 channels (8,000 digest
messages), and each story as an alert to a channel of its own (2,000 alert messages): every
message its own channel with its own subscription, reserved and settled in the real ledger an
hour's messages at a time, each keeping what it shows (``shown`` of the real digest or card).

Each round (``--rounds``, 3) updates 100 stories not updated before (a new headline, one more
insight, the time the page says it changed) and runs the bot's own editor, as built by
``build_bot``, with a console sender that counts requests:

- ``plan_ms``: ``Editor.plan`` (the stories changed since its last look, then one queued edit
  of every message within the window that shows one of them) plus the one ``EditQueue.claim``
  that takes every due edit (the editor's batch is set above the number of messages; the clock
  is moved past the edit delay in between, which costs nothing). The median round's.
- ``edits``: edit requests the sender got, over all rounds; ``expected``: the messages that
  show at least one updated story, counted in Python from what setup sent (all are within the
  edit window).
- ``duplicates``: requests for a message beyond its first in a round, plus any edit made
  afterwards in that round: by another run of the editor, after the same stories are saved
  again unchanged, or saved again with a change no reader sees (only their headline's spacing).

``--database-url`` runs on another database: a PostgreSQL URL names the server, on which a
scratch database is made (and analysed once set up, as autovacuum would have by then) and
dropped afterwards. Last line:
``plan_ms=<n> edits=<n> expected=<n> duplicates=<n>``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bot.app import Core, build_bot, build_core  # noqa: E402
from bot.clock import FrozenClock  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.delivery import Outgoing, RateLimits  # noqa: E402
from bot.delivery.edits import EDIT_DELAY, Editor, EditRound  # noqa: E402
from bot.domain import ChannelRef, Insight, Story  # noqa: E402
from bot.render.model import build_digest, card_from_story, shown  # noqa: E402
from bot.service import tune_gc  # noqa: E402
from bot.store.edits import EditJob, EditQueue  # noqa: E402
from bot.store.ledger import Ask  # noqa: E402
from bot.store.tables import deliveries as deliveries_table  # noqa: E402
from bot.store.tables import sends as sends_table  # noqa: E402
from bot.store.tables import subscriptions as subscriptions_table  # noqa: E402

STORIES = 2000
REGIONS = ("europe", "africa", "middle-east", "east-asia", "south-asia", "southeast-asia",
           "north-america", "south-america")  # fmt: skip
PER_DIGEST = 5  # stories in a digest
DIGEST_CHANNELS = 20  # channels each digest goes to
UPDATED = 100  # stories updated at once, each round
ZONES = ("Europe/Brussels", "Africa/Lagos", "Asia/Riyadh", "Asia/Singapore",
         "America/New_York", "America/Sao_Paulo", "UTC")  # fmt: skip
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # the first round's updates
FIRST = NOW - timedelta(hours=42)  # the first story; the last is two hours before NOW
SPACING = timedelta(hours=40) / STORIES
SEED = 20261201


@dataclass
class Message:
    """One message setup sends: its channel, subscription, stories, what it shows, when."""

    number: int
    channel: ChannelRef
    subscription: dict[str, Any]
    story_ids: tuple[str, ...]
    shows: str
    at: datetime

    @property
    def message_id(self) -> str:
        return f"console-{self.number}"


class Counting:
    """The console platform, counting each edit by the message it replaces; unlimited."""

    platform = "console"
    limits = RateLimits()

    def __init__(self) -> None:
        self.edits: list[str] = []
        self.posts = 0

    async def send(self, message: Outgoing) -> str | None:
        if message.replaces is None:
            self.posts += 1
            return None
        self.edits.append(message.replaces)
        return message.replaces


class TimedQueue(EditQueue):
    """The edit queue, noting how long each claim took (what ``plan_ms`` adds to the plan)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.claims: list[tuple[float, int]] = []  # seconds, edits claimed

    async def claim(self, *args: Any, **kwargs: Any) -> list[EditJob]:
        start = time.perf_counter()
        jobs = await super().claim(*args, **kwargs)
        self.claims.append((time.perf_counter() - start, len(jobs)))
        return jobs


def story(n: int, *, revision: int = 0, spaced: bool = False) -> Story:
    """Story ``n`` as first published, or as updated (``revision`` 1 on): a new headline,
    one more insight, and the time the page says it changed; ``spaced`` adds spaces no reader
    sees to the headline."""
    published = FIRST + SPACING * n
    title = f"Talks on item {n} resume in {REGIONS[n % len(REGIONS)]}"
    if revision:
        title += f", revised ({revision})"
    if spaced:
        title = f"  {title.replace(' ', '  ')} "
    views = [
        Insight(title=f"View {k} on item {n}", sources=[f"Outlet {k}", "Reuters"],
                body="Analysts said the outcome was far from certain.")
        for k in range(3 + revision)
    ]  # fmt: skip
    return Story(
        url=f"https://www.semafor.com/article/11/30/2026/bench-edits-{n}", kind="signals",
        title=title, published_at=published,
        updated_at=NOW + timedelta(minutes=revision) if revision else None,
        region=REGIONS[n % len(REGIONS)], verticals=["politics"],
        insights_from=["Reuters", "Bloomberg"],
        news=[f"Negotiators met again on item {n}. They will meet next week."],
        insights=views,
    )  # fmt: skip


def subscription_row(number: int, channel: ChannelRef, region: str, mode: str, zone: str,
                     at: datetime) -> dict[str, Any]:  # fmt: skip
    return {
        "id": number, "platform": channel.platform, "workspace": channel.workspace,
        "channel": channel.channel, "region": region, "push_time": "07:00", "timezone": zone,
        "days": "0,1,2,3,4,5,6", "mode": mode,
        "filters": '{"topics": [], "sources": [], "keywords": [], "exclude": []}',
        "paused": False, "next_push_at": NOW + timedelta(hours=12) if mode == "digest" else None,
        "last_push_at": at if mode == "digest" else None, "failures": 0,
        "created_at": FIRST - timedelta(days=7), "updated_at": FIRST - timedelta(days=7),
    }  # fmt: skip


def messages(originals: list[Story]) -> list[Message]:
    """Every message setup sends: each region's stories five at a time as a digest to 20
    channels ten minutes after the last of them, and each story as an alert a minute after
    it was published; numbered from 1."""
    made: list[Message] = []

    def add(channel: ChannelRef, region: str, mode: str, zone: str, ids: tuple[str, ...],
            shows: str | None, at: datetime) -> None:  # fmt: skip
        number = len(made) + 1
        assert shows is not None
        row = subscription_row(number, channel, region, mode, zone, at)
        made.append(Message(number, channel, row, ids, shows, at))

    for r, region in enumerate(REGIONS):
        mine = [s for s in originals if s.region == region]
        for g in range(0, len(mine), PER_DIGEST):
            group = mine[g : g + PER_DIGEST]
            at = max(s.published_at or FIRST for s in group) + timedelta(minutes=10)
            zone = ZONES[(g // PER_DIGEST + r) % len(ZONES)]
            # newest first, as a push orders them; one digest object for all its channels
            group.sort(key=lambda s: s.published_at or FIRST, reverse=True)
            digest = build_digest(region, at.date(), group)
            ids = tuple(card.story_id for card in digest.cards)
            for c in range(DIGEST_CHANNELS):
                channel = ChannelRef("console", f"w{len(made) // 500}", f"d-{region}-{g}-{c}")
                add(channel, region, "digest", zone, ids, shown(digest), at)
    for s in originals:
        channel = ChannelRef("console", f"w{len(made) // 500}", f"alert-{s.id}")
        at = (s.published_at or FIRST) + timedelta(minutes=1)
        add(channel, s.region or "europe", "instant", ZONES[len(made) % len(ZONES)], (s.id,),
            shown(card_from_story(s)), at)  # fmt: skip
    return made


async def prepare(core: Core, made: list[Message], originals: list[Story]) -> None:
    """The stories, each saved when it was published; the subscriptions; then every message
    reserved and settled, an hour's messages at a time (as sent at that hour's last)."""
    for s in originals:
        assert await core.stories.save(s, now=s.published_at or FIRST) == "new"
    rows = [m.subscription for m in made]
    async with core.engine.begin() as conn:
        for start in range(0, len(rows), 5000):
            await conn.execute(subscriptions_table.insert(), rows[start : start + 5000])
    hours: dict[int, list[Message]] = {}
    for m in made:
        hours.setdefault(int((m.at - FIRST) / timedelta(hours=1)), []).append(m)
    for hour, batch in sorted(hours.items()):
        token = f"{'bench':<16}{hour:08d}"
        at = max(m.at for m in batch)
        asks = [Ask(m.number, m.channel, int(m.subscription["id"]), m.story_ids) for m in batch]
        reserved = await core.ledger.reserve(asks, token=token, at=at)
        assert reserved.complete, "every (channel, story) is new"
        await core.ledger.settle(
            token=token, sent=[(m.number, m.message_id, m.shows) for m in batch], released=(),
            at=at,
        )  # fmt: skip


@dataclass
class Round:
    plan_s: float = 0.0
    claim_s: float = 0.0
    edit_s: float = 0.0
    planned: int = 0
    claimed: int = 0
    edits: int = 0
    expected: int = 0
    duplicates: int = 0
    wrong: int = 0  # messages edited that show none of the updated stories
    missed: int = 0  # messages that show one and were not edited
    outcomes: dict[str, int] = field(default_factory=dict)
    after: dict[str, int] = field(default_factory=dict)  # the checks' outcomes


async def one_round(
    core: Core, clock: FrozenClock, editor: Editor, queue: TimedQueue, sender: Counting,
    made: list[Message], chosen: list[int], revision: int,
) -> Round:  # fmt: skip
    """Update the ``chosen`` stories at once, then find, claim and make their edits."""
    done = Round()
    ids = {story(n).id for n in chosen}
    should = {m.message_id for m in made if ids.intersection(m.story_ids)}
    done.expected = len(should)
    for n in chosen:
        assert await core.stories.save(story(n, revision=revision), now=clock.now()) == "updated"
    clock.advance(timedelta(seconds=5))  # the editor's next look, within the delay

    start = time.perf_counter()
    done.planned = await editor.plan()
    done.plan_s = time.perf_counter() - start
    clock.advance(EDIT_DELAY + timedelta(seconds=1))
    before, queue.claims = len(sender.edits), []
    edited = EditRound()
    start = time.perf_counter()
    done.claimed = await editor.edit_due(edited)
    whole = time.perf_counter() - start
    (done.claim_s, _), *others = queue.claims
    assert not others, "one claim takes every due edit"
    done.edit_s = whole - done.claim_s  # re-rendering, the requests and writing back
    done.outcomes = edited.outcomes
    mine = sender.edits[before:]
    done.edits = len(mine)
    done.duplicates = sum(n - 1 for n in Counter(mine).values())
    done.wrong = len(set(mine) - should)
    done.missed = len(should - set(mine))

    # Nothing more to do: the editor again, the same stories saved again as they are, then
    # saved with only their headline's spacing changed (queued, but no reader sees it).
    for label, change in (("again", None), ("same", False), ("spacing", True)):
        if change is not None:
            for n in chosen:
                await core.stories.save(story(n, revision=revision, spaced=change),
                                        now=clock.now())  # fmt: skip
        clock.advance(timedelta(seconds=5))
        await editor.plan()
        clock.advance(EDIT_DELAY + timedelta(seconds=1))
        quiet = await editor.run()
        for outcome, count in quiet.outcomes.items():
            done.after[f"{label}:{outcome}"] = done.after.get(f"{label}:{outcome}", 0) + count
    done.duplicates += len(sender.edits) - before - done.edits
    clock.advance(timedelta(minutes=10))
    return done


async def bench(url: str, rounds: int) -> tuple[float, int, int, int]:
    clock = FrozenClock(FIRST - timedelta(minutes=1))
    settings = Settings(_env_file=None, database_url=url)
    core = build_core(settings, clock=clock)
    queue = core.edits = TimedQueue(core.engine)
    try:
        await core.start()
        start = time.perf_counter()
        originals = [story(n) for n in range(STORIES)]
        made = messages(originals)
        await prepare(core, made, originals)
        if core.engine.dialect.name == "postgresql":  # the statistics autovacuum would keep
            async with core.engine.begin() as conn:
                await conn.execute(text("ANALYZE"))
        async with core.engine.connect() as conn:
            sends = (await conn.execute(select(func.count()).select_from(sends_table))).scalar()
            rows = (await conn.execute(select(func.count()).select_from(deliveries_table))).scalar()
        digests = sum(1 for m in made if len(m.story_ids) > 1)
        print(f"setup: {STORIES:,} stories, {sends:,} messages sent ({digests:,} digests of "
              f"{PER_DIGEST} stories, {len(made) - digests:,} alerts) holding {rows:,} "
              f"deliveries, in {time.perf_counter() - start:.1f} s "
              f"({make_url(url).get_backend_name()})")  # fmt: skip

        sender = Counting()
        editor = build_bot(core, {"console": sender}).delivery.editor
        assert editor is not None
        editor.batch = len(made) + 1  # one claim can take every message
        clock.set(NOW)
        pick = random.Random(SEED)
        left = list(range(STORIES))
        results: list[Round] = []
        for revision in range(1, rounds + 1):
            chosen = sorted(pick.sample(left, UPDATED))
            left = [n for n in left if n not in set(chosen)]
            done = await one_round(core, clock, editor, queue, sender, made, chosen, revision)
            results.append(done)
            print(f"round {revision}: {UPDATED} stories updated; plan {done.plan_s * 1000:.1f} ms "
                  f"({done.planned:,} queued) + claim {done.claim_s * 1000:.1f} ms "
                  f"({done.claimed:,} claimed) = {(done.plan_s + done.claim_s) * 1000:.1f} ms; "
                  f"edits made in {done.edit_s * 1000:.0f} ms: {done.outcomes}; "
                  f"{done.edits:,} edits of {done.expected:,} expected, {done.wrong} unexpected, "
                  f"{done.missed} missed, {done.duplicates} duplicates")  # fmt: skip
            print(f"  afterwards (each should edit nothing): {done.after or 'nothing queued'}")
        assert sender.posts == 0, "an edit never posts"
        if any(r.wrong or r.missed for r in results):
            print(f"WRONG: {sum(r.wrong for r in results)} messages edited that show no updated "
                  f"story, {sum(r.missed for r in results)} that show one not edited")  # fmt: skip
        return (
            statistics.median(r.plan_s + r.claim_s for r in results) * 1000,
            sum(r.edits for r in results),
            sum(r.expected for r in results),
            sum(r.duplicates for r in results),
        )
    finally:
        await core.close()


@contextmanager
def database(given: str | None) -> Iterator[str]:
    """A fresh database: a SQLite file in a temporary folder, a scratch database on the
    PostgreSQL server ``given`` names (dropped afterwards), or the SQLite file given."""
    if given and make_url(given).get_backend_name() == "postgresql":
        from tests.conftest import scratch_postgres

        with scratch_postgres(given, "bench_edits") as url:
            yield url
    elif given:
        yield given
    else:
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite+aiosqlite:///{Path(folder) / 'edits.db'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server (a scratch database is made on it) or a new SQLite file;"
        " by default a temporary SQLite file",
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds of 100 updates (3)")
    args = parser.parse_args()
    tune_gc()  # the process set up as `signalbot run` sets it up
    start = time.perf_counter()
    with database(args.database_url) as url:
        plan_ms, edits, expected, duplicates = asyncio.run(bench(url, max(1, args.rounds)))
    print(f"{time.perf_counter() - start:.1f} s in all; plan_ms is the median round's plan "
          "and claim; edits, expected and duplicates are over every round")  # fmt: skip
    print(f"plan_ms={plan_ms:.1f} edits={edits} expected={expected} duplicates={duplicates}")


if __name__ == "__main__":
    main()
