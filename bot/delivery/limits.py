"""A platform's rate limits kept on our side: sliding windows for the bot, each workspace and
each channel, held longer when a 429 says so."""

from __future__ import annotations

import asyncio
import time as monotonic_time
from collections import deque

from bot.delivery.sender import RateLimits
from bot.domain import ChannelRef


class SlidingWindow:
    """At most ``count`` acquisitions in any ``window`` seconds, first come first served."""

    def __init__(self, count: int, window: float) -> None:
        self.count = count
        self.window = window
        self._times: deque[float] = deque()
        self._lock = asyncio.Lock()
        self.blocked_until = 0.0

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = monotonic_time.monotonic()
                while self._times and now - self._times[0] >= self.window:
                    self._times.popleft()
                wait = self.blocked_until - now
                if len(self._times) >= self.count:
                    wait = max(wait, self._times[0] + self.window - now)
                if wait <= 0:
                    self._times.append(now)
                    return
                await asyncio.sleep(wait)

    def block(self, seconds: float) -> None:
        self.blocked_until = max(self.blocked_until, monotonic_time.monotonic() + seconds)


# Requests leave here in order but reach the platform with a little jitter: windows a shade
# longer than the platform's keep two requests from landing in one of its windows. A
# channel's window is short and a 429 there costs a whole window, so its margin is wider
# (on a busy loop 30 ms was seen to let about one send in twenty arrive early).
JITTER_MARGIN = 0.03
CHANNEL_MARGIN = 0.06


SHARED_MARGIN = 0.1
HALVED_FROM = 5  # requests a half second: a smaller share keeps whole-second windows


class Limiter:
    """A platform's windows: one for the bot, one per workspace, one per channel.

    The bot's and each workspace's budget are the platform's for the whole bot: with
    ``processes`` replicas delivering to the platform (:meth:`share`), this one keeps its
    share. A channel's window stays whole (a channel's messages come from one push at a time).
    """

    def __init__(self, limits: RateLimits) -> None:
        self.limits = limits
        self.limited = bool(limits.per_second or limits.per_channel or limits.per_workspace)
        self.processes = 1
        self.global_window = (
            SlidingWindow(*self._window(limits.per_second)) if limits.per_second else None
        )
        self._channels: dict[ChannelRef, SlidingWindow] = {}
        self._workspaces: dict[str, SlidingWindow] = {}

    def _window(self, per_second: float) -> tuple[int, float]:
        """The count and length of a bot-wide or workspace window for this process's share.

        A large budget goes in half-second windows, bursts half as large: a burst that
        leaves late (behind a busy loop, a busy connection pool) then cannot land in one of
        the platform's seconds with the whole of the next (bench/replicas.py: with
        whole-second windows, one process at 49 a second drew a global 429 from the fake
        Discord's 50 in one run of five; two at an even split with no margin, 2 in 1,000).
        Processes pace apart, so one's requests can land in the same second as a late burst
        of another's: with several, a tenth of the budget is kept back too.
        """
        count = per_second
        if self.processes > 1:
            count = per_second * (1 - SHARED_MARGIN) / self.processes
        if count >= 2 * HALVED_FROM:
            return int(count / 2), 0.5 + JITTER_MARGIN
        return max(1, int(count)), 1.0 + JITTER_MARGIN

    def share(self, processes: int) -> None:
        """Keep this process's share of the bot-wide budgets, ``processes`` delivering."""
        self.processes = max(1, processes)
        windows = [(self.global_window, self.limits.per_second)]
        windows += [(w, self.limits.per_workspace) for w in self._workspaces.values()]
        for window, per_second in windows:
            if window is not None and per_second:
                window.count, window.window = self._window(per_second)

    def channel_window(self, channel: ChannelRef) -> SlidingWindow | None:
        if self.limits.per_channel is None:
            return None
        window = self._channels.get(channel)
        if window is None:
            count, seconds = self.limits.per_channel
            window = self._channels[channel] = SlidingWindow(count, seconds + CHANNEL_MARGIN)
        return window

    def workspace_window(self, workspace: str) -> SlidingWindow | None:
        """The window kept for ``workspace`` (None: no send to it yet, or no such limit)."""
        return self._workspaces.get(workspace)

    async def acquire(self, channel: ChannelRef) -> None:
        # The channel first: waiting for a busy channel must not hold a slot of the bot's.
        window = self.channel_window(channel)
        if window is not None:
            await window.acquire()
        if self.limits.per_workspace:
            ws = self._workspaces.get(channel.workspace)
            if ws is None:
                ws = self._workspaces[channel.workspace] = SlidingWindow(
                    *self._window(self.limits.per_workspace)
                )
            await ws.acquire()
        if self.global_window is not None:
            await self.global_window.acquire()

    def back_off(self, channel: ChannelRef, seconds: float, *, everywhere: bool) -> bool:
        """Hold the windows a 429 names; False when no window holds this channel's next send
        (no limits of that kind are set), so the caller must wait itself."""
        held = False
        if everywhere and self.global_window is not None:
            self.global_window.block(seconds)
            held = True
        window = self.channel_window(channel)
        if window is not None:
            window.block(seconds)
            held = True
        return held
