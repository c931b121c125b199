"""The page shapes of issue 13: stripped crawler copies, copies on aggregator sites and the
2025–26 article layout.

The fixture pages (``tests/fixtures/pages/2?_*``) pin each shape as captured, with its URL. These
tests cover what the fixtures alone do not: each shape without a URL, the same pages with their
lines in other orders (furniture moved, doubled or missing), and how a slug becomes a headline.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from bot.domain import Story
from bot.ingest.errors import NotAStory
from bot.ingest.semafor_text import _is_furniture, headline_from_slug, parse_text
from bot.ingest.sources import read_source
from tests.conftest import FIXTURES
from tests.ingest.expectations import load, mismatches

PAGES = FIXTURES / "pages"
STRIPPED = sorted(PAGES.glob("*_stripped_copy_*.txt"))
AGGREGATOR = sorted(PAGES.glob("*_aggregator_copy_*.txt"))
LAYOUT_2026 = sorted(PAGES.glob("*_article_2026_*.txt"))
NBSP = "\u00a0"


def expected_for(page: Path) -> dict[str, Any]:
    return load(page.with_name(page.name.removesuffix(".txt") + ".expected.json"))


def lines_of(page: Path) -> list[str]:
    return page.read_text(encoding="utf-8").split("\n")


def parse_lines(lines: list[str], url: str | None = None) -> Story:
    return parse_text("\n".join(lines), url=url)


def test_each_shape_has_several_fixture_variants() -> None:
    assert len(STRIPPED) >= 3
    assert len(AGGREGATOR) >= 3
    assert len(LAYOUT_2026) >= 3


# Stripped crawler copies ------------------------------------------------------------------


@pytest.mark.parametrize("page", STRIPPED, ids=lambda p: p.stem)
def test_stripped_copy_without_url_is_refused_naming_the_url(page: Path) -> None:
    with pytest.raises(NotAStory) as caught:
        parse_text(page.read_text(encoding="utf-8"))
    assert "--url" in str(caught.value)
    assert "no headline" in str(caught.value)


@pytest.mark.parametrize("page", STRIPPED, ids=lambda p: p.stem)
def test_stripped_copy_with_an_aggregator_url_is_refused(page: Path) -> None:
    """An aggregator's ``<words>-<digits>.html`` is an id, never a headline."""
    with pytest.raises(NotAStory, match="no slug"):
        parse_text(
            page.read_text(encoding="utf-8"),
            url="https://www.yahoo.com/news/miners-end-strike-at-smelter-182736455.html",
        )


def test_stripped_copy_in_other_orders() -> None:
    page = PAGES / "20_stripped_copy_slug_with_names.txt"
    want = expected_for(page)
    url = want["_url"]
    text = page.read_text(encoding="utf-8")
    paragraphs = text.removeprefix(" date 2025-03-11 ").strip().split("\n\n")
    variants = {
        "prefix on a line of its own": [" date 2025-03-11 ", "", *paragraphs],
        "AD lines between": [
            f" date 2025-03-11 {paragraphs[0]}",
            "AD",
            paragraphs[1],
            "AD",
            *paragraphs[2:],
        ],
        "paragraphs reordered": [f" date 2025-03-11 {paragraphs[3]}", *paragraphs[:3]],
    }
    for name, lines in variants.items():
        story = parse_lines(lines, url=url)
        assert story.title == want["title"], name
        assert story.published_at is not None, name
        assert story.published_at.isoformat() == want["published_at"], name
        assert sorted(story.news) == sorted(paragraphs), name
        assert story.kind == "article" and story.region is None, name


def test_stripped_copy_takes_the_earlier_of_prefix_and_url_dates() -> None:
    text = " date 2025-06-04 A board vote was held on Monday, and the result was announced.\n"
    story = parse_text(text, url="https://www.semafor.com/article/06/02/2025/port-board-vote")
    assert story.published_at is not None
    assert story.published_at.date().isoformat() == "2025-06-02"
    story = parse_text(text, url="https://www.semafor.com/article/06/09/2025/port-board-vote")
    assert story.published_at is not None
    assert story.published_at.date().isoformat() == "2025-06-04"


def test_stripped_copy_with_a_short_first_paragraph() -> None:
    story = parse_text(
        " date 2025-03-11 Officials confirmed it.\n\nThe walkout had cut output by a fifth.\n",
        url="https://www.semafor.com/article/03/11/2025/copper-miners-end-strike",
    )
    assert story.title == "Copper miners end strike"
    assert story.news == ["Officials confirmed it.", "The walkout had cut output by a fifth."]


