"""Drive the console channel in-process with piped input, as ``printf ... | signalbot run``."""

from __future__ import annotations

import io

from adapters.console import ConsoleChannel
from bot.app import Core, build_bot


async def session(core: Core, *lines: str, member: bool = False, channel: str = "#general") -> str:
    out = io.StringIO()
    console = ConsoleChannel(
        lambda sender: build_bot(core, {sender.platform: sender}),
        channel=channel,
        can_manage=not member,
        stdin=io.StringIO("".join(line + "\n" for line in lines)),
        stdout=out,
    )
    await console.run()
    return out.getvalue()
