"""Plain text output (the console channel, logs, ``signalbot preview --format text``)."""

from __future__ import annotations

from bot.render.model import Digest, StoryCard
from bot.render.templates import template


def _as_is(text: str) -> str:
    return text


def story_message(card: StoryCard) -> str:
    return template(_as_is, "story.txt.j2").render(card=card).strip()


def digest_message(digest: Digest, *, max_stories: int = 10) -> str:
    shown = digest.cards[:max_stories]
    return (
        template(_as_is, "digest.txt.j2")
        .render(
            digest=digest,
            bodies=[story_message(card) for card in shown],
            hidden=len(digest.cards) - len(shown),
        )
        .strip()
    )
