"""Turning pages, feeds and JSON files into :class:`bot.domain.Story` objects."""
