"""What a story and a digest read like on each platform."""

from __future__ import annotations

import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

from bot.domain import Insight, Story
from bot.render.messages import encoded_push, render_digest, render_story
from bot.render.model import build_digest, card_from_story, cut
from tests.conftest import ROOT
from tests.render.test_limits import assert_discord_limits, assert_slack_limits

NY = ZoneInfo("America/New_York")


def sample(**changes: object) -> Story:
    base = Story(
        url="https://www.semafor.com/article/11/24/2026/canal-tolls-rise",
        kind="signals",
        title="Canal tolls rise for the third time this year",
        published_at=datetime(2026, 11, 24, 7, 30, tzinfo=NY),
        region="middle-east",
        verticals=["business", "security"],
        insights_from=["Financial Times", "Arab News"],
        news=[
            "The canal authority raised transit fees by 6% on Monday. Shipping lines said they "
            "would pass the cost on to customers within weeks, and two insurers raised premiums "
            "for vessels that take the route. Port agents expect traffic to fall in the first "
            "quarter as some carriers switch to the longer route around the cape, adding days.",
        ],
        insights=[
            Insight(title=f"Insight number {n}", sources=["Financial Times"], body=f"Body {n}.")
            for n in range(1, 8)
        ],
    )
    return Story.model_validate({**base.model_dump(exclude={"id"}), **changes})


def test_lede_is_cut_at_a_sentence_or_word_boundary() -> None:
    card = card_from_story(sample())
    assert len(card.lede) <= 280
    assert card.lede.endswith(
        "customers within weeks, and two insurers raised premiums for vessels that take the route."
    )
    assert cut("one two three four five six", 12) == "one two…"
    assert cut("short", 12) == "short"


def test_bullets_stop_at_five_then_say_how_many_more() -> None:
    text = render_story(sample(), "text")
    assert isinstance(text, str)
    assert text.count("  • ") == 5
    assert "+2 more" in text
    assert "Insight number 1 — Financial Times" in text
    assert "Insights from Financial Times and Arab News" in text
    assert "Middle East · Business · Security · Nov 24, 2026" in text


def test_insight_without_title_uses_its_first_sentence() -> None:
    story = sample(insights=[Insight(body="Exports doubled in a year. Analysts doubt it lasts.")])
    assert card_from_story(story).bullets[0].title == "Exports doubled in a year."


def test_slack_story_has_linked_headline_and_fallback() -> None:
    payload = render_story(sample(), "slack")
    assert isinstance(payload, dict)
    section = payload["blocks"][0]["text"]["text"]
    assert section.startswith(
        "*<https://www.semafor.com/article/11/24/2026/canal-tolls-rise|Canal tolls rise"
    )
    assert payload["text"].startswith("Canal tolls rise for the third time this year — ")
    assert payload["unfurl_links"] is False


def test_hostile_story_text_is_inert_everywhere() -> None:
    story = sample(
        title="<!channel> *URGENT* read [this](https://evil.example) @everyone",
        news=["Posted by <@U0123> in <#C999>: `rm -rf` ~gone~ _now_ https://evil.example/x"],
    )
    slack_payload = render_story(story, "slack")
    discord_payload = render_story(story, "discord")
    text = json.dumps(slack_payload, ensure_ascii=False)
    assert "<!channel>" not in text and "<@U0123>" not in text and "<#C999>" not in text
    assert "&lt;!channel&gt;" in text
    assert "https://evil" not in text
    embed = json.dumps(discord_payload, ensure_ascii=False)
    assert "@everyone" not in embed and "<@U0123>" not in embed
    assert "[this](" not in embed
    assert isinstance(discord_payload, dict) and discord_payload["allowed_mentions"] == {
        "parse": []
    }


def test_story_without_url_has_no_link() -> None:
    story = Story(title="A page read from a file", news=["Something happened."])
    payload = render_story(story, "slack")
    assert isinstance(payload, dict)
    assert payload["blocks"][0]["text"]["text"].startswith("*A page read from a file*")
    discord_payload = render_story(story, "discord")
    assert isinstance(discord_payload, dict) and "url" not in discord_payload["embeds"][0]


def test_digest_has_header_and_points_to_the_rest() -> None:
    stories = [
        sample(url=f"https://www.semafor.com/article/11/24/2026/story-{n}", title=f"Story {n}")
        for n in range(14)
    ]
    digest = build_digest("middle-east", date(2026, 11, 25), stories)
    text = render_digest(digest, "text")
    assert isinstance(text, str)
    assert text.splitlines()[0] == "== Middle East · Wednesday, November 25 =="
    assert "…and 4 more: /signals latest middle-east" in text
    slack_payload = render_digest(digest, "slack")
    assert isinstance(slack_payload, dict)
    assert slack_payload["blocks"][0]["type"] == "header"
    discord_payload = render_digest(digest, "discord")
    assert isinstance(discord_payload, dict)
    shown = len(discord_payload["embeds"])
    assert 1 <= shown <= 10
    assert f"{14 - shown} more" in discord_payload["content"]


def test_bundled_samples_render_on_every_platform() -> None:
    samples = json.loads((ROOT / "bot" / "samples" / "stories.json").read_text(encoding="utf-8"))
    assert len(samples) >= 20
    for raw in samples:
        story = Story.model_validate(raw)
        slack_payload, discord_payload = (
            render_story(story, "slack"),
            render_story(story, "discord"),
        )
        assert isinstance(slack_payload, dict) and isinstance(discord_payload, dict)
        assert_slack_limits(slack_payload)
        assert_discord_limits(discord_payload)
        text = render_story(story, "text")
        assert isinstance(text, str) and story.title[:40] in text


def test_a_digest_is_encoded_once_for_every_channel_that_gets_it() -> None:
    cards = (sample(), sample(url="https://www.semafor.com/article/11/24/2026/other"))
    first = build_digest("middle-east", date(2026, 11, 24), list(cards))
    same = build_digest("middle-east", date(2026, 11, 24), list(cards))  # equal, not identical
    assert first is not same and first == same
    for fmt in ("slack", "discord"):
        body = encoded_push(first, fmt)
        assert json.loads(body) == render_digest(first, fmt)
        assert encoded_push(first, fmt) is body  # encoded once, however many sends
        assert encoded_push(same, fmt) == body
    other = build_digest("middle-east", date(2026, 11, 25), list(cards))
    assert encoded_push(other, "discord") != encoded_push(first, "discord")


def test_a_discord_story_takes_its_regions_colour() -> None:
    from bot import regions
    from bot.render.discord import COLOUR

    colours = {}
    for region in (r for r in regions.REGIONS if not r.is_group):
        payload = render_story(sample(region=region.key), "discord")
        assert isinstance(payload, dict)
        colours[region.key] = payload["embeds"][0]["color"]
    assert len(set(colours.values())) == len(colours)  # each region its own
    unknown = render_story(sample(region=None), "discord")
    assert isinstance(unknown, dict) and unknown["embeds"][0]["color"] == COLOUR
