"""The Discord adapter: discord.py's client with ``/signals`` generated from the command
registry, persistent buttons, lifecycle events, and a Sender on discord.py's REST client."""

from adapters.discord.app import DiscordAdapter, make_client
from adapters.discord.runner import DiscordRunner
from adapters.discord.sender import DiscordSender

__all__ = ["DiscordAdapter", "DiscordRunner", "DiscordSender", "make_client"]
