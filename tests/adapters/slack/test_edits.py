"""Living messages on Slack: a pushed story whose page is updated is edited in place with
``chat.update`` (never posted again), within Slack's limits; a message someone deleted is
dropped from edits and pauses nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from adapters.slack.sender import SlackSender
from bot.app import Core, build_bot
from bot.domain import ChannelRef
from tests.adapters.living import (
    NEW_INSIGHT,
    ingest,
    pushed_to,
    updated_and_edited,
    updated_version,
)
from tests.fakes.slack import FakeSlack, block_errors, serve_slack
from tests.render.test_limits import assert_slack_inert, slack_texts


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack()
    fake.team("T1")
    async with serve_slack(fake):
        yield fake


def sender_for(slack: FakeSlack) -> SlackSender:
    return SlackSender.single(slack.teams["T1"].token, api_url=slack.api_url)


async def test_an_updated_page_is_one_chat_update_per_message(living_core: Core, slack: FakeSlack) -> None:
    channels = [ChannelRef("slack", "T1", name) for name in ("C1", "C2")]
    async with sender_for(slack) as sender:
        bot = build_bot(living_core, {"slack": sender})
        await pushed_to(living_core, bot, channels)
        posted = {body["channel"]: body for body in slack.posted()}
        assert set(posted) == {"C1", "C2"}
        assert await updated_and_edited(living_core, bot) == {"sent": 2}
        edits = slack.updated()
        assert sorted(e["channel"] for e in edits) == ["C1", "C2"]
        assert len(slack.posted()) == 2  # nothing posted anew
        for edit in edits:
            stored = slack.messages[(edit["channel"], edit["ts"])]
            assert stored["edited"] and stored["ts"] == edit["ts"]
            text = "\n".join(slack_texts(edit))
            assert NEW_INSIGHT in text and "Updated" in text
            assert "<!date^1709456640^Updated {date_short_pretty} at {time}|" in text
            assert not block_errors(edit["blocks"])  # inside Slack's limits
            for piece in slack_texts(edit):
                assert_slack_inert(piece)
        # the same page again: nothing more to edit
        _, outcome = await ingest(living_core, updated_version())
        assert outcome == "unchanged"
        living_core.clock.advance(living_core.settings.edit_window / 100)  # type: ignore[attr-defined]
        assert (await bot.delivery.run_edits()).outcomes == {}
        assert len(slack.updated()) == 2


async def test_a_deleted_message_is_dropped_and_pauses_nothing(living_core: Core, slack: FakeSlack) -> None:
    channels = [ChannelRef("slack", "T1", name) for name in ("C1", "C2")]
    async with sender_for(slack) as sender:
        bot = build_bot(living_core, {"slack": sender})
        await pushed_to(living_core, bot, channels)
        (gone,) = [b for b in slack.posted() if b["channel"] == "C2"]
        ts = next(ts for (channel, ts) in slack.messages if channel == "C2")
        slack.delete("C2", ts)
        assert gone
        assert await updated_and_edited(living_core, bot) == {"sent": 1, "gone": 1}
        refused = [c for c in slack.calls if c.method == "chat.update" and not c.body.get("_ok")]
        assert [c.body["channel"] for c in refused] == ["C2"]
        (sub,) = await living_core.subscriptions.for_channel(channels[1])
        assert not sub.paused and sub.failures == 0
        async with living_core.engine.connect() as conn:
            contents = dict(
                (await conn.execute(text("SELECT channel, content_key FROM sends"))).all()
            )
        assert contents["C2"] is None and contents["C1"]  # never edited again