def test_a_headline_above_the_prefix_needs_no_url() -> None:
    story = parse_text(
        "Harbour pilots end their strike\n"
        " date 2025-07-09 Pilots guiding ships into the port went back to work on Monday night.\n"
    )
    assert story.title == "Harbour pilots end their strike"
    assert story.news == ["Pilots guiding ships into the port went back to work on Monday night."]


async def test_ingest_url_option_and_file_reach_the_parser(tmp_path: Path) -> None:
    """``--url`` with a page file: read_source passes it to the parser."""
    source = PAGES / "21_stripped_copy_acronym_possessive_ad.txt"
    page = tmp_path / "copy.txt"
    page.write_bytes(source.read_bytes())
    url = expected_for(source)["_url"]
    (parsed,) = [p async for p in read_source(str(page), None, url=url)]
    assert parsed.story is not None
    assert parsed.story.title == "IMF approves loan for Lesotho’s water project"
    (refused,) = [p async for p in read_source(str(page), None)]
    assert refused.story is None and "--url" in (refused.error or "")


# Aggregator copies ------------------------------------------------------------------------


@pytest.mark.parametrize("page", AGGREGATOR + LAYOUT_2026, ids=lambda p: p.stem)
def test_aggregator_and_2026_pages_parse_the_same_without_url(page: Path) -> None:
    want = {k: v for k, v in expected_for(page).items() if k != "url"}
    story = parse_text(page.read_text(encoding="utf-8"))
    assert mismatches(story, want) == []


def test_aggregator_copy_keeps_its_own_url_and_never_names_from_its_slug() -> None:
    page = PAGES / "26_aggregator_copy_headline_only_on_top.txt"
    url = "https://www.yahoo.com/news/estonian-fund-back-drone-makers-101530442.html"
    story = parse_text(page.read_text(encoding="utf-8"), url=url)
    assert story.url == url
    assert story.title == "Estonian fund to back drone makers with seized assets"


def test_aggregator_copy_in_other_orders() -> None:
    page = PAGES / "24_aggregator_copy_doubled_furniture.txt"
    want = expected_for(page)
    headline = want["title"]
    lines = lines_of(page)
    widget = "Oops! Something went wrong."

    moved = [line for line in lines if line != widget]
    moved.insert(moved.index("The News") + 3, widget)  # the widget inside the news
    doubled = [
        copy
        for line in lines
        for copy in (
            [line, line] if line in ("Semafor Signals", widget, "PostEmailWhatsapp") else [line]
        )
    ]
    only_on_top = [line for line in lines if line != headline]
    only_on_top.insert(0, headline)  # the aggregator's title, Semafor's own headline dropped
    no_marker = [line for line in lines if not line.startswith("Semafor Signals")]
    date_first = [line for line in lines if line != "Apr 15, 2025, 5:10pm EDT"]
    date_first.insert(0, "Apr 15, 2025, 5:10pm EDT")
    names_below = [
        part
        for line in lines
        if line != "Source icon"
        for part in (line.split(" ", 1) if line.startswith("Source:") else [line])
    ]
    for name, variant in {
        "widget moved": moved,
        "more lines doubled": doubled,
        "headline only on top": only_on_top,
        "no Signals marker or line": no_marker,
        "date line first": date_first,
        "an unknown widget line first": ["Advertisement", *lines],
        "source names on the next line": names_below,
    }.items():
        story = parse_lines(variant, url=want["_url"])
        assert story.title == headline, name
        assert story.published_at is not None, name
        assert story.published_at.isoformat() == want["published_at"], name
        assert [(i.title, i.sources) for i in story.insights] == [
            (i["title"], i["sources"]) for i in want["insights"]
        ], name
        assert len(story.news) == want["news_count"], name
        assert parse_lines(variant).title == headline, f"{name}, without URL"


def test_aggregator_source_on_the_source_line() -> None:
    story = parse_lines(
        [
            "Ferry operators cut winter routes",
            "Oops! Something went wrong.",
            "Title icon",
            "Title icon",
            "The News",
            "Two ferry companies cancelled their winter sailings between the islands.",
            "Fuel costs are to blame",
            "Source icon",
            "Source icon",
            f"Source:{NBSP} Island Desk",
            "Diesel prices rose by a third this year, the Island Desk reported.",
        ],
        url="https://www.yahoo.com/news/ferry-operators-cut-winter-routes-120000111.html",
    )
    assert story.title == "Ferry operators cut winter routes"
    assert [(i.title, i.sources) for i in story.insights] == [
        ("Fuel costs are to blame", ["Island Desk"])
    ]
    assert story.news == [
        "Two ferry companies cancelled their winter sailings between the islands."
    ]


# The 2025–26 layout -----------------------------------------------------------------------

