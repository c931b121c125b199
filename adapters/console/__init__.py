"""The console channel: a terminal that acts as one chat channel (the default adapter)."""

from adapters.console.channel import ConsoleChannel, ConsoleSender

__all__ = ["ConsoleChannel", "ConsoleSender"]
