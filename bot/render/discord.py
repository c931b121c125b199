"""Discord output: embed dicts plus ``allowed_mentions``, always inside Discord's limits.

Story text is untrusted: markdown characters are backslash-escaped (which Discord renders
invisibly), ``<`` is escaped so ``<@id>``, ``<#id>`` and ``<t:…>`` stay literal, ``@everyone`` and
``@here`` get a zero-width space, ``://`` gets one too so no bare URL becomes a link, and every
message says ``allowed_mentions: {"parse": []}`` so nothing can ping even if a mention slipped
through.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from bot.render.model import (
    ACTION_KINDS,
    SHRINK_LEVELS,
    Action,
    Digest,
    Notice,
    Reply,
    StoryCard,
    chunks,
    cut,
    cut_utf16,
    join_names,
    utf16_length,
)
from bot.render.templates import template

# Limits (Discord API reference).
CONTENT = 2000
EMBEDS = 10
EMBED_TITLE = 256
EMBED_DESCRIPTION = 4096
EMBED_FIELDS = 25
FIELD_NAME = 256
FIELD_VALUE = 1024
FOOTER = 2048
AUTHOR_NAME = 256
EMBEDS_TOTAL = 6000
DIGEST_MAX_STORIES = 10
NO_MENTIONS: dict[str, list[str]] = {"parse": []}
COLOUR = 0x2B6CB0  # the bot's own messages, and a story of no known region
# A story's embed takes its region's colour, so a digest of several regions reads at a glance.
REGION_COLOURS = {
    "africa": 0xD69E2E,
    "europe": 0x2B6CB0,
    "uk": 0x2C5282,
    "middle-east": 0xC05621,
    "east-asia": 0xC53030,
    "south-asia": 0x2F855A,
    "southeast-asia": 0x319795,
    "north-america": 0x553C9A,
    "south-america": 0x97266D,
}
BUTTONS_PER_ROW = 5
ROWS = 5
BUTTON_LABEL = 80
CUSTOM_ID = 100
URL = 2048
EPHEMERAL = 1 << 6  # message flag: only the person who asked sees it
# Button styles
SECONDARY, DANGER = 2, 4

_MARKDOWN = re.compile(r"([\\*_~`|>#\-\[\]()<:])")
_MENTION_WORDS = re.compile(r"@(?=(?:here|everyone)\b)", re.I)
_ZWSP = "\u200b"
_ANY_SPECIAL = re.compile(r"[\\*_~`|>#\-\[\]()<:@]")


def escape(text: str) -> str:
    """Make untrusted text inert in Discord markdown: no mentions, links or formatting."""
    if _ANY_SPECIAL.search(text) is None:
        return text
    text = _MARKDOWN.sub(r"\\\1", text)
    text = _MENTION_WORDS.sub("@" + _ZWSP, text)
    return text.replace(r"\:/", _ZWSP + r"\:/")


def plain(text: str) -> str:
    """For fields Discord shows without markdown (footers): only mentions are neutralised."""
    return _MENTION_WORDS.sub("@" + _ZWSP, text).replace("<", "<" + _ZWSP)


length = utf16_length  # characters as Discord counts them


def link_target(url: str) -> str | None:
    """A story's link as Discord takes it in an embed: http(s), no spaces or brackets, at
    most 2,048 characters; None when it cannot be one."""
    if not url.lower().startswith(("http://", "https://")):
        return None
    quoted = quote(url.strip(), safe=":/?#[]@!$&'()*+,;=%-._~")
    return quoted if len(quoted) <= URL else None


def embed_size(embed: dict[str, Any]) -> int:
    """The characters that count towards the 6,000 limit across a message's embeds."""
    total = length(embed.get("title", "")) + length(embed.get("description", ""))
    total += length(embed.get("footer", {}).get("text", ""))
    total += length(embed.get("author", {}).get("name", ""))
    for item in embed.get("fields", []):
        total += length(item.get("name", "")) + length(item.get("value", ""))
    return total


