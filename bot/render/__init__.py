"""Messages for every platform from one neutral model: Slack blocks, Discord embeds, plain text.

:mod:`bot.render.messages` is the entry point: a story, a digest, a command's reply or
whatever a push carries, for a format (``slack``, ``discord``, ``text``).
"""
