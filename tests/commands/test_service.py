"""Every command and every error sentence, through the command service as adapters drive it."""

from __future__ import annotations

import pytest

from bot import regions
from bot.app import Core
from bot.commands import REGISTRY, command
from bot.render.model import Digest
from tests.commands.conftest import CHANNEL, Channel


async def test_help_lists_every_command_and_explains_one(channel: Channel) -> None:
    out = await channel.text("/signals help", "/signals help subscribe", "/signals help subscibe")
    for name in REGISTRY:
        assert f"/signals {name}" in out
    assert out.index("/signals help [<command>]") < out.index("/signals regions") < out.index(
        "/signals subscribe <region>[,<region>...] [at HH:MM] [tz <zone>] "
        "[days daily|weekdays|mon,wed,fri] [mode digest|instant] [topics <topics>] "
        "[sources <outlets>] [keywords <words>] [exclude <words>]"
    )
    assert "Defaults: 07:00 in the region's home time zone" in out
    assert 'There is no command "subscibe". Did you mean "subscribe"?' in out


async def test_regions_show_keys_aliases_cities_and_push_times(channel: Channel) -> None:
    out = await channel.text("/signals regions")
    assert (
        "europe: Europe, Brussels, 07:00 Europe/Brussels; covers uk; aliases: bxl, brussels" in out
    )
    assert "southeast-asia: Southeast Asia, Singapore, 07:00 Asia/Singapore" in out
    assert "world: World" in out


async def test_subscribe_defaults_and_chosen_time(channel: Channel, core: Core) -> None:
    out = await channel.text("/signals subscribe bxl at 07:30", "/signals subscribe lagos")
    # the clock reads Wed 25 Nov 2026 12:00 UTC: 13:00 in Brussels and in Lagos
    assert (
        "Subscribed to Europe (europe): digest daily at 07:30 Europe/Brussels. "
        "Next push Thu 26 Nov 07:30 CET (in 18 h)." in out
    )
    assert "Subscribed to Africa (africa): digest daily at 07:00 Africa/Lagos" in out
    subs = await core.subscriptions.for_channel(CHANNEL)
    assert [(s.region, f"{s.push_time:%H:%M}") for s in subs] == [
        ("africa", "07:00"),
        ("europe", "07:30"),
    ]


async def test_subscribing_again_updates_instead_of_adding(channel: Channel, core: Core) -> None:
    out = await channel.text(
        "/signals subscribe europe at 07:30 topics security",
        "/signals subscribe brussels at 08:15 tz Europe/Paris days weekdays",
        "/signals list",
    )
    assert "Updated Europe (europe): digest weekdays at 08:15 Europe/Paris." in out
    (sub,) = await core.subscriptions.for_channel(CHANNEL)
    assert sub.filters.topics == ("security",)  # options not given again are kept
    assert (
        "  • Europe (europe): digest weekdays at 08:15 Europe/Paris — next push Thu 26 Nov 08:15 CET"
        in out
    )
    assert "      topics: security" in out


@pytest.mark.parametrize(
    ("line", "keys", "at", "zone"),
    [
        ("europe 08:00 Europe/Brussels", ["europe"], "08:00", "Europe/Brussels"),
        ("europe at 8:15 in america/new_york", ["europe"], "08:15", "America/New_York"),
        ("middle east 6:45am Asia/Dubai topics business", ["middle-east"], "06:45", "Asia/Dubai"),
        ("europe, singapore", ["europe", "southeast-asia"], "07:00", None),  # a region first
        ("europe in UTC", ["europe"], "07:00", "UTC"),
        ("europe 7:30 pm", ["europe"], "19:30", "Europe/Brussels"),
    ],
)
async def test_a_time_and_zone_typed_without_the_option_words(
    channel: Channel, core: Core, line: str, keys: list[str], at: str, zone: str | None
) -> None:
    reply = await channel.ask(f"/signals subscribe {line}")
    assert reply.ok, reply.text
    subs = await core.subscriptions.for_channel(CHANNEL)
    assert sorted(s.region for s in subs) == keys
    for sub in subs:
        assert f"{sub.push_time:%H:%M}" == at
        assert sub.timezone == (zone or regions.get(sub.region).timezone.key)


EVERY_OPTION = (
    "/signals subscribe middle east, asia at 6:45am tz Asia/Dubai days mon,wed,fri "
    "mode digest topics business, net zero sources the Financial Times, Bloomberg "
    "keywords grid, power exclude football"
)


