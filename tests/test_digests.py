"""``bot.digests`` on its own: which stories a push would carry, and what a preview shows."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.digests import (
    DIGEST_STORY_CAP,
    FIRST_PUSH_WINDOW,
    Windows,
    candidates,
    pending_digest,
    select_stories,
)
from bot.domain import ChannelRef, Filters, Insight, Story, Subscription
from bot.store.ledger import Ask, DeliveryLedger
from bot.store.stories import StoryStore

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
CHANNEL = ChannelRef("console", "t", "#digest")


def story(n: int, hours_ago: float, region: str = "europe", **fields: object) -> Story:
    values: dict[str, object] = {
        "news": [f"Something happened, item {n}."],
        "insights": [Insight(title="A view", sources=["Reuters"], body="Analysts said so.")],
        **fields,
    }
    return Story(
        url=f"https://www.semafor.com/article/11/25/2026/digest-test-{n}",
        kind="signals", title=f"Digest story {n}", region=region,
        published_at=NOW - timedelta(hours=hours_ago), **values,  # type: ignore[arg-type]
    )  # fmt: skip


def subscription(region: str = "europe", **fields: object) -> Subscription:
    return Subscription(channel=CHANNEL, region=region, push_time=time(7, 0),
                        timezone="Europe/Brussels", **fields)  # type: ignore[arg-type]  # fmt: skip


async def stored(engine: AsyncEngine, *stories: Story) -> StoryStore:
    store = StoryStore(engine)
    for item in stories:
        await store.save(item, now=NOW - timedelta(hours=30))  # all stored before the window
    return store


async def test_candidates_are_the_regions_stories_since_the_last_push_newest_first(
    engine: AsyncEngine,
) -> None:
    store = await stored(
        engine,
        story(1, 5), story(2, 1), story(3, 3, region="uk"),  # uk is part of europe
        story(4, 2, region="africa"), story(5, 30),  # another region; before the window
    )  # fmt: skip
    found = await candidates(store, subscription(), NOW)
    assert [s.title for s in found] == ["Digest story 2", "Digest story 3", "Digest story 1"]
    since_last = await candidates(store, subscription(last_push_at=NOW - timedelta(hours=4)), NOW)
    assert [s.title for s in since_last] == ["Digest story 2", "Digest story 3"]
    assert [s.title for s in await candidates(store, subscription("uk"), NOW)] == ["Digest story 3"]


async def test_candidates_pass_the_filters_and_share_a_window_between_calls(
    engine: AsyncEngine,
) -> None:
    store = await stored(
        engine,
        story(1, 1, verticals=["energy"]), story(2, 2, verticals=["politics"]),
        story(3, 3, verticals=["energy"], news=["The grid failed again."]),
    )  # fmt: skip
    windows: Windows = {}
    energy = subscription(filters=Filters(topics=("energy",)))
    assert [s.title for s in await candidates(store, energy, NOW, windows)] == [
        "Digest story 1", "Digest story 3",
    ]  # fmt: skip
    no_grid = subscription(filters=Filters(topics=("energy",), exclude=("grid",)))
    assert [s.title for s in await candidates(store, no_grid, NOW, windows)] == ["Digest story 1"]
    assert len(windows) == 1  # one read of the window served both
    (window,) = windows.values()
    assert len(window) == 3


async def test_a_push_holds_at_most_the_cap_newest_first(engine: AsyncEngine) -> None:
    store = await stored(engine, *(story(n, n / 4) for n in range(DIGEST_STORY_CAP + 6)))
    picked = await select_stories(store, DeliveryLedger(engine), subscription(), NOW)
    assert len(picked) == DIGEST_STORY_CAP
    assert [s.title for s in picked] == [f"Digest story {n}" for n in range(DIGEST_STORY_CAP)]


async def test_select_stories_leaves_out_what_the_channel_has(engine: AsyncEngine) -> None:
    store = await stored(engine, *(story(n, n + 1) for n in range(4)))
    ledger = DeliveryLedger(engine)
    have = [s.id for s in [story(0, 1), story(2, 3)]]
    assert (await ledger.reserve([Ask(1, CHANNEL, None, have)], token="a", at=NOW)).complete
    other = ChannelRef("console", "t", "#other")  # what another channel has does not count
    assert (
        await ledger.reserve([Ask(1, other, None, [story(1, 2).id])], token="b", at=NOW)
    ).complete
    picked = await select_stories(store, ledger, subscription(), NOW)
    assert [s.title for s in picked] == ["Digest story 1", "Digest story 3"]


async def test_pending_digest_says_since_when_and_whether_it_is_empty(engine: AsyncEngine) -> None:
    store = await stored(engine, story(1, 2))
    ledger = DeliveryLedger(engine)
    first = await pending_digest(store, ledger, subscription(), NOW)
    assert first.since == NOW - FIRST_PUSH_WINDOW and not first.empty
    assert [card.story_id for card in first.digest(NOW).cards] == [story(1, 2).id]
    pushed = NOW - timedelta(hours=1)
    later = await pending_digest(store, ledger, subscription(last_push_at=pushed), NOW)
    assert later.since == pushed and later.empty and later.stories == []