def _fit(text: str, limit: int) -> str:
    """Escaped text within ``limit``; escaping at most triples a character (':' -> ZWSP + '\\:')."""
    escaped = escape(text)
    return escaped if length(escaped) <= limit else escape(cut(text, limit // 3))


def _footer(card: StoryCard) -> str:
    parts = list(card.meta)
    if card.insights_from:
        parts.append("Insights from " + join_names(card.insights_from))
    parts.append(f"id {card.story_id}")
    return plain(cut(" · ".join(parts), 1000))


def story_embed(card: StoryCard, *, budget: int = EMBEDS_TOTAL) -> dict[str, Any]:
    """One story as an embed no larger than ``budget`` characters (and every per-field limit).
    Each size is made once for the card and kept on it (shared: never changed after)."""
    for level in range(SHRINK_LEVELS):
        key = f"discord-embed-{level}"
        made = card.payloads.get(key)
        if made is None:
            made = card.payloads[key] = _embed(card, level)
        embed, size = made
        if length(embed.get("description", "")) <= EMBED_DESCRIPTION and size <= budget:
            return embed
    raise ValueError(f"story {card.story_id} cannot fit in {budget} characters")


def _embed(card: StoryCard, level: int) -> tuple[dict[str, Any], int]:
    """The card as an embed at shrink ``level``, and its size towards the 6,000."""
    small = card.shrunk(level)
    embed: dict[str, Any] = {
        "type": "rich",
        "title": _fit(small.title, EMBED_TITLE),
        "description": template(escape, "story.discord.j2").render(card=small).strip(),
        "color": REGION_COLOURS.get(card.region or "", COLOUR),
        "footer": {"text": _footer(small)},
    }
    if card.url and (url := link_target(card.url)):
        embed["url"] = url
    if card.published_at:
        embed["timestamp"] = card.published_at.isoformat()
    if card.updated_at is not None:  # in the reader's own time zone (a Discord timestamp)
        mark = f"*Updated <t:{int(card.updated_at.timestamp())}:f>*"
        embed["description"] = f"{mark}\n{embed['description']}".strip()
    if not embed["description"]:
        del embed["description"]
    return embed, embed_size(embed)


def story_message(card: StoryCard) -> dict[str, Any]:
    """The JSON body of a Discord message for one story."""
    return {"content": "", "embeds": [story_embed(card)], "allowed_mentions": NO_MENTIONS}


def digest_message(digest: Digest) -> dict[str, Any]:
    """A digest: header as content, one embed a story while they fit, and a pointer to the rest."""
    embeds: list[dict[str, Any]] = []
    shown = _fill(embeds, digest.cards[:DIGEST_MAX_STORIES])
    return {"content": _digest_content(digest, shown), "embeds": embeds,
            "components": _components(digest.actions), "allowed_mentions": NO_MENTIONS}  # fmt: skip


def _digest_content(digest: Digest, shown: int) -> str:
    content = f"**{escape(digest.header)}**"
    if shown < len(digest.cards):
        content += f"\n…and {len(digest.cards) - shown} more: `{digest.more_hint}`"
    return content[:CONTENT]


def _fill(embeds: list[dict[str, Any]], cards: Sequence[StoryCard]) -> int:
    """Add a story embed for each card while they fit the message; how many did."""
    used = sum(embed_size(e) for e in embeds)
    shown = 0
    for card in cards:
        if len(embeds) >= EMBEDS:
            break
        try:
            embed = story_embed(card, budget=EMBEDS_TOTAL - used)
        except ValueError:
            break
        embeds.append(embed)
        used += embed_size(embed)
        shown += 1
    return shown


CUSTOM_ID_PREFIX = "signals:"


def custom_id(action: Action) -> str:
    """A button's id: its kind and payload (Discord allows 100 characters: a button whose
    payload is longer is left out)."""
    return f"{CUSTOM_ID_PREFIX}{action.kind}:{action.payload}"


def pressed(custom: str) -> tuple[str, str] | None:
    """The kind and payload of a button of ours, from its ``custom_id``."""
    if not custom.startswith(CUSTOM_ID_PREFIX):
        return None
    kind, _, payload = custom.removeprefix(CUSTOM_ID_PREFIX).partition(":")
    return (kind, payload) if kind in ACTION_KINDS and payload else None


def _components(actions: tuple[Action, ...]) -> list[dict[str, Any]]:
    """The buttons, five to a row (Discord holds five rows)."""
    buttons = [
        {
            "type": 2,
            "style": DANGER if action.kind == "unsubscribe" else SECONDARY,
            "label": cut_utf16(" ".join(action.label.split()), BUTTON_LABEL) or action.kind.title(),
            "custom_id": identity,
        }
        for action in actions
        if len(identity := custom_id(action)) <= CUSTOM_ID
    ][: BUTTONS_PER_ROW * ROWS]
    return [
        {"type": 1, "components": buttons[start : start + BUTTONS_PER_ROW]}
        for start in range(0, len(buttons), BUTTONS_PER_ROW)
    ]


def _text_embeds(text: str) -> list[dict[str, Any]]:
    """Text too long for a message's content, as embed descriptions (as much as one message
    holds: a longer text ends in "…")."""
    pieces = chunks(text, EMBED_DESCRIPTION, escape, total=EMBEDS_TOTAL)
    return [{"type": "rich", "description": piece, "color": COLOUR} for piece in pieces]


def reply_message(reply: Reply) -> dict[str, Any]:
    """The JSON body of an interaction response (or follow-up) for a command's answer: its
    text, its stories or digest as embeds, and its buttons, within Discord's limits."""
    text = escape(reply.text)
    embeds: list[dict[str, Any]] = []
    if length(text) > CONTENT:
        embeds, text = _text_embeds(reply.text), ""
    if reply.digest is not None:
        shown = _fill(embeds, reply.digest.cards[:DIGEST_MAX_STORIES])
        text = f"{text}\n{_digest_content(reply.digest, shown)}"
    shown = _fill(embeds, reply.cards)
    if shown < len(reply.cards):
        text += f"\n…and {len(reply.cards) - shown} more"
    return {
        "content": cut_utf16(text.strip(), CONTENT),
        "embeds": embeds[:EMBEDS],
        "components": _components(reply.actions),
        "allowed_mentions": NO_MENTIONS,
        "flags": EPHEMERAL if reply.private else 0,
    }


def notice_message(notice: Notice) -> dict[str, Any]:
    """The JSON body of a message from the bot itself."""
    text = escape(notice.text)
    if length(text) <= CONTENT:
        return {"content": text, "allowed_mentions": NO_MENTIONS}
    return {"content": "", "embeds": _text_embeds(notice.text)[:EMBEDS],
            "allowed_mentions": NO_MENTIONS}  # fmt: skip
