"""A command's reply and a bot notice, rendered for each platform: inside every limit, inert
whatever text they carry, and with their buttons where the platform has them."""

from __future__ import annotations

from datetime import date
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.domain import Story
from bot.render import discord, slack
from bot.render.messages import render_push, render_reply
from bot.render.model import Action, Notice, Reply, build_digest, card_from_story
from tests.render.strategies import hostile_text, stories
from tests.render.test_limits import (
    assert_discord_inert,
    assert_slack_inert,
    assert_slack_limits,
    slack_texts,
)

# Replies hold many stories each: fewer examples than the story tests keep this quick.
SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
actions = st.lists(
    st.builds(
        Action,
        kind=st.sampled_from(["post", "more", "unsubscribe"]),
        label=hostile_text,
        command=st.one_of(st.just("/signals latest europe"), st.text(max_size=3000)),
        payload=st.one_of(st.just('["latest",{"region":"europe"}]'), st.text(max_size=3000)),
    ),
    max_size=8,
)
replies = st.builds(
    Reply,
    text=st.one_of(hostile_text, st.text(min_size=2000, max_size=9000), st.just("")),
    cards=st.lists(stories, max_size=12).map(lambda s: tuple(card_from_story(x) for x in s)),
    digest=st.one_of(
        st.none(),
        st.lists(stories, min_size=1, max_size=4).map(
            lambda s: build_digest("europe", date(2026, 11, 25), s)
        ),
    ),
    actions=actions.map(tuple),
)


def assert_discord_reply_limits(payload: dict[str, Any]) -> None:
    assert payload["allowed_mentions"] == {"parse": []}
    assert discord.length(payload["content"]) <= discord.CONTENT
    embeds = payload.get("embeds", [])
    assert len(embeds) <= discord.EMBEDS
    assert sum(discord.embed_size(e) for e in embeds) <= discord.EMBEDS_TOTAL
    for embed in embeds:
        assert discord.length(embed.get("title", "")) <= discord.EMBED_TITLE
        assert discord.length(embed.get("description", "")) <= discord.EMBED_DESCRIPTION
    rows = payload.get("components", [])
    assert len(rows) <= discord.ROWS
    for row in rows:
        assert row["type"] == 1 and 1 <= len(row["components"]) <= discord.BUTTONS_PER_ROW
        for button in row["components"]:
            assert len(button["custom_id"]) <= discord.CUSTOM_ID
            assert 0 < len(button["label"]) <= discord.BUTTON_LABEL


@SETTINGS
@given(replies)
@example(Reply("a&b" * 3000))
def test_a_reply_fits_slack_and_says_nothing_it_should_not(reply: Reply) -> None:
    payload = render_reply(reply, "slack")
    assert isinstance(payload, dict)
    assert_slack_limits(payload)
    for block in payload["blocks"]:
        if block["type"] == "actions":
            assert len(block["elements"]) <= slack.ACTION_ELEMENTS
            for button in block["elements"]:
                assert len(button["value"]) <= slack.BUTTON_VALUE
                assert 0 < slack.length(button["text"]["text"]) <= slack.BUTTON_TEXT
                assert button["text"]["type"] == "plain_text"  # a label formats nothing
    for text in slack_texts({**payload, "blocks": [b for b in payload["blocks"]
                                                   if b["type"] != "actions"]}):  # fmt: skip
        assert_slack_inert(text)


@SETTINGS
@given(replies)
@example(Reply("x" * 6500))
@example(Reply("*bc:" * 3000))
def test_a_reply_fits_discord_and_says_nothing_it_should_not(reply: Reply) -> None:
    payload = render_reply(reply, "discord")
    assert isinstance(payload, dict)
    assert_discord_reply_limits(payload)
    assert_discord_inert(payload["content"])
    for embed in payload["embeds"]:
        assert_discord_inert(embed.get("title", "") + embed.get("description", ""))


