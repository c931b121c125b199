"""The platform adapters' tests drive a platform's protocol against its fake: they run on
SQLite only. The stores, delivery and commands under them run on SQLite and PostgreSQL in
tests/store, tests/test_delivery.py and tests/commands (and an adapter's own tables here, in
tests/adapters/slack/test_oauth.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.app import Core
from bot.clock import FrozenClock
from tests.adapters.living import FIRST_SEEN
from tests.conftest import started_core


@pytest.fixture
async def core(sqlite_url: str, clock: FrozenClock) -> AsyncIterator[Core]:
    async with started_core(sqlite_url, clock) as started:
        yield started


@pytest.fixture
async def living_core(sqlite_url: str) -> AsyncIterator[Core]:
    """A started core with no stories, its clock on the day the living-message page came out
    (see ``tests/adapters/living.py``)."""
    async with started_core(sqlite_url, FrozenClock(FIRST_SEEN), samples=False) as started:
        yield started
