"""Parse + render throughput on one core, and the HTML path against selectolax alone.

For every fixture page that is a story (text renderings and HTML), one "page" is: parse it
and render it for Slack, Discord and plain text. For the HTML fixtures the same loop is
timed against selectolax alone turning the same HTML into text, a reference for what one
pass over the whole document costs: ``html_vs_selectolax_only`` is our rate (parse and three
renders) over that rate. Pages with embedded data never need that full pass, so this is a
yardstick, not a floor.

Last line: ``pages_per_s=<number> html_vs_selectolax_only=<ratio>``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from selectolax.lexbor import LexborHTMLParser  # noqa: E402

from bot.ingest.errors import IngestError  # noqa: E402
from bot.ingest.sources import parse_document  # noqa: E402
from bot.render.messages import FORMATS, render_card  # noqa: E402
from bot.render.model import card_from_story  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
SECONDS = float(os.environ.get("BENCH_SECONDS", "3"))


def pin_to_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def story_pages(pattern: str) -> list[tuple[str, bytes]]:
    pages = []
    for path in sorted(FIXTURES.glob(pattern)):
        data = path.read_bytes()
        try:
            parse_document(data, name=path.name)
        except IngestError:
            continue  # newsletters and non-stories are refused, not rendered
        pages.append((path.name, data))
    return pages


def rates(count: int, *works: Callable[[], None]) -> list[float]:
    """Units per second of each ``work`` (each handles ``count`` units), best of rounds.

    The works take turns within each round, so a slow patch of the machine slows them alike
    and ratios between them stay fair.
    """
    for work in works:
        work()  # warm caches (templates, regexes)
    best = [0.0] * len(works)
    deadline = time.perf_counter() + SECONDS * len(works)
    while time.perf_counter() < deadline:
        for i, work in enumerate(works):
            start = time.perf_counter()
            work()
            best[i] = max(best[i], count / (time.perf_counter() - start))
    return best


def parse_and_render(pages: list[tuple[str, bytes]]) -> Callable[[], None]:
    def work() -> None:
        for name, data in pages:
            (story,) = parse_document(data, name=name)
            card = card_from_story(story)  # the neutral message, then each platform's payload
            for fmt in FORMATS:
                render_card(card, fmt)

    return work


def selectolax_only(pages: list[tuple[str, bytes]]) -> Callable[[], None]:
    """The fastest way selectolax turns the same bytes into text (its own decoding of bytes
    is slower than Python's, so the floor decodes first, as our parser does)."""

    def work() -> None:
        for _, data in pages:
            LexborHTMLParser(data.decode("utf-8")).text()

    return work


def main() -> None:
    pin_to_one_core()
    text_pages = story_pages("pages/*.txt")
    html_pages = story_pages("html/*.html")
    every = text_pages + html_pages
    (overall,) = rates(len(every), parse_and_render(every))
    (text_rate,) = rates(len(text_pages), parse_and_render(text_pages))
    html_rate, floor = rates(
        len(html_pages), parse_and_render(html_pages), selectolax_only(html_pages)
    )
    size = sum(len(d) for _, d in html_pages) / len(html_pages) / 1024
    print(f"text pages: {len(text_pages)}, {text_rate:,.0f} pages/s (parse + 3 renders)")
    print(f"html pages: {len(html_pages)} (mean {size:.0f} KiB), {html_rate:,.0f} pages/s")
    print(f"selectolax alone on the html pages: {floor:,.0f} pages/s")
    print(f"pages_per_s={overall:.0f} html_vs_selectolax_only={html_rate / floor:.2f}")


if __name__ == "__main__":
    main()
