"""Hypothesis strategies for stories whose text is hostile: mentions, markdown, links, floods."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import strategies as st

from bot import regions
from bot.domain import Image, Insight, Story

HOSTILE = [
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "@everyone",
    "@here",
    "@channel",
    "<@U024BE7LH>",
    "<@123456789012345678>",
    "<@&987654321>",
    "<#C024BE7LH>",
    "<#123>",
    "<!subteam^S1>",
    "<t:1700000000:R>",
    "*bold*",
    "_italic_",
    "~strike~",
    "`code`",
    "```block```",
    "**b**",
    "__u__",
    "||spoiler||",
    "> quote",
    "# Heading",
    "- item",
    "[click](https://evil.example/x)",
    "<https://evil.example|label>",
    "https://evil.example/path?q=1",
    "&amp;",
    "&lt;",
    "\\",
    ":smile:",
    "\u202e",
    "\x00",
    "\r\n",
    "\U0001f600",
    "é",
    "\u200b",
]

hostile_text = st.lists(st.one_of(st.sampled_from(HOSTILE), st.text(max_size=40)), max_size=30).map(
    " ".join
)
long_text = st.one_of(
    hostile_text,
    st.builds(
        lambda s, n: (s + " ") * n,
        st.sampled_from([*HOSTILE, "word", "&", "*"]),
        st.integers(50, 600),
    ),
)
urls = st.one_of(
    st.none(),
    st.builds(
        lambda slug: f"https://www.semafor.com/article/01/02/2026/{slug}",
        st.from_regex(r"[a-z0-9-]{1,60}", fullmatch=True),
    ),
    st.just("https://example.org/a b|c>d<e"),
)
zones = st.sampled_from(
    [UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=5, minutes=30))]
)
times = st.one_of(
    st.none(),
    st.builds(
        lambda d, tz: d.replace(tzinfo=tz),
        st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1)),
        zones,
    ),
)
insights = st.builds(
    Insight,
    title=st.one_of(st.just(""), long_text),
    sources=st.lists(long_text, max_size=8),
    body=long_text,
)
stories = st.builds(
    Story,
    url=urls,
    kind=st.sampled_from(["signals", "article"]),
    title=long_text.filter(lambda t: len(t) >= 1),
    published_at=times,
    region=st.one_of(st.none(), st.sampled_from([r.key for r in regions.leaf_regions()])),
    verticals=st.lists(
        st.sampled_from(["politics", "security", "business", "tech", "net-zero"]), max_size=4
    ),
    insights_from=st.lists(long_text, max_size=12),
    news=st.lists(long_text, max_size=4),
    sections=st.dictionaries(
        st.text(min_size=1, max_size=20), st.lists(long_text, max_size=2), max_size=2
    ),
    insights=st.lists(insights, max_size=12),
    image=st.one_of(st.none(), st.builds(Image, caption=hostile_text, credit=hostile_text)),
)
