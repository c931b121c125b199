"""The Slack app end to end: signed requests POSTed to the running server, answers at the
fake Slack (response_url, chat.postMessage), and what the core keeps."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import timedelta

import pytest

from adapters.slack.app import CANNOT_POST
from bot.app import Core
from bot.domain import ChannelRef, Insight, Story
from bot.platform import FAILED
from tests.adapters.slack.conftest import SlackWorld, running
from tests.render.test_limits import assert_slack_inert, slack_texts

C1 = ChannelRef("slack", "T1", "C1")


async def test_a_lookup_is_acknowledged_at_once_and_answered_privately(world: SlackWorld) -> None:
    key, status = await world.command("latest asia 3")
    assert status == 200
    answer = await world.answer(key)
    assert answer["response_type"] == "ephemeral"
    assert answer["text"].startswith("Latest 3 stories in Asia")
    (row,) = [b for b in answer["blocks"] if b["type"] == "actions"]
    (post,) = row["elements"]
    assert post["text"]["text"] == "Post to channel"
    assert world.slack.posted() == []  # nothing in the channel


async def test_post_to_channel_shows_the_same_answer_to_everyone(world: SlackWorld) -> None:
    key, _ = await world.command("story " + (await world.bot.core.stories.latest(limit=1))[0].id)
    answer = await world.answer(key)
    (row,) = [b for b in answer["blocks"] if b["type"] == "actions"]
    post = next(e for e in row["elements"] if e["text"]["text"] == "Post to channel")
    await world.press({"action_id": post["action_id"], "value": post["value"]}, user="U2")
    (message,) = await world.posted(1)
    assert message["channel"] == "C1"
    assert [b for b in message["blocks"] if b["type"] == "section"] == [
        b for b in answer["blocks"] if b["type"] == "section"
    ]
    assert not any(
        e["text"]["text"] == "Post to channel"
        for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]
    )  # fmt: skip


async def test_a_change_is_confirmed_in_the_channel(world: SlackWorld, core: Core) -> None:
    key, status = await world.command("subscribe bxl at 07:30")
    assert status == 200
    (message,) = await world.posted(1)
    assert message["channel"] == "C1"
    assert message["text"].startswith("Subscribed to Europe (europe): digest daily at 07:30")
    assert [s.region for s in await core.subscriptions.for_channel(C1)] == ["europe"]
    await world.settle()
    assert world.slack.responses.get(key) is None  # nothing private to say


@pytest.mark.parametrize("channel", ["outside-C9", "gone-C9", "archived-C9"])
async def test_a_channel_the_bot_cannot_post_to_keeps_nothing(
    world: SlackWorld, core: Core, channel: str
) -> None:
    key, _ = await world.command("subscribe europe, asia", channel=channel)
    answer = await world.answer(key)
    assert answer["text"] == CANNOT_POST and answer["response_type"] == "ephemeral"
    assert await core.subscriptions.for_channel(ChannelRef("slack", "T1", channel)) == []


async def test_a_refused_change_puts_back_what_the_channel_had(
    world: SlackWorld, core: Core
) -> None:
    where = ChannelRef("slack", "T1", "C5")
    await world.command("subscribe europe at 06:00 topics security", channel="C5")
    await world.posted(1)
    (first,) = await core.subscriptions.for_channel(where)
    await core.subscriptions.record_failure(  # its record of pushes: one failed
        first.id or 0, result="delivery failed: ratelimited", pause_after=3, pause_reason="x"
    )
    world.slack.fail_next["C5"].append("not_in_channel")  # the bot was removed meanwhile
    key, _ = await world.command("subscribe europe, asia at 09:00", channel="C5")
    assert (await world.answer(key))["text"] == CANNOT_POST
    (sub,) = await core.subscriptions.for_channel(where)
    assert (sub.region, f"{sub.push_time:%H:%M}", sub.filters.topics) == ("europe", "06:00", ("security",))
    assert (sub.failures, sub.last_result) == (1, "delivery failed: ratelimited")  # all of it


async def test_stopping_pushes_to_a_channel_that_refuses_the_bot_still_stops_them(
    world: SlackWorld, core: Core
) -> None:
    where = ChannelRef("slack", "T1", "C6")
    await world.command("subscribe europe", channel="C6")
    await world.posted(1)
    world.slack.fail_next["C6"].append("not_in_channel")  # the bot was removed meanwhile
    key, _ = await world.command("unsubscribe europe", channel="C6")
    answer = await world.answer(key)
    assert answer["response_type"] == "ephemeral" and answer["text"] == "Unsubscribed from Europe."
    assert await core.subscriptions.for_channel(where) == []  # the change stands


async def test_a_failure_after_the_ack_gets_a_sentence_not_silence(
    world: SlackWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(world.bot.commands, "handle", broken)
    key, _ = await world.command("latest")
    answer = await world.answer(key)
    assert answer["response_type"] == "ephemeral" and answer["text"] == FAILED
    assert "a bug" not in json.dumps(answer)


@pytest.mark.parametrize("how", ["forged", "unsigned", "stale", "other secret"])
async def test_a_request_not_from_slack_is_refused_and_changes_nothing(
    world: SlackWorld, core: Core, how: str
) -> None:
    body = "team_id=T1&channel_id=C1&user_id=U1&command=%2Fsignals&text=subscribe+europe"
    headers = {
        "forged": {**world.sign(body), "X-Slack-Signature": "v0=" + "0" * 64},
        "unsigned": {},
        "stale": world.sign(body, age=6 * 60),
        "other secret": world.sign(body, secret="not-the-secret"),
    }[how]
    status, text, _ = await world.post(body, "application/x-www-form-urlencoded", headers)
    assert status == 401 and "invalid request" in text
    await world.settle()
    assert await core.subscriptions.count() == 0 and world.slack.posted() == []


async def test_errors_are_private_sentences(world: SlackWorld) -> None:
    key, _ = await world.command("subscribe eurpoe")
    answer = await world.answer(key)
    assert answer["response_type"] == "ephemeral"
    assert answer["text"].startswith('"eurpoe" is not a region I know. Did you mean "europe"?')


async def test_only_admins_may_change_a_channel_when_so_set(core: Core) -> None:
    async with running(core, slack_managers="admins") as world:
        world.slack.teams["T1"].admins.add("UADMIN")
        key, _ = await world.command("subscribe europe", user="UMEMBER")
        assert "Only workspace admins and owners can use /signals subscribe" in (await world.answer(key))["text"]
        await world.command("subscribe europe", user="UADMIN")
        await world.command("subscribe asia", user="UADMIN")
        await world.posted(2)
        key, _ = await world.command("latest", user="UMEMBER")  # looking needs no admin
        assert (await world.answer(key))["response_type"] == "ephemeral"
    looked_up = [c for c in world.slack.calls if c.method == "users.info"]
    assert [c.body.get("user") for c in looked_up] == ["UMEMBER", "UADMIN"]  # then remembered
    assert [s.region for s in await core.subscriptions.for_channel(C1)] == ["asia", "europe"]


async def test_a_channel_archived_is_paused_once_however_often_slack_says_so(
    world: SlackWorld, core: Core
) -> None:
    await world.command("subscribe europe")
    await world.posted(1)
    assert await world.event({"type": "channel_archive", "channel": "C1", "user": "U1"},
                             event_id="Ev1") == 200  # fmt: skip
    await world.settle()
    (sub,) = await core.subscriptions.for_channel(C1)
    assert sub.paused and sub.paused_reason == "the channel was archived"
    await world.command("resume")  # unarchived, and resumed by hand
    await world.posted(2)
    await world.event({"type": "channel_archive", "channel": "C1", "user": "U1"}, event_id="Ev1")
    await world.settle()  # Slack's retry of the same event: handled already
    (sub,) = await core.subscriptions.for_channel(C1)
    assert not sub.paused


async def test_the_bot_removed_from_a_channel_pauses_it(world: SlackWorld, core: Core) -> None:
    await world.command("subscribe europe")
    await world.posted(1)
    await world.event({"type": "member_left_channel", "user": "U7", "channel": "C1"}, event_id="E1")
    await world.settle()
    assert not (await core.subscriptions.for_channel(C1))[0].paused  # someone else left
    await world.event({"type": "member_left_channel", "user": "UBOT", "channel": "C1"}, event_id="E2")
    await world.settle()
    (sub,) = await core.subscriptions.for_channel(C1)
    assert sub.paused and sub.paused_reason == "signalbot was removed from the channel"


async def test_uninstalling_removes_the_workspaces_subscriptions(
    world: SlackWorld, core: Core
) -> None:
    await world.command("subscribe europe")
    await world.command("subscribe asia", channel="C2")
    await world.posted(2)
    await world.event({"type": "app_uninstalled"}, event_id="Ev9")
    await world.settle()
    assert await core.subscriptions.count() == 0


async def test_from_a_slash_command_to_the_morning_push(world: SlackWorld, core: Core) -> None:
    await world.command("subscribe europe at 07:30")
    key, _ = await world.command("subscribe europe", channel="gone-C3")
    assert (await world.answer(key))["text"] == CANNOT_POST  # refused at once: not kept
    await world.posted(1)
    core.clock.advance(timedelta(hours=19, minutes=30))  # Thu 26 Nov, 07:30 in Brussels
    hostile = Story(
        url="https://example.com/hostile-push", kind="signals", region="europe",
        title="<!channel> *Ports* <@U024BE7LH> reopen", published_at=core.clock.now(),
        news=["Dockworkers <http://evil.example|click> accepted @here a `contract`."],
        insights=[Insight(title="~strike~", sources=["<!everyone>"], body="x")],
    )  # fmt: skip
    await core.stories.save(hostile, now=core.clock.now())
    outcomes = await world.bot.service.scan()
    assert [(o.channel.channel, o.status) for o in outcomes] == [("C1", "sent")]
    _confirmation, push = world.slack.posted()
    assert push["channel"] == "C1" and push["blocks"][0]["type"] == "header"
    assert push["blocks"][0]["text"]["text"] == "Europe · Thursday, November 26"
    texts = slack_texts(push)
    assert any("Ports" in text for text in texts)  # the hostile story is in the push
    for text in texts:
        assert_slack_inert(text)
    (row,) = [b for b in push["blocks"] if b["type"] == "actions"]
    more, leave = row["elements"]
    assert (more["text"]["text"], leave["text"]["text"]) == ("More from Europe", "Unsubscribe Europe")
    await world.press({"action_id": leave["action_id"], "value": leave["value"]})
    (*_, goodbye) = await world.posted(3)
    assert goodbye["text"] == "Unsubscribed from Europe."
    assert await core.subscriptions.for_channel(C1) == []


async def wait_for(condition: Callable[[], bool]) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("it never happened")


async def test_the_app_home_shows_each_channel_and_acts_on_it(
    world: SlackWorld, core: Core
) -> None:
    await world.command("subscribe europe keywords <!channel>, grid")
    await world.command("subscribe asia mode instant", channel="C2")
    await world.posted(2)
    assert await world.event({"type": "app_home_opened", "user": "U1", "tab": "home"},
                             event_id="H1") == 200  # fmt: skip
    await wait_for(lambda: len(world.homes()) == 1)
    (home,) = world.homes()
    view = home["view"] if isinstance(home["view"], dict) else json.loads(home["view"])
    texts = slack_texts({"text": "", "blocks": view["blocks"]})
    shown = "\n".join(texts)
    assert "*<#C1>*" in shown and "*<#C2>*" in shown
    assert "Europe (europe): digest daily at 07:00 Europe/Brussels — next push Thu 26 Nov" in shown
    assert "Asia (asia): instant alerts as stories arrive" in shown
    assert "europe: Europe, Brussels, 07:00 Europe/Brussels" in shown  # the catalogue
    for text in texts:
        assert_slack_inert(text.replace("<#C1>", "").replace("<#C2>", ""))
    buttons = [e for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [e["text"]["text"] for e in buttons] == ["Pause Europe", "Pause Asia"]
    await world.press_on_home({"action_id": buttons[0]["action_id"], "value": buttons[0]["value"]})
    await wait_for(lambda: len(world.homes()) == 2)
    (sub,) = await core.subscriptions.for_channel(C1)
    assert sub.paused and sub.paused_reason.startswith("paused by U1")  # type: ignore[union-attr]
    assert world.slack.posted("C1")[-1]["text"].startswith("Paused Europe.")
    again = world.homes()[-1]["view"]
    again = again if isinstance(again, dict) else json.loads(again)
    labels = [e["text"]["text"] for b in again["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert labels == ["Resume Europe", "Pause Asia"]


async def test_the_app_home_offers_no_buttons_to_those_who_may_not_use_them(core: Core) -> None:
    async with running(core, slack_managers="admins") as world:
        world.slack.teams["T1"].admins.add("UADMIN")
        await world.command("subscribe europe", user="UADMIN")
        await world.posted(1)
        await world.event({"type": "app_home_opened", "user": "UMEMBER"}, event_id="H2")
        await wait_for(lambda: len(world.homes()) == 1)
        view = world.homes()[0]["view"]
        view = view if isinstance(view, dict) else json.loads(view)
        assert not [b for b in view["blocks"] if b["type"] == "actions"]
