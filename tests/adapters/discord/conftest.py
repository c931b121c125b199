"""discord.py keeps its REST base and default gateway in class attributes, which the adapter
sets from the settings: every Discord test puts them back. A test module's ``fake`` Discord
gets a logged-in REST ``client`` here."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import discord
import pytest
from discord.gateway import DiscordWebSocket
from discord.http import Route

from adapters.discord import make_client
from tests.conftest import settings_for
from tests.fakes.discord import FakeDiscord


@pytest.fixture(autouse=True)
def restored() -> Iterator[None]:
    base, gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    yield
    Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = base, gateway


@pytest.fixture
async def client(fake: FakeDiscord, sqlite_url: str) -> AsyncIterator[discord.Client]:
    """discord.py logged in (REST only) to the module's fake Discord."""
    client = make_client(settings_for(sqlite_url, discord_token=fake.token,
                                      discord_api_url=fake.api_url))  # fmt: skip
    await client.login(fake.token)
    yield client
    await client.close()
