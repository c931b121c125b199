"""Sending one message: within the platform's limits, waiting out 429s, retrying server
errors and timeouts with backoff, until it is sent, given up for now, or refused for good."""

from __future__ import annotations

import asyncio
import logging
import random
import time as monotonic_time
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.delivery.limits import Limiter
from bot.delivery.sender import DeliveryError, Outgoing, Sender
from bot.domain import ChannelRef
from bot.metrics import DELIVERIES, EDITS, RATE_LIMITED

if TYPE_CHECKING:
    from bot.delivery.outcomes import Result

log = logging.getLogger(__name__)

# How long a claimed push is its process's own; past it another process may take it over.
CLAIM_LEASE = timedelta(minutes=10)
MAX_ATTEMPTS = 5
MAX_RATE_LIMIT_WAITS = 20


class Refusals:
    """What platforms refused for good during one run (a due-scan, a send-now, a round of
    alerts): channels and workspaces that cannot take messages. A later message to one of
    them is not sent: it fails as the first did, without a request. A refused workspace is
    paused at once; a refused channel counts one failure for each of its subscriptions, as
    any permanent failure does (the third in a row pauses), since a channel can come back."""

    __slots__ = ("channels", "paused", "platforms", "workspaces")

    def __init__(self) -> None:
        self.channels: dict[ChannelRef, DeliveryError] = {}
        self.workspaces: dict[tuple[str, str], DeliveryError] = {}
        self.platforms: dict[str, DeliveryError] = {}  # the bot's own token refused
        self.paused: set[tuple[str, str]] = set()  # the workspaces paused for it

    def note(self, channel: ChannelRef, error: DeliveryError) -> None:
        """A failure whose scope is wider than its message."""
        if error.scope == "channel":
            self.channels.setdefault(channel, error)
        elif error.scope == "platform":
            if channel.platform not in self.platforms:
                log.error(
                    "%s refused the bot's token (%s): nothing more is sent there until the "
                    "token setting is fixed; pushes due meanwhile are retried, none is paused",
                    channel.platform, error.reason,
                )  # fmt: skip
            self.platforms.setdefault(channel.platform, error)
        else:
            self.workspaces.setdefault((channel.platform, channel.workspace), error)

    def refusal(self, channel: ChannelRef) -> DeliveryError | None:
        """The failure that refused this channel (or its workspace), if one did."""
        return self.workspace_refusal(channel) or self.channels.get(channel)

    def workspace_refusal(self, channel: ChannelRef) -> DeliveryError | None:
        """The failure that refused this channel's whole workspace, if one did."""
        if not self.workspaces:
            return None
        return self.workspaces.get((channel.platform, channel.workspace))


class Attempts:
    """Each platform's sender and limits, and the bound on sends under way outside a scan."""

    def __init__(self, senders: Mapping[str, Sender], concurrency: int) -> None:
        self.senders = dict(senders)
        self.limiters = {name: Limiter(s.limits) for name, s in self.senders.items()}
        self._gate = asyncio.Semaphore(concurrency)

    async def deliver(self, message: Outgoing, refusals: Refusals | None = None) -> Result:
        """:meth:`attempt` within the bound on sends under way (a scan's senders are that
        bound themselves)."""
        async with self._gate:
            return await self.attempt(message, refusals)

    async def attempt(self, message: Outgoing, refusals: Refusals | None = None) -> Result:
        """Send with limits, 429 waits and retries: sent, retrying (transient) or failed.

        With ``refusals``, a message to a channel or workspace refused before fails at once,
        and a failure of a wider scope than the message is noted there.
        """
        result = await self._attempt(message, refusals)
        platform, status = message.channel.platform, result[0]
        if message.replaces is None:
            DELIVERIES.labels(platform, status).inc()
        else:
            EDITS.labels(platform, "edited" if status == "sent" else status).inc()
        return result

    async def _attempt(self, message: Outgoing, refusals: Refusals | None) -> Result:
        if refusals is not None and (refused := refusals.refusal(message.channel)) is not None:
            return "failed", refused.reason, None
        if refusals is not None and refusals.platforms:
            refused = refusals.platforms.get(message.channel.platform)
            if refused is not None:
                return "retrying", refused.reason, None
        sender = self.senders[message.channel.platform]
        limiter = self.limiters[message.channel.platform]
        attempt = waits = 0
        # Waiting is bounded by the claim's lease: past it another process may take the
        # push over, and the message would go out twice.
        deadline = monotonic_time.monotonic() + CLAIM_LEASE.total_seconds() / 2
        while True:
            if limiter.limited:
                await limiter.acquire(message.channel)
                # while this waited, a send to the same channel or workspace may have been
                # refused for good: this one then fails as it did, without a request
                if refusals is not None and (refused := refusals.refusal(message.channel)):
                    return "failed", refused.reason, None
            try:
                message_id = await sender.send(message)
                return "sent", "", message_id
            except DeliveryError as error:
                if error.scope == "platform":  # the operator's to fix: tried again later
                    if refusals is not None:
                        refusals.note(message.channel, error)
                    else:
                        log.error("%s refused the bot's token: %s", sender.platform, error.reason)
                    return "retrying", error.reason, None
                if error.message_gone:
                    return "gone", error.reason, None
                if error.permanent:
                    if error.scope != "message" and refusals is not None:
                        refusals.note(message.channel, error)
                    return "failed", error.reason, None
                if error.retry_after is not None:
                    scope = "global" if error.global_limit else "channel"
                    RATE_LIMITED.labels(sender.platform, scope).inc()
                    # asked to wait: not a failure, unless the wait outlasts the lease
                    if monotonic_time.monotonic() + error.retry_after > deadline:
                        return "retrying", error.reason, None
                    if not limiter.back_off(
                        message.channel, error.retry_after, everywhere=error.global_limit
                    ):
                        await asyncio.sleep(error.retry_after)
                    waits += 1
                    if waits >= MAX_RATE_LIMIT_WAITS:
                        return "retrying", error.reason, None
                    continue
                attempt += 1
                if attempt >= MAX_ATTEMPTS:
                    return "retrying", error.reason, None
                await asyncio.sleep(min(8.0, 0.25 * 2 ** (attempt - 1)) * (0.5 + random.random()))
            except Exception as error:  # a bug in a sender must not stop the others
                log.exception("sender %s failed on %s", sender.platform, message.channel)
                return "retrying", f"internal error ({error.__class__.__name__})", None
