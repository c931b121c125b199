"""Living messages: a message the bot sent follows its stories. A story changed after it was
pushed is edited in place, once, in every message within the window that shows it, and
nowhere else; on SQLite and PostgreSQL, with one process or two."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text

from adapters.console import ConsoleSender
from bot.app import Bot, Core, build_bot, build_core
from bot.clock import FrozenClock
from bot.commands import CommandContext
from bot.delivery import DeliveryError, Outgoing, RateLimits
from bot.delivery.edits import EDIT_DELAY
from bot.domain import ChannelRef, Insight, Story, Subscription
from bot.render.model import card_from_story
from bot.render.text import story_message
from bot.schedule import next_push_for
from tests.conftest import settings_for, started_core

START = datetime(2026, 11, 30, 5, 0, tzinfo=UTC)  # 06:00 in Brussels; pushes at 07:00
AFTER_DELAY = EDIT_DELAY + timedelta(seconds=1)
EDITED = ("signalbot_edits_total", {"platform": "console", "outcome": "edited"})


def story(n: int, *, insights: int = 2, title: str | None = None, **changes: object) -> Story:
    views = [
        Insight(title=f"View {i} on item {n}", sources=[f"Outlet {i}"], body="They said so.")
        for i in range(insights)
    ]
    base = Story(
        url=f"https://www.semafor.com/article/11/30/2026/living-{n}", kind="signals",
        title=title or f"Living story number {n}", published_at=START - timedelta(hours=n),
        region="europe", news=[f"Something happened to item {n}."], insights=views,
    )  # fmt: skip
    return Story.model_validate({**base.model_dump(exclude={"id"}), **changes})


class Recording:
    """The console's sender, noting each message and edit; a channel named ``deleted-*``
    plays a channel whose messages someone deleted (an edit finds its message gone)."""

    platform = "console"
    limits = RateLimits()

    def __init__(self) -> None:
        self.printed: list[str] = []
        self.console = ConsoleSender(self.printed.append)
        self.sent: list[Outgoing] = []
        self.edits: list[Outgoing] = []
        self.gone_tried: list[Outgoing] = []

    async def send(self, message: Outgoing) -> str | None:
        if message.replaces is not None:
            if message.channel.channel.startswith("deleted-"):
                self.gone_tried.append(message)
                raise DeliveryError("Unknown Message (HTTP 404)", message_gone=True)
            self.edits.append(message)
        else:
            self.sent.append(message)
        return await self.console.send(message)


@pytest.fixture
async def core(database_url: str) -> AsyncIterator[Core]:
    async with started_core(database_url, FrozenClock(START), samples=False) as started:
        yield started


async def subscribe(core: Core, channel: str, *, mode: str = "digest") -> Subscription:
    sub = Subscription(channel=ChannelRef("console", "local", channel), region="europe",
                       push_time=time(7, 0), timezone="Europe/Brussels", mode=mode)  # type: ignore[arg-type]  # fmt: skip
    if mode == "digest":
        sub = Subscription(**{**sub.__dict__, "next_push_at": next_push_for(sub, core.clock.now())})
    saved, _ = await core.subscriptions.save(sub, now=core.clock.now())
    return saved


async def pushed(core: Core, bot: Bot, *channels: str, stories: int = 5) -> None:
    """These channels subscribed, ``stories`` stories stored, and the 07:00 push sent."""
    for n in range(1, stories + 1):
        await core.stories.save(story(n), now=core.clock.now())
    for channel in channels:
        await subscribe(core, channel)
    assert isinstance(core.clock, FrozenClock)
    core.clock.set(datetime(2026, 11, 30, 6, 0, 1, tzinfo=UTC))
    outcomes = await bot.delivery.run_due()
    assert [o.status for o in outcomes] == ["sent"] * len(channels)


async def updated(core: Core, n: int = 2, **changes: object) -> None:
    """Story ``n`` re-ingested with a third insight and a later update time (or ``changes``)."""
    fields = changes or {"insights": 3, "updated_at": datetime(2026, 11, 30, 8, 4, tzinfo=UTC)}
    insights = int(fields.pop("insights", 2))  # type: ignore[call-overload]
    outcome = await core.stories.save(story(n, insights=insights, **fields), now=core.clock.now())
    assert outcome == "updated"


def later(core: Core, by: timedelta = AFTER_DELAY) -> None:
    assert isinstance(core.clock, FrozenClock)
    core.clock.advance(by)


async def test_an_updated_story_is_edited_in_place_once(core: Core) -> None:
    sender = Recording()
    bot = build_bot(core, {"console": sender})
    await pushed(core, bot, "#a", "#b")
    first = sender.sent[0].content
    later(core, timedelta(hours=2))
    await updated(core)
    soon = await bot.delivery.run_edits()  # the change waits out the delay: more may come
    assert soon.planned == 2 and not sender.edits
    later(core)
    counted = REGISTRY.get_sample_value(*EDITED) or 0.0
    done = await bot.delivery.run_edits()
    assert done.outcomes == {"sent": 2} and len(sender.edits) == 2
    assert REGISTRY.get_sample_value(*EDITED) == counted + 2  # on /metrics
    assert {e.replaces for e in sender.edits} == {"console-1", "console-2"}
    assert len(sender.sent) == 2  # nothing posted anew
    edited = sender.edits[0].content
    # the digest as it was: same header, same stories in the same order; one card changed
    assert type(edited) is type(first)
    assert [c.story_id for c in edited.cards] == [c.story_id for c in first.cards]  # type: ignore[union-attr]
    assert edited.header == first.header  # type: ignore[union-attr]
    changed = [(a, b) for a, b in zip(first.cards, edited.cards, strict=True) if a != b]  # type: ignore[union-attr]
    assert len(changed) == 1
    before, after = changed[0]
    assert before.story_id == story(2).id and len(after.bullets) == 3
    assert after.updated_line == "Updated Nov 30, 2026, 9:04 AM CET"  # the channel's zone
    output = "\n".join(sender.printed)
    assert "signalbot (edited: this replaces message 1):" in output
    assert "Updated Nov 30, 2026, 9:04 AM CET" in output and "View 2 on item 2" in output
    # again: nothing to do
    later(core)
    assert (await bot.delivery.run_edits()).outcomes == {}
    # the same page again, and again with only its spacing changed: nothing is edited
    await core.stories.save(story(2, insights=3, updated_at=datetime(2026, 11, 30, 8, 4, tzinfo=UTC)),
                            now=core.clock.now())  # fmt: skip
    spaced = story(2, insights=3, title="Living  story number 2 ",
                   updated_at=datetime(2026, 11, 30, 8, 4, tzinfo=UTC))  # fmt: skip
    assert await core.stories.save(spaced, now=core.clock.now()) == "updated"
    await bot.delivery.run_edits()  # noticed: due after the delay
    later(core)
    quiet = await bot.delivery.run_edits()
    assert quiet.outcomes == {"unchanged": 2} and len(sender.edits) == 2


async def test_a_digest_of_five_changes_only_the_card_that_changed(core: Core) -> None:
    sender = Recording()
    bot = build_bot(core, {"console": sender})
    await pushed(core, bot, "#a", stories=5)
    (first,) = sender.sent
    later(core, timedelta(minutes=5))
    await updated(core, 4, title="Living story number 4, corrected")
    await bot.delivery.run_edits()
    later(core)
    await bot.delivery.run_edits()
    (edit,) = sender.edits
    old_cards = first.content.cards  # type: ignore[union-attr]
    new_cards = edit.content.cards  # type: ignore[union-attr]
    assert len(old_cards) == len(new_cards) == 5
    for old, new in zip(old_cards, new_cards, strict=True):
        if old.story_id == story(4).id:
            assert new.title == "Living story number 4, corrected" and new.updated_at
            assert story_message(new) != story_message(old)
        else:  # the other four read exactly as they did
            assert story_message(new) == story_message(old)
    # what the ledger keeps of the message now shows the new version
    async with core.engine.connect() as conn:
        content = (
            await conn.execute(
                text("SELECT c.content FROM sends AS o"
                     " JOIN message_contents AS c ON c.content_key = o.content_key")
            )
        ).scalar_one()  # fmt: skip
    versions = {sid: version for sid, version, _ in json.loads(content)["cards"]}
    assert versions[story(4).id] == new_cards[3].version != old_cards[3].version


async def test_a_burst_of_updates_makes_one_edit_with_the_latest(core: Core) -> None:
    sender = Recording()
    bot = build_bot(core, {"console": sender})
    await pushed(core, bot, "#a")
    for minute in range(3):  # three corrections within the delay
        later(core, timedelta(seconds=8))
        await updated(core, 1, title=f"Living story number 1, take {minute}")
        await bot.delivery.run_edits()
    assert not sender.edits
    later(core)
    await bot.delivery.run_edits()
    (edit,) = sender.edits
    titles = [c.title for c in edit.content.cards]  # type: ignore[union-attr]
    assert "Living story number 1, take 2" in titles


async def test_a_change_while_an_edit_is_made_is_edited_after_it(core: Core) -> None:
    sender = Recording()
    bot = build_bot(core, {"console": sender})
    await pushed(core, bot, "#a")
    later(core, timedelta(minutes=1))
    await updated(core, 1, title="Living story number 1, first fix")
    later(core)
    editor = bot.delivery.editor
    assert editor is not None
    await editor.plan()
    original = sender.send

    async def meanwhile(message: Outgoing) -> str | None:  # a change lands mid-edit
        sender.send = original  # type: ignore[method-assign]
        await updated(core, 1, title="Living story number 1, second fix")
        await editor.plan()
        return await original(message)

    sender.send = meanwhile  # type: ignore[method-assign]
    await editor.edit_due()
    await bot.delivery.run_edits()
    titles = [e.content.cards[0].title for e in sender.edits]  # type: ignore[union-attr]
    assert titles == ["Living story number 1, first fix", "Living story number 1, second fix"]


async def test_an_alert_is_edited_like_a_digest(core: Core) -> None:
    sender = Recording()
    bot = build_bot(core, {"console": sender})
    await subscribe(core, "#alerts", mode="instant")
    await core.stories.save(story(1), now=core.clock.now())
    assert await bot.delivery.deliver_instant([story(1)]) == 1
    later(core, timedelta(minutes=10))
    await updated(core, 1)
    later(core)
    await bot.delivery.run_edits()
    (edit,) = sender.edits
    assert edit.replaces == "console-1" and len(edit.content.bullets) == 3  # type: ignore[union-attr]


async def test_nothing_is_edited_outside_the_window(core: Core) -> None:
    sender = Recording()
    bot = build_bot(core, {"console": sender})
    await pushed(core, bot, "#a")
    later(core, core.settings.edit_window + timedelta(minutes=1))
    await updated(core)
    later(core)
    done = await bot.delivery.run_edits()
    assert done.planned == 0 and not sender.edits


async def test_a_deleted_message_is_dropped_and_pauses_nothing(core: Core) -> None:
    sender = Recording()
    bot = build_bot(core, {"console": sender})
    await pushed(core, bot, "#a", "deleted-b")
    later(core, timedelta(minutes=1))
    await updated(core, 1)
    later(core)
    done = await bot.delivery.run_edits()
    assert done.outcomes == {"sent": 1, "gone": 1} and len(sender.gone_tried) == 1
    gone = await core.subscriptions.for_channel(ChannelRef("console", "local", "deleted-b"))
    assert not gone[0].paused and gone[0].failures == 0
    later(core, timedelta(minutes=1))  # another change: the deleted message is not tried
    await updated(core, 1, title="Living story number 1, again")
    later(core)
    await bot.delivery.run_edits()
    assert len(sender.gone_tried) == 1 and len(sender.edits) == 2


async def test_two_processes_edit_each_message_once(core: Core, database_url: str) -> None:
    first = Recording()
    bot = build_bot(core, {"console": first})
    channels = [f"#c{n}" for n in range(40)]
    await pushed(core, bot, *channels)
    later(core, timedelta(minutes=1))
    await updated(core, 3)
    later(core)
    second = Recording()
    other = build_core(settings_for(database_url), clock=core.clock)  # its own connections
    try:
        other_bot = build_bot(other, {"console": second})
        for editor in (bot.delivery.editor, other_bot.delivery.editor):
            assert editor is not None
            editor.batch = 5  # many small claims, so both take some
        await asyncio.gather(bot.delivery.run_edits(), other_bot.delivery.run_edits())
    finally:
        await other.close()
    edited = [e.replaces for e in first.edits + second.edits]
    assert sorted(edited) == sorted(f"console-{n}" for n in range(1, 41))
    assert first.edits and second.edits


async def test_the_story_command_says_when_it_changed_and_where_it_went(core: Core) -> None:
    sender = Recording()
    bot = build_bot(core, {"console": sender})
    await pushed(core, bot, "#a", "#b", "#c")
    story_id = story(2).id
    asking = CommandContext(ChannelRef("console", "local", "#a"), "u", True)
    reply = await bot.commands.handle(f"/signals story {story_id}", asking)
    assert reply.text == "signalbot has sent it to 3 channels."
    later(core, timedelta(hours=1))
    await updated(core)
    reply = await bot.commands.handle(f"/signals story {story_id}", asking)
    assert reply.text == (
        "signalbot has sent it to 3 channels; updated Nov 30, 2026, 8:04 AM UTC."
    )
    assert reply.cards[0].updated_at is not None
    assert card_from_story(story(2)).version != reply.cards[0].version
