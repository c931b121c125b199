from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from bot.domain import Story, story_id_for_text, story_id_for_url

BASE = "https://www.semafor.com/article/02/27/2024/ports-reopen-after-storm"


def test_id_is_the_same_for_every_spelling_of_the_url() -> None:
    spellings = [
        BASE,
        BASE.replace("https://www.", "http://"),
        BASE.replace("https://www.", "https://"),
        BASE + "/",
        BASE + "?utm_source=newsletter&utm_campaign=x",
        BASE + "#insights",
        BASE.replace("www.semafor.com", "WWW.SEMAFOR.COM"),
    ]
    ids = {story_id_for_url(u) for u in spellings}
    assert len(ids) == 1
    (only,) = ids
    assert len(only) == 8 and only.isalnum()


def test_different_stories_get_different_ids() -> None:
    other = BASE.replace("ports-reopen", "ports-close")
    assert story_id_for_url(BASE) != story_id_for_url(other)


@given(st.lists(st.from_regex(r"[A-Za-z0-9’']{1,12}", fullmatch=True), min_size=1, max_size=8))
def test_text_ids_ignore_case_and_spacing(words: list[str]) -> None:
    when = datetime(2025, 1, 2, 3, 4, tzinfo=UTC)
    title = " ".join(words)
    respaced = "  " + "   ".join(w.upper() for w in words) + " "
    assert story_id_for_text(title, when) == story_id_for_text(respaced, when)
    assert story_id_for_text(title, when) != story_id_for_text(title + " again", when)


def test_story_without_url_gets_id_from_headline_and_date() -> None:
    when = datetime(2025, 1, 2, 3, 4, tzinfo=UTC)
    a = Story(title="Ports reopen", published_at=when)
    b = Story(title="ports  reopen", published_at=when.replace(hour=9))
    assert a.id == b.id
    assert a.url is None
