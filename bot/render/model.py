"""The neutral message model every platform renderer works from.

A :class:`StoryCard` is one story cut down to a chat message: headline and link, a meta line,
a one-line lede, up to five insight bullets and the outlets. A :class:`Digest` is a header plus
cards. Nothing here escapes anything: each platform renderer escapes for its own markup.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from functools import cached_property
from typing import Any, Literal

from bot import regions
from bot.domain import PREFIX, Story

LEDE_LIMIT = 280
MAX_BULLETS = 5
BULLET_TITLE_LIMIT = 150
DERIVED_TITLE_LIMIT = 100
TITLE_LIMIT = 250

# Control characters (C0/C1, bidi overrides and isolates) have no business in a chat message.
_CONTROL = re.compile("[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u3000]+")
_SENTENCE_END = re.compile(r"[.!?][”\"’)\]]*(?=\s)")


_DIRTY = re.compile(
    "[\u0000-\u001f\u007f-\u00a0\u2000-\u200a\u202a-\u202e\u2066-\u2069\u3000]|\\s\\s"
)


def clean(text: str) -> str:
    """Untrusted text as one tidy line: no control characters, single spaces."""
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    if _DIRTY.search(text) is None:  # the common case: nothing to do
        return text.strip()
    text = _CONTROL.sub("", text)
    return _SPACES.sub(" ", text.replace("\r", " ").replace("\n", " ")).strip()


def tidy(text: str, limit: int) -> str:
    """``clean`` then ``cut``; only the part of a huge text that can show is cleaned."""
    return cut(clean(text[: limit * 3 + 64]), limit)


def first_sentence(text: str, limit: int) -> str:
    """The text's first sentence, at most ``limit`` characters."""
    match = _SENTENCE_END.search(text)
    return cut(text[: match.end()] if match else text, limit)


