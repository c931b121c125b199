"""Delivery work under way in this process, which a shutdown lets finish."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class InFlight:
    """Tasks :meth:`drain` waits for (scans, alerts, pause notices), and whether the engine
    is closing (then nothing new starts)."""

    def __init__(self) -> None:
        self.closing = False
        self._tasks: set[asyncio.Task[object]] = set()

    def spawn(self, work: Awaitable[object]) -> None:
        """Run ``work`` in the background, as in-flight delivery."""
        task: asyncio.Task[object] = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def track(self, work: Callable[[], Awaitable[T]]) -> T:
        """Run ``work`` as in-flight delivery: :meth:`drain` waits for it to finish."""
        task: asyncio.Task[T] = asyncio.ensure_future(work())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return await asyncio.shield(task)

    async def drain(self, within: float = 30.0) -> None:
        """Stop taking new work and wait for the work under way."""
        self.closing = True
        await self.wait(within)

    async def wait(self, within: float = 30.0) -> None:
        """Wait for the work under way (new work may still start)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=within)
