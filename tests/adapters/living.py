"""A Semafor page as it is first pushed and as it reads after an update (a new insight, a
later ``Updated`` line): what the platforms' living-message tests ingest, and the channel
subscribed to its region with the push due."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from bot.app import Bot, Core
from bot.clock import FrozenClock
from bot.domain import ChannelRef, Story, Subscription
from bot.ingest.semafor_text import parse_text
from bot.schedule import next_push_for

PAGE = Path(__file__).parents[1] / "fixtures" / "pages" / "06_signals_updated_date.txt"
URL = "https://www.semafor.com/article/03/02/2024/chile-awards-lithium-refining-contract"
FIRST_SEEN = datetime(2024, 3, 2, 12, 0, tzinfo=UTC)  # the page came out that morning
NEW_INSIGHT = "Investors read the award as a test of the new rules"


def first_version() -> str:
    return PAGE.read_text(encoding="utf-8").replace(
        "Updated Mar 4, 2024, 6:10pm EST", "Mar 2, 2024, 7:00am EST"
    )


def updated_version() -> str:
    """The page a day later: updated, with a third insight."""
    text = first_version().replace("Mar 2, 2024, 7:00am EST", "Updated Mar 3, 2024, 4:04am EST")
    return text.rstrip() + (
        f"\n\n{NEW_INSIGHT}\n\nSource icon\nSource:  \nFinancial Times\n\n"
        "Fund managers said the contract would show whether the incentives can pull"
        " refining away from established hubs, the Financial Times reported.\n"
    )


async def ingest(core: Core, page: str) -> tuple[Story, str]:
    """The page parsed and stored as an ingest does; the story and what became of it."""
    story = parse_text(page, url=URL)
    return story, await core.stories.save(story, now=core.clock.now())


async def pushed_to(core: Core, bot: Bot, channels: list[ChannelRef]) -> Story:
    """The first version ingested, each channel subscribed to its region (at 13:00 UTC), and
    the push sent: the story it carried."""
    clock = core.clock
    assert isinstance(clock, FrozenClock)
    clock.set(FIRST_SEEN)
    story, outcome = await ingest(core, first_version())
    assert outcome == "new" and story.region
    for channel in channels:
        sub = Subscription(channel=channel, region=story.region, push_time=time(13, 0),
                           timezone="America/Santiago")  # fmt: skip
        sub = Subscription(**{**sub.__dict__, "next_push_at": next_push_for(sub, clock.now())})
        await core.subscriptions.save(sub, now=clock.now())
    clock.set(datetime(2024, 3, 2, 16, 0, 1, tzinfo=UTC))  # 13:00 in Santiago
    outcomes = await bot.delivery.run_due()
    assert [o.status for o in outcomes] == ["sent"] * len(channels), outcomes
    return story


async def updated_and_edited(core: Core, bot: Bot) -> dict[str, int]:
    """The updated page ingested the next day, and the edits made once they are due."""
    clock = core.clock
    assert isinstance(clock, FrozenClock)
    clock.set(datetime(2024, 3, 3, 9, 10, tzinfo=UTC))
    _, outcome = await ingest(core, updated_version())
    assert outcome == "updated"
    await bot.delivery.run_edits()
    clock.advance(timedelta(minutes=1))
    return (await bot.delivery.run_edits()).outcomes