def cut(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut at a sentence end or else a word boundary (with '…')."""
    if len(text) <= limit:
        return text
    if limit <= 1:
        return "…"[:limit]
    head = text[: limit + 1]
    ends = [m.end() for m in _SENTENCE_END.finditer(head) if m.end() <= limit]
    if ends and ends[-1] >= limit // 2:
        return text[: ends[-1]]
    space = head.rfind(" ", 0, limit)
    if space >= limit // 2:
        return text[:space].rstrip(" ,;:—–-") + "…"
    return text[: limit - 1] + "…"


def utf16_length(text: str) -> int:
    """Characters as Slack and Discord count them (UTF-16 code units, the stricter reading)."""
    return len(text.encode("utf-16-le")) // 2


def cut_utf16(text: str, limit: int) -> str:
    """:func:`cut`, then shorter still until it is at most ``limit`` UTF-16 code units."""
    text = cut(text, limit)
    while utf16_length(text) > limit:
        text = cut(text, max(1, len(text) - (utf16_length(text) - limit)))
    return text


def _as_is(text: str) -> str:
    return text


def _segments(line: str, limit: int, escape: Callable[[str], str]) -> Iterator[str]:
    """One line escaped, in segments of at most ``limit``: a line too long is cut (at a space
    where one is near) before escaping, so no escape sequence is ever split."""
    escaped = escape(line)
    while utf16_length(escaped) > limit:
        low, high = 1, len(line)  # the longest head whose escaped form fits
        while low < high:
            middle = (low + high + 1) // 2
            if utf16_length(escape(line[:middle])) <= limit:
                low = middle
            else:
                high = middle - 1
        space = line.rfind(" ", 0, low)
        head = space if space > low // 2 else low
        yield escape(line[:head])
        line = line[head:].lstrip(" ")
        escaped = escape(line)
    yield escaped


def chunks(
    text: str,
    limit: int,
    escape: Callable[[str], str] = _as_is,
    *,
    total: int | None = None,
) -> list[str]:
    """``text`` escaped, in pieces of at most ``limit`` characters (UTF-16), split between
    lines where it can. Escaping works line by line, so each piece is escaped on its own
    terms. With ``total``, the pieces stop before their sum passes it, the last ending "…"."""
    pieces: list[str] = []
    current = ""
    used = 0  # characters in closed pieces
    for line in text.split("\n"):
        for segment in _segments(line, limit, escape):
            joined = f"{current}\n{segment}" if current else segment
            if current and utf16_length(joined) > limit:
                pieces.append(current)
                used += utf16_length(current)
                current, joined = "", segment
            if total is not None and used + utf16_length(joined) + 2 > total:
                if current.strip():
                    pieces.append(current)
                if pieces and utf16_length(pieces[-1]) + 2 <= limit:
                    pieces[-1] += "\n…"
                return [piece for piece in pieces if piece.strip()]
            current = joined
    if current:
        pieces.append(current)
    return [piece for piece in pieces if piece.strip()]


@dataclass(frozen=True)
class Bullet:
    title: str
    sources: tuple[str, ...]

    @property
    def source_line(self) -> str:
        return ", ".join(self.sources)


@dataclass(frozen=True)
class StoryCard:
    story_id: str
    title: str
    url: str | None
    meta: tuple[str, ...]
    lede: str
    bullets: tuple[Bullet, ...]
    more_insights: int
    insights_from: tuple[str, ...]
    published_at: datetime | None
    region: str | None = None  # its key: platforms that colour a story by region read it
    # When the story changed after this message first showed it (an edited message says so),
    # in the time zone of the channel it is shown in.
    updated_at: datetime | None = None

    @property
    def meta_line(self) -> str:
        """'Europe · Security · Feb 27, 2024'."""
        return " · ".join(self.meta)

    @property
    def updated_line(self) -> str:
        """'Updated Dec 1, 2026, 9:04 AM CET' (empty unless the card says it was updated)."""
        at = self.updated_at
        if at is None:
            return ""
        hour = at.hour % 12 or 12
        return f"Updated {format_date(at)}, {hour}:{at:%M %p} {at.tzname() or 'UTC'}"

    @cached_property
    def version(self) -> str:
        """What a reader sees of the story, as a short hash: a change a reader would see
        (headline, link, lede, insights or their outlets) makes a new version; whitespace, a
        tracking parameter or the time it was updated do not (the card has none of them)."""
        seen = [self.story_id, self.title, self.url, self.meta, self.lede,
                [[b.title, b.sources] for b in self.bullets], self.more_insights,
                self.insights_from]  # fmt: skip
        encoded = json.dumps(seen, ensure_ascii=False, separators=(",", ":")).encode()
        return hashlib.blake2b(encoded, digest_size=8).hexdigest()

    @cached_property
    def shown(self) -> str:
        """What a message of this card alone shows, as the ledger keeps it (see :func:`shown`)."""
        return json.dumps({"cards": [self.shown_entry]}, separators=(",", ":"))

    @property
    def shown_entry(self) -> list[str | None]:
        updated = None if self.updated_at is None else self.updated_at.isoformat()
        return [self.story_id, self.version, updated]

    # One card goes to every channel an alert reaches: its payloads are made once (see
    # ``messages.render_card`` and ``messages.encoded_push``).
    @cached_property
    def payloads(self) -> dict[str, Any]:
        return {}

    @cached_property
    def bodies(self) -> dict[str, bytes]:
        return {}

    def shrunk(self, level: int) -> StoryCard:
        """A shorter version for tight platform limits; level 0 is the card itself."""
        if level <= 0:
            return self
        bullets = self.bullets
        title_limit, lede_limit = TITLE_LIMIT, LEDE_LIMIT
        if level >= 1:
            bullets = tuple(Bullet(cut(b.title, 80), b.sources[:3]) for b in bullets)
        if level >= 2:
            bullets = bullets[:3]
        if level >= 3:
            bullets, lede_limit = (), 140
        if level >= 4:
            title_limit, lede_limit = 100, 80
        hidden = len(self.bullets) - len(bullets)
        return replace(
            self,
            title=cut(self.title, title_limit),
            lede=cut(self.lede, lede_limit),
            bullets=bullets,
            more_insights=self.more_insights + hidden,
            insights_from=self.insights_from[:6] if level >= 2 else self.insights_from,
        )


SHRINK_LEVELS = 5


@dataclass(frozen=True)
class Digest:
    region_key: str
    region_name: str
    local_date: date
    cards: tuple[StoryCard, ...]
    more_hint: str

    # One digest object goes to thousands of channels and keys the render cache on each
    # send: hash its (deep) fields once.
    @cached_property
    def _hash(self) -> int:
        return hash(
            (self.region_key, self.region_name, self.local_date, self.cards, self.more_hint)
        )

    def __hash__(self) -> int:
        return self._hash

    @cached_property
    def bodies(self) -> dict[str, bytes]:
        """This digest's encoded payloads by format (see ``messages.encoded_push``)."""
        return {}

    @cached_property
    def shown(self) -> str:
        """What a message of this digest shows, as the ledger keeps it (see :func:`shown`):
        made once, however many channels get the digest."""
        head = [self.region_key, self.local_date.isoformat(), self.more_hint]
        return json.dumps(
            {"digest": head, "cards": [card.shown_entry for card in self.cards]},
            ensure_ascii=False, separators=(",", ":"),
        )  # fmt: skip

    @property
    def header(self) -> str:
        return f"{self.region_name} · {self.local_date:%A, %B} {self.local_date.day}"

    @property
    def actions(self) -> tuple[Action, ...]:
        """The buttons under a pushed digest: the region's newest stories, and leaving it."""
        key, name = self.region_key, self.region_name
        region = {"region": key}
        return (
            Action("more", f"More from {name}", f"{PREFIX} latest {key}",
                   button_payload("latest", region)),
            Action("unsubscribe", f"Unsubscribe {name}", f"{PREFIX} unsubscribe {key}",
                   button_payload("unsubscribe", region)),
        )  # fmt: skip


def _display_vertical(key: str) -> str:
    return key.replace("-", " ").capitalize()


def format_date(when: datetime) -> str:
    return f"{when:%b} {when.day}, {when.year}"


def card_from_story(story: Story) -> StoryCard:
    """Cut a story down to a card: the lede at most 280 characters, at most five bullets.
    Made once for a story and kept on it, with the payloads rendered from it."""
    card = story._card
    if card is None:
        card = story._card = _card_of(story)
    return card  # type: ignore[no-any-return]


def _card_of(story: Story) -> StoryCard:
    meta: list[str] = []
    if story.region:
        meta.append(regions.get(story.region).name)
    meta.extend(_display_vertical(v) for v in story.verticals[:3])
    if story.published_at:
        meta.append(format_date(story.published_at))
    lede_source = next(
        (p for p in [*story.news, *(p for ps in story.sections.values() for p in ps)] if p.strip()),
        story.insights[0].body if story.insights else "",
    )
    bullets = []
    for insight in story.insights[:MAX_BULLETS]:
        title = tidy(insight.title, BULLET_TITLE_LIMIT)
        if not title:  # pages without item headlines: the insight's first sentence stands in
            title = first_sentence(tidy(insight.body, DERIVED_TITLE_LIMIT * 3), DERIVED_TITLE_LIMIT)
        bullets.append(Bullet(title=title, sources=tuple(tidy(s, 80) for s in insight.sources[:6])))
    return StoryCard(
        story_id=story.id,
        title=tidy(story.title, TITLE_LIMIT),
        url=story.url,
        meta=tuple(clean(m) for m in meta),
        lede=tidy(lede_source, LEDE_LIMIT),
        bullets=tuple(bullets),
        more_insights=max(0, len(story.insights) - MAX_BULLETS),
        insights_from=tuple(tidy(s, 80) for s in story.insights_from[:10]),
        published_at=story.published_at,
        region=story.region or None,
    )


def join_names(names: tuple[str, ...] | list[str]) -> str:
    """'A', 'A and B', 'A, B and C'."""
    names = list(names)
    if len(names) <= 2:
        return " and ".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def build_digest(
    region_key: str,
    local_date: date,
    stories: list[Story],
    *,
    more_hint: str | None = None,
    card: Callable[[Story], StoryCard] = card_from_story,
) -> Digest:
    region = regions.get(region_key)
    unique: list[Story] = []
    seen: set[str] = set()
    for story in stories:  # one story reached through two regions shows once
        if story.id not in seen:
            seen.add(story.id)
            unique.append(story)
    return Digest(
        region_key=region_key,
        region_name=region.name,
        local_date=local_date,
        cards=tuple(card(s) for s in unique),
        more_hint=more_hint or f"{PREFIX} latest {region_key}",
    )


@dataclass(frozen=True)
class Notice:
    """A message from the bot itself to a channel (a pause, a problem to fix): our own words,
    rendered as plain text."""

    text: str


# What one outgoing message to a channel carries.
PushContent = Digest | StoryCard | Notice


def shown(content: PushContent) -> str | None:
    """What a message shows, as the ledger keeps it to edit the message when a story in it
    changes: JSON, ``{"digest": [region key, local date, more hint], "cards": [[story id,
    version, updated at or null], ...]}`` (a lone card has no ``digest``). None for a
    notice: it shows no story, and is never edited."""
    return None if isinstance(content, Notice) else content.shown

ActionKind = Literal["post", "more", "unsubscribe", "pause", "resume"]
ACTION_KINDS: tuple[ActionKind, ...] = ("post", "more", "unsubscribe", "pause", "resume")


def button_payload(command: str, shown: Mapping[str, str], channel: str | None = None) -> str:
    """How a button carries a request: the command and each value as it would be typed (read
    back by ``bot.commands.parsing.read_payload``), and the channel it acts in when it is
    pressed away from that channel (a home tab)."""
    packed: list[object] = [command, dict(shown)]
    if channel is not None:
        packed.append(channel)
    return json.dumps(packed, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class Action:
    """A button a platform may offer under a reply: pressed, it runs a command for whoever
    pressed it. ``command`` is that command as a line (``/signals latest europe``), for
    people; ``payload`` is the same request as the button carries it (the platform sends it
    back on a press, for ``CommandService.press``).

    ``post`` runs the same lookup again and shows the answer to the whole channel; ``more``
    and ``unsubscribe`` are ordinary commands (an unsubscribe still needs permission)."""

    kind: ActionKind
    label: str
    command: str
    payload: str


@dataclass(frozen=True)
class Reply:
    """What a command answers: text (plain, escaped by each platform), story cards or a
    digest, and who sees it: ``private`` answers are for the asker only (lookups, errors),
    the others for the channel (changes to its subscriptions)."""

    text: str
    cards: tuple[StoryCard, ...] = ()
    digest: Digest | None = None
    ok: bool = True
    private: bool = True
    actions: tuple[Action, ...] = ()


@dataclass(frozen=True)
class ChannelSummary:
    """One channel in an overview: its platform id, what it has (in the core's words) and
    the buttons that act on it."""

    channel: str
    text: str
    actions: tuple[Action, ...] = ()


@dataclass(frozen=True)
class Overview:
    """A workspace at a glance (Slack's App Home): its channels' subscriptions, then a
    footer (the regions one can subscribe to)."""

    title: str
    intro: str
    channels: tuple[ChannelSummary, ...]
    footer: str
