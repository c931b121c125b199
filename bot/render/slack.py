"""Slack output: Block Kit blocks plus the fallback ``text``, always inside Slack's limits.

Story text is untrusted. In mrkdwn only ``&``, ``<`` and ``>`` are control characters, so
escaping them stops ``<!channel>``, ``<@U…>`` and ``<url|label>`` from doing anything.
Formatting characters (``*_~`` and backticks) get an invisible word joiner on each side so they
cannot open or close bold, italic, strike or code; ``://`` gets one before it so no bare URL
turns into a link; and every text object is ``verbatim`` so Slack does not auto-link names or
URLs either.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from bot.render.model import (
    ACTION_KINDS,
    SHRINK_LEVELS,
    Action,
    Digest,
    Notice,
    Overview,
    Reply,
    StoryCard,
    chunks,
    cut,
    cut_utf16,
    join_names,
    utf16_length,
)
from bot.render.templates import Trusted, template

# Limits (Slack Block Kit reference).
MAX_BLOCKS = 50
SECTION_TEXT = 3000
HEADER_TEXT = 150
CONTEXT_ELEMENTS = 10
BLOCK_ID = 255
FALLBACK_TEXT = 3000  # Slack truncates past 40,000; notifications show far less.
DIGEST_MAX_STORIES = 10
# Slack refuses a message whose blocks carry more text than this altogether
# (msg_blocks_too_long); kept well under it.
BLOCKS_TEXT = 10_000
MORE_TEXT = 200  # kept for the line that says how many more there are
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
ACTION_ELEMENTS = 25

_JOINER = "\u2060"  # word joiner: invisible, and neither whitespace nor punctuation
_FORMAT = re.compile(r"([*_~`])")
_MENTION_WORDS = re.compile(r"@(?=(?:here|channel|everyone)\b)", re.I)


_SPECIAL = re.compile(r"[&<>*_~`@:]")


def escape(text: str) -> str:
    """Make untrusted text inert in mrkdwn: no mentions, links or formatting."""
    if _SPECIAL.search(text) is None:
        return text
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _FORMAT.sub(_JOINER + r"\1" + _JOINER, text)
    text = _MENTION_WORDS.sub("@" + _JOINER, text)
    return text.replace("://", _JOINER + "://")


def link_target(url: str) -> Trusted:
    """A URL safe inside ``<url|label>``: no spaces, pipes or angle brackets."""
    return Trusted(quote(url, safe=":/?#[]@!$&'()*+,;=%-._~"))


length = utf16_length  # characters as Slack counts them


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _story_text(card: StoryCard, limit: int = SECTION_TEXT) -> str | None:
    """The card's section text at the first size within ``limit`` (None if none is)."""
    for level in range(SHRINK_LEVELS):
        text = (
            template(escape, "story.slack.j2")
            .render(card=card.shrunk(level), link=link_target)
            .strip()
        )
        if length(text) <= limit:
            return text
    return None


def updated_mark(card: StoryCard) -> str:
    """'Updated <date>' in the reader's own time zone (Slack's date formatting), the
    channel's in the fallback; empty unless the card says it was updated."""
    if card.updated_at is None:
        return ""
    stamp = int(card.updated_at.timestamp())
    return f"<!date^{stamp}^Updated {{date_short_pretty}} at {{time}}|{escape(card.updated_line)}>"


def _context(card: StoryCard, limit: int = SECTION_TEXT) -> dict[str, Any]:
    parts = [updated_mark(card)] if card.updated_at is not None else []
    if card.insights_from:
        parts.append("Insights from " + escape(join_names(card.insights_from)))
    parts.append(f"id `{card.story_id}`")
    text = "  ·  ".join(parts)
    if length(text) > limit:
        text = f"id `{card.story_id}`"
    return {"type": "context", "elements": [_mrkdwn(text)]}


def blocks_text(blocks: list[dict[str, Any]]) -> int:
    """The text a message's blocks carry altogether, as Slack counts it against
    :data:`BLOCKS_TEXT`."""
    total = 0
    for block in blocks:
        if "text" in block:
            total += length(block["text"]["text"])
        if block["type"] == "context":
            total += sum(length(e.get("text", "")) for e in block["elements"])
    return total