async def test_several_regions_and_every_option(channel: Channel, core: Core) -> None:
    out = await channel.text(EVERY_OPTION, "/signals list")
    subs = await core.subscriptions.for_channel(CHANNEL)
    assert [s.region for s in subs] == ["asia", "middle-east"]
    for sub in subs:
        assert f"{sub.push_time:%H:%M}" == "06:45" and sub.timezone == "Asia/Dubai"
        assert sub.days == (0, 2, 4)
        assert sub.filters.topics == ("business", "net-zero")
        assert sub.filters.sources == ("Financial Times", "Bloomberg")
        assert sub.filters.keywords == ("grid", "power")
        assert sub.filters.exclude == ("football",)
    assert "digest mon,wed,fri at 06:45 Asia/Dubai" in out
    assert "sources: Financial Times, Bloomberg" in out


async def test_typed_options_build_the_same_subscription_as_text(
    channel: Channel, core: Core
) -> None:
    options = {
        "regions": "middle east, asia", "at": "6:45am", "tz": "Asia/Dubai",
        "days": "mon,wed,fri", "mode": "digest", "topics": "business, net zero",
        "sources": "the Financial Times, Bloomberg", "keywords": "grid, power",
        "exclude": "football", "unused": None,
    }  # fmt: skip
    options.pop("unused")
    by_options = await channel.service.handle_options("subscribe", options, channel.context())
    assert by_options.ok, by_options.text
    typed = await core.subscriptions.for_channel(CHANNEL)
    await channel.ask("/signals unsubscribe all")
    by_text = await channel.ask(EVERY_OPTION)
    assert by_text.text == by_options.text
    written = await core.subscriptions.for_channel(CHANNEL)
    strip = [(s.region, s.push_time, s.timezone, s.days, s.mode, s.filters) for s in typed]
    assert strip == [(s.region, s.push_time, s.timezone, s.days, s.mode, s.filters) for s in written]


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("subscribe", {"regions": "europe", "at": "25:00"}, '"25:00" is not a time of day'),
        ("subscribe", {"regions": "eurpoe"}, 'Did you mean "europe"?'),
        ("subscribe", {"at": "07:00"}, "Which region? For example: /signals subscribe europe"),
        ("subscribe", {"regions": "europe", "tz": "Mars/Olympus"}, "is not a time zone I know"),
        ("latest", {"count": 50}, "Ask for 1 to 20 stories"),
        ("latest", {"colour": "red"}, '/signals latest has no option "colour"'),
        ("search", {"words": "  "}, "Search for what?"),
        ("nothing", {}, 'I don\'t know the command "nothing"'),
    ],
)
async def test_typed_options_get_the_same_error_sentences(
    channel: Channel, name: str, options: dict[str, str | int | None], message: str
) -> None:
    reply = await channel.service.handle_options(name, options, channel.context())
    assert not reply.ok and reply.private and message in reply.text


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "/signals subscribe eurpoe",
            '"eurpoe" is not a region I know. Did you mean "europe"? Type /signals regions',
        ),
        (
            "/signals subscribe atlantis",
            '"atlantis" is not a region I know. Type /signals regions for the list.',
        ),
        ("/signals subscribe europe at 25:00", '"25:00" is not a time of day: use 24-hour HH:MM'),
        ("/signals subscribe europe at noonish", '"noonish" is not a time of day'),
        (
            "/signals subscribe europe tz Mars/Olympus",
            '"Mars/Olympus" is not a time zone I know: use an IANA name',
        ),
        ("/signals subscribe europe tz europe/pariss", 'Did you mean "Europe/Paris"?'),
        ("/signals subscribe europe days funday", '"funday" is not a day: use daily, weekdays'),
        ("/signals subscribe europe mode loud", '"loud" is not a mode: use "mode digest"'),
        (
            "/signals subscribe europe topics sprots",
            '"sprots" is not a topic. Did you mean "sports"?',
        ),
        ("/signals subscribe europe at 07:00 at 08:00", '"at" is given twice'),
        ("/signals subscribe europe at 07:00 time 08:00", '"at" is given twice'),
        ("/signals subscribe europe at", '"at" needs a value, e.g. "at 07:30"'),
        ("/signals subscribe at", "Which region? For example: /signals subscribe europe at 07:30"),
        ("/signals subscribe narnia at", '"narnia" is not a region I know'),
        ("/signals latest 50 3", "Ask for 1 to 20 stories"),
        ("/signals subscribe", "Which region? For example: /signals subscribe europe at 07:30"),
        ("/signals subscribe ,", "Which region? For example: /signals subscribe europe at 07:30"),
        (
            "/signals subscibe europe",
            'I don\'t know the command "subscibe". Did you mean "subscribe"?',
        ),
        ("/signals latest 50", "Ask for 1 to 20 stories"),
        ("/signals latest 0", "Ask for 1 to 20 stories"),
        ("/signals latest narnia", '"narnia" is not a region I know'),
        ("/signals search", "Search for what? Give some words"),
        ("/signals search ?!", "Search for what?"),
        ("/signals story abcdefgh", 'No story "abcdefgh" is stored'),
        ("/signals story hello world", '"hello world" is not a story id or link'),
        ("/signals story http://[x", 'No story "http://[x" is stored'),
        ("/signals story", "Which story? Give its id or link"),
        ("/signals story <>", "Which story? Give its id or link"),
        ("/signals unsubscribe", "Which region? For example: /signals unsubscribe europe, or all."),
        (
            "/signals unsubscribe europe",
            "This channel has no Europe subscription to remove (it has: none)",
        ),
        ("/signals pause", "This channel has no subscriptions yet. Try /signals subscribe europe"),
        ("/signals send-now", "This channel has no subscriptions yet."),
        ("/signals preview", "Name a region, e.g. /signals preview europe."),
    ],
)
async def test_every_error_says_what_to_type_instead(
    channel: Channel, core: Core, line: str, message: str
) -> None:
    reply = await channel.ask(line)
    assert message in reply.text
    assert not reply.ok and reply.private and not reply.actions
    assert "Traceback" not in reply.text
    assert await core.subscriptions.count() == 0