def test_a_long_answer_is_split_not_cut() -> None:
    lines = [f"  line {n}: " + "x" * 60 for n in range(150)]  # about 10,000 characters
    reply = Reply("\n".join(lines))
    slack_payload = render_reply(reply, "slack")
    assert isinstance(slack_payload, dict)
    # Slack takes 10,000 characters of text a message: as many whole lines as fit, then "…"
    shown = "\n".join(b["text"]["text"] for b in slack_payload["blocks"])
    assert shown.endswith("\n…") and reply.text.startswith(shown.removesuffix("\n…"))
    assert 9000 < len(shown) <= slack.BLOCKS_TEXT
    discord_payload = render_reply(reply, "discord")
    assert isinstance(discord_payload, dict)
    assert discord_payload["content"] == ""
    # Discord holds 6,000 characters of embeds: as many whole lines as fit, then "…"
    described = "\n".join(e["description"] for e in discord_payload["embeds"])
    assert described.endswith("\n…") and len(described) <= discord.EMBEDS_TOTAL
    shown = described.removesuffix("\n…")
    assert discord.escape(reply.text).startswith(shown) and len(shown) > 5000
    short = render_reply(Reply("\n".join(lines[:80])), "discord")  # about 5,400: all of it
    assert isinstance(short, dict)
    described = "\n".join(e["description"] for e in short["embeds"])
    assert described == discord.escape("\n".join(lines[:80]))


UNSUBSCRIBE = Action(
    "unsubscribe", "Unsubscribe Europe", "/signals unsubscribe europe",
    '["unsubscribe",{"region":"europe"}]',
)  # fmt: skip
LONG_SEARCH = Action(
    "post", "Post to channel", "/signals search " + "w " * 60,
    '["search",{"words":"' + "w " * 60 + '"}]',
)  # fmt: skip


def test_buttons_carry_the_request_they_run() -> None:
    reply = Reply("Subscribed.", actions=(UNSUBSCRIBE, LONG_SEARCH))
    slack_payload = render_reply(reply, "slack")
    assert isinstance(slack_payload, dict)
    (row,) = [b for b in slack_payload["blocks"] if b["type"] == "actions"]
    assert [(e["value"], e.get("style")) for e in row["elements"]] == [
        (UNSUBSCRIBE.payload, "danger"),
        (LONG_SEARCH.payload, None),
    ]
    assert [slack.pressed(e["action_id"]) for e in row["elements"]] == ["unsubscribe", "post"]
    discord_payload = render_reply(reply, "discord")
    assert isinstance(discord_payload, dict)
    (drow,) = discord_payload["components"]
    # Discord holds 100 characters of id: the long search has no button there
    assert [discord.pressed(b["custom_id"]) for b in drow["components"]] == [
        ("unsubscribe", UNSUBSCRIBE.payload)
    ]
    assert discord.pressed("someone-else:post:x") is None and slack.pressed("x-post-1") is None


def test_the_text_format_shows_answers_as_the_console_always_has() -> None:
    story = Story(title="Ports reopen after a week of strikes", url="https://example.com/ports",
                  news=["Dockworkers accepted a new contract on Sunday."])  # fmt: skip
    card = card_from_story(story)
    reply = Reply("Latest 1 story:", cards=(card,), actions=(LONG_SEARCH,))
    text = render_reply(reply, "text")
    assert isinstance(text, str)
    assert text.startswith("Latest 1 story:\n\n") and f"[{card.story_id}]" in text
    assert "Post to channel" not in text


@SETTINGS
@given(hostile_text)
def test_a_notice_is_inert_everywhere(text: str) -> None:
    notice = Notice(f"signalbot paused this channel's Europe subscription: {text}")
    slack_payload = render_push(notice, "slack")
    assert isinstance(slack_payload, dict)
    assert_slack_limits(slack_payload)
    for shown in slack_texts(slack_payload):
        assert_slack_inert(shown)
    discord_payload = render_push(notice, "discord")
    assert isinstance(discord_payload, dict)
    assert_discord_reply_limits(discord_payload)
    assert_discord_inert(discord_payload["content"])
    assert render_push(notice, "text") == notice.text


def test_a_long_notice_stays_inside_discords_limits() -> None:
    payload = render_push(Notice("y" * 8000), "discord")
    assert isinstance(payload, dict)
    assert_discord_reply_limits(payload)
