"""A terminal acting as one channel: it reads ``/signals ...`` lines, prints the answers, and
prints every push to the channel as it would read in chat. Piped input works too (no prompt;
the channel closes at the end of input), so a whole demo fits in one ``printf``.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable
from typing import TextIO

from bot.platform import (
    PREFIX,
    REGISTRY,
    Bot,
    ChannelRef,
    CommandContext,
    Outgoing,
    RateLimits,
    Reply,
    render_push,
    render_reply,
)

PLATFORM = "console"
WORKSPACE = "local"


def reply_text(reply: Reply) -> str:
    """A command's answer as the console shows it."""
    return str(render_reply(reply, "text"))


class ConsoleSender:
    """Delivers pushes by printing them, as the channel would show them."""

    platform = PLATFORM
    limits = RateLimits()

    def __init__(self, write: Callable[[str], None]) -> None:
        self._write = write
        self._sent = 0

    async def send(self, message: Outgoing) -> str | None:
        body = render_push(message.content, "text")
        if message.replaces is not None:  # an edit: the console prints it again, and says so
            earlier = message.replaces.removeprefix("console-")
            head = f"signalbot (edited: this replaces message {earlier})"
            self._write(f"\n[{message.channel.channel}] {head}:\n{body}\n")
            return message.replaces
        self._sent += 1
        self._write(f"\n[{message.channel.channel}] signalbot (message {self._sent}):\n{body}\n")
        return f"console-{self._sent}"


class ConsoleChannel:
    """Runs the bot service with the console as its one channel."""

    def __init__(
        self,
        bot_factory: Callable[[ConsoleSender], Bot],
        *,
        channel: str = "#general",
        user: str = "you",
        can_manage: bool = True,
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
    ) -> None:
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout
        self.sender = ConsoleSender(self.write)
        self.bot = bot_factory(self.sender)
        self.channel = ChannelRef(PLATFORM, WORKSPACE, channel)
        self.context = CommandContext(self.channel, user, can_manage)
        self.interactive = self.stdin.isatty()
        self._lines: asyncio.Queue[str | None] = asyncio.Queue()

    def request_stop(self) -> None:
        """End the session as if input had ended (SIGTERM, Ctrl-C): pushes under way finish."""
        self._lines.put_nowait(None)

    def write(self, text: str) -> None:
        self.stdout.write(text if text.endswith("\n") else text + "\n")
        self.stdout.flush()

    def _read_line(self) -> str | None:
        if self.interactive:
            try:
                return input(f"{self.channel.channel}> ")
            except EOFError:
                return None
        line = self.stdin.readline()
        return line if line else None

    async def handle_line(self, line: str) -> None:
        line = line.strip()
        if not line or line.startswith("#"):
            return
        if not line.lower().startswith(PREFIX):
            first = line.split()[0].lower()
            hint = f" (did you mean {PREFIX} {first}?)" if first in REGISTRY else ""
            self.write(f"Commands start with {PREFIX}{hint}; type {PREFIX} help for the list.")
            return
        reply = await self.bot.commands.handle(line, self.context)
        self.write(reply_text(reply))

    async def run(self) -> None:
        """Serve until end of input (or 'exit'); then let deliveries under way finish."""
        await self.bot.start()
        if self.interactive:
            self.write(
                f"signalbot console: you are in {self.channel.channel}. Type {PREFIX} help "
                "to start, exit to leave."
            )
        lines = self._lines
        loop = asyncio.get_running_loop()

        def read() -> None:  # a daemon thread: a blocked read never keeps the process alive
            while True:
                line = self._read_line()
                loop.call_soon_threadsafe(lines.put_nowait, line)
                if line is None:
                    return

        threading.Thread(target=read, name="console-input", daemon=True).start()
        try:
            while True:
                line = await lines.get()
                if line is None or line.strip().lower() in ("exit", "quit"):
                    break
                await self.handle_line(line)
        finally:
            await self.bot.stop()