async def test_an_empty_list_clears_a_filter(channel: Channel, core: Core) -> None:
    await channel.ask("/signals subscribe europe topics security keywords grid sources Bloomberg")
    reply = await channel.ask("/signals subscribe europe topics , keywords ; sources ,")
    assert reply.ok and "Only stories with" not in reply.text
    (sub,) = await core.subscriptions.for_channel(CHANNEL)
    assert not sub.filters


async def test_members_cannot_change_subscriptions(channel: Channel, core: Core) -> None:
    await channel.ask("/signals subscribe europe")
    out = await channel.text(
        "/signals subscribe asia", "/signals unsubscribe europe", "/signals pause",
        "/signals send-now", "/signals subscribe eurpoe", "/signals list", member=True,
    )  # fmt: skip
    assert out.count("Only people who can manage this channel can use") == 5
    assert "This channel's subscriptions:" in out  # looking is fine
    assert [s.region for s in await core.subscriptions.for_channel(CHANNEL)] == ["europe"]
    denied = await channel.service.handle_options(
        "unsubscribe", {"region": "europe"}, channel.context(member=True)
    )
    assert "Only people who can manage this channel can use /signals unsubscribe" in denied.text


async def test_unsubscribe_one_and_all(channel: Channel) -> None:
    out = await channel.text(
        "/signals subscribe europe, asia, africa",
        "/signals unsubscribe asia",
        "/signals unsubscribe asia",
        "/signals unsubscribe all",
        "/signals unsubscribe all",
    )
    assert "Unsubscribed from Asia." in out
    assert "This channel has no Asia subscription to remove (it has: africa, europe)" in out
    assert "Removed all 2 subscription(s) from this channel." in out
    assert "This channel had no subscriptions." in out


async def test_pause_resume_and_status(channel: Channel) -> None:
    out = await channel.text(
        "/signals subscribe europe", "/signals pause europe", "/signals status", "/signals list"
    )
    assert "Paused Europe. Type /signals resume to start again." in out
    assert (
        "PAUSED: paused by you on 2026-11-25 12:00 UTC. Type /signals resume europe to restart."
        in out
    )
    assert "— PAUSED (paused by you" in out
    out = await channel.text("/signals resume", "/signals status")
    assert "Resumed Europe. Next push Thu 26 Nov 07:00 CET (in 18 h)." in out
    assert "next push: Thu 26 Nov 07:00 CET" in out and "PAUSED" not in out


