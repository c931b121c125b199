"""Reading command lines and typed options into requests, and writing requests back as lines.

The property: whatever line the text reading accepts, the request it builds written back as a
command line reads as the same request (so a button that re-runs a request, or a request
shown to a user, means exactly what was asked)."""

from __future__ import annotations

from datetime import time

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot import regions
from bot.commands import (
    REGISTRY,
    CommandError,
    CommandRequest,
    command_line,
    parse_options,
    parse_text,
)
from bot.commands.parsing import read_payload, request_payload
from bot.vocabulary import VERTICALS

OPTION_WORDS = {
    word for c in REGISTRY.values() for p in c.flagged for word in (p.flag_word, *p.aliases)
}
REGION_WORDS = [r.key for r in regions.REGIONS] + [a for r in regions.REGIONS for a in r.aliases]
REGION_WORDS += [r.name for r in regions.REGIONS]
ZONES = ["Europe/Brussels", "asia/dubai", "America/New_York", "UTC", "Africa/Lagos"]
OUTLETS = ["Financial Times", "the Economist", "Bloomberg", "Al Jazeera", "Le Monde", "Nikkei Asia"]


def cased(word: str) -> st.SearchStrategy[str]:
    return st.sampled_from([word, word.lower(), word.upper(), word.title()])


plain_word = st.from_regex(r"[a-z]{3,9}", fullmatch=True).filter(
    lambda w: w not in OPTION_WORDS and w != "in" and w != "all"
)
region = st.sampled_from(REGION_WORDS).flatmap(cased)
times = st.one_of(
    st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.integers(0, 59)),
    st.builds(lambda h, m: f"{h}:{m:02d}", st.integers(0, 23), st.integers(0, 59)),
    st.builds(lambda h, ap: f"{h}{ap}", st.integers(1, 12), st.sampled_from(["am", "pm", "AM"])),
)
days = st.one_of(
    st.sampled_from(["daily", "weekdays", "weekends"]),
    st.lists(st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun", "monday"]),
             min_size=1, max_size=4).map(",".join),
)  # fmt: skip
phrases = st.lists(
    st.lists(plain_word, min_size=1, max_size=3).map(" ".join), min_size=1, max_size=3
).map(", ".join)
OPTIONS = {
    "at": times,
    "tz": st.sampled_from(ZONES).flatmap(cased),
    "days": days,
    "mode": st.sampled_from(["digest", "instant", "Digest"]),
    "topics": st.lists(st.sampled_from(sorted(VERTICALS)), min_size=1, max_size=3).map(", ".join),
    "sources": st.lists(st.sampled_from(OUTLETS), min_size=1, max_size=3).map(", ".join),
    "keywords": phrases,
    "exclude": phrases,
}


@st.composite
def subscribe_lines(draw: st.DrawFn) -> str:
    parts = [draw(st.lists(region, min_size=1, max_size=3).map(", ".join))]
    chosen = draw(st.lists(st.sampled_from(sorted(OPTIONS)), unique=True, max_size=len(OPTIONS)))
    command = REGISTRY["subscribe"]
    for name in chosen:
        param = command.param(name)
        parts += [draw(st.sampled_from([param.flag_word, *param.aliases])), draw(OPTIONS[name])]
    return "/signals subscribe " + " ".join(parts)


lines = st.one_of(
    subscribe_lines(),
    st.builds(lambda r, n: f"/signals latest {r} {n}".strip(),
              st.one_of(st.just(""), region), st.one_of(st.just(""), st.integers(1, 20).map(str))),
    st.builds(lambda w, r: f"/signals search {w}{r}", phrases.map(lambda p: p.replace(",", "")),
              st.one_of(st.just(""), region.map(lambda r: f" in {r}"))),
    st.builds(lambda c, r: f"/signals {c} {r}", st.sampled_from(["pause", "resume", "send-now",
              "unsubscribe", "preview"]), st.one_of(st.just("all"), region)),
    st.sampled_from([f"/signals {c.name}" for c in REGISTRY.values()
                     if not any(p.required for p in c.params)]),
    st.builds(lambda c: f"/signals help {c}", st.sampled_from(list(REGISTRY))),
    st.builds(lambda s: f"/signals story {s}", st.from_regex(r"[a-z2-7]{8}", fullmatch=True)),
)  # fmt: skip


