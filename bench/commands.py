"""Latency of the lookup commands with 100,000 stories stored in SQLite.

Each sample is one command through the command layer as a platform would run it: parse the
text, query the store, build the reply and render it (plain text, as the console shows it).
Prints p50 and p99 per command. Slack gives a slash command 3 seconds to be acknowledged.

Last line: ``worst_p99_ms=<number> of_ack_budget=<fraction of 3000 ms>``.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from adapters.console.channel import reply_text  # noqa: E402
from bot import regions  # noqa: E402
from bot.app import build_bot, build_core  # noqa: E402
from bot.clock import FrozenClock  # noqa: E402
from bot.commands import CommandContext  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.domain import ChannelRef, Insight, Story  # noqa: E402
from bot.store.stories import search_text  # noqa: E402
from bot.store.tables import stories as stories_table  # noqa: E402

STORIES = int(os.environ.get("BENCH_STORIES", "100000"))
SAMPLES = int(os.environ.get("BENCH_SAMPLES", "300"))
ACK_BUDGET_MS = 3000.0
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

rng = random.Random(7)
COMMON = [f"w{n}" for n in range(400)]  # frequent words
RARE = [f"r{n}" for n in range(20000)]  # long tail
OUTLETS = ["Financial Times", "Bloomberg", "Reuters", "Al Jazeera", "Nikkei Asia", "Le Monde"]
LEAVES = [r.key for r in regions.leaf_regions()]


def words(count: int) -> str:
    return " ".join(rng.choice(COMMON) if rng.random() < 0.7 else rng.choice(RARE)
                    for _ in range(count))  # fmt: skip


def make_story(n: int) -> Story:
    return Story(
        url=f"https://www.semafor.com/article/01/01/2026/bench-{n}",
        kind="signals",
        title=words(9).capitalize(),
        published_at=NOW - timedelta(minutes=n * 5),
        region=rng.choice(LEAVES),
        verticals=[rng.choice(["politics", "security", "business", "tech"])],
        insights_from=rng.sample(OUTLETS, 2),
        news=[words(40) + ".", words(30) + "."],
        insights=[
            Insight(title=words(7), sources=[rng.choice(OUTLETS)], body=words(50) + ".")
            for _ in range(3)
        ],
    )


async def load(core_url: str, count: int) -> list[str]:
    """Bulk-load stories straight into the tables (the same rows StoryStore.save writes)."""
    settings = Settings(_env_file=None, database_url=core_url)  # type: ignore[call-arg]
    core = build_core(settings)
    await core.start()
    ids: list[str] = []
    async with core.engine.begin() as conn:
        for start in range(0, count, 5000):
            rows, fts = [], []
            for n in range(start, min(count, start + 5000)):
                story = make_story(n)
                ids.append(story.id)
                data = story.model_dump_json()
                body = search_text(story)
                rows.append({
                    "seq": n + 1, "id": story.id, "url": story.url, "kind": story.kind,
                    "title": story.title, "region": story.region,
                    "published_at": story.published_at, "sort_at": story.published_at,
                    "content_hash": str(hash(data)), "search_text": body, "data": data,
                    "ingested_at": NOW, "changed_at": NOW,
                })  # fmt: skip
                fts.append({"rowid": n + 1, "title": story.title, "body": body})
            await conn.execute(stories_table.insert(), rows)
            await conn.exec_driver_sql(
                "INSERT INTO stories_fts (rowid, title, body) VALUES (?, ?, ?)",
                [(f["rowid"], f["title"], f["body"]) for f in fts],
            )
    await core.close()
    return ids


async def measure(core_url: str, ids: list[str]) -> dict[str, list[float]]:
    settings = Settings(_env_file=None, database_url=core_url)  # type: ignore[call-arg]
    core = build_core(settings, clock=FrozenClock(NOW))
    await core.start()
    service = build_bot(core, {}).commands
    ctx = CommandContext(ChannelRef("console", "bench", "#bench"), "bench", True)
    region_words = ["europe", "asia", "bxl", "lagos", "americas", "middle east"]
    makers = {
        "latest": lambda: rng.choice(["/signals latest", "/signals latest 10"]
                                     + [f"/signals latest {r} 5" for r in region_words]),
        "search": lambda: rng.choice([
            f"/signals search {rng.choice(COMMON)}",
            f"/signals search {rng.choice(COMMON)} {rng.choice(COMMON)}",
            f"/signals search {rng.choice(RARE)}",
            f"/signals search {rng.choice(COMMON)} in {rng.choice(region_words)}",
        ]),
        "story": lambda: f"/signals story {rng.choice(ids)}",
    }  # fmt: skip
    timings: dict[str, list[float]] = {name: [] for name in makers}
    for name, make in makers.items():
        for _ in range(20):  # warm up caches and the connection pool
            reply_text(await service.handle(make(), ctx))
        for _ in range(SAMPLES):
            text = make()
            start = time.perf_counter()
            reply = await service.handle(text, ctx)
            reply_text(reply)
            timings[name].append((time.perf_counter() - start) * 1000)
            assert reply.ok, reply.text
    await core.close()
    return timings


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        started = time.perf_counter()
        ids = asyncio.run(load(url, STORIES))
        print(f"loaded {len(ids):,} stories in {time.perf_counter() - started:.1f} s")
        timings = asyncio.run(measure(url, ids))
    worst = 0.0
    for name, values in timings.items():
        values.sort()
        p50 = statistics.median(values)
        p99 = values[min(len(values) - 1, round(len(values) * 0.99) - 1)]
        worst = max(worst, p99)
        print(f"{name:7} p50={p50:.2f} ms p99={p99:.2f} ms ({len(values)} samples)")
    print(f"worst_p99_ms={worst:.2f} of_ack_budget={worst / ACK_BUDGET_MS:.4f}")


if __name__ == "__main__":
    main()
