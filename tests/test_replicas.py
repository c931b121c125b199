"""Two real ``signalbot run`` processes on one PostgreSQL database, Slack and Discord both at
the fakes: every push goes out exactly once, within the bot's limits for the whole bot, and a
process killed mid-push loses nothing when it comes back."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import build_core
from bot.domain import Insight
from tests.conftest import scratch_postgres, settings_for
from tests.replicas import (
    Fakes,
    Plan,
    deliver,
    edited,
    posted,
    prepare,
    start_bot,
    stop,
    story,
    tally,
    wait_until,
)

PLAN = Plan(slack=9000, discord=1000, workspaces=60)

# What a killed process may have sent without its record reaching the ledger: what its 64
# senders had in flight, and what it sent since its last record was committed (recorded every
# SETTLE_AT messages or SETTLE_EVERY; a record takes a while on a loaded database). Here a
# process sends about 400 messages a second: seen from 58 to 87 in four runs (recording every
# 128 messages or 1 s; from 0 to 136 in eight, every 32 or 0.25 s).
DUPLICATE_BOUND = 400  # and never more than the unrecorded batches: 3,000


def test_the_parts_of_a_plan_hold_each_of_its_channels_once() -> None:
    plan = Plan(slack=50, discord=7, workspaces=5)
    parts = [plan.part(n, 3).channels() for n in range(3)]
    assert sorted(len(part) for part in parts) == [19, 19, 19]
    assert Counter(c for part in parts for c in part) == Counter(plan.channels())
    assert len(set(plan.channels())) == 57


@pytest.fixture
def replica_url(postgres_server: str) -> Iterator[str]:
    """A fresh PostgreSQL database of its own (PostgreSQL only: SQLite has no replicas)."""
    with scratch_postgres(postgres_server, "replicas") as url:
        yield url


async def test_two_processes_deliver_every_push_once_within_the_bots_limits(
    replica_url: str, tmp_path: Path
) -> None:
    fakes = Fakes(PLAN, channel_limits=True, global_limit=True)
    try:
        run = await deliver([replica_url], PLAN, fakes, 2, tmp_path)
    finally:
        fakes.close()
    assert tally(run.seen.posted, PLAN) == (0, 0)
    assert run.seen.discord_429.get("global", 0) == 0, run.seen.discord_429
    assert run.seen.slack_429 == 0
    # each claims its share of what is due: neither takes the lion's part by starting first
    assert len(run.by_process) == 2 and min(run.by_process.values()) >= 4000, run.by_process


async def test_a_process_killed_mid_push_loses_nothing(replica_url: str, tmp_path: Path) -> None:
    fakes = Fakes(PLAN, channel_limits=False, global_limit=False)
    try:
        await prepare(replica_url, PLAN, datetime.now(UTC) + timedelta(seconds=8))
        bots = [await start_bot(replica_url, fakes, n, 2, tmp_path) for n in range(2)]
        try:
            await wait_until(fakes, posted, 3000, within=120)
            await stop(bots[0], kill=True)  # SIGKILL: nothing of ours runs after it
            assert bots[0].process.returncode == -9
            bots[0] = await start_bot(replica_url, fakes, 0, 2, tmp_path)  # back, on its shard
            await wait_until(fakes, posted, len(PLAN.channels()), within=240)
            await asyncio.sleep(2)
            seen = (await fakes.stats()).posted
        finally:
            for bot in bots:
                await stop(bot)
    finally:
        fakes.close()
    duplicates, lost = tally(seen, PLAN)
    print(f"killed mid-push: {duplicates} duplicates, {lost} lost")
    assert lost == 0
    assert duplicates <= DUPLICATE_BOUND, duplicates


async def test_two_processes_edit_each_message_once(replica_url: str, tmp_path: Path) -> None:
    plan = Plan(slack=400, discord=100, workspaces=10)
    names = sorted(c.channel for c in plan.channels())
    fakes = Fakes(plan, channel_limits=True, global_limit=True)
    try:
        await prepare(replica_url, plan, datetime.now(UTC) + timedelta(seconds=5))
        bots = [await start_bot(replica_url, fakes, n, 2, tmp_path) for n in range(2)]
        try:
            await wait_until(fakes, posted, len(names), within=120)
            core = build_core(settings_for(replica_url))
            try:  # one story of every push updated: a new insight
                now, story_id = datetime.now(UTC), story(1, datetime.now(UTC)).id
                old = (await core.stories.with_changes([story_id]))[story_id][0]
                views = [*old.insights, Insight(title="A second view", sources=["Bloomberg"])]
                changed = old.model_copy(update={"insights": views})
                assert await core.stories.save(changed, now=now) == "updated"
            finally:
                await core.close()
            await wait_until(fakes, edited, len(names), within=120)  # due 30 s after the change
            await asyncio.sleep(6)  # a second edit of one message would show now
            seen = await fakes.stats()
        finally:
            for bot in bots:
                await stop(bot)
    finally:
        fakes.close()
    assert tally(seen.posted, plan) == (0, 0)  # an update is an edit, never a new message
    assert sorted(seen.edited) == names
    assert set(seen.edited.values()) == {1}
