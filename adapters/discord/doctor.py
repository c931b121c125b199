"""What ``signalbot doctor`` asks Discord: whether it takes the bot token (``GET users/@me``).

The answer is a verdict (``ok``, ``refused`` or ``unreachable``) and a sentence: the bot's
name and id, or why not. No sentence holds the token.
"""

from __future__ import annotations

from typing import Literal

import aiohttp
import discord

TIMEOUT = 10  # seconds
Verdict = Literal["ok", "refused", "unreachable"]
USER_AGENT = f"DiscordBot (https://github.com/Rapptz/discord.py, {discord.__version__})"


async def identify(token: str, api_url: str) -> tuple[Verdict, str]:
    """The bot user the token logs in as, or why not."""
    headers = {"Authorization": f"Bot {token}", "User-Agent": USER_AGENT}
    timeout = aiohttp.ClientTimeout(total=TIMEOUT)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(f"{api_url}/users/@me", headers=headers) as response,
        ):
            if response.status == 401:
                return "refused", "Discord refused it (401 Unauthorized)"
            if response.status != 200:
                return (
                    "unreachable",
                    f"Discord answered {response.status} {response.reason} at {api_url}",
                )
            try:
                me = await response.json()
            except (aiohttp.ContentTypeError, ValueError):
                return "unreachable", f"Discord answered something other than JSON at {api_url}"
    except (aiohttp.ClientError, TimeoutError, OSError) as error:
        return "unreachable", f"cannot reach Discord at {api_url} ({type(error).__name__})"
    return "ok", f"{me.get('username')} (id {me.get('id')})"
