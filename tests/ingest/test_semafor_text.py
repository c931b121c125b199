"""Details of the text parser that the fixture pages do not pin down on their own."""

from __future__ import annotations

import pytest

from bot.ingest.errors import NewsletterPage, NotAStory
from bot.ingest.semafor_text import parse_text

NBSP = "\u00a0"


def page(*lines: str) -> str:
    return "\n".join(lines) + "\n"


BASIC = (
    "icon",
    "Semafor Signals",
    "Harbour pilots in Antwerp walk out over night shifts",
    "Insights from Le Soir and Reuters",
    "Arrow Down",
    "Jul 9, 2025, 6:05am EDT",
    "businessEurope",
    "Title icon",
    "",
    "The News",
    "",
    "Pilots guiding ships into the port stopped work at midnight.",
    "AD",
    "Shipping lines diverted three vessels to Rotterdam.",
    "icon",
    "SIGNALS",
    "Semafor Signals: Global insights on today’s biggest stories.",
    "Night work rules date from 1998",
    "Source icon",
    f"Source:{NBSP}",
    "Le Soir",
    "The rota system was designed for a smaller port.",
)


def test_basic_signals_page() -> None:
    story = parse_text(page(*BASIC))
    assert story.kind == "signals"
    assert story.published_at is not None
    assert story.published_at.isoformat() == "2025-07-09T06:05:00-04:00"
    assert story.region == "europe" and story.verticals == ["business"]
    assert story.news == [
        "Pilots guiding ships into the port stopped work at midnight.",
        "Shipping lines diverted three vessels to Rotterdam.",
    ]
    assert [(i.title, i.sources) for i in story.insights] == [
        ("Night work rules date from 1998", ["Le Soir"])
    ]
    assert story.insights_from == ["Le Soir", "Reuters"]


@pytest.mark.parametrize(
    ("line", "verticals", "region"),
    [
        ("securityMiddle East", ["security"], "middle-east"),
        ("politicssecurityEurope", ["politics", "security"], "europe"),
        ("BusinessTechnologyNorth America", ["business", "tech"], "north-america"),
        ("techSouth America", ["tech"], "south-america"),
        ("africaAfrica", ["africa"], "africa"),
        ("Africa", [], "africa"),
        ("net zero", ["net-zero"], None),
        ("gulf", ["gulf"], "middle-east"),
        ("politicsUK", ["politics"], "uk"),
        ("mediaSouth Asia", ["media"], "south-asia"),
        ("BusinessTechnology", ["business", "tech"], None),
        ("PoliticsSecurityEurope", ["politics", "security"], "europe"),
        ("Net ZeroAfrica", ["net-zero"], "africa"),
        ("BusinessGulf", ["business", "gulf"], "middle-east"),
        ("Politics", ["politics"], None),  # one Title-case vertical, right below the date line
    ],
)
def test_glued_category_lines(line: str, verticals: list[str], region: str | None) -> None:
    lines = list(BASIC)
    lines[lines.index("businessEurope")] = line
    story = parse_text(page(*lines))
    assert story.verticals == verticals
    assert story.region == region


def test_a_lone_title_case_vertical_away_from_the_date_line_is_a_menu_item() -> None:
    lines = ["Politics", *BASIC]
    lines.remove("businessEurope")
    story = parse_text(page(*lines))
    assert story.verticals == [] and story.region is None
    assert story.title == "Harbour pilots in Antwerp walk out over night shifts"


@pytest.mark.parametrize(
    ("line", "outlets"),
    [
        (
            "Insights from the Financial Times, Nikkei Asia, and Le Monde",
            ["Financial Times", "Nikkei Asia", "Le Monde"],
        ),
        ("Insights from BBC, Bloomberg, Al Jazeera", ["BBC", "Bloomberg", "Al Jazeera"]),
        ("Insights from The Financial Times and Reuters.", ["Financial Times", "Reuters"]),
        (
            "With insights from The Economist and the Mail & Guardian",
            ["The Economist", "Mail & Guardian"],
        ),
        ("Insights from the Wall Street Journal’s Ada Quist", ["Wall Street Journal’s Ada Quist"]),
    ],
)
def test_insights_from_forms(line: str, outlets: list[str]) -> None:
    lines = list(BASIC)
    lines[lines.index("Insights from Le Soir and Reuters")] = line
    assert parse_text(page(*lines)).insights_from == outlets


def test_updated_line_takes_publication_date_from_url() -> None:
    lines = list(BASIC)
    lines[lines.index("Jul 9, 2025, 6:05am EDT")] = "Updated Jul 11, 2025, 4:30pm EDT"
    story = parse_text(
        page(*lines), url="http://semafor.com/article/07/09/2025/antwerp-pilots-strike?utm_medium=x"
    )
    assert story.published_at is not None and story.updated_at is not None
    assert story.published_at.isoformat() == "2025-07-09T00:00:00-04:00"
    assert story.updated_at.isoformat() == "2025-07-11T16:30:00-04:00"
    assert story.url == "https://www.semafor.com/article/07/09/2025/antwerp-pilots-strike"


def test_est_in_winter_is_minus_five() -> None:
    lines = list(BASIC)
    lines[lines.index("Jul 9, 2025, 6:05am EDT")] = "Dec 1, 2025, 12:15pm EST"
    story = parse_text(page(*lines))
    assert story.published_at is not None
    assert story.published_at.isoformat() == "2025-12-01T12:15:00-05:00"


def test_source_on_same_line_and_plural_sources() -> None:
    lines = list(BASIC)
    at = lines.index(f"Source:{NBSP}")
    lines[at : at + 2] = [f"Sources:{NBSP} The Spectator , Meduza"]
    story = parse_text(page(*lines))
    assert story.insights[0].sources == ["The Spectator", "Meduza"]
    assert story.insights[0].body == "The rota system was designed for a smaller port."


def test_newsletter_url_is_refused_even_if_text_looks_like_a_story() -> None:
    with pytest.raises(NewsletterPage):
        parse_text(page(*BASIC), url="https://www.semafor.com/newsletter/07/09/2025/flagship")


def test_stripped_capture_without_headline_or_url_is_refused_clearly() -> None:
    with pytest.raises(NotAStory, match="--url"):
        parse_text(page("The News", "", "A paragraph of news that has no headline above it."))


def test_stripped_capture_takes_title_from_slug() -> None:
    story = parse_text(
        page("The News", "", "A paragraph of news."),
        url="https://www.semafor.com/article/03/02/2024/ferry-operators-cut-routes",
    )
    assert story.title == "Ferry operators cut routes"
    assert story.published_at is not None
    assert story.published_at.date().isoformat() == "2024-03-02"


def test_empty_and_unrelated_text_are_not_stories() -> None:
    for text in ("", "\n\n", "Buy milk\nBuy eggs\n"):
        with pytest.raises(NotAStory):
            parse_text(text)
