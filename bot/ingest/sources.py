"""From what a user names (files, directories, URLs, feeds) to parsed stories.

:func:`parse_document` decides what a document is (JSON story file, feed, HTML page, text page)
from its name, content type and first bytes. :func:`read_sources` walks the inputs and yields one
:class:`Parsed` per story or failure, fetching feed items that link to Semafor articles.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path

from bot.domain import Story
from bot.ingest.errors import FetchError, IngestError, NotAStory
from bot.ingest.feeds import FeedItem, looks_like_feed, parse_feed, story_from_item
from bot.ingest.fetch import Fetcher
from bot.ingest.json_stories import parse_story_json
from bot.ingest.semafor_html import parse_html
from bot.ingest.semafor_text import parse_text

_PAGE_SUFFIXES = frozenset({".txt", ".text", ".html", ".htm", ".json", ".xml", ".rss", ".atom", ""})
FEED_FETCH_CONCURRENCY = 4


@dataclass(frozen=True)
class Parsed:
    """One outcome: a story, a failure with its reason, or an unchanged (304) document."""

    source: str
    story: Story | None = None
    error: str | None = None
    not_modified: bool = False


def _looks_like_html(head: bytes) -> bool:
    sample = head[:1024].lstrip().lower()
    return sample.startswith((b"<!doctype html", b"<html")) or b"<html" in sample[:512]


def _looks_like_json(head: bytes) -> bool:
    return head[:1024].lstrip()[:1] in (b"{", b"[")


def decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def parse_document(
    data: bytes, *, name: str, url: str | None = None, content_type: str = ""
) -> list[Story]:
    """Parse one document that is not a feed. Raises :class:`IngestError` with the reason."""
    suffix = Path(name).suffix.lower()
    kind = content_type.split(";")[0].strip().lower()
    if not data or data.isspace():
        raise NotAStory("empty file: nothing to parse")
    if data.find(b"\x00", 0, 4096) >= 0:
        raise NotAStory("a binary file, not a story page")
    if suffix == ".json" or kind == "application/json" or (suffix == "" and _looks_like_json(data)):
        return parse_story_json(decode(data))
    if (
        suffix in (".html", ".htm")
        or kind in ("text/html", "application/xhtml+xml")
        or _looks_like_html(data)
    ):
        return [parse_html(decode(data), url=url)]
    return [parse_text(decode(data), url=url)]


def expand_paths(specs: Iterable[str]) -> list[str]:
    """Directories become the story files inside them (sorted); URLs and files pass through."""
    out: list[str] = []
    for spec in specs:
        path = Path(spec)
        if not _is_url(spec) and path.is_dir():
            out.extend(
                str(p)
                for p in sorted(path.rglob("*"))
                if p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
                and p.suffix.lower() in _PAGE_SUFFIXES
                and not p.name.endswith(".expected.json")
            )
        else:
            out.append(spec)
    return out


def _is_url(spec: str) -> bool:
    return spec.startswith(("http://", "https://"))


async def _feed_items(items: list[FeedItem], fetcher: Fetcher | None) -> AsyncIterator[Parsed]:
    gate = asyncio.Semaphore(FEED_FETCH_CONCURRENCY)

    async def one(item: FeedItem) -> Parsed:
        source = item.link or item.title
        try:
            if item.is_semafor_article and item.link and fetcher is not None:
                async with gate:
                    fetched = await fetcher.get(item.link)
                if fetched.not_modified:
                    return Parsed(source, not_modified=True)
                stories = parse_document(
                    fetched.body, name=item.link, url=item.link, content_type=fetched.content_type
                )
                return Parsed(source, story=stories[0])
            return Parsed(source, story=story_from_item(item))
        except IngestError as error:
            return Parsed(source, error=str(error))

    for finished in asyncio.as_completed([one(item) for item in items]):
        yield await finished


def _read_file(spec: str) -> bytes:
    path = Path(spec)
    if not path.exists():
        raise NotAStory("no such file or directory")
    if path.is_dir():
        raise NotAStory("is a directory")
    return path.read_bytes()


async def read_source(
    spec: str, fetcher: Fetcher | None, *, url: str | None = None
) -> AsyncIterator[Parsed]:
    """Everything one input yields. Failures come back as :class:`Parsed` with ``error`` set."""
    try:
        if _is_url(spec):
            if fetcher is None:
                raise FetchError("fetching URLs is not available here")
            fetched = await fetcher.get(spec)
            if fetched.not_modified:
                yield Parsed(spec, not_modified=True)
                return
            data, content_type = fetched.body, fetched.content_type
            page_url: str | None = url or spec
        else:
            data = await asyncio.to_thread(_read_file, spec)
            page_url, content_type = url, ""
    except OSError as error:
        yield Parsed(spec, error=f"cannot read it ({error.strerror or error})")
        return
    except IngestError as error:
        yield Parsed(spec, error=str(error))
        return
    if looks_like_feed(data):
        try:
            items = parse_feed(data)
        except IngestError as error:
            yield Parsed(spec, error=str(error))
            return
        async for parsed in _feed_items(items, fetcher):
            yield parsed
        return
    try:
        stories = parse_document(data, name=spec, url=page_url, content_type=content_type)
    except IngestError as error:
        yield Parsed(spec, error=str(error))
        return
    for story in stories:
        yield Parsed(spec, story=story)
