"""Parse Semafor story pages from their text rendering (what a browser's "copy text" gives).

Real renderings vary a great deal (see the project docs): two orderings of the top block,
stripped captures, ``Updated`` date lines, glued category lines, several "Insights from" forms,
``Source:`` lines with a no-break space and the names on the next line, ``AD`` lines anywhere.
The parser works in three passes: tokenise lines (dropping page furniture), split the top block
from the body, then read sections and the Signals block.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from bot import regions
from bot.domain import Image, Insight, Story
from bot.ingest.errors import NewsletterPage, NotAStory
from bot.vocabulary import VERTICALS, merge_outlets, split_outlets, vertical_key

NEW_YORK = ZoneInfo("America/New_York")

# Page furniture: lines that carry no story text.
_NOISE = frozenset(
    {
        "icon",
        "source icon",
        "arrow down",
        "semafor logo",
        "rotating globe",
        "postemailwhatsapp",
        "postemail",
        "post",
        "email",
        "whatsapp",
        "share",
        "supported by",
        "microsoft logo",
        "ad",
        "events email briefings",
        "intelligence for the new world economy",
        "from semafor flagship",
        "in your inbox, every weekday",
        "sign up",
        "subscribe",
        "semafor",
        "title icon",
    }
)
_BUREAU = re.compile(r"^[•·*\-–]?\s*(?:D\.C\.|DC|BXL|Lagos|Riyadh|Dubai|Beijing|SG)$")
_FOOTER = re.compile(r"^(?:Privacy\s*)?©\s*\d{4}\s+Semafor", re.I)
_MARKER = re.compile(r"^(?:date\s+(\d{4}-\d{2}-\d{2})\s+)?Semafor Signals$")
_SIGNALS_START = re.compile(r"^(?:SIGNALS|Semafor Signals:\s*Global insights\b.*)$")
_SOURCE = re.compile(r"^Sources?\s*:\s*(.*)$")
_INSIGHTS_FROM = re.compile(r"^(?:With\s+)?[Ii]nsights\s+from\s+(.+?)\.?$")
_SECTION_NAMES = frozenset(
    {
        "The News",
        "Know More",
        "Room for Disagreement",
        "Notable",
        "Step Back",
        "The Backstory",
        "Between the Lines",
        "The Scoop",
        "What’s Next",
        "What's Next",
        "Why It Matters",
        "Look Ahead",
    }
)
_SECTION_PATTERN = re.compile(r"^(?:The View From .{2,40}|.{2,40}[’']s? [Vv]iew)$")
_DATE = re.compile(
    r"^(?:(?P<updated>Updated)\s+)?(?P<mon>[A-Z][a-z]{2,8})\.?\s+(?P<day>\d{1,2}),\s*"
    r"(?P<year>\d{4}),?\s+(?P<hour>\d{1,2}):(?P<minute>\d{2})\s*(?P<ampm>[ap])\.?m\.?\s+"
    r"(?P<tz>EST|EDT|ET)$",
    re.I,
)
_URL_DATE = re.compile(r"/(?:article|newsletter)/(\d{2})/(\d{2})/(\d{4})/([^/?#]+)")
_MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
_CREDIT_HINT = re.compile(
    r"/|\bvia\s+\w+|\b(?:REUTERS|Reuters|AP Photo|AFP|Getty Images|EPA|Bloomberg|Shutterstock|"
    r"Xinhua|Anadolu|Photo|Courtesy)\b"
)
_SENTENCE_END = re.compile(r"[.!?][”\"’)]?\s+")
# Newsletter tells: invisible preview filler, the sign-up line, weather lines, spelled dates.
_FILLER = "\u034f"
_NEWSLETTER_LINE = re.compile(
    r"^(?:(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday),\s+[A-Z][a-z]+\s+\d{1,2},"
    r"\s+\d{4}$|(?:sunny|cloudy|partly cloudy|rain|rainy|showers|thunderstorms?|clear|windy|snow|"
    r"foggy|hazy|mostly sunny|mostly cloudy|drizzle)\s+[A-Z])"
)  # a spelled-out date line, or a weather line ("sunny Dakar")


@cache
def _vertical_pattern() -> re.Pattern[str]:
    names = sorted({*VERTICALS, *(n.title() for n in VERTICALS)}, key=len, reverse=True)
    return re.compile("|".join(re.escape(n) for n in names))


@cache
def _category_patterns() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    names = sorted({*VERTICALS, *(n.title() for n in VERTICALS)}, key=len, reverse=True)
    vert = "|".join(re.escape(n) for n in names)
    lower = "|".join(re.escape(n) for n in sorted(VERTICALS, key=len, reverse=True))
    reg = "|".join(re.escape(n) for n in regions.category_names())
    return (
        re.compile(rf"^(?P<v>(?:{vert})*)(?P<r>{reg})$"),
        # Without a region only lower-case verticals count: a lone "Politics" is a menu item.
        re.compile(rf"^(?P<v>(?:{lower})+)$"),
        re.compile(rf"^(?P<v>[a-z][a-z ]*?)(?P<r>{reg})$"),
    )


@dataclass(slots=True)
class _Token:
    kind: str  # text | section | marker | signals | source
    text: str
    value: str = ""


@dataclass
class _Top:
    headline: str | None = None
    marker: bool = False
    marker_date: str | None = None
    date: re.Match[str] | None = None
    category: tuple[list[str], str | None] | None = None
    insights_from: list[str] = field(default_factory=list)
    candidates: list[tuple[int, str]] = field(default_factory=list)


def parse_text(text: str, url: str | None = None) -> Story:
    """Parse one page's text rendering into a :class:`Story`.

    Raises :class:`NewsletterPage` for newsletters and :class:`NotAStory` for text with no story
    structure. A capture cut off part-way parses what it has.
    """
    if url and "/newsletter/" in urlsplit(url).path:
        raise NewsletterPage("a newsletter page (a digest of many stories), not a single story")
    lines = [line.strip() for line in text.splitlines()]
    if _is_newsletter(text, lines):
        raise NewsletterPage("a newsletter page (a digest of many stories), not a single story")
    tokens = _tokenise(lines)
    body_start = next(
        (i for i, t in enumerate(tokens) if t.kind in ("section", "signals", "source")), len(tokens)
    )
    top = _read_top(tokens[:body_start])
    news, sections, insight_tokens = _read_body(tokens[body_start:])
    lede, image = _read_photo_and_lede(top)
    # A category line or a photo alone is not enough: plenty of pages that are not stories
    # print a region name or a credit somewhere.
    has_structure = bool(top.marker or top.date or sections or news or insight_tokens)
    if not news and lede:
        news = lede
    if not has_structure:
        raise NotAStory("not a story page: no date line, no 'The News' section and no Signals")
    title = top.headline or _title_from_url(url)
    if not title:
        raise NotAStory(
            "not a story page: it has no headline (a stripped capture needs --url to name it)"
        )

    insights = _read_insights(insight_tokens)
    published, updated = _dates(top, url)
    verticals, region = top.category or ([], None)
    if region is None:
        region = (
            "africa" if "africa" in verticals else "middle-east" if "gulf" in verticals else None
        )
    insights_from = top.insights_from or merge_outlets([i.sources for i in insights])
    is_signals = top.marker or bool(insights) or bool(top.insights_from)
    return Story(
        url=url,
        kind="signals" if is_signals else "article",
        title=title,
        published_at=published,
        updated_at=updated,
        region=region,
        verticals=verticals,
        insights_from=insights_from,
        news=news,
        sections=sections,
        insights=insights,
        image=image,
    )


def _is_newsletter(text: str, lines: list[str]) -> bool:
    """Newsletter tells: preview filler, the sign-up line, bare story numbers, weather and
    spelled-out date lines. Two of them (or plenty of filler) make a newsletter."""
    filler = text.count(_FILLER)
    if filler >= 10:
        return True
    score = int(filler > 0) + ("Sign up for our free newsletters" in text)
    score += sum(1 for line in lines if len(line) <= 2 and line.isdigit()) >= 2
    if score == 0:  # the line checks below can add one point at most
        return False
    return score >= 2 or any(
        _NEWSLETTER_LINE.match(line) for line in lines[:80] if line and len(line) <= 60
    )


def _is_section_name(line: str) -> bool:
    if line in _SECTION_NAMES:
        return True
    return line.endswith(("view", "View")) and _SECTION_PATTERN.match(line) is not None


def _tokenise(lines: list[str]) -> list[_Token]:
    """Classify lines; most are paragraphs, so each check runs only where it could match."""
    tokens: list[_Token] = []
    expect_section_name = False
    for line in lines:
        if not line:
            continue
        short = len(line) <= 60
        if short:
            low = line.lower()
            if low == "title icon":
                expect_section_name = True
                continue
            if low in _NOISE or (len(line) <= 12 and _BUREAU.match(line)):
                continue
        if "©" in line and _FOOTER.match(line):
            continue
        if expect_section_name:
            expect_section_name = False
            tokens.append(_Token("section", line))
        elif line[0] == "S" and _SIGNALS_START.match(line):
            tokens.append(_Token("signals", line))
        elif line.endswith("Semafor Signals") and (marker := _MARKER.match(line)):
            tokens.append(_Token("marker", line, marker.group(1) or ""))
        elif line[0] == "S" and (source := _SOURCE.match(line)):
            tokens.append(_Token("source", line, source.group(1).strip()))
        elif short and _is_section_name(line):
            tokens.append(_Token("section", line))
        else:
            tokens.append(_Token("text", line))
    return tokens


def _match_category(line: str) -> tuple[list[str], str | None] | None:
    if len(line) > 60 or not line.replace(" ", "").isalpha():
        return None
    with_region, verticals_only, loose = _category_patterns()
    for pattern in (with_region, verticals_only, loose):
        match = pattern.match(line)
        if match:
            region_name = match.groupdict().get("r")
            verticals = _split_verticals(match.group("v"))
            return verticals, regions.from_category(region_name) if region_name else None
    return None


def _split_verticals(glued: str) -> list[str]:
    if not glued:
        return []
    found = _vertical_pattern().findall(glued)
    if "".join(found) != glued:  # an unknown vertical: keep the whole prefix as one
        found = [glued]
    out: list[str] = []
    for name in found:
        key = vertical_key(name)
        if key not in out:
            out.append(key)
    return out


def _read_top(tokens: list[_Token]) -> _Top:
    top = _Top()
    texts: list[tuple[int, str]] = []
    marker_index: int | None = None
    for index, token in enumerate(tokens):
        if token.kind == "marker":
            top.marker = True
            top.marker_date = token.value or top.marker_date
            marker_index = index
        elif token.kind == "text":
            line = token.text
            if top.date is None and line[-1] in "Tt" and (date := _DATE.match(line)):
                top.date = date
            elif (
                not top.insights_from
                and "nsights from" in line
                and (source := _INSIGHTS_FROM.match(line))
            ):
                top.insights_from = split_outlets(source.group(1))
            elif top.category is None and (category := _match_category(line)) is not None:
                top.category = category
            else:
                texts.append((index, line))
    # A line printed twice in the top block is an author byline or page chrome, not the story.
    counts: dict[str, int] = {}
    for _, line in texts:
        counts[line] = counts.get(line, 0) + 1
    texts = [(i, line) for i, line in texts if counts[line] == 1]
    if marker_index is not None:
        after = [(i, line) for i, line in texts if i > marker_index]
        if after:
            top.headline = after[0][1]
            texts = [(i, line) for i, line in texts if i != after[0][0]]
    elif texts:
        top.headline = texts[0][1]
        texts = texts[1:]
    top.candidates = texts
    return top


def _looks_like_credit(line: str) -> bool:
    return len(line) <= 120 and bool(_CREDIT_HINT.search(line)) and not line.endswith(".")


def _split_caption_credit(line: str) -> tuple[str, str] | None:
    """'Caption text. REUTERS/Name' -> ('Caption text.', 'REUTERS/Name')."""
    for match in reversed(list(_SENTENCE_END.finditer(line))):
        tail = line[match.end() :].strip()
        if tail and _looks_like_credit(tail) and not _SENTENCE_END.search(tail):
            return line[: match.end()].strip(), tail
    return None


def _read_photo_and_lede(top: _Top) -> tuple[list[str], Image | None]:
    """Caption and credit from the lines left in the top block; lines after the credit are lede."""
    lines = [line for _, line in top.candidates]
    for i, line in enumerate(lines):
        split = _split_caption_credit(line)
        if split is not None:  # caption and credit on one line, maybe the credit again below
            rest = lines[i + 1 :]
            if rest and rest[0] == split[1]:
                rest = rest[1:]
            return rest, Image(caption=split[0], credit=split[1])
        if _looks_like_credit(line):
            caption = lines[i - 1] if i >= 1 else None
            return lines[i + 1 :], Image(caption=caption, credit=line)
    return [], None


def _read_body(
    tokens: list[_Token],
) -> tuple[list[str], dict[str, list[str]], list[_Token]]:
    news: list[str] = []
    sections: dict[str, list[str]] = {}
    insight_tokens: list[_Token] = []
    current: list[str] | None = None
    in_signals = False
    for token in tokens:
        if token.kind == "section":
            in_signals = False
            if token.text.lower() == "the news":
                current = news
            else:
                current = sections.setdefault(token.text, [])
        elif token.kind == "signals":
            in_signals = True
        elif token.kind == "source" and not in_signals:
            # Signals items without the SIGNALS line (copies on other sites): the item headline
            # was read as a paragraph of the section before.
            in_signals = True
            if current:
                insight_tokens.append(_Token("text", current.pop()))
            insight_tokens.append(token)
        elif in_signals:
            insight_tokens.append(token)
        elif token.kind == "text" and current is not None:
            current.append(token.text)
        elif token.kind == "text":
            news.append(token.text)
    return news, {name: paras for name, paras in sections.items() if paras}, insight_tokens


def _is_headline_like(line: str) -> bool:
    return len(line) <= 160 and not re.search(r"[.!:;”\"’)]$", line)


def _read_insights(tokens: list[_Token]) -> list[Insight]:
    tokens = [t for t in tokens if t.kind in ("text", "source")]
    source_at = [i for i, t in enumerate(tokens) if t.kind == "source"]
    if not source_at:
        return _read_sourceless([t.text for t in tokens])
    insights: list[Insight] = []
    first_headline = source_at[0] - 1 if source_at[0] >= 1 else 0
    insights.extend(_read_sourceless([t.text for t in tokens[:first_headline]]))
    for n, at in enumerate(source_at):
        title = tokens[at - 1].text if at >= 1 and tokens[at - 1].kind == "text" else ""
        names = tokens[at].value
        body_from = at + 1
        if not names and body_from < len(tokens) and tokens[body_from].kind == "text":
            names = tokens[body_from].text
            body_from += 1
        end = source_at[n + 1] - 1 if n + 1 < len(source_at) else len(tokens)
        body = [t.text for t in tokens[body_from : max(end, body_from)] if t.kind == "text"]
        insights.append(Insight(title=title, sources=split_outlets(names), body="\n\n".join(body)))
    return insights


def _read_sourceless(lines: list[str]) -> list[Insight]:
    """Items without sources: headline/paragraph pairs, or bare paragraphs (2023 pages)."""
    insights: list[Insight] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else None
        if nxt is not None and _is_headline_like(line) and not _is_headline_like(nxt):
            insights.append(Insight(title=line, body=nxt))
            i += 2
        else:
            insights.append(Insight(title="", body=line))
            i += 1
    return insights


def _url_date(url: str | None) -> datetime | None:
    if not url:
        return None
    match = _URL_DATE.search(urlsplit(url).path)
    if not match:
        return None
    month, day, year = (int(x) for x in match.group(1, 2, 3))
    try:
        return datetime(year, month, day, tzinfo=NEW_YORK)
    except ValueError:
        return None


def _title_from_url(url: str | None) -> str | None:
    if not url:
        return None
    match = _URL_DATE.search(urlsplit(url).path)
    slug = match.group(4) if match else urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
    words = re.sub(r"[-_]+", " ", slug).strip()
    return words[:1].upper() + words[1:] if words else None


def _page_datetime(match: re.Match[str]) -> datetime | None:
    month = _MONTHS.get(match.group("mon")[:3].lower())
    if month is None:
        return None
    hour = int(match.group("hour")) % 12 + (12 if match.group("ampm").lower() == "p" else 0)
    try:
        return datetime(
            int(match.group("year")),
            month,
            int(match.group("day")),
            hour,
            int(match.group("minute")),
            tzinfo=NEW_YORK,
        )
    except ValueError:
        return None


def _dates(top: _Top, url: str | None) -> tuple[datetime | None, datetime | None]:
    if top.date is not None:
        stamp = _page_datetime(top.date)
        if top.date.group("updated"):
            return _url_date(url) or stamp, stamp
        if stamp is not None:
            return stamp, None
    if top.marker_date:
        year, month, day = (int(x) for x in top.marker_date.split("-"))
        return datetime(year, month, day, tzinfo=NEW_YORK), None
    return _url_date(url), None
