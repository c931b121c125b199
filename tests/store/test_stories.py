"""The story store on real SQLite and (when configured) the real PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import FrozenClock
from bot.domain import Insight, Story, Validators
from bot.store import db
from bot.store.stories import RANK_WINDOW, EmptySearch, SearchQuery, StoryStore, ValidatorStore

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def story(
    slug: str,
    title: str,
    *,
    region: str | None = "europe",
    hours_ago: float = 1,
    news: str = "Officials met on Monday.",
    insight: str = "Analysts were cautious.",
) -> Story:
    return Story(
        url=f"https://www.semafor.com/article/11/25/2026/{slug}",
        kind="signals",
        title=title,
        published_at=NOW - timedelta(hours=hours_ago),
        region=region,
        verticals=["business"],
        news=[news],
        insights=[Insight(title="What analysts say", sources=["Reuters"], body=insight)],
    )


async def test_same_story_twice_is_stored_once(engine: AsyncEngine) -> None:
    store = StoryStore(engine)
    first = story("ferries", "Ferry strike spreads")
    assert await store.save(first, now=NOW) == "new"
    assert await store.save(first, now=NOW) == "unchanged"
    assert await store.count() == 1


async def test_updated_page_keeps_its_id(engine: AsyncEngine) -> None:
    store = StoryStore(engine)
    original = story("ferries", "Ferry strike spreads")
    await store.save(original, now=NOW)
    changed = original.model_copy(update={"title": "Ferry strike spreads to three ports"})
    changed = Story.model_validate(changed.model_dump())
    assert changed.id == original.id
    assert await store.save(changed, now=NOW) == "updated"
    assert await store.count() == 1
    found = await store.get(original.id)
    assert found is not None and found.title == "Ferry strike spreads to three ports"
    # the search index follows the update
    assert [s.id for s in await store.search(SearchQuery.parse("three ports"))] == [original.id]


async def test_concurrent_saves_of_one_story_store_it_once(engine: AsyncEngine) -> None:
    store = StoryStore(engine)
    item = story("race", "Two workers see the same page")
    outcomes = await asyncio.gather(*(store.save(item, now=NOW) for _ in range(5)))
    assert outcomes.count("new") == 1
    assert await store.count() == 1


async def test_find_by_id_and_any_url_spelling(engine: AsyncEngine) -> None:
    store = StoryStore(engine)
    item = story("grain", "Grain corridor reopens")
    await store.save(item, now=NOW)
    assert (await store.find(item.id)) == item
    assert (await store.find(item.id.upper())) == item
    assert (
        await store.find("http://semafor.com/article/11/25/2026/grain/?utm_source=x#top")
    ) == item
    assert await store.find("zzzzzzzz") is None
    assert await store.find("not an id") is None


async def test_find_with_change_says_when_a_stored_story_last_changed(
    engine: AsyncEngine,
) -> None:
    store = StoryStore(engine)
    item = story("grain", "Grain corridor reopens")
    await store.save(item, now=NOW)
    assert await store.find_with_change(item.id) == (item, None)  # never changed
    changed = Story.model_validate(item.model_dump() | {"title": "Grain corridor closes"})
    later = NOW + timedelta(hours=3)
    await store.save(changed, now=later)
    found = await store.find_with_change(item.url + "?ref=x")
    assert found is not None
    assert found[0].title == "Grain corridor closes"
    assert found[1] == later and found[1].tzinfo is not None
    assert await store.find_with_change("https://example.com/elsewhere") is None
    assert await store.find_with_change("http://[bad") is None


async def test_times_come_back_aware_and_equal(engine: AsyncEngine) -> None:
    store = StoryStore(engine)
    item = story("tz", "Time zones survive storage")
    await store.save(item, now=NOW)
    back = await store.get(item.id)
    assert back is not None and back.published_at == item.published_at
    assert back.published_at is not None and back.published_at.utcoffset() is not None


async def test_latest_filters_by_region_and_orders_newest_first(engine: AsyncEngine) -> None:
    store = StoryStore(engine)
    await store.save(story("a", "Old Europe", hours_ago=30), now=NOW)
    await store.save(story("b", "New Europe", hours_ago=1), now=NOW)
    await store.save(story("c", "London story", region="uk", hours_ago=2), now=NOW)
    await store.save(story("d", "Lagos story", region="africa", hours_ago=3), now=NOW)
    titles = [s.title for s in await store.latest(regions={"europe", "uk"}, limit=10)]
    assert titles == ["New Europe", "London story", "Old Europe"]
    recent = await store.latest(since=NOW - timedelta(hours=24), limit=10)
    assert "Old Europe" not in [s.title for s in recent]
    assert len(await store.latest(limit=2)) == 2


async def test_full_text_search_with_filters(engine: AsyncEngine) -> None:
    store = StoryStore(engine)
    await store.save(
        story("p1", "Port workers strike in Antwerp", news="Dockers stopped cranes."), now=NOW
    )
    await store.save(
        story(
            "p2", "Copper prices climb", region="south-america", insight="Port congestion in Chile."
        ),
        now=NOW,
    )
    await store.save(story("p3", "Elections called", region="africa", hours_ago=72), now=NOW)
    hits = await store.search(SearchQuery.parse("port"))
    assert next(s.title for s in hits) == "Port workers strike in Antwerp"  # title outranks body
    assert {s.title for s in hits} == {"Port workers strike in Antwerp", "Copper prices climb"}
    only_sa = await store.search(SearchQuery.parse("port", regions=frozenset({"south-america"})))
    assert [s.title for s in only_sa] == ["Copper prices climb"]
    assert [s.title for s in await store.search(SearchQuery.parse("dockers"))] == [
        "Port workers strike in Antwerp"
    ]
    assert [s.title for s in await store.search(SearchQuery.parse("elect"))] == ["Elections called"]
    since = await store.search(SearchQuery.parse("elections", since=NOW - timedelta(hours=24)))
    assert since == []
    until = await store.search(SearchQuery.parse("elections", until=NOW - timedelta(hours=24)))
    assert [s.title for s in until] == ["Elections called"]
    assert await store.search(SearchQuery.parse('"quoted" OR NEAR(x')) == []


async def test_changed_since_pages_through_changes_made_at_the_same_time(
    engine: AsyncEngine,
) -> None:
    store = StoryStore(engine)
    items = [story(f"s{n}", f"Story {n}") for n in range(5)]
    for item in items:
        await store.save(item, now=NOW)
    later = NOW + timedelta(hours=1)
    for item in items[:4]:  # four change at one time, the fifth never does
        await store.save(item.model_copy(update={"title": item.title + " (updated)"}), now=later)
    ids = sorted(item.id for item in items[:4])
    first = await store.changed_since(NOW, limit=3)
    assert first == [(i, later) for i in ids[:3]]
    rest = await store.changed_since(later, after=first[-1][0], limit=3)
    assert rest == [(ids[3], later)]
    assert await store.changed_since(later, after=ids[3]) == []


async def test_search_puts_headline_words_first_then_the_newest(engine: AsyncEngine) -> None:
    store = StoryStore(engine)
    both = story("both", "Grain exports resume", hours_ago=30)
    one = story("one", "Grain prices rise", news="Exports slowed.", hours_ago=20)
    body = story("body", "Harbour reopens", news="Grain exports restarted.", hours_ago=2)
    newer_one = story("newer", "Grain silos fill", news="Exports wait.", hours_ago=10)
    for item in (both, one, body, newer_one):
        await store.save(item, now=NOW)
    hits = await store.search(SearchQuery.parse("grain exports"))
    assert [s.id for s in hits] == [both.id, newer_one.id, one.id, body.id]
    # a word in any form counts in the headline too ("export" finds "exports")
    assert (await store.search(SearchQuery.parse("export", limit=1)))[0].id == both.id


async def test_search_ranks_only_the_newest_matches(engine: AsyncEngine) -> None:
    """A headline match older than the newest RANK_WINDOW matches is not ranked first: a
    common word costs no more than a rare one."""
    store = StoryStore(engine)
    await store.save(story("old", "Tariff talks stall", hours_ago=500), now=NOW)
    for n in range(RANK_WINDOW):
        await store.save(
            story(f"n{n}", f"Market note {n}", news="Tariff questions remain.", hours_ago=n / 10),
            now=NOW,
        )
    hits = await store.search(SearchQuery.parse("tariff", limit=3))
    assert "Tariff talks stall" not in [s.title for s in hits]
    assert [s.title for s in hits] == ["Market note 0", "Market note 1", "Market note 2"]


def test_empty_search_is_refused() -> None:
    with pytest.raises(EmptySearch):
        SearchQuery.parse("  ?! ")


async def test_validators_persist(engine: AsyncEngine) -> None:
    validators = ValidatorStore(engine, FrozenClock(NOW))
    url = "https://example.org/feed.xml"
    assert await validators.validators(url) is None
    await validators.remember(url, Validators(etag='"abc"', last_modified=None))
    await validators.remember(
        url, Validators(etag='"def"', last_modified="Tue, 24 Nov 2026 10:00:00 GMT")
    )
    assert await validators.validators(url) == Validators('"def"', "Tue, 24 Nov 2026 10:00:00 GMT")


async def test_upgrade_is_idempotent(engine: AsyncEngine) -> None:
    assert await db.upgrade(engine) is False


def test_bad_database_urls_are_explained() -> None:
    for url, reason in (
        ("mysql://root@localhost/x", "unsupported database"),
        ("not a url", "not a database URL"),
    ):
        with pytest.raises(db.DatabaseURLError, match=reason):
            db.create_engine(url)
    assert db.normalise_url("sqlite:///x.db").drivername == "sqlite+aiosqlite"
    assert db.normalise_url("postgresql://u@h/d").drivername == "postgresql+asyncpg"


async def test_a_story_read_often_is_parsed_and_cut_to_a_card_once_until_it_changes(
    engine: AsyncEngine,
) -> None:
    from bot.render.model import card_from_story

    store = StoryStore(engine)
    await store.save(story("ports", "Ports reopen"), now=NOW)
    first, again = await store.get(story("ports", "x").id), (await store.latest(limit=1))[0]
    assert first is again  # one parse for every reader
    assert card_from_story(first) is card_from_story(again)  # one card, its payloads kept
    await store.save(story("ports", "Ports reopen after the strike"), now=NOW)
    changed = await store.get(story("ports", "x").id)
    assert changed is not None and changed is not first
    assert card_from_story(changed).title == "Ports reopen after the strike"  # never stale


def test_a_changed_copy_of_a_story_makes_its_own_card() -> None:
    from bot.render.model import card_from_story

    original = story("ferry", "Ferry strike ends")
    assert card_from_story(original).title == "Ferry strike ends"
    copy = original.model_copy(update={"title": "Ferry strike spreads"})
    assert card_from_story(copy).title == "Ferry strike spreads"