async def test_latest_search_and_story(channel: Channel, core: Core) -> None:
    out = await channel.text("/signals latest asia 3", "/signals latest 2")
    assert "Latest 3 stories in Asia:" in out
    assert "Latest 2 stories:" in out
    out = await channel.text(
        "/signals search grid", "/signals search grid in africa", "/signals search zebra"
    )
    assert (
        'Stories matching "grid":' in out
        and "Oman and the UAE agree to link desalination grids" in out
    )
    assert 'No stories match "grid" in Africa' in out
    assert 'No stories match "zebra". Try fewer or other words, or /signals latest.' in out
    story = (await core.stories.latest(limit=1))[0]
    out = await channel.text(f"/signals story {story.id}", f"/signals story <{story.url}>")
    assert out.count(story.title) == 2 and f"[{story.id}]" in out


async def test_search_words_may_say_in_without_naming_a_region(channel: Channel) -> None:
    reply = await channel.ask("/signals search grid in the gulf of nowhere")
    assert reply.text.startswith('No stories match "grid in the gulf of nowhere"')


async def test_latest_without_region_follows_the_channels_subscriptions(channel: Channel) -> None:
    out = await channel.text("/signals subscribe south asia", "/signals latest")
    assert "for this channel's regions" in out
    assert "Bangladesh garment exporters" in out
    assert "Ghana’s cocoa board" not in out


async def test_preview_then_send_now_then_nothing_new(channel: Channel) -> None:
    out = await channel.text(
        "/signals subscribe europe", "/signals preview", "/signals send-now",
        "/signals send-now", "/signals preview europe",
    )  # fmt: skip
    assert "The next Europe push at Thu 26 Nov 07:00 CET (in 18 h) would hold 3 stories:" in out
    assert "Sent the Europe digest: 3 stories." in out
    assert (
        "Nothing new for Europe since the last push. /signals latest europe shows the newest stories."
        in out
    )
    assert (
        "Nothing new for Europe since Wed 25 Nov 13:00 CET (just now): the next push would be empty."
        in out
    )
    (pushed,) = channel.sender.sent  # the one push reached the channel
    assert isinstance(pushed.content, Digest) and len(pushed.content.cards) == 3


async def test_overlapping_subscriptions_never_repeat_a_story(channel: Channel) -> None:
    out = await channel.text("/signals subscribe uk, europe", "/signals send-now")
    assert "Sent the Europe digest" in out and "Nothing new for United Kingdom" in out
    titles = [c.title for m in channel.sender.sent if isinstance(m.content, Digest) for c in m.content.cards]
    assert sum(t.startswith("UK to cap water company dividends") for t in titles) == 1


async def test_filters_narrow_what_a_subscription_gets(channel: Channel) -> None:
    out = await channel.text("/signals subscribe world topics security", "/signals preview world")
    assert "Romania arrests six" in out
    assert "EU ministers back tariff" not in out
    out = await channel.text(
        "/signals subscribe world topics none", "/signals subscribe world exclude romania"
    )
    assert '"none" is not a topic' in out
    out = await channel.text("/signals preview world")  # security, minus Romania
    assert "Romania arrests six" not in out and "EU ministers back tariff" not in out


async def test_option_words_inside_filter_text_and_all(channel: Channel, core: Core) -> None:
    await channel.text(
        "/signals subscribe europe keywords time travel exclude sport on tv "
        "sources Financial Times and Bloomberg",
        "/signals subscribe asia mode instant",
        "/signals pause all",
    )
    subs = await core.subscriptions.for_channel(CHANNEL)
    europe = next(s for s in subs if s.region == "europe")
    assert europe.filters.keywords == ("time travel",)
    assert europe.filters.exclude == ("sport on tv",)
    assert europe.filters.sources == ("Financial Times", "Bloomberg")
    assert all(s.paused for s in subs)
    await channel.ask("/signals resume all")
    assert not any(s.paused for s in await core.subscriptions.for_channel(CHANNEL))


async def test_lookups_are_private_and_offer_to_post_the_same_answer(channel: Channel) -> None:
    reply = await channel.ask("/signals latest   ASIA 3")
    assert reply.ok and reply.private
    (post,) = reply.actions
    assert (post.kind, post.label, post.command) == ("post", "Post to channel", "/signals latest asia 3")
    posted = await channel.service.press(post.kind, post.payload, channel.context(member=True))
    assert posted.ok and not posted.private  # for the whole channel now
    assert posted.cards == reply.cards and posted.text == reply.text
    assert posted.actions == ()  # no second "post" under what was posted


