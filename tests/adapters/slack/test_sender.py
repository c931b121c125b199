"""The Slack sender against the fake Slack Web API: what it posts, and how each of Slack's
answers reaches the delivery engine."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.slack.sender import LIMITS, SlackSender
from bot.app import Core, build_bot
from bot.cli import _slack_sender
from bot.delivery.limits import Limiter
from bot.domain import ChannelRef, Insight, Story, Subscription
from bot.platform import DeliveryError, Notice, Outgoing
from bot.render.model import build_digest, card_from_story
from bot.schedule import next_push_for
from tests.conftest import settings_for
from tests.fakes.slack import FakeSlack, serve_slack
from tests.render.strategies import stories
from tests.render.test_limits import assert_slack_inert, slack_texts

HOSTILE = Story(
    url="https://www.semafor.com/article/11/20/2026/hostile",
    kind="signals",
    title="<!channel> *Ports* <@U024BE7LH> reopen",
    published_at=datetime(2026, 11, 25, 5, 0, tzinfo=UTC),
    region="europe",
    news=["Dockworkers <http://evil.example|click> accepted @here a contract."],
    insights=[Insight(title="`code` ~strike~", sources=["<!everyone>"], body="x")],
)


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack()
    fake.team("T1")
    fake.team("T2", token="xoxb-T2-revoked")
    fake.revoked.add("xoxb-T2-revoked")
    async with serve_slack(fake):
        yield fake


def sender_for(slack: FakeSlack) -> SlackSender:
    async def token_for(workspace: str) -> str | None:
        team = slack.teams.get(workspace)
        return team.token if team else None

    return SlackSender(token_for, api_url=slack.api_url)


async def test_a_story_and_a_digest_are_posted_as_slack_takes_them(slack: FakeSlack) -> None:
    card = card_from_story(HOSTILE)
    digest = build_digest("europe", date(2026, 11, 25), [HOSTILE] * 1)
    async with sender_for(slack) as sender:
        ts = await sender.send(Outgoing(ChannelRef("slack", "T1", "C1"), card))
        await sender.send(Outgoing(ChannelRef("slack", "T1", "C1"), digest))
        await sender.send(Outgoing(ChannelRef("slack", "T1", "C2"), Notice("paused <!here>")))
    assert ts and ts.startswith("17900")
    posted = slack.posted("C1")
    assert len(posted) == 2 and len(slack.posted("C2")) == 1
    for call in slack.calls:
        assert call.token == "xoxb-T1-fake"
    for body in slack.posted():
        for text in slack_texts(body):
            assert_slack_inert(text)
        assert body["unfurl_links"] is False


@settings(max_examples=25, deadline=None)
@given(st.lists(stories, min_size=1, max_size=12))
async def test_whatever_stories_say_slack_takes_the_digest(items: list[Story]) -> None:
    slack = FakeSlack()
    slack.team("T1")
    async with serve_slack(slack), sender_for(slack) as sender:
        digest = build_digest("world", date(2026, 11, 25), items)
        await sender.send(Outgoing(ChannelRef("slack", "T1", "C1"), digest))
        for story in items[:3]:
            await sender.send(Outgoing(ChannelRef("slack", "T1", "C1"), card_from_story(story)))
    assert len(slack.posted()) == 1 + len(items[:3])


@pytest.mark.parametrize(
    ("workspace", "channel", "scope", "reason"),
    [
        ("T1", "gone-1", "channel", "channel_not_found"),
        ("T1", "outside-1", "channel", "not_in_channel"),
        ("T1", "archived-1", "channel", "is_archived"),
        ("T2", "C1", "token", "token_revoked"),
        ("T9", "C1", "workspace", "signalbot is not installed in this workspace"),
    ],
)
async def test_a_refusal_says_what_cannot_take_messages(
    slack: FakeSlack, workspace: str, channel: str, scope: str, reason: str
) -> None:
    async with sender_for(slack) as sender:
        with pytest.raises(DeliveryError) as refused:
            await sender.send(Outgoing(ChannelRef("slack", workspace, channel), Notice("hi")))
    assert refused.value.scope == scope and refused.value.permanent
    assert refused.value.reason == reason
    assert "xoxb" not in str(refused.value)


@pytest.mark.parametrize(
    ("error", "permanent", "retry_after"),
    [("msg_too_long", True, None), ("internal_error", False, None), ("fatal_error", False, None)],
)
async def test_other_answers_are_one_message_or_worth_another_try(
    slack: FakeSlack, error: str, permanent: bool, retry_after: float | None
) -> None:
    slack.fail_next["C1"].append(error)
    async with sender_for(slack) as sender:
        with pytest.raises(DeliveryError) as refused:
            await sender.send(Outgoing(ChannelRef("slack", "T1", "C1"), Notice("hi")))
    assert refused.value.scope == "message" and refused.value.permanent is permanent


async def test_a_429_asks_the_engine_to_wait(slack: FakeSlack) -> None:
    slack.channel_limit = (1, 1.0)
    async with sender_for(slack) as sender:
        await sender.send(Outgoing(ChannelRef("slack", "T1", "C1"), Notice("one")))
        with pytest.raises(DeliveryError) as limited:
            await sender.send(Outgoing(ChannelRef("slack", "T1", "C1"), Notice("two")))
    assert limited.value.retry_after is not None and 0 < limited.value.retry_after <= 2
    assert not limited.value.permanent


async def test_pushes_through_the_engine_keep_slacks_pace(core: Core, slack: FakeSlack) -> None:
    slack.channel_limit = (1, 1.0)  # Slack's pace for a channel, enforced
    async with sender_for(slack) as sender:
        delivery = build_bot(core, {"slack": sender}).delivery
        channels = [ChannelRef("slack", "T1", name) for name in ("C1", "C2", "gone-3")]
        subs = []
        for channel in channels:
            for region in ("europe", "africa"):
                sub = Subscription(channel=channel, region=region, push_time=time(7, 0),
                                   timezone="UTC")  # fmt: skip
                sub = Subscription(**{**sub.__dict__, "next_push_at": next_push_for(sub, core.clock.now())})
                subs.append((await core.subscriptions.save(sub, now=core.clock.now()))[0])
        for day in range(3):
            core.clock.advance(timedelta(days=1))
            for region in ("europe", "africa"):
                news = Story(url=f"https://example.com/article/{day}-{region}", kind="signals",
                             title=f"Day {day} in {region}", published_at=core.clock.now(),
                             region=region, news=["Something happened."])  # fmt: skip
                await core.stories.save(news, now=core.clock.now())
            outcomes = await delivery.run_due()
            await delivery.in_flight.wait()
            gone_status = "paused" if day == 2 else "failed"
            assert Counter(o.status for o in outcomes) == {"sent": 4, gone_status: 2}
    assert Counter(b["channel"] for b in slack.posted()) == {"C1": 6, "C2": 6}
    tried = [c for c in slack.calls if c.method == "chat.postMessage"
             and c.body.get("channel") == "gone-3"]  # fmt: skip
    assert len(tried) == 3 + 1  # one push a scan (its other region is not tried), one notice
    assert slack.rejected_429 == 0  # the engine kept to one a second per channel
    gone = await core.subscriptions.for_channel(channels[2])
    assert all(s.paused and "channel_not_found" in (s.paused_reason or "") for s in gone)


@pytest.mark.parametrize(("rate", "per_workspace"), [(None, LIMITS.per_workspace), (4.5, 4.5), (0, 0)])
async def test_the_pace_per_workspace_is_the_operators_to_set(
    rate: float | None, per_workspace: float | None
) -> None:
    """SIGNALBOT_SLACK_WORKSPACE_RATE: ten messages a second to a workspace by default; 0
    leaves the pace to Slack's 429s. A channel's one a second stays whatever it is."""
    chosen = {} if rate is None else {"slack_workspace_rate": rate}
    settings = settings_for("sqlite+aiosqlite:///unused.db", slack_bot_token="xoxb-1",
                            slack_signing_secret="s", **chosen)  # fmt: skip
    sender, _ = _slack_sender(settings, None)  # type: ignore[arg-type]  # one workspace: no core
    assert sender.limits.per_workspace == per_workspace
    assert sender.limits.per_channel == LIMITS.per_channel
    limiter = Limiter(sender.limits)
    await limiter.acquire(ChannelRef("slack", "T1", "C1"))
    window = limiter.workspace_window("T1")
    assert (window is not None) == (rate != 0)  # 0: no window for the workspace
