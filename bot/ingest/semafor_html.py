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
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from selectolax.lexbor import LexborHTMLParser

from bot import regions
from bot.domain import Image, Insight, Story
from bot.ingest.errors import NewsletterPage, NotAStory
from bot.ingest.semafor_text import NEW_YORK, parse_text
from bot.vocabulary import merge_outlets, outlet_label, vertical_key

SITE = "https://www.semafor.com"
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
_INLINE_TAGS = (
    "a", "abbr", "b", "bdi", "bdo", "cite", "code", "data", "dfn", "em", "font", "i", "kbd",
    "mark", "q", "s", "samp", "small", "span", "strong", "sub", "sup", "u", "var", "wbr",
)  # fmt: skip
_SKIP_TAGS = ("script", "style", "noscript", "svg", "template", "head", "iframe")
_SEPARATOR = "\x1e"  # a record separator: never in page text, so it marks node boundaries


def parse_html(html: str, url: str | None = None) -> Story:
    """Parse a Semafor HTML page, preferring the story data it embeds.

    Script elements hold raw text that ends at the first ``</script``, so the data scripts are
    found by scanning the markup; only the ``<head>`` (for the canonical link) goes through the
    HTML parser. When that finds no data (unusual markup, or a page without data) the whole
    page is parsed: its scripts are searched again, then its block text is read.
    """
    article = _article_in_scripts(_scan_scripts(html))
    if article is not None:
        head_end = html.find("</head>")
        head = LexborHTMLParser(html[: head_end + 7] if head_end >= 0 else html)
        page_url = _page_url(head, url)
        return story_from_article(article, page_url)
    tree = LexborHTMLParser(html)
    page_url = _page_url(tree, url)
    if "__NEXT_DATA__" in html or "__next_f" in html:  # data the scan could not reach
        article = _article_in_scripts(
            (f'id="{node.attributes.get("id") or ""}"', node.text(deep=True))
            for node in tree.css("script")
        )
        if article is not None:
            return story_from_article(article, page_url)
    return parse_text(block_text(tree), url=page_url)


def _page_url(tree: LexborHTMLParser, given: str | None) -> str | None:
    """The canonical URL (else the one given); a newsletter's is refused here."""
    page_url = _canonical(tree) or given
    if page_url and "/newsletter/" in urlsplit(page_url).path:
        raise NewsletterPage("a newsletter page (a digest of many stories), not a single story")
    return page_url


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


def _scan_scripts(html: str) -> Iterator[tuple[str, str]]:
    """(start tag, content) of each ``<script>`` element in lower-case markup."""
    at = 0
    while (start := html.find("<script", at)) >= 0:
        tag_end = html.find(">", start)
        end = html.find("</script", tag_end) if tag_end >= 0 else -1
        if end < 0:
            return
        yield html[start : tag_end + 1], html[tag_end + 1 : end]
        at = end + 8


def _article_in_scripts(scripts: Iterable[tuple[str, str]]) -> dict[str, Any] | None:
    """The article object from ``__NEXT_DATA__`` or from React Server Component pushes."""
    pushed: list[str] = []
    for tag, content in scripts:
        if "__NEXT_DATA__" in tag:
            article = _next_data_article(content)
            if article is not None:
                return article
        elif content.lstrip().startswith("self.__next_f.push("):
            chunk = _pushed_string(content)
            if chunk is not None:
                pushed.append(chunk)
    return _rsc_article("".join(pushed)) if pushed else None


def _next_data_article(content: str) -> dict[str, Any] | None:
    try:
        data = json.loads(content)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    article = data.get("props", {}).get("pageProps", {}).get("article")
    return article if isinstance(article, dict) else None


def _pushed_string(content: str) -> str | None:
    """The string in ``self.__next_f.push([1, "..."])``; other pushes carry none."""
    body = content.strip().removeprefix("self.__next_f.push(").rstrip(";").rstrip()
    try:
        pushed = json.loads(body.removesuffix(")"))
    except ValueError:
        return None
    if isinstance(pushed, list) and len(pushed) >= 2 and pushed[0] == 1:
        return pushed[1] if isinstance(pushed[1], str) else None
    return None


def _rsc_article(payload: str) -> dict[str, Any] | None:
    """Rows are ``<hex id>:<JSON>``; the article sits in the row that mentions it."""
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
    """The page's text, one line per block element; inline elements stay inside their line.

    Inline tags are unwrapped and the text nodes they leave merged, so
    ``<div><span>politics</span><span>Europe</span></div>`` reads ``politicsEurope`` as the
    text rendering does; every remaining text node is then a line.
    """
    tree.strip_tags(list(_SKIP_TAGS))
    tree.unwrap_tags(list(_INLINE_TAGS))
    tree.merge_text_nodes()
    root = tree.body or tree.root
    if root is None:
        return ""
    lines = []
    for piece in root.text(separator=_SEPARATOR).split(_SEPARATOR):
        line = " ".join(piece.split())
        if line:
            lines.append(line)
    return "\n".join(lines)