async def test_a_button_runs_exactly_what_was_asked_with_typed_options(channel: Channel) -> None:
    asked = await channel.service.handle_options(
        "search", {"words": "grid in europe"}, channel.context()
    )  # "in europe" is part of the words here, not a region
    (post,) = asked.actions
    posted = await channel.service.press("post", post.payload, channel.context())
    assert posted.text == asked.text == 'No stories match "grid in europe". Try fewer or other words, or /signals latest.'


@pytest.mark.parametrize(
    "payload", ["", "nonsense", "[1, 2]", '["latest", {"count": "99"}]', '["drop", {}]', '["latest", {"count": 3}]']
)
async def test_a_forged_or_stale_button_gets_a_sentence(channel: Channel, payload: str) -> None:
    reply = await channel.service.press("post", payload, channel.context())
    assert not reply.ok and reply.private
    assert reply.text.startswith("That button no longer works.")


async def test_a_button_checks_who_pressed_it(channel: Channel) -> None:
    subscribed = await channel.ask("/signals subscribe europe")
    (undo,) = subscribed.actions
    denied = await channel.service.press(undo.kind, undo.payload, channel.context(member=True))
    assert "Only people who can manage this channel" in denied.text and denied.private
    done = await channel.service.press(undo.kind, undo.payload, channel.context())
    assert done.text == "Unsubscribed from Europe." and not done.private


async def test_changes_are_for_the_channel_and_offer_to_undo(channel: Channel) -> None:
    reply = await channel.ask("/signals subscribe europe, uk")
    assert reply.ok and not reply.private
    assert [(a.kind, a.command) for a in reply.actions] == [
        ("unsubscribe", "/signals unsubscribe europe"),
        ("unsubscribe", "/signals unsubscribe uk"),
    ]
    listed = await channel.ask("/signals list")
    assert listed.private and [a.kind for a in listed.actions] == ["unsubscribe"] * 2 + ["post"]
    done = await channel.ask(reply.actions[1].command)  # the line reads as the button runs
    assert done.text == "Unsubscribed from United Kingdom." and not done.private


async def test_a_story_offers_more_from_its_region(channel: Channel, core: Core) -> None:
    story = next(s for s in await core.stories.latest(limit=30) if s.region == "africa")
    reply = await channel.ask(f"/signals story {story.id}")
    assert [(a.kind, a.label, a.command) for a in reply.actions] == [
        ("more", "More from Africa", "/signals latest africa"),
        ("post", "Post to channel", f"/signals story {story.id}"),
    ]


def test_a_command_is_declared_once() -> None:
    assert list(REGISTRY) == [
        "help", "regions", "subscribe", "unsubscribe", "pause", "resume", "list", "latest",
        "search", "story", "preview", "send-now", "status",
    ]  # fmt: skip
    with pytest.raises(ValueError, match="declared twice"):
        command("list", "again", "again")(REGISTRY["list"].handler)


async def test_a_failure_of_ours_is_answered_not_raised(
    channel: Channel, caplog: pytest.LogCaptureFixture
) -> None:
    @command("explode", "Fails (a test command).", "Raises.")
    async def explode(service: object, ctx: object, request: object) -> None:
        raise RuntimeError("boom")

    try:
        reply = await channel.ask("/signals explode")
    finally:
        REGISTRY.remove("explode")
    assert reply.text == (
        "Sorry, /signals explode failed on our side; the error is logged. Try again in a moment."
    )
    assert not reply.ok and reply.private
    assert "boom" in caplog.text  # logged in full for the operator
    assert (await channel.ask("/signals regions")).ok  # the service goes on


async def test_a_pushed_digests_buttons_run_as_asked(channel: Channel, core: Core) -> None:
    await channel.ask("/signals subscribe europe")
    await channel.ask("/signals send-now")
    (pushed,) = channel.sender.sent
    assert isinstance(pushed.content, Digest)
    more, leave = pushed.content.actions
    shown = await channel.service.press(more.kind, more.payload, channel.context(member=True))
    assert shown.text.startswith("Latest 5 stories in Europe") and shown.private
    denied = await channel.service.press(leave.kind, leave.payload, channel.context(member=True))
    assert "Only people who can manage this channel" in denied.text
    done = await channel.service.press(leave.kind, leave.payload, channel.context())
    assert done.text == "Unsubscribed from Europe." and not done.private
    assert await core.subscriptions.count() == 0
