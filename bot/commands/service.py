"""The core service behind every platform: it answers a :class:`CommandRequest`.

A platform hands it what a user gave (a line of text, or typed options) and a
:class:`CommandContext`, and renders the :class:`Reply` it gets back. Who may run a command,
who sees the answer and which buttons it offers are decided here, once for every platform.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Protocol

from bot import regions
from bot.clock import Clock
from bot.commands.options import Choice, suggestions
from bot.commands.parsing import (
    action,
    find_command,
    parse_args,
    parse_options,
    read_payload,
    split_command,
)
from bot.commands.registry import (
    ALL,
    REGISTRY,
    Command,
    CommandContext,
    CommandRequest,
    Kind,
    Param,
    Registry,
)
from bot.commands.wording import (
    NO_SUBSCRIPTIONS,
    CommandError,
    failed_on_our_side,
    not_a_manager,
)
from bot.domain import PREFIX, Subscription
from bot.metrics import COMMANDS
from bot.render.model import Action, ActionKind, Reply
from bot.store.ledger import DeliveryLedger
from bot.store.stories import StoryStore
from bot.store.subscriptions import SubscriptionStore

log = logging.getLogger(__name__)


class PushOutcomeLike(Protocol):
    @property
    def summary(self) -> str: ...


class Pusher(Protocol):
    """Sends subscriptions' digests now (the delivery engine)."""

    async def push_now(self, subs: Sequence[Subscription]) -> Sequence[PushOutcomeLike]: ...


def error_reply(text: str) -> Reply:
    return Reply(text, ok=False, private=True)


class CommandService:
    def __init__(
        self,
        *,
        stories: StoryStore,
        subscriptions: SubscriptionStore,
        ledger: DeliveryLedger,
        clock: Clock,
        pusher: Pusher | None = None,
        registry: Registry = REGISTRY,
    ) -> None:
        self.stories = stories
        self.subscriptions = subscriptions
        self.ledger = ledger
        self.clock = clock
        self.pusher = pusher
        self.registry = registry

    async def handle(self, text: str, ctx: CommandContext) -> Reply:
        """Answer one command line (with or without the leading ``/signals``)."""
        name, args = split_command(text)
        try:
            command = find_command(self.registry, name)
            self._check_allowed(command, ctx)
            request = parse_args(command, args)
        except CommandError as error:
            return error_reply(str(error))
        return await self._answer(command, request, ctx)

    async def handle_options(
        self, name: str, options: Mapping[str, str | int | None], ctx: CommandContext
    ) -> Reply:
        """Answer a command given as typed options (a Discord slash command's)."""
        try:
            command = find_command(self.registry, name)
            self._check_allowed(command, ctx)
            request = parse_options(command, options)
        except CommandError as error:
            return error_reply(str(error))
        return await self._answer(command, request, ctx)

    async def run(self, request: CommandRequest, ctx: CommandContext) -> Reply:
        """Answer a request already read."""
        try:
            command = find_command(self.registry, request.command)
            self._check_allowed(command, ctx)
        except CommandError as error:
            return error_reply(str(error))
        return await self._answer(command, request, ctx)

    @staticmethod
    def _check_allowed(command: Command, ctx: CommandContext) -> None:
        if command.manages and not ctx.can_manage:
            raise CommandError(not_a_manager(command.name, ctx.managers))

    async def _answer(
        self, command: Command, request: CommandRequest, ctx: CommandContext
    ) -> Reply:
        started = time.perf_counter()
        try:
            reply = await command.handler(self, ctx, request)
        except CommandError as error:
            return error_reply(str(error))
        except Exception:  # a bug of ours: logged in full, and a plain answer in the chat
            log.exception("%s failed in %s", command.line, ctx.channel)
            return error_reply(failed_on_our_side(command.name))
        finally:
            COMMANDS.labels(ctx.channel.platform, command.name).observe(
                time.perf_counter() - started
            )
        if not reply.ok:
            return replace(reply, private=True, actions=())
        if not command.private:  # a change to the channel: everyone sees it
            return replace(reply, private=False)
        post = self.action("post", "Post to channel", request)
        return replace(reply, private=True, actions=(*reply.actions, post))

    async def press(self, kind: str, payload: str, ctx: CommandContext) -> Reply:
        """Answer a button pressed under an earlier reply: ``kind`` and ``payload`` as the
        button carried them (its :class:`~bot.render.model.Action`). ``post`` shows the
        answer to the whole channel."""
        try:
            request = read_payload(self.registry, payload)
        except CommandError as error:
            return error_reply(str(error))
        reply = await self.run(request, ctx)
        if kind == "post" and reply.ok:
            kept = tuple(a for a in reply.actions if a.kind != "post")
            return replace(reply, private=False, actions=kept)
        return reply

    async def suggest(self, param: Param, typed: str, ctx: CommandContext | None) -> list[Choice]:
        """What to offer as ``param`` is typed (never an error): for a time zone, the zones
        of the channel's subscriptions first."""
        likely: list[str] = []
        if param.kind is Kind.ZONE and ctx is not None:
            likely = [s.timezone for s in await self.subscriptions.for_channel(ctx.channel)]
        return suggestions(param, typed, likely_zones=likely)

    def action(self, kind: ActionKind, label: str, request: CommandRequest) -> Action:
        """A button that runs ``request`` for whoever presses it."""
        return action(self.registry, kind, label, request)

    # what several commands need

    async def channel_subscriptions(
        self, ctx: CommandContext, region: str | None, verb: str
    ) -> list[Subscription]:
        """The channel's subscriptions ``region`` names (all of them for None or ``all``); a
        CommandError when there are none to ``verb``."""
        subs = await self.subscriptions.for_channel(ctx.channel)
        if region is None or region == ALL:
            if not subs:
                raise CommandError(NO_SUBSCRIPTIONS)
            return subs
        chosen = [s for s in subs if s.region == region]
        if not chosen:
            have = ", ".join(s.region for s in subs) or "none"
            raise CommandError(
                f"This channel has no {regions.get(region).name} subscription to {verb} "
                f"(it has: {have}). Type {PREFIX} list to see them."
            )
        return chosen
