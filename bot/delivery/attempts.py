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

if TYPE_CHECKING:
    from bot.delivery.outcomes import Result

log = logging.getLogger(__name__)

# How long a claimed push is its process's own; past it another process may take it over.
CLAIM_LEASE = timedelta(minutes=10)
MAX_ATTEMPTS = 5
MAX_RATE_LIMIT_WAITS = 20


class Attempts:
    """Each platform's sender and limits, and the bound on sends under way outside a scan."""

    def __init__(self, senders: Mapping[str, Sender], concurrency: int) -> None:
        self.senders = dict(senders)
        self.limiters = {name: Limiter(s.limits) for name, s in self.senders.items()}
        self._gate = asyncio.Semaphore(concurrency)

    async def deliver(self, message: Outgoing) -> Result:
        """:meth:`attempt` within the bound on sends under way (a scan's senders are that
        bound themselves)."""
        async with self._gate:
            return await self.attempt(message)

    async def attempt(self, message: Outgoing) -> Result:
        """Send with limits, 429 waits and retries: sent, retrying (transient) or failed."""
        sender = self.senders[message.channel.platform]
        limiter = self.limiters[message.channel.platform]
        attempt = waits = 0
        # Waiting is bounded by the claim's lease: past it another process may take the
        # push over, and the message would go out twice.
        deadline = monotonic_time.monotonic() + CLAIM_LEASE.total_seconds() / 2
        while True:
            if limiter.limited:
                await limiter.acquire(message.channel)
            try:
                message_id = await sender.send(message)
                return "sent", "", message_id
            except DeliveryError as error:
                if error.permanent:
                    return "failed", error.reason, None
                if error.retry_after is not None:
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