HEADER_FURNITURE = [
    " date 2026-01-06 Events Email Briefings",
    "Intelligence for the New World Economy",
    "Semafor World Economy",
    "Flagship newsletter icon",
    "From Semafor Flagship",
    "In your inbox, Every Weekday",
    "Sign up",
    "IntelligentTransparentGlobal",
    "rotating globe",
    "Privacy© 2025 Semafor Inc.",
]


def _layout_2026_parts() -> tuple[list[str], dict[str, Any]]:
    page = PAGES / "27_article_2026_byline_twice_glued_verticals.txt"
    lines = lines_of(page)
    want = expected_for(page)
    return lines[lines.index(want["title"]) :], want


@pytest.mark.parametrize("seed", range(8))
def test_2026_header_in_any_order_some_missing_some_doubled(seed: int) -> None:
    rest, want = _layout_2026_parts()
    chance = random.Random(seed)
    header = [line for line in HEADER_FURNITURE if chance.random() > 0.3]
    chance.shuffle(header)
    header = [copy for line in header for copy in [line] * chance.choice((1, 1, 2))]
    story = parse_lines(header + rest, url=want["_url"])
    assert mismatches(story, want) == []


def test_2026_byline_and_date_in_other_orders() -> None:
    rest, want = _layout_2026_parts()
    headline = want["title"]
    name, title, date = "Lina Okafor", "Business Reporter, Semafor", "Jan 6, 2026, 6:30am EST"
    category = "BusinessTechnologyNorth America"
    body = [line for line in rest if line not in (headline, name, title, date, category)]
    body.insert(0, category)
    variants = {
        "byline above the headline": [name, name, title, headline, date, *body],
        "date line above the headline": [date, headline, name, name, title, *body],
        "name printed once, no title": [headline, name, date, *body],
        "no byline": [headline, date, *body],
        "two authors": [headline, name, name, "Omar bin Saleh", "Omar bin Saleh", date, *body],
        "furniture between headline and byline": [headline, "Sign up", name, name, date, *body],
        "unknown line above the headline": ["Latest stories", headline, name, name, date, *body],
        "all of the top above the headline": [
            name,
            name,
            title,
            date,
            category,
            headline,
            *body[1:],
        ],
    }
    for label, lines in variants.items():
        story = parse_lines(HEADER_FURNITURE[:3] + lines)
        assert story.title == headline, label
        assert story.published_at is not None, label
        assert story.published_at.isoformat() == want["published_at"], label
        assert (story.verticals, story.region) == (want["verticals"], want["region"]), label
        assert story.image is not None and story.image.credit == want["image"]["credit"], label


# Headlines from slugs ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("slug", "text", "headline"),
    [
        (
            "quake-strikes-off-sulawesi",
            "A strong quake struck off the coast of Sulawesi on Monday.",
            "Quake strikes off Sulawesi",
        ),
        ("nato-allies-meet", "NATO allies met. The talks ran late.", "NATO allies meet"),
        (
            "port-of-gdansk-reopens",
            "Cranes at the port of Gdańsk stood idle.",
            "Port of Gdańsk reopens",
        ),
        ("talks-in-kyiv", "Kyiv hosted the talks. Officials attended.", "Talks in Kyiv"),
        ("kenyas-media-law", "The bill is part of Kenya’s media law.", "Kenya’s media law"),
        ("imf-approves-loan", "The IMF’s board met on Monday.", "IMF approves loan"),
        ("long-delayed-vote-held", "The long-delayed vote was held.", "Long-delayed vote held"),
        (
            "talks-resume-in-geneva",
            "Talks resume on Monday. Diplomats said the talks in Geneva would last a week.",
            "Talks resume in Geneva",
        ),
        ("ferry-operators-cut-routes", "", "Ferry operators cut routes"),
    ],
)
def test_headline_from_slug(slug: str, text: str, headline: str) -> None:
    assert headline_from_slug(slug.split("-"), text.split("\n")) == headline


def test_headline_from_slug_prefers_the_usual_spelling() -> None:
    text = "Officials in the US said so. The US and its allies agreed. They told us so."
    assert headline_from_slug(["us", "allies", "agree"], [text]) == "US allies agree"


@pytest.mark.parametrize(
    "line",
    ["Oops. Something went wrong.", "Oops! Something went wrong.", "Something went wrong",
     "Please try again later.", "From Semafor Flagship", "Flagship newsletter icon",
     "3 min read", "Events Email Briefings"],
)  # fmt: skip
def test_every_form_of_page_chrome_is_furniture(line: str) -> None:
    assert _is_furniture(line, line.lower())


@pytest.mark.parametrize("line", ["Semafor Signals", "Oil prices fell", "Search teams reached"])
def test_story_lines_are_not_furniture(line: str) -> None:
    assert not _is_furniture(line, line.lower())