def round_trip(request: CommandRequest) -> None:
    line = command_line(REGISTRY, request)
    assert parse_text(REGISTRY, line) == request, line
    assert command_line(REGISTRY, parse_text(REGISTRY, line)) == line
    assert read_payload(REGISTRY, request_payload(REGISTRY, request)) == request


@settings(max_examples=400, deadline=None)
@given(lines)
@example("/signals subscribe europe at 8:15 in america/new_york keywords time travel")
@example("/signals subscribe middle east 6:45am Asia/Dubai topics net zero, business")
@example("/signals latest 3 asia")
def test_every_line_written_the_usual_ways_is_read_and_written_back(line: str) -> None:
    request = parse_text(REGISTRY, line)  # every line drawn here is one the console accepts
    round_trip(request)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(list(REGISTRY)), st.text(max_size=60))
def test_whatever_text_is_accepted_round_trips(name: str, text: str) -> None:
    try:
        request = parse_text(REGISTRY, f"/signals {name} {text}")
    except CommandError:
        return  # refused with a sentence: nothing to write back
    round_trip(request)


def test_a_request_reads_values_by_kind() -> None:
    request = parse_text(
        REGISTRY,
        "/signals SUBSCRIBE bxl, Lagos, bxl 7:30pm TimeZone europe/paris on weekdays "
        "mode INSTANT topic climate sources the Financial Times and Bloomberg exclude Sport",
    )
    assert request == CommandRequest(
        "subscribe",
        {
            "regions": ("europe", "africa"), "at": time(19, 30), "tz": "Europe/Paris",
            "days": (0, 1, 2, 3, 4), "mode": "instant", "topics": ("net-zero",),
            "sources": ("Financial Times", "Bloomberg"), "exclude": ("sport",),
        },
    )  # fmt: skip
    assert command_line(REGISTRY, request) == (
        "/signals subscribe europe, africa at 19:30 tz Europe/Paris days mon,tue,wed,thu,fri "
        "mode instant topics net-zero sources Financial Times, Bloomberg exclude sport"
    )


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("/signals", CommandRequest("help")),
        ("help", CommandRequest("help")),
        ("/signals help SEND-NOW", CommandRequest("help", {"command": "send-now"})),
        ("/signals latest 7", CommandRequest("latest", {"count": 7})),
        ("/signals latest 3 asia 5", CommandRequest("latest", {"region": "asia", "count": 5})),
        ("/signals subscribe uk topics ,", CommandRequest("subscribe", {"regions": ("uk",), "topics": ()})),
        ("/signals latest bxl", CommandRequest("latest", {"region": "europe"})),
        ("/signals pause ALL", CommandRequest("pause", {"region": "all"})),
        ("/signals preview all", CommandRequest("preview", {"region": "world"})),  # an alias
        ("/signals search grain in the sahel", CommandRequest("search", {"words": "grain in the sahel"})),
        ("/signals search grain in bxl", CommandRequest("search", {"words": "grain", "region": "europe"})),
        ("/signals story <https://x.example/a>", CommandRequest("story", {"story": "https://x.example/a"})),
        ("/signals list everything", CommandRequest("list")),
    ],
)  # fmt: skip
def test_lines_read_as_requests(line: str, expected: CommandRequest) -> None:
    assert parse_text(REGISTRY, line) == expected


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["words", "keywords", "sources", "exclude"]),
    st.text(alphabet=st.sampled_from(" ,abcin-tm:/'"), min_size=1, max_size=40)
    | st.sampled_from(["war in europe", "meet at noon", "time travel", "mode of transport"]),
)
def test_whatever_typed_options_ask_for_a_button_runs_again(name: str, value: str) -> None:
    command = REGISTRY["search" if name == "words" else "subscribe"]
    options = {name: value} if name == "words" else {"regions": "europe", name: value}
    try:
        request = parse_options(command, options)
    except CommandError:
        return
    assert read_payload(REGISTRY, request_payload(REGISTRY, request)) == request


def test_typed_options_read_as_text_does() -> None:
    subscribe = REGISTRY["subscribe"]
    typed = parse_options(subscribe, {"regions": "bxl", "at": "7am", "days": "weekdays"})
    assert typed == parse_text(REGISTRY, "/signals subscribe bxl at 7am days weekdays")
    latest = REGISTRY["latest"]
    assert parse_options(latest, {"count": 3, "region": None}) == CommandRequest(
        "latest", {"count": 3}
    )
    with pytest.raises(CommandError, match="Ask for 1 to 20 stories"):
        parse_options(latest, {"count": 21})
