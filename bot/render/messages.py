"""One entry point for every output format: ``render_story`` and ``render_digest``."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, Literal

from bot.domain import Story
from bot.render import discord, slack, text
from bot.render.model import Digest, StoryCard, card_from_story

Format = Literal["slack", "discord", "text"]
FORMATS: tuple[Format, ...] = ("slack", "discord", "text")


def render_story(story: Story, fmt: Format) -> dict[str, Any] | str:
    """The exact payload the bot sends for one story: a dict for Slack/Discord, text otherwise."""
    return render_card(card_from_story(story), fmt)


def render_card(card: StoryCard, fmt: Format) -> dict[str, Any] | str:
    """A story already cut down to a card, for one platform (build the card once, send many)."""
    if fmt == "slack":
        return slack.story_message(card)
    if fmt == "discord":
        return discord.story_message(card)
    return text.story_message(card)


@lru_cache(maxsize=512)
def render_digest(digest: Digest, fmt: Format) -> dict[str, Any] | str:
    """A digest's payload. Many channels get the same digest, so payloads are cached: treat
    the returned dict as read-only."""
    if fmt == "slack":
        return slack.digest_message(digest)
    if fmt == "discord":
        return discord.digest_message(digest)
    return text.digest_message(digest)


def encoded_digest(digest: Digest, fmt: Literal["slack", "discord"]) -> bytes:
    """A digest's payload as the JSON body of a request, encoded once for all its channels
    (kept on the digest itself: a send finds it without comparing digests)."""
    body = digest.bodies.get(fmt)
    if body is None:
        body = digest.bodies[fmt] = json.dumps(render_digest(digest, fmt)).encode()
    return body
