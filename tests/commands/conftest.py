"""Drive the command service directly, as every adapter does, with a sender that records
what the channel would receive."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from bot.app import Core, build_bot
from bot.commands import CommandContext, CommandService
from bot.delivery import Outgoing, RateLimits
from bot.domain import ChannelRef
from bot.render.messages import render_reply
from bot.render.model import Reply

CHANNEL = ChannelRef("test", "team", "#general")


@dataclass
class RecordingSender:
    """The channel's side of a push: every message it was sent."""

    platform: str = "test"
    limits: RateLimits = field(default_factory=RateLimits)
    sent: list[Outgoing] = field(default_factory=list)

    async def send(self, message: Outgoing) -> str | None:
        self.sent.append(message)
        return f"m{len(self.sent)}"


@dataclass
class Channel:
    """A channel people type commands in."""

    service: CommandService
    sender: RecordingSender
    ref: ChannelRef = CHANNEL

    def context(self, *, member: bool = False, user: str = "you") -> CommandContext:
        return CommandContext(self.ref, user, can_manage=not member)

    async def ask(self, line: str, *, member: bool = False) -> Reply:
        return await self.service.handle(line, self.context(member=member))

    async def text(self, *lines: str, member: bool = False) -> str:
        """Each answer as the console shows it, one after another."""
        answers = [str(render_reply(await self.ask(line, member=member), "text")) for line in lines]
        return "\n".join(answers)


@pytest.fixture
async def channel(core: Core) -> AsyncIterator[Channel]:
    sender = RecordingSender()
    bot = build_bot(core, {sender.platform: sender})
    yield Channel(bot.commands, sender)
    await bot.delivery.drain()
