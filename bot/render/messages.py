"""One entry point for every output format: a story, a digest, a command's reply, or whatever
a push carries, as the exact payload a platform is sent."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, Literal

from bot.domain import Story
from bot.render import discord, slack, text
from bot.render.model import Digest, Notice, PushContent, Reply, StoryCard, card_from_story

Format = Literal["slack", "discord", "text"]
FORMATS: tuple[Format, ...] = ("slack", "discord", "text")
Payload = dict[str, Any] | str


def render_story(story: Story, fmt: Format) -> Payload:
    """The exact payload the bot sends for one story: a dict for Slack/Discord, text otherwise."""
    return render_card(card_from_story(story), fmt)


def render_card(card: StoryCard, fmt: Format) -> Payload:
    """A story already cut down to a card, for one platform: made once per card, however many
    channels it goes to (treat the returned dict as read-only)."""
    payload: Payload | None = card.payloads.get(fmt)
    if payload is None:
        if fmt == "slack":
            payload = slack.story_message(card)
        elif fmt == "discord":
            payload = discord.story_message(card)
        else:
            payload = text.story_message(card)
        card.payloads[fmt] = payload
    return payload


@lru_cache(maxsize=512)
def render_digest(digest: Digest, fmt: Format) -> Payload:
    """A digest's payload. Many channels get the same digest, so payloads are cached: treat
    the returned dict as read-only."""
    if fmt == "slack":
        return slack.digest_message(digest)
    if fmt == "discord":
        return discord.digest_message(digest)
    return text.digest_message(digest)


def render_notice(notice: Notice, fmt: Format) -> Payload:
    if fmt == "slack":
        return slack.notice_message(notice)
    if fmt == "discord":
        return discord.notice_message(notice)
    return text.notice_message(notice)


def render_push(content: PushContent, fmt: Format) -> Payload:
    """What one outgoing message carries (a digest, a story, a notice from the bot)."""
    if isinstance(content, Digest):
        return render_digest(content, fmt)
    if isinstance(content, StoryCard):
        return render_card(content, fmt)
    return render_notice(content, fmt)


def encoded_push(content: PushContent, fmt: Literal["slack", "discord"]) -> bytes:
    """:func:`render_push` as a JSON request body. A digest's or a card's is encoded once for
    all its channels, and kept on it: a send finds it without comparing digests."""
    if isinstance(content, Notice):
        return json.dumps(render_push(content, fmt)).encode()
    body = content.bodies.get(fmt)
    if body is None:
        body = content.bodies[fmt] = json.dumps(render_push(content, fmt)).encode()
    return body


def render_reply(reply: Reply, fmt: Format) -> Payload:
    """A command's answer for one platform (who sees it is ``reply.private``: the platform
    sends it ephemerally or to the channel)."""
    if fmt == "slack":
        return slack.reply_message(reply)
    if fmt == "discord":
        return discord.reply_message(reply)
    return text.reply_message(reply)