def _story_blocks(card: StoryCard, room: int = BLOCKS_TEXT) -> list[dict[str, Any]] | None:
    """A card's section and context, in at most ``room`` characters of text (None when even
    its smallest size takes more)."""
    context = _context(card, limit=min(SECTION_TEXT, room // 4))
    text = _story_text(card, min(SECTION_TEXT, room - blocks_text([context])))
    if text is None:
        return None
    section = {"type": "section", "block_id": f"story-{card.story_id}", "text": _mrkdwn(text)}
    return [section, context]


def _fallback(text: str) -> str:
    return escape(cut(text, FALLBACK_TEXT // 6))  # escaping can grow text up to 6-fold


def story_message(card: StoryCard) -> dict[str, Any]:
    """chat.postMessage arguments for one story."""
    summary = card.title + (f" — {card.lede}" if card.lede else "")
    return {
        "text": _fallback(summary),
        "blocks": _story_blocks(card) or [],
        "unfurl_links": False,
        "unfurl_media": False,
    }


def _digest_blocks(
    digest: Digest, most: int, room: int
) -> tuple[list[dict[str, Any]], int]:
    """A digest's header and as many stories as fit in ``most`` blocks and ``room``
    characters of text, then how many more there are; and how many stories it shows."""
    header = cut(digest.header, HEADER_TEXT)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": header, "emoji": False}}
    ]
    room -= length(header) + MORE_TEXT
    shown = 0
    for card in digest.cards[:DIGEST_MAX_STORIES]:
        story = _story_blocks(card, room)
        if story is None or len(blocks) + len(story) + 2 > most:
            break
        blocks.extend([{"type": "divider"}, *story])
        room -= blocks_text(story)
        shown += 1
    hidden = len(digest.cards) - shown
    if hidden:
        more = cut(f"…and {hidden} more: `{escape(digest.more_hint)}`", MORE_TEXT)
        blocks.append({"type": "context", "elements": [_mrkdwn(more)]})
    return blocks, shown


def digest_message(digest: Digest) -> dict[str, Any]:
    """chat.postMessage arguments for a digest: a header and as many stories as fit."""
    buttons = _actions(digest.actions)
    blocks, shown = _digest_blocks(digest, MAX_BLOCKS - len(buttons), BLOCKS_TEXT)
    blocks.extend(buttons)
    titles = "; ".join(c.title for c in digest.cards[:shown])
    return {
        "text": _fallback(f"{digest.header}: {titles}" if titles else digest.header),
        "blocks": blocks,
        "unfurl_links": False,
        "unfurl_media": False,
    }


ACTION_PREFIX = "signals-"


def pressed(action_id: str) -> str | None:
    """The kind of button an ``action_id`` of ours names (its value is the payload)."""
    if not action_id.startswith(ACTION_PREFIX):
        return None
    kind = action_id.removeprefix(ACTION_PREFIX).rpartition("-")[0]
    return kind if kind in ACTION_KINDS else None


_DEFAULT_LABELS = {"post": "Post to channel", "more": "More", "unsubscribe": "Unsubscribe",
                   "pause": "Pause", "resume": "Resume"}  # fmt: skip


def _button(action: Action, index: int) -> dict[str, Any]:
    label = cut_utf16(" ".join(action.label.split()), BUTTON_TEXT) or _DEFAULT_LABELS[action.kind]
    button: dict[str, Any] = {
        "type": "button",
        "action_id": f"{ACTION_PREFIX}{action.kind}-{index}",
        "text": {"type": "plain_text", "text": label, "emoji": False},
        "value": action.payload,
    }
    if action.kind == "unsubscribe":
        button["style"] = "danger"
    elif action.kind == "resume":
        button["style"] = "primary"
    return button


def _actions(actions: tuple[Action, ...]) -> list[dict[str, Any]]:
    buttons = [
        _button(action, n)
        for n, action in enumerate(actions)
        if len(action.payload) <= BUTTON_VALUE
    ][:ACTION_ELEMENTS]
    return (
        [{"type": "actions", "block_id": "signals-actions", "elements": buttons}] if buttons else []
    )


def _unique_ids(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Slack refuses a message whose blocks share an id (one story shown twice)."""
    seen: set[str] = set()
    for index, block in enumerate(blocks):
        block_id = block.get("block_id")
        if block_id is not None:
            if block_id in seen:
                blocks[index] = block = {**block, "block_id": f"{block_id}-{index}"}
            seen.add(block["block_id"])
    return blocks


def reply_message(reply: Reply) -> dict[str, Any]:
    """chat.postMessage (or chat.postEphemeral, or a response_url) arguments for a command's
    answer: its text, its stories or digest, and its buttons, within Slack's limits."""
    actions = _actions(reply.actions)
    most = MAX_BLOCKS - len(actions) - 1  # one left for "…and N more"
    room = BLOCKS_TEXT - MORE_TEXT
    stories = reply.digest is not None or reply.cards  # the text leaves them half the room
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": _mrkdwn(piece)}
        for piece in chunks(reply.text, SECTION_TEXT, escape, total=room // 2 if stories else room)
    ]
    room -= blocks_text(blocks)
    if reply.digest is not None:
        digest, _ = _digest_blocks(reply.digest, most - len(blocks), room)
        blocks.extend(digest)
        room -= blocks_text(digest)
    shown = 0
    for card in reply.cards:
        story = _story_blocks(card, room)
        if story is None or len(blocks) + len(story) > most:
            break
        blocks.extend(story)
        room -= blocks_text(story)
        shown += 1
    if shown < len(reply.cards):
        hidden = len(reply.cards) - shown
        blocks.append({"type": "context", "elements": [_mrkdwn(f"…and {hidden} more")]})
    blocks = _unique_ids(blocks + actions)
    summary = reply.text or (reply.cards[0].title if reply.cards else "")
    if not summary and reply.digest is not None:
        summary = reply.digest.header
    return {
        "response_type": "ephemeral" if reply.private else "in_channel",
        "text": _fallback(summary),
        "blocks": blocks,
        "unfurl_links": False,
        "unfurl_media": False,
    }


def notice_message(notice: Notice) -> dict[str, Any]:
    """chat.postMessage arguments for a message from the bot itself."""
    return {
        "text": _fallback(notice.text),
        "blocks": [
            {"type": "section", "text": _mrkdwn(piece)}
            for piece in chunks(notice.text, SECTION_TEXT, escape, total=BLOCKS_TEXT)
        ][:MAX_BLOCKS],
        "unfurl_links": False,
        "unfurl_media": False,
    }


MAX_HOME_BLOCKS = 100
_CHANNEL_ID = re.compile(r"^[A-Z0-9]{2,40}$")


def channel_link(channel: str) -> str:
    """A channel as Slack shows it (``<#C123>``) when it is a channel id, else inert text."""
    return f"<#{channel}>" if _CHANNEL_ID.match(channel) else escape(channel)


def home_view(overview: Overview) -> dict[str, Any]:
    """views.publish's view for a workspace's overview (the App Home tab): a header, each
    channel with its subscriptions and buttons, the footer; at most 100 blocks."""
    title = {"type": "plain_text", "text": cut(overview.title, HEADER_TEXT), "emoji": False}
    blocks: list[dict[str, Any]] = [{"type": "header", "text": title}]
    blocks += [
        {"type": "section", "text": _mrkdwn(piece)}
        for piece in chunks(overview.intro, SECTION_TEXT, escape)
    ]
    footer: list[dict[str, Any]] = [{"type": "divider"}]
    footer += [
        {"type": "section", "text": _mrkdwn(piece)}
        for piece in chunks(overview.footer, SECTION_TEXT, escape)
    ]
    room = MAX_HOME_BLOCKS - len(footer) - 1
    hidden = 0
    for summary in overview.channels:
        name = f"*{channel_link(summary.channel)}*\n"
        pieces = chunks(summary.text, SECTION_TEXT - len(name), escape)
        section: list[dict[str, Any]] = [{"type": "divider"}]
        section += [
            {"type": "section", "text": _mrkdwn((name if n == 0 else "") + piece)}
            for n, piece in enumerate(pieces)
        ]
        section += _actions(summary.actions)
        if len(blocks) + len(section) > room:
            hidden += 1
            continue
        blocks.extend(section)
    if hidden:
        blocks.append({"type": "context", "elements": [_mrkdwn(f"…and {hidden} more channels")]})
    return {"type": "home", "blocks": _unique_ids(blocks + footer)}
