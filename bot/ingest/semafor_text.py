"""Parse Semafor story pages from their text rendering (what a browser's "copy text" gives).

Real renderings vary a great deal (see the project docs): two orderings of the top block,
stripped captures, ``Updated`` date lines, glued category lines, several "Insights from" forms,
``Source:`` lines with a no-break space and the names on the next line, ``AD`` lines anywhere.
The parser works in three passes: tokenise lines (dropping page furniture), split the top block
from the body, then read sections and the Signals block.

Three shapes need more than that:

- Stripped crawler copies: `` date YYYY-MM-DD `` glued to the first paragraph, then paragraphs
  and nothing else. The paragraphs are the news; the headline comes from the URL's slug
  (:func:`headline_from_slug`), so without a URL the page is refused. A Semafor URL names
  neither kind nor region: such a copy is an ``article`` with no region.
- Copies on other sites (aggregators): their own headline is the first line, furniture lines
  are doubled, widget lines (``Oops! Something went wrong.``) sit near the top; the URL's slug
  there is an id, never a headline.
- The 2025–26 layout: header furniture in any order (recognised by pattern, :func:`_is_furniture`),
  then the headline, the byline (a name, often printed twice, and ``<Title>, Semafor``), the
  date line and a category line with Title-case verticals.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from itertools import pairwise
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

from bot import regions
from bot.domain import Image, Insight, Story, is_semafor_host
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
# Furniture recognised by its form, wherever it appears (the 2025–26 header comes in any order,
# aggregator copies add widgets): "Flagship newsletter icon", "Semafor World Economy",
# "From Semafor Flagship", "In your inbox, Every Weekday", nav lines, widget lines.
_FURNITURE = re.compile(
    r"^(?:(?:[A-Za-z]+\s+){0,2}[Ii]con"
    r"|(?:From\s+)?Semafor(?:\s+(?!Signals$)[A-Z][\w’'&.-]*){0,4}"
    r"|[Ii]n your inbox\b.*"
    r"|(?:(?:Events|Email|Briefings|Newsletters?|Podcasts?|Videos?|Search|Menu|Subscribe|"
    r"Sign (?:[Uu]p|[Ii]n)|Log [Ii]n)\s*){2,}"
    r"|Oops\b.*|Something went wrong\b.*|Please try again later\.?"
    r"|\d{1,2} min read|Privacy(?: Policy)?"
    r")$"
)
# How every line _FURNITURE matches begins (in lower case), but those ending in "icon" and
# "3 min read": the prefixes of its alternatives, so a cheap test spares the regex on most
# short lines.
_FURNITURE_STARTS = (
    *("semafor", "from", "in your inbox", "oops", "something went wrong", "please try"),
    *("privacy", "events", "email", "briefings", "newsletter", "podcast", "video", "search"),
    *("menu", "subscribe", "sign ", "log "),
)
_TAGLINE = re.compile(r"^(?:[A-Z][a-z]+){3,}$")  # "IntelligentTransparentGlobal"
# A byline's job title: "Business Reporter, Semafor", "Senior Africa Editor, Semafor Africa".
_BYLINE_TITLE = re.compile(r"^[A-Z][^,.!?;:]{1,50},\s*Semafor(?:\s+[A-Z][\w&’'-]*){0,3}$")
# Lower-case words a byline name may contain ("Omar bin Saleh", "Ana de la Cruz and Li Wei").
_NAME_PARTICLE = re.compile(r"^(?:and|de|da|do|dos|van|von|der|den|bin|ibn|al|el|la|le|du|di|y)$")
# A crawler's date prefix glued to a line: " date 2026-01-06 Events Email Briefings".
_DATE_PREFIX = re.compile(r"^date\s+(\d{4}-\d{2}-\d{2})\b\s*(.*)$")
_BUREAU = re.compile(r"^[•·*\-–]?\s*(?:D\.C\.|DC|BXL|Lagos|Riyadh|Dubai|Beijing|SG)$")
_FOOTER = re.compile(r"^(?:Privacy\s*)?©\s*\d{4}\s+Semafor", re.I)
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
    kind: str  # text | section | marker | signals | source | day | byline
    text: str
    value: str = ""


@dataclass
class _Top:
    headline: str | None = None
    marker: bool = False
    day: str | None = None  # from a crawler's " date YYYY-MM-DD" prefix
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
    top = _read_top(tokens[:body_start], copy_elsewhere=_is_copy_elsewhere(url))
    news, sections, insight_tokens = _read_body(tokens[body_start:])
    lede, image = _read_photo_and_lede(top)
    # A category line or a photo alone is not enough: plenty of pages that are not stories
    # print a region name or a credit somewhere.
    has_structure = bool(top.marker or top.date or sections or news or insight_tokens)
    if not news and lede:
        news = lede
    if not has_structure:
        raise NotAStory("not a story page: no date line, no 'The News' section and no Signals")
    title = top.headline or _title_from_url(url, tokens)
    if not title:
        if not url:
            raise NotAStory(
                "a stripped copy with no headline: give its URL (--url) to name it from the slug"
            )
        raise NotAStory(
            "a stripped copy with no headline, and its URL has no slug that could name it"
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


def _is_furniture(line: str, low: str) -> bool:
    """Page chrome recognised by its form, for lines of 60 characters or fewer (``low`` is the
    line in lower case). Cheap string tests come first: most short lines are not chrome."""
    if low.startswith(_FURNITURE_STARTS) or low.endswith("icon") or low[0].isdigit():
        return _FURNITURE.match(line) is not None
    # A glued tagline, unless it is a category line of glued Title-case verticals.
    return (
        line.isalpha()
        and line[0].isupper()
        and _TAGLINE.match(line) is not None
        and _match_category(line) is None
    )


def _is_paragraph(line: str) -> bool:
    """A sentence or more of prose (not a headline, a name or furniture)."""
    return not _is_headline_like(line) and line.count(" ") >= 2


def _tokenise(lines: list[str]) -> list[_Token]:
    """Classify lines; most are paragraphs, so each check runs only where it could match."""
    tokens: list[_Token] = []
    expect_section_name = False
    # After a crawler's date prefix, a paragraph (glued to it, or the next line when the prefix
    # stands alone) is where a stripped copy's news begins.
    after_day = False
    for line in lines:
        if not line:
            continue
        first = line[0]
        if first == "d" and (prefix := _DATE_PREFIX.match(line)):
            tokens.append(_Token("day", prefix.group(1), prefix.group(1)))
            line = prefix.group(2).strip()
            after_day = True
            if not line:
                continue
            first = line[0]
            if not _is_paragraph(line):  # glued to furniture, a marker or a headline
                after_day = False
        short = len(line) <= 60
        low = ""
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
            if short and _is_furniture(line, low):
                continue
            expect_section_name = False
            if first == "S" and _SIGNALS_START.match(line):  # a stray "Title icon" before it
                tokens.append(_Token("signals", line))
            else:  # a section name is short; prose here is a paragraph
                tokens.append(_Token("section" if short else "text", line))
        elif first == "S" and _SIGNALS_START.match(line):
            tokens.append(_Token("signals", line))
        elif line == "Semafor Signals":
            tokens.append(_Token("marker", line))
        elif first == "S" and (source := _SOURCE.match(line)):
            tokens.append(_Token("source", line, source.group(1).strip()))
        elif short and _is_section_name(line):
            tokens.append(_Token("section", line))
        elif short and _is_furniture(line, low):
            continue
        elif short and "Semafor" in line and _BYLINE_TITLE.match(line):
            tokens.append(_Token("byline", line))
        else:
            if after_day and _is_paragraph(line):
                tokens.append(_Token("section", "The News"))
            tokens.append(_Token("text", line))
        after_day = False
    return tokens


def _match_category(line: str, *, after_date: bool = False) -> tuple[list[str], str | None] | None:
    """A category line: verticals glued to a region. Title-case verticals alone count when two
    or more are glued (``BusinessTechnology``) or when the line follows the date line; a lone
    ``Politics`` elsewhere is a menu item."""
    if len(line) > 60 or not line.replace(" ", "").isalpha():
        return None
    with_region, verticals_only, loose = _category_patterns()
    for pattern in (with_region, verticals_only, loose):
        match = pattern.match(line)
        if match:
            region_name = match.groupdict().get("r")
            verticals = _split_verticals(match.group("v"))
            return verticals, regions.from_category(region_name) if region_name else None
    if after_date or " " not in line:
        found = _vertical_pattern().findall(line)
        if found and "".join(found) == line and (len(found) >= 2 or after_date):
            return _split_verticals(line), None
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


def _read_top(tokens: list[_Token], *, copy_elsewhere: bool = False) -> _Top:
    top = _Top()
    texts: list[tuple[int, str]] = []
    marker_index: int | None = None
    date_index: int | None = None
    byline_titles: list[int] = []
    for index, token in enumerate(tokens):
        if token.kind == "marker":
            top.marker = True
            marker_index = index
        elif token.kind == "day":
            top.day = top.day or token.value
        elif token.kind == "byline":
            byline_titles.append(index)
        elif token.kind == "text":
            line = token.text
            if top.date is None and line[-1] in "Tt" and (date := _DATE.match(line)):
                top.date = date
                date_index = index
            elif (
                not top.insights_from
                and "nsights from" in line
                and (source := _INSIGHTS_FROM.match(line))
            ):
                top.insights_from = split_outlets(source.group(1))
            elif (
                top.category is None
                and (category := _match_category(line, after_date=date_index == index - 1))
                is not None
            ):
                top.category = category
            else:
                texts.append((index, line))
    texts, byline_at = _drop_bylines(texts, byline_titles)
    headline = _choose_headline(texts, marker_index, (byline_at, date_index), copy_elsewhere)
    if headline is not None:
        top.headline = headline
        texts = [(i, line) for i, line in texts if line != headline]
    top.candidates = texts
    return top


def _is_name(line: str) -> bool:
    """A byline name: two to eight capitalised words ("Nadia Haddad and Omar Farouk")."""
    words = line.split()
    if not 2 <= len(words) <= 8 or len(line) > 60 or any(c.isdigit() for c in line):
        return False
    return all(w[0].isupper() or _NAME_PARTICLE.match(w) for w in words) and words[-1][0].isupper()


def _drop_bylines(
    texts: list[tuple[int, str]], byline_titles: list[int]
) -> tuple[list[tuple[int, str]], int | None]:
    """Remove author lines (a name printed twice in a row, a name before ``<Title>, Semafor``)
    and collapse any other line printed twice in a row. Returns the rest and where the byline
    starts."""
    byline: set[int] = set()
    doubled: set[int] = set()
    if not byline_titles and len({line for _, line in texts}) == len(texts):
        return texts, None  # nothing printed twice, no job title: no byline
    for (i, a), (j, b) in pairwise(texts):
        if a == b and j == i + 1:
            if _is_name(a):
                byline.update((i, j))
            else:
                doubled.add(j)
    by_index = dict(texts)
    for at in byline_titles:
        if at - 1 in by_index and _is_name(by_index[at - 1]):
            byline.add(at - 1)
    starts = [*byline, *byline_titles]
    rest = [(i, line) for i, line in texts if i not in byline and i not in doubled]
    return rest, min(starts) if starts else None


def _could_be_headline(line: str) -> bool:
    """Not prose, and not a photo caption with its credit ("… May 2, 2025. REUTERS/Name")."""
    return _is_headline_like(line) and _split_caption_credit(line) is None


def _choose_headline(
    texts: list[tuple[int, str]],
    marker_index: int | None,
    anchors: tuple[int | None, ...],
    copy_elsewhere: bool,
) -> str | None:
    """The headline among the top block's remaining lines.

    - A copy on another site: its own first line (the first that could be a headline).
    - A Signals page: the first line after the ``Semafor Signals`` marker, unless that is a
      photo caption and a headline-like line comes before the marker (an aggregator's title).
    - Otherwise the nearest headline-like line above the byline, else above the date line (a
      name printed once just above the date is a byline too), else the first line.
    """
    if not texts:
        return None
    if copy_elsewhere:  # its first headline of three words or more ("Advertisement" is not one)
        headlines = (line for _, line in texts if _is_headline_like(line) and line.count(" ") >= 2)
        return next(headlines, texts[0][1])
    if marker_index is not None:
        after = [line for i, line in texts if i > marker_index]
        before = [line for i, line in texts if i < marker_index and _is_headline_like(line)]
        if after and (not before or _could_be_headline(after[0])):
            return after[0]
        return before[0] if before else None
    for anchor in anchors:
        if anchor is None:
            continue
        above = [line for i, line in texts if i < anchor and _is_headline_like(line)]
        while len(above) > 1 and _is_name(above[-1]):
            above.pop()
        if above:
            return above[-1]
    return texts[0][1]


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


def _is_copy_elsewhere(url: str | None) -> bool:
    """A copy on another site (an aggregator), not Semafor's page or an archive of it."""
    if not url:
        return False
    return not is_semafor_host(url) and not _URL_DATE.search(urlsplit(url).path)


def _slug(url: str) -> list[str] | None:
    """The words of a URL's slug, or None when it has no slug that could be a headline.

    A Semafor article's slug (``/article/MM/DD/YYYY/<slug>``) always counts. Elsewhere the last
    part of the path counts only if it is two words or more with no file extension and no
    trailing id: aggregators' ``<words>-<digits>.html`` is never a headline.
    """
    path = unquote(urlsplit(url).path)
    match = _URL_DATE.search(path)
    if match:
        slug, least = match.group(4), 1
    else:
        slug, least = path.rstrip("/").rsplit("/", 1)[-1], 2
        if re.search(r"\.[A-Za-z0-9]{2,5}$|\d{5,}$", slug):
            return None
    words = [w for w in re.split(r"[-_\s]+", slug) if w]
    return words if sum(1 for w in words if w.isalpha()) >= least else None


def _title_from_url(url: str | None, tokens: list[_Token]) -> str | None:
    if not url:
        return None
    words = _slug(url)
    if words is None:
        return None
    return headline_from_slug(words, [t.text for t in tokens if t.kind == "text"])


# Words as printed: dotted acronyms ("U.S."), words with apostrophes and hyphens ("Kenya’s",
# "pro-Russian").
_WORD = re.compile(r"(?:[A-Za-z]\.){2,}|[^\W_]+(?:[’'\-][^\W_]+)*")
_OPENERS = " \t“\"‘'([«"


def _fold(word: str) -> str:
    """The slug spelling of a word: no accents, apostrophes or dots, lower case."""
    plain = unicodedata.normalize("NFKD", word)
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    return re.sub(r"[’'.]", "", plain).lower()


def _starts_sentence(text: str, at: int) -> bool:
    """Whether the word at ``text[at]`` begins a sentence (or the line)."""
    at -= 1
    while at >= 0 and text[at] in _OPENERS:
        at -= 1
    return at < 0 or text[at] in ".!?:…"


def _printed_forms(
    paragraphs: list[str],
) -> tuple[dict[str, Counter[str]], dict[str, Counter[str]]]:
    """How each word (and hyphenated compound) is printed, by its slug spelling: where its case
    tells (lower case anywhere, capitals mid-sentence or inside the word: "NATO"), and apart
    from that, capitalised at the start of a sentence (a name seen only there)."""
    telling: dict[str, Counter[str]] = {}
    initial: dict[str, Counter[str]] = {}
    for paragraph in paragraphs:
        for match in _WORD.finditer(paragraph):
            word = match.group()
            at_start = _starts_sentence(paragraph, match.start())
            parts = word.split("-")
            pieces = [word, *parts] if len(parts) > 1 else [word]
            for n, piece in enumerate(pieces):
                if not piece:
                    continue
                tells = (
                    piece.islower()
                    or not (at_start and n <= 1)
                    or any(c.isupper() for c in piece[1:])
                    or not piece[0].isalpha()
                )
                into = telling if tells else initial
                spellings = [piece]
                if piece.endswith(("’s", "'s")):  # "Kenya’s" also shows how "Kenya" is printed
                    spellings.append(piece[:-2])
                for spelling in spellings:
                    into.setdefault(_fold(spelling), Counter())[spelling] += 1
    return telling, initial


def headline_from_slug(words: list[str], paragraphs: list[str]) -> str | None:
    """A slug's words written as a headline: sentence case, with each word printed the way the
    page prints it (names and acronyms keep their capitals, accents and apostrophes come back,
    compounds keep their hyphen): ``quake-strikes-off-sulawesi`` -> "Quake strikes off Sulawesi".

    The page's mid-sentence spelling of a word wins (the most frequent one); a word the page
    capitalises only at the start of sentences keeps its capital; a word the page does not
    print stays lower case.
    """
    words = [w for w in words if w]
    if not words:
        return None
    telling, initial = _printed_forms(paragraphs)
    out: list[str] = []
    i = 0
    while i < len(words):
        for size in (3, 2, 1):
            key = "-".join(_fold(w) for w in words[i : i + size])
            seen = telling.get(key) or initial.get(key)
            if size > 1 and (i + size > len(words) or not seen):
                continue
            out.append(seen.most_common(1)[0][0] if seen else words[i].lower())
            i += size
            break
    first = out[0]
    out[0] = first[:1].upper() + first[1:]
    return " ".join(out)


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
    day = _prefix_day(top.day)
    if top.date is not None:
        stamp = _page_datetime(top.date)
        if top.date.group("updated"):
            # First publication survives in the URL, or in a date prefix older than the update.
            earlier = (
                day if day is not None and stamp is not None and day.date() < stamp.date() else None
            )
            return _url_date(url) or earlier or stamp, stamp
        if stamp is not None:
            return stamp, None
    from_url = _url_date(url)
    if day is not None:
        # The URL keeps the day of first publication; a later prefix is a capture or an update.
        return (min(day, from_url) if from_url else day), None
    return from_url, None


def _prefix_day(day: str | None) -> datetime | None:
    if not day:
        return None
    try:
        return datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=NEW_YORK)
    except ValueError:
        return None
