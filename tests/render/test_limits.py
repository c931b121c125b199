"""Property tests: every platform limit holds and story text can never ping, link or format."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain import Story
from bot.render import discord, slack
from bot.render.messages import render_digest, render_story
from bot.render.model import LEDE_LIMIT, build_digest, card_from_story
from tests.render.strategies import stories

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
JOINER = "\u2060"
# our own markup: a link's target, and the date of an update (Slack formats it per reader)
OUR_LINK = re.compile(r"<https?://[^|<>\s]+\||<!date\^\d+\^Updated \{date_short_pretty\} at \{time\}\|")


def slack_texts(payload: dict[str, Any]) -> list[str]:
    texts = [payload["text"]]
    for block in payload["blocks"]:
        if "text" in block:
            texts.append(block["text"]["text"])
        for element in block.get("elements", []):  # context texts; button labels
            text = element["text"]
            texts.append(text if isinstance(text, str) else text["text"])
    return texts


def assert_slack_inert(text: str) -> None:
    """No mention, link or formatting can come from story text."""
    rest = OUR_LINK.sub("", text)
    assert "<" not in rest, rest
    # every '>' left is the end of our own link; every '&' starts an entity
    assert rest.count(">") == text.count("<") - rest.count("<"), rest
    assert not re.search(r"&(?!amp;|lt;|gt;)", text)
    assert not re.search(r"@(here|channel|everyone)", text, re.I)
    assert not re.search(r"(?<!\u2060)://", rest)


def assert_slack_limits(payload: dict[str, Any]) -> None:
    assert len(payload["blocks"]) <= slack.MAX_BLOCKS
    assert slack.blocks_text(payload["blocks"]) <= slack.BLOCKS_TEXT
    assert slack.length(payload["text"]) <= slack.FALLBACK_TEXT
    ids = [b["block_id"] for b in payload["blocks"] if "block_id" in b]
    assert len(ids) == len(set(ids))
    for block in payload["blocks"]:
        assert len(block.get("block_id", "")) <= slack.BLOCK_ID
        if block["type"] == "section":
            assert slack.length(block["text"]["text"]) <= slack.SECTION_TEXT
            assert block["text"].get("verbatim") is True
        if block["type"] == "header":
            assert block["text"]["type"] == "plain_text"
            assert slack.length(block["text"]["text"]) <= slack.HEADER_TEXT
        if block["type"] == "context":
            assert len(block["elements"]) <= slack.CONTEXT_ELEMENTS
            for element in block["elements"]:
                assert slack.length(element["text"]) <= slack.SECTION_TEXT


def assert_discord_limits(payload: dict[str, Any]) -> None:
    assert payload["allowed_mentions"] == {"parse": []}
    assert discord.length(payload["content"]) <= discord.CONTENT
    assert len(payload["embeds"]) <= discord.EMBEDS
    assert sum(discord.embed_size(e) for e in payload["embeds"]) <= discord.EMBEDS_TOTAL
    for embed in payload["embeds"]:
        assert discord.length(embed.get("title", "")) <= discord.EMBED_TITLE
        assert discord.length(embed.get("description", "")) <= discord.EMBED_DESCRIPTION
        assert discord.length(embed["footer"]["text"]) <= discord.FOOTER
        assert len(embed.get("fields", [])) <= discord.EMBED_FIELDS


def assert_discord_inert(text: str) -> None:
    assert not re.search(r"@(here|everyone)", text, re.I)
    assert not re.search(r"(?<!\\)<[@#:!t&]", text)  # no live mention or timestamp
    assert not re.search(r"(?<!\\)\]\(", text)  # no masked link
    # no bare URL can auto-link: a zero-width space stands between the scheme and '://'
    assert not re.search(r"[A-Za-z0-9](\\)?:(\\)?//", text)


@SETTINGS
@given(stories)
def test_slack_story_within_limits_and_inert(story: Story) -> None:
    payload = render_story(story, "slack")
    assert isinstance(payload, dict)
    assert_slack_limits(payload)
    for text in slack_texts(payload):
        assert_slack_inert(text)


@SETTINGS
@given(stories)
def test_discord_story_within_limits_and_inert(story: Story) -> None:
    payload = render_story(story, "discord")
    assert isinstance(payload, dict)
    assert_discord_limits(payload)
    (embed,) = payload["embeds"]
    assert_discord_inert(embed["title"])
    assert_discord_inert(embed.get("description", ""))
    assert not re.search(r"@(here|everyone)", embed["footer"]["text"], re.I)
    assert "<@" not in embed["footer"]["text"]


@SETTINGS
@given(stories)
def test_text_story_lede_and_bullets(story: Story) -> None:
    card = card_from_story(story)
    assert len(card.lede) <= LEDE_LIMIT
    assert len(card.bullets) <= 5
    assert card.more_insights == max(0, len(story.insights) - 5)
    text = render_story(story, "text")
    assert isinstance(text, str) and story.id in text
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f\u202e]", text)


def distinct_copies(story: Story, count: int) -> list[Story]:
    """``count`` stories like ``story``, each at a link (and so an id) of its own."""
    raw = story.model_dump(exclude={"id"})
    return [
        Story.model_validate({**raw, "url": f"https://www.semafor.com/article/11/25/2026/s-{n}"})
        for n in range(count)
    ]


@SETTINGS
@given(
    st.one_of(
        st.lists(stories, max_size=25),  # repeats included: a story reached twice shows once
        # more distinct stories than a Slack digest shows: the pointer to the rest
        st.tuples(stories, st.integers(11, 25)).map(lambda pair: distinct_copies(*pair)),
    )
)
def test_digests_fit_every_platform(items: list[Story]) -> None:
    digest = build_digest("europe", date(2026, 11, 25), items)
    distinct = len({story.id for story in items})
    assert len(digest.cards) == distinct
    slack_payload = render_digest(digest, "slack")
    assert isinstance(slack_payload, dict)
    assert_slack_limits(slack_payload)
    for text in slack_texts(slack_payload):
        assert_slack_inert(text)
    shown = sum(1 for b in slack_payload["blocks"] if b["type"] == "section")
    pointer = any("more: `/signals latest europe`" in str(b) for b in slack_payload["blocks"])
    assert pointer == (shown < distinct)

    discord_payload = render_digest(digest, "discord")
    assert isinstance(discord_payload, dict)
    assert_discord_limits(discord_payload)
    for embed in discord_payload["embeds"]:
        assert_discord_inert(embed["title"])
        assert_discord_inert(embed.get("description", ""))
    hidden = distinct - len(discord_payload["embeds"])
    assert (f"{hidden} more" in discord_payload["content"]) == (hidden > 0)
    if items:
        assert discord_payload["embeds"], "at least the first story always fits"

    text = render_digest(digest, "text")
    assert isinstance(text, str) and "Europe" in text.splitlines()[0]


@SETTINGS
@given(st.lists(stories, min_size=1, max_size=12))
def test_an_edited_digest_fits_every_platform_and_only_our_marks_are_live(
    items: list[Story],
) -> None:
    """As an edit renders it: every card says when it was updated, each platform its way."""
    at = datetime(2026, 11, 30, 9, 4, tzinfo=ZoneInfo("Europe/Brussels"))
    plain = build_digest("europe", date(2026, 11, 25), items)
    digest = replace(plain, cards=tuple(replace(card, updated_at=at) for card in plain.cards))
    slack_payload = render_digest(digest, "slack")
    assert isinstance(slack_payload, dict)
    assert_slack_limits(slack_payload)
    for text in slack_texts(slack_payload):
        assert_slack_inert(text)
    discord_payload = render_digest(digest, "discord")
    assert isinstance(discord_payload, dict)
    assert_discord_limits(discord_payload)
    mark = f"*Updated <t:{int(at.timestamp())}:f>*"
    for embed in discord_payload["embeds"]:
        description = embed.get("description", "")
        assert description.startswith(mark)
        assert_discord_inert(description.removeprefix(mark))
    text = render_digest(digest, "text")
    assert isinstance(text, str) and "Updated Nov 30, 2026, 9:04 AM CET" in text
