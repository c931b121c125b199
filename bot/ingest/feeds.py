"""RSS/Atom feeds read with feedparser.

An item that links to a Semafor article is fetched and parsed as a page (the feed carries only a
summary); any other item becomes a story from the feed's own fields.
"""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import feedparser
from selectolax.lexbor import LexborHTMLParser

from bot import regions
from bot.domain import Story, is_semafor_host
from bot.ingest.errors import NotAStory
from bot.ingest.semafor_html import block_text
from bot.vocabulary import VERTICALS, vertical_key


@dataclass(frozen=True)
class FeedItem:
    link: str | None
    title: str
    summary: str
    published: datetime | None
    updated: datetime | None
    tags: tuple[str, ...]

    @property
    def is_semafor_article(self) -> bool:
        if not self.link:
            return False
        return is_semafor_host(self.link) and urlsplit(self.link).path.startswith("/article/")


def looks_like_feed(head: bytes) -> bool:
    """Whether the first bytes of a document are an RSS or Atom feed."""
    sample = head[:2048].lstrip().lower()
    return (
        sample.startswith(b"<?xml")
        and (b"<rss" in sample or b"<feed" in sample or b"<rdf:rdf" in sample)
    ) or sample.startswith((b"<rss", b"<feed"))


def _when(entry: Any, key: str) -> datetime | None:
    # dict.get: feedparser's own .get maps a missing 'updated' to 'published' with a warning.
    value: time.struct_time | None = dict.get(entry, key)
    if not value:
        return None
    return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)


def parse_feed(data: bytes) -> list[FeedItem]:
    """The items of an RSS/Atom document. Raises :class:`NotAStory` when it is not a feed."""
    parsed = feedparser.parse(data)
    if not parsed.get("entries") and (parsed.get("bozo") or not parsed.get("feed")):
        raise NotAStory("not an RSS or Atom feed (no items could be read)")
    items: list[FeedItem] = []
    for entry in parsed.entries:
        title = " ".join(str(entry.get("title", "")).split())
        summary_html = entry.get("summary") or ""
        if entry.get("content"):
            summary_html = entry.content[0].get("value") or summary_html
        items.append(
            FeedItem(
                link=entry.get("link") or None,
                title=title,
                summary=block_text(LexborHTMLParser(f"<body>{summary_html}</body>")),
                published=_when(entry, "published_parsed") or _when(entry, "updated_parsed"),
                updated=_when(entry, "updated_parsed"),
                tags=tuple(t.get("term", "") for t in entry.get("tags", []) if t.get("term")),
            )
        )
    return items


def story_from_item(item: FeedItem) -> Story:
    """A story from a feed item's own fields; tags naming regions or verticals are kept."""
    if not item.title:
        raise NotAStory("feed item has no title")
    region: str | None = None
    verticals: list[str] = []
    for tag in item.tags:
        key = regions.from_category(tag)
        if key and region is None:
            region = key
        elif tag.strip().lower() in VERTICALS and vertical_key(tag) not in verticals:
            verticals.append(vertical_key(tag))
    updated = (
        item.updated if item.updated and item.published and item.updated > item.published else None
    )
    return Story(
        url=item.link,
        kind="article",
        title=item.title,
        published_at=item.published,
        updated_at=updated,
        region=region,
        verticals=verticals,
        news=[p for p in item.summary.split("\n") if p.strip()],
    )
