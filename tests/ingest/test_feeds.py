"""Feeds and fetching against a fake news site on loopback (real HTTP, real aiohttp)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.ingest.errors import FetchError
from bot.ingest.fetch import Fetcher, MemoryValidatorCache
from bot.ingest.sources import read_source
from tests.conftest import FIXTURES
from tests.fakes.web import FakeSite, LoopbackResolver, serve

HTML = (FIXTURES / "html" / "next_data_signals_2023.html").read_text(encoding="utf-8")


def rss(port: int, *items: tuple[str, str, str]) -> str:
    entries = "".join(
        f"<item><title>{title}</title><link>{link}</link><description>{summary}</description>"
        "<pubDate>Tue, 24 Nov 2026 12:30:00 GMT</pubDate><category>Africa</category>"
        "<category>business</category></item>"
        for title, link, summary in items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>Test feed</title><link>http://127.0.0.1:{port}/</link>{entries}</channel></rss>"
    )


def fetcher(**options: object) -> Fetcher:
    return Fetcher(
        cache=MemoryValidatorCache(),
        resolver=LoopbackResolver(),
        backoff=0.01,
        **options,  # type: ignore[arg-type]
    )


async def test_feed_items_fetch_semafor_pages_and_keep_other_items() -> None:
    site = FakeSite()
    async with serve(site):
        port = site.port
        site.add("/article/04/11/2023/page-one", HTML)
        site.add(
            "/rss.xml",
            rss(
                port,
                ("Page one", f"http://www.semafor.com:{port}/article/04/11/2023/page-one", "x"),
                ("Gone", f"http://www.semafor.com:{port}/article/04/12/2023/gone", "y"),
                (
                    "Elsewhere &amp; beyond",
                    "https://example.org/news/1",
                    "<p>Para <b>one</b>.</p><p>Two.</p>",
                ),
            ),
            content_type="application/rss+xml",
        )
        async with fetcher() as f:
            results = [r async for r in read_source(f"http://127.0.0.1:{port}/rss.xml", f)]
    by_source = {r.source.rsplit("/", 1)[-1]: r for r in results}
    page = by_source["page-one"].story
    assert page is not None and page.kind == "signals" and page.insights
    assert "HTTP 404" in (by_source["gone"].error or "")
    other = by_source["1"].story
    assert other is not None
    assert other.title == "Elsewhere & beyond"
    assert other.news == ["Para one.", "Two."]
    assert other.region == "africa" and other.verticals == ["business"]
    assert other.published_at is not None and other.published_at.utcoffset() is not None
    agents = {r["headers"].get("User-Agent", "") for r in site.requests}
    assert all(a.startswith("signalbot/") for a in agents)


async def test_feed_item_link_names_a_stripped_copy_and_a_fetched_url_too() -> None:
    """A stripped crawler copy has no headline: the feed item's link (or the URL it was fetched
    from) gives it one from the slug."""
    stripped = (FIXTURES / "pages" / "20_stripped_copy_slug_with_names.txt").read_bytes()
    path = "/article/03/11/2025/andean-copper-miners-end-strike-at-puerto-verde-smelter"
    site = FakeSite()
    async with serve(site):
        port = site.port
        site.add(path, stripped, content_type="text/plain; charset=utf-8")
        site.add(
            "/rss.xml",
            rss(port, ("Miners", f"http://www.semafor.com:{port}{path}", "x")),
            content_type="application/rss+xml",
        )
        async with fetcher() as f:
            from_feed = [r async for r in read_source(f"http://127.0.0.1:{port}/rss.xml", f)]
        async with fetcher() as f:  # a fresh validator cache: not a 304
            fetched = [r async for r in read_source(f"http://www.semafor.com:{port}{path}", f)]
    for (result,) in (from_feed, fetched):
        assert result.story is not None, result.error
        assert result.story.title == "Andean copper miners end strike at Puerto Verde smelter"
        assert result.story.published_at is not None
        assert result.story.published_at.date().isoformat() == "2025-03-11"
        assert len(result.story.news) == 4


async def test_conditional_get_turns_unchanged_feed_into_304() -> None:
    site = FakeSite()
    async with serve(site):
        site.add(
            "/feed.xml",
            rss(0, ("A", "https://example.org/a", "s")),
            content_type="application/rss+xml",
        )
        url = f"http://127.0.0.1:{site.port}/feed.xml"
        async with fetcher() as f:
            first = [r async for r in read_source(url, f)]
            second = [r async for r in read_source(url, f)]
    assert first[0].story is not None
    assert second == [second[0]] and second[0].not_modified
    assert "If-None-Match" in site.requests[-1]["headers"]


async def test_retries_server_errors_then_succeeds() -> None:
    site = FakeSite()
    async with serve(site):
        route = site.add("/article/04/11/2023/flaky", HTML, fail_first=2)
        async with fetcher(retries=3) as f:
            fetched = await f.get(f"http://127.0.0.1:{site.port}/article/04/11/2023/flaky")
    assert fetched.status == 200 and route.hits == 3


async def test_gives_up_after_bounded_retries() -> None:
    site = FakeSite()
    async with serve(site):
        route = site.add("/down", "x", fail_first=100)
        async with fetcher(retries=2) as f:
            with pytest.raises(FetchError, match=r"HTTP 503.*3 attempts"):
                await f.get(f"http://127.0.0.1:{site.port}/down")
    assert route.hits == 3


async def test_timeout_is_reported() -> None:
    site = FakeSite()
    async with serve(site):
        site.add("/slow", "x", delay=2.0)
        async with fetcher(timeout=0.2, retries=0) as f:
            with pytest.raises(FetchError, match="timed out"):
                await f.get(f"http://127.0.0.1:{site.port}/slow")


async def test_unreachable_and_invalid_urls() -> None:
    async with Fetcher(retries=0) as f:
        with pytest.raises(FetchError, match="unreachable"):
            await f.get("http://127.0.0.1:9/nothing")
        with pytest.raises(FetchError):
            await f.get("http://[::1/broken")


async def test_local_feed_file_without_fetcher_keeps_feed_fields(tmp_path: Path) -> None:
    path = tmp_path / "feed.xml"
    path.write_text(rss(0, ("Only item", "https://example.org/only", "Text.")), encoding="utf-8")
    results = [r async for r in read_source(str(path), None)]
    assert [r.story.title for r in results if r.story] == ["Only item"]


async def test_not_a_feed_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "broken.xml"
    bad.write_text('<?xml version="1.0"?><rss><channel>', encoding="utf-8")
    (result,) = [r async for r in read_source(str(bad), None)]
    assert result.error
    (missing,) = [r async for r in read_source(str(tmp_path / "nope.txt"), None)]
    assert missing.error == "no such file or directory"
