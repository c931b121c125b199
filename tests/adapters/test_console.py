"""Every command and every error, end to end through the console channel with piped input."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from bot import regions
from bot.app import Core
from bot.commands import REGISTRY as COMMANDS
from bot.commands import command
from bot.domain import ChannelRef
from tests.adapters.console_session import session
from tests.conftest import SIGNALBOT, command_env

CONSOLE = ChannelRef("console", "local", "#general")


async def test_help_lists_every_command_and_explains_one(core: Core) -> None:
    out = await session(core, "/signals help", "/signals help subscribe", "/signals help subscibe")
    for name in COMMANDS:
        assert f"/signals {name}" in out
    assert "Defaults: 07:00 in the region's home time zone" in out
    assert 'There is no command "subscibe". Did you mean "subscribe"?' in out


async def test_regions_show_keys_aliases_cities_and_push_times(core: Core) -> None:
    out = await session(core, "/signals regions")
    assert (
        "europe: Europe, Brussels, 07:00 Europe/Brussels; covers uk; aliases: bxl, brussels" in out
    )
    assert "southeast-asia: Southeast Asia, Singapore, 07:00 Asia/Singapore" in out
    assert "world: World" in out


async def test_subscribe_defaults_and_chosen_time(core: Core) -> None:
    out = await session(core, "/signals subscribe bxl at 07:30", "/signals subscribe lagos")
    # the clock reads Wed 25 Nov 2026 12:00 UTC: 13:00 in Brussels and in Lagos
    assert (
        "Subscribed to Europe (europe): digest daily at 07:30 Europe/Brussels. "
        "Next push Thu 26 Nov 07:30 CET (in 18 h)." in out
    )
    assert "Subscribed to Africa (africa): digest daily at 07:00 Africa/Lagos" in out
    subs = await core.subscriptions.for_channel(CONSOLE)
    assert [(s.region, f"{s.push_time:%H:%M}") for s in subs] == [
        ("africa", "07:00"),
        ("europe", "07:30"),
    ]


async def test_subscribing_again_updates_instead_of_adding(core: Core) -> None:
    out = await session(
        core,
        "/signals subscribe europe at 07:30 topics security",
        "/signals subscribe brussels at 08:15 tz Europe/Paris days weekdays",
        "/signals list",
    )
    assert "Updated Europe (europe): digest weekdays at 08:15 Europe/Paris." in out
    (sub,) = await core.subscriptions.for_channel(CONSOLE)
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
    core: Core, line: str, keys: list[str], at: str, zone: str | None
) -> None:
    await session(core, f"/signals subscribe {line}")
    subs = await core.subscriptions.for_channel(CONSOLE)
    assert sorted(s.region for s in subs) == keys
    for sub in subs:
        assert f"{sub.push_time:%H:%M}" == at
        assert sub.timezone == (zone or regions.get(sub.region).timezone.key)


async def test_several_regions_and_every_option(core: Core) -> None:
    out = await session(
        core,
        "/signals subscribe middle east, asia at 6:45am tz Asia/Dubai days mon,wed,fri "
        "mode digest topics business, net zero sources the Financial Times, Bloomberg "
        "keywords grid, power exclude football",
        "/signals list",
    )
    subs = await core.subscriptions.for_channel(CONSOLE)
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
        ("/signals subscribe europe at", '"at" needs a value, e.g. "at 07:30"'),
        ("/signals subscribe", "Which region? For example: /signals subscribe europe at 07:30"),
        (
            "/signals subscibe europe",
            'I don\'t know the command "subscibe". Did you mean "subscribe"?',
        ),
        ("/signals latest 50", "Ask for 1 to 20 stories"),
        ("/signals latest narnia", '"narnia" is not a region I know'),
        ("/signals search", "Search for what? Give some words"),
        ("/signals search ?!", "Search for what?"),
        ("/signals story abcdefgh", 'No story "abcdefgh" is stored'),
        ("/signals story hello world", '"hello world" is not a story id or link'),
        ("/signals story http://[x", 'No story "http://[x" is stored'),
        ("/signals story", "Which story? Give its id or link"),
        ("/signals unsubscribe", "Which region? For example: /signals unsubscribe europe, or all."),
        (
            "/signals unsubscribe europe",
            "This channel has no Europe subscription to remove (it has: none)",
        ),
        ("/signals pause", "This channel has no subscriptions yet. Try /signals subscribe europe"),
        ("/signals send-now", "This channel has no subscriptions yet."),
        ("/signals preview", "Name a region, e.g. /signals preview europe."),
        ("subscribe europe", "Commands start with /signals (did you mean /signals subscribe?)"),
        ("hello", "Commands start with /signals; type /signals help for the list."),
    ],
)
async def test_every_error_says_what_to_type_instead(core: Core, line: str, message: str) -> None:
    out = await session(core, line)
    assert message in out
    assert "Traceback" not in out
    assert await core.subscriptions.count() == 0


async def test_members_cannot_change_subscriptions(core: Core) -> None:
    await session(core, "/signals subscribe europe")
    out = await session(
        core, "/signals subscribe asia", "/signals unsubscribe europe", "/signals pause",
        "/signals send-now", "/signals list", member=True,
    )  # fmt: skip
    assert out.count("Only people who can manage this channel can use") == 4
    assert "This channel's subscriptions:" in out  # looking is fine
    assert [s.region for s in await core.subscriptions.for_channel(CONSOLE)] == ["europe"]


async def test_unsubscribe_one_and_all(core: Core) -> None:
    out = await session(
        core,
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


async def test_pause_resume_and_status(core: Core) -> None:
    out = await session(
        core,
        "/signals subscribe europe",
        "/signals pause europe",
        "/signals status",
        "/signals list",
    )
    assert "Paused Europe. Type /signals resume to start again." in out
    assert (
        "PAUSED: paused by you on 2026-11-25 12:00 UTC. Type /signals resume europe to restart."
        in out
    )
    assert "— PAUSED (paused by you" in out
    out = await session(core, "/signals resume", "/signals status")
    assert "Resumed Europe. Next push Thu 26 Nov 07:00 CET (in 18 h)." in out
    assert "next push: Thu 26 Nov 07:00 CET" in out and "PAUSED" not in out


async def test_latest_search_and_story(core: Core) -> None:
    out = await session(core, "/signals latest asia 3", "/signals latest 2")
    assert "Latest 3 stories in Asia:" in out
    assert "Latest 2 stories:" in out
    out = await session(
        core, "/signals search grid", "/signals search grid in africa", "/signals search zebra"
    )
    assert (
        'Stories matching "grid":' in out
        and "Oman and the UAE agree to link desalination grids" in out
    )
    assert 'No stories match "grid" in Africa' in out
    assert 'No stories match "zebra". Try fewer or other words, or /signals latest.' in out
    story = (await core.stories.latest(limit=1))[0]
    out = await session(core, f"/signals story {story.id}", f"/signals story {story.url}")
    assert out.count(story.title) == 2 and f"[{story.id}]" in out


async def test_latest_without_region_follows_the_channels_subscriptions(core: Core) -> None:
    out = await session(core, "/signals subscribe south asia", "/signals latest")
    assert "for this channel's regions" in out
    assert "Bangladesh garment exporters" in out
    assert "Ghana’s cocoa board" not in out


async def test_preview_then_send_now_then_nothing_new(core: Core) -> None:
    out = await session(
        core, "/signals subscribe europe", "/signals preview", "/signals send-now",
        "/signals send-now", "/signals preview europe",
    )  # fmt: skip
    assert "The next Europe push at Thu 26 Nov 07:00 CET (in 18 h) would hold 3 stories:" in out
    assert "[#general] signalbot:\n== Europe · Wednesday, November 25 ==" in out
    assert "Sent the Europe digest: 3 stories." in out
    assert (
        "Nothing new for Europe since the last push. /signals latest europe shows the newest stories."
        in out
    )
    assert (
        "Nothing new for Europe since Wed 25 Nov 13:00 CET (just now): the next push would be empty."
        in out
    )
    assert out.count("== Europe · Wednesday, November 25 ==") == 2  # preview + the one push


async def test_overlapping_subscriptions_never_repeat_a_story(core: Core) -> None:
    out = await session(core, "/signals subscribe uk, europe", "/signals send-now")
    water = "UK to cap water company dividends"
    assert out.count(water) == 1
    assert "Sent the Europe digest" in out and "Nothing new for United Kingdom" in out


async def test_filters_narrow_what_a_subscription_gets(core: Core) -> None:
    out = await session(core, "/signals subscribe world topics security", "/signals preview world")
    assert "Romania arrests six" in out
    assert "EU ministers back tariff" not in out
    out = await session(
        core, "/signals subscribe world topics none", "/signals subscribe world exclude romania"
    )
    assert '"none" is not a topic' in out
    out = await session(core, "/signals preview world")  # security, minus Romania
    assert "Romania arrests six" not in out and "EU ministers back tariff" not in out


def test_command_set_is_declared_once() -> None:
    assert set(COMMANDS) == {
        "help", "regions", "subscribe", "unsubscribe", "pause", "resume", "list", "latest",
        "search", "story", "preview", "send-now", "status",
    }  # fmt: skip
    with pytest.raises(ValueError, match="declared twice"):
        command("list", "again", "again")(COMMANDS["list"].handler)


async def test_the_console_maps_every_declared_command(core: Core) -> None:
    out = await session(core, *(f"/signals {name}" for name in COMMANDS))
    assert "I don't know the command" not in out
    assert "Commands start with" not in out
    assert "Traceback" not in out


def test_piped_demo_through_the_real_command(tmp_path: Path) -> None:
    env = command_env(tmp_path / "demo.db")
    result = subprocess.run(
        [SIGNALBOT, "run", "--samples"],
        input="/signals subscribe europe\n/signals send-now\n",
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Subscribed to Europe (europe)" in result.stdout
    assert re.search(r"Sent the Europe digest: \d+ stor", result.stdout)
    assert "#general> " not in result.stdout  # no prompt when input is piped
    assert "Traceback" not in result.stderr


def test_sigterm_stops_the_bot_even_while_it_waits_for_input(tmp_path: Path) -> None:
    import signal
    import time

    env = command_env(tmp_path / "term.db")
    process = subprocess.Popen(
        [SIGNALBOT, "run"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
    )  # fmt: skip
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write("/signals subscribe europe\n")
    process.stdin.flush()
    first = process.stdout.readline()  # the bot is up and answering; input stays open
    assert first.startswith("Subscribed to Europe"), first
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert time.monotonic() - started < 15
    assert "Traceback" not in err


async def test_option_words_inside_filter_text_and_all(core: Core) -> None:
    await session(
        core,
        "/signals subscribe europe keywords time travel exclude sport on tv "
        "sources Financial Times and Bloomberg",
        "/signals subscribe asia mode instant",
        "/signals pause all",
    )
    subs = await core.subscriptions.for_channel(CONSOLE)
    europe = next(s for s in subs if s.region == "europe")
    assert europe.filters.keywords == ("time travel",)
    assert europe.filters.exclude == ("sport on tv",)
    assert europe.filters.sources == ("Financial Times", "Bloomberg")
    assert all(s.paused for s in subs)
    await session(core, "/signals resume all")
    assert not any(s.paused for s in await core.subscriptions.for_channel(CONSOLE))


async def test_a_failure_of_ours_is_answered_not_raised(core: Core) -> None:
    @command("explode", "Fails (a test command).", "Raises.")
    async def _explode(service: object, ctx: object, request: object) -> None:
        raise RuntimeError("boom")

    try:
        out = await session(core, "/signals explode", "/signals regions")
    finally:
        COMMANDS.remove("explode")
    assert "/signals explode failed on our side; the error is logged" in out
    assert "boom" not in out and "Traceback" not in out
    assert "Regions (key: name" in out  # the session goes on
