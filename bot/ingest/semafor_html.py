"""Parse Semafor HTML pages.

Pages embed the story as data: ``__NEXT_DATA__`` JSON (2022-23) or React Server Component
chunks pushed with ``self.__next_f.push([1, "..."])`` (2024 on). The article object carries the
headline, timestamps, vertical, location, sections ("semaforms") in Portable Text, and the
Signals items. When no data is embedded, the page's block text is read with selectolax and fed
to the text parser.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from bot import regions
from bot.domain import Image, Insight, Story
from bot.ingest.errors import NewsletterPage, NotAStory
from bot.ingest.normalize import merge_outlets, outlet_label, vertical_key
from bot.ingest.semafor_text import NEW_YORK, parse_text

SITE = "https://www.semafor.com"
_PUSH = re.compile(r"self\.__next_f\.push\((\[.*\])\)\s*;?\s*$", re.S)
_ROW = re.compile(r"^([0-9a-fA-F]+):(.*)$")

# semaform _type -> (the key holding its blocks, the section name when it has no title)
_SEMAFORMS: dict[str, tuple[str, str]] = {
    "scoop": ("scoop", "The News"),
    "generaform": ("body", ""),
    "reportersTake": ("thescoop", "{who}’s view"),
    "knowMore": ("knowMore", "Know More"),
    "theViewFrom": ("theViewFrom", "The View From {where}"),
    "roomForDisagreement": ("roomForDisagreement", "Room for Disagreement"),
    "furtherReading": ("furtherReading", "Notable"),
    "worldToday": ("worldToday", "The World Today"),
    "numbered": ("body", "{headline}"),
    "topical": ("body", "{headline}"),
    "story": ("body", "{headline}"),
}
_BLOCK_TAGS = frozenset(
    {
        "p",
        "div",
        "section",
        "article",
        "main",
        "header",
        "footer",
        "nav",
        "aside",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "li",
        "ul",
        "ol",
        "figure",
        "figcaption",
        "blockquote",
        "time",
        "table",
        "tr",
        "td",
        "th",
        "dt",
        "dd",
        "body",
        "html",
        "form",
        "button",
        "pre",
    }
)
_SKIP_TAGS = frozenset({"script", "style", "noscript", "svg", "template", "head", "iframe"})


def parse_html(html: str, url: str | None = None) -> Story:
    """Parse a Semafor HTML page, preferring the story data it embeds."""
    tree = LexborHTMLParser(html)
    page_url = _canonical(tree) or url
    if page_url and "/newsletter/" in urlsplit(page_url).path:
        raise NewsletterPage("a newsletter page (a digest of many stories), not a single story")
    article = _next_data_article(tree) or _rsc_article(tree)
    if article is not None:
        return story_from_article(article, page_url)
    return parse_text(block_text(tree), url=page_url)


def _canonical(tree: LexborHTMLParser) -> str | None:
    for selector, attr in (
        ('link[rel="canonical"]', "href"),
        ('meta[property="og:url"]', "content"),
    ):
        node = tree.css_first(selector)
        value = node.attributes.get(attr) if node is not None else None
        if value:
            return value
    return None


def _next_data_article(tree: LexborHTMLParser) -> dict[str, Any] | None:
    node = tree.css_first("script#__NEXT_DATA__")
    if node is None:
        return None
    try:
        data = json.loads(node.text(deep=True))
    except ValueError:
        return None
    article = data.get("props", {}).get("pageProps", {}).get("article")
    return article if isinstance(article, dict) else None


def _rsc_payload(tree: LexborHTMLParser) -> str:
    parts: list[str] = []
    for script in tree.css("script"):
        text = script.text(deep=True)
        if "__next_f" not in text:
            continue
        match = _PUSH.search(text)
        if not match:
            continue
        try:
            pushed = json.loads(match.group(1))
        except ValueError:
            continue
        if len(pushed) >= 2 and pushed[0] == 1 and isinstance(pushed[1], str):
            parts.append(pushed[1])
    return "".join(parts)


def _rsc_article(tree: LexborHTMLParser) -> dict[str, Any] | None:
    payload = _rsc_payload(tree)
    if '"article"' not in payload:
        return None
    for line in payload.split("\n"):
        if '"article"' not in line:
            continue
        row = _ROW.match(line)
        if not row:
            continue
        try:
            value = json.loads(row.group(2))
        except ValueError:
            continue
        article = _find_article(value)
        if article is not None:
            return article
    return None


def _find_article(value: Any, depth: int = 0) -> dict[str, Any] | None:
    if depth > 12:
        return None
    if isinstance(value, dict):
        article = value.get("article")
        if isinstance(article, dict) and "headline" in article:
            return article
        children: Iterator[Any] = iter(value.values())
    elif isinstance(value, list):
        children = iter(value)
    else:
        return None
    for child in children:
        found = _find_article(child, depth + 1)
        if found is not None:
            return found
    return None


def _field(value: Any, key: str) -> Any:
    """API fields come bare or wrapped: 'security' or {'vertical': 'security'}."""
    if isinstance(value, dict):
        return value.get(key)
    return value


def portable_text(blocks: Any) -> list[str]:
    """Paragraph strings from Portable Text blocks (text blocks only; marks dropped)."""
    paragraphs: list[str] = []
    if not isinstance(blocks, list):
        return paragraphs
    for block in blocks:
        if not isinstance(block, dict) or block.get("_type") != "block":
            continue
        text = "".join(
            child.get("text", "")
            for child in block.get("children", [])
            if isinstance(child, dict) and child.get("_type", "span") == "span"
        )
        text = " ".join(text.split())
        if text:
            paragraphs.append(text)
    return paragraphs


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if stamp.tzinfo is None:
        return None
    return stamp.astimezone(NEW_YORK)


def _section_name(form: dict[str, Any], default: str) -> str:
    title = form.get("title")
    if isinstance(title, str) and title.strip():
        return title.strip()
    who = form.get("shortName") or _field(form.get("author"), "name") or "Our reporter"
    return default.format(
        who=who, where=form.get("where") or "", headline=form.get("headline") or ""
    ).strip()


def _image(article: dict[str, Any]) -> Image | None:
    photo = article.get("ledePhoto")
    for _ in range(3):  # the photo fields sit up to a few levels down
        if not isinstance(photo, dict):
            return None
        if any(k in photo for k in ("caption", "attribution", "credit", "rteCredit")):
            break
        photo = next((v for v in photo.values() if isinstance(v, dict)), None)
    if not isinstance(photo, dict):
        return None
    credit = photo.get("attribution") or photo.get("credit") or photo.get("rteCredit")
    caption = photo.get("caption")
    if isinstance(caption, list):
        caption = " ".join(portable_text(caption)) or None
    if not caption and not credit:
        return None
    return Image(caption=caption or None, credit=credit or None)


def story_from_article(article: dict[str, Any], url: str | None) -> Story:
    """Build a Story from the article object a page embeds (API field names)."""
    if article.get("_type") == "newsletter":
        raise NewsletterPage("a newsletter page (a digest of many stories), not a single story")
    title = _field(article.get("headline"), "headline")
    if not isinstance(title, str) or not title.strip():
        raise NotAStory("not a story page: its embedded article has no headline")
    slug = _field(article.get("slug"), "current")
    if not url and isinstance(slug, str) and slug.startswith("/"):
        url = SITE + slug

    news: list[str] = []
    sections: dict[str, list[str]] = {}
    for form in article.get("semaforms") or []:
        if not isinstance(form, dict):
            continue
        key, default = _SEMAFORMS.get(form.get("_type", ""), ("body", ""))
        paragraphs = portable_text(form.get(key) or form.get("body"))
        if not paragraphs:
            continue
        name = _section_name(form, default)
        if form.get("_type") == "scoop" or name.lower() == "the news":
            news.extend(paragraphs)
        elif name:
            sections.setdefault(name, []).extend(paragraphs)
    if not news:
        news = portable_text(_field(article.get("intro"), "body")) or portable_text(
            article.get("description")
        )

    insights: list[Insight] = []
    for item in article.get("signal") or []:
        if not isinstance(item, dict):
            continue
        raw_sources = item.get("source") or []
        if isinstance(raw_sources, str):
            raw_sources = [raw_sources]
        insights.append(
            Insight(
                title=str(item.get("insightTitle") or "").strip(),
                sources=[outlet_label(s) for s in raw_sources if isinstance(s, str) and s.strip()],
                body="\n\n".join(portable_text(item.get("body"))),
            )
        )

    published = _timestamp(article.get("publishedTimestamp")) or _timestamp(
        article.get("_createdAt")
    )
    updated = _timestamp(article.get("updatedTimestamp"))
    if updated is not None and published is not None and updated <= published:
        updated = None
    vertical = _field(article.get("vertical"), "vertical")
    verticals = [vertical_key(vertical)] if isinstance(vertical, str) and vertical else []
    location = _field(article.get("location"), "location")
    region = regions.from_category(location) if isinstance(location, str) and location else None
    if region is None:
        region = (
            "africa" if "africa" in verticals else "middle-east" if "gulf" in verticals else None
        )
    return Story(
        url=url,
        kind="signals" if insights else "article",
        title=" ".join(title.split()),
        published_at=published,
        updated_at=updated,
        region=region,
        verticals=verticals,
        insights_from=merge_outlets([i.sources for i in insights]),
        news=news,
        sections=sections,
        insights=insights,
        image=_image(article),
    )


def block_text(tree: LexborHTMLParser) -> str:
    """The page's text, one line per block element; inline elements stay inside their line."""
    root = tree.body or tree.root
    if root is None:
        return ""
    lines: list[str] = []
    buffer: list[str] = []
    _walk(root, lines, buffer)
    _flush(lines, buffer)
    return "\n".join(lines)


def _flush(lines: list[str], buffer: list[str]) -> None:
    if buffer:
        text = "".join(buffer).replace("\u00a0", "\u00a0 ").strip()
        text = re.sub(r"[ \t\r\n]+", " ", text)
        if text:
            lines.append(text)
        buffer.clear()


def _walk(node: LexborNode, lines: list[str], buffer: list[str]) -> None:
    for child in node.iter(include_text=True):
        tag = child.tag
        if tag == "-text":
            buffer.append(child.text_content or "")
        elif tag in _SKIP_TAGS or tag == "-comment":
            continue
        elif tag == "br":
            _flush(lines, buffer)
        elif tag in _BLOCK_TAGS:
            _flush(lines, buffer)
            _walk(child, lines, buffer)
            _flush(lines, buffer)
        else:
            _walk(child, lines, buffer)
