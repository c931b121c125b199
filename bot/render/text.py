"""Plain text output (the console channel, logs, ``signalbot preview --format text``)."""

from __future__ import annotations

from bot.render.model import Digest, Notice, Reply, StoryCard
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


def reply_message(reply: Reply) -> str:
    """A command's answer: its text, then its stories or digest (buttons are not shown)."""
    parts = [reply.text] if reply.text else []
    parts.extend(story_message(card) for card in reply.cards)
    if reply.digest is not None:
        parts.append(digest_message(reply.digest))
    return "\n\n".join(parts)


def notice_message(notice: Notice) -> str:
    return notice.text
