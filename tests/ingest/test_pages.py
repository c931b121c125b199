"""Every fixture page (text and HTML) parses to what its expectation file says."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.ingest.errors import IngestError, NewsletterPage, NotAStory
from bot.ingest.sources import parse_document
from tests.conftest import FIXTURES, SEED
from tests.ingest.expectations import load, mismatches, page_for

EXPECTATIONS = sorted(FIXTURES.glob("*/*.expected.json"))


def test_fixture_set_covers_text_and_html() -> None:
    kinds = {p.parent.name for p in EXPECTATIONS}
    assert {"pages", "html"} <= kinds
    assert len(EXPECTATIONS) >= 20


@pytest.mark.parametrize("expected_path", EXPECTATIONS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_fixture_page_parses_as_expected(expected_path: Path) -> None:
    expected = load(expected_path)
    page = page_for(expected_path)
    if "_error" in expected:
        with pytest.raises(IngestError) as caught:
            parse_document(page.read_bytes(), name=page.name, url=expected.get("_url"))
        assert expected["_error"] in str(caught.value).lower()
        return
    (story,) = parse_document(page.read_bytes(), name=page.name, url=expected.get("_url"))
    assert mismatches(story, expected) == []


def test_refusals_have_specific_types() -> None:
    newsletter = FIXTURES / "pages" / "17_newsletter_refused.txt"
    with pytest.raises(NewsletterPage):
        parse_document(newsletter.read_bytes(), name=newsletter.name)
    recipe = FIXTURES / "pages" / "19_not_a_story_recipe.txt"
    with pytest.raises(NotAStory) as caught:
        parse_document(recipe.read_bytes(), name=recipe.name)
    assert not isinstance(caught.value, NewsletterPage)


@pytest.mark.skipif(not SEED.exists(), reason="the sample page in ../shared/seeds is not here")
def test_sample_page_from_shared_seeds() -> None:
    (story,) = parse_document(SEED.read_bytes(), name=SEED.name)
    assert story.kind == "signals"
    assert story.title.startswith("NATO says")
    assert story.published_at is not None
    assert story.published_at.isoformat() == "2024-02-27T08:43:00-05:00"
    assert story.region == "europe"
    assert story.verticals == ["security"]
    assert story.insights_from == ["Financial Times", "Bloomberg"]
    assert [i.sources for i in story.insights] == [["Financial Times"], ["Bloomberg"]]
    assert all(i.title and i.body for i in story.insights)
    assert story.url is None
    assert story.image is not None and story.image.credit


def test_truncated_capture_keeps_what_it_has() -> None:
    page = FIXTURES / "pages" / "01_signals_order_a.txt"
    text = page.read_text(encoding="utf-8")
    for fraction in (0.3, 0.5, 0.7, 0.9):
        cut = text[: int(len(text) * fraction)]
        (story,) = parse_document(cut.encode(), name="cut.txt")
        assert story.title
        assert story.published_at is not None
