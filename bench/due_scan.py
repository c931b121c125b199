"""One due-scan over 100,000 subscriptions of which 10% are due, on SQLite.

The scan is what every bot process runs every few seconds: release reservations a dead
process left behind, then claim every due push atomically (one INSERT ... SELECT ...
RETURNING the claimed subscriptions' ids). Reports the time of one scan and the peak memory of the
scanning process (which does nothing else: imports, the pool, the scan). The process sets
the garbage collector up as ``signalbot run`` does.

Last line: ``due_scan_ms=<number> peak_mb=<number>``.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.app import build_core  # noqa: E402
from bot.clock import FrozenClock  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.delivery import CLAIM_LEASE  # noqa: E402
from bot.service import tune_gc  # noqa: E402
from bot.store.tables import subscriptions as subscriptions_table  # noqa: E402

SUBSCRIPTIONS = int(os.environ.get("BENCH_SUBSCRIPTIONS", "100000"))
DUE_SHARE = 0.10
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
ZONES = ["Europe/Brussels", "Africa/Lagos", "Asia/Riyadh", "Asia/Singapore", "America/New_York"]
REGIONS = ["europe", "africa", "middle-east", "southeast-asia", "north-america", "asia"]


async def prepare(url: str) -> None:
    settings = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
    core = build_core(settings, clock=FrozenClock(NOW))
    await core.start()
    due_every = round(1 / DUE_SHARE)
    rows = []
    for n in range(SUBSCRIPTIONS):
        due = n % due_every == 0
        rows.append({
            "platform": "slack" if n % 2 else "discord", "workspace": f"w{n // 50}",
            "channel": f"c{n}", "region": REGIONS[n % len(REGIONS)],
            "push_time": f"{6 + n % 4:02d}:{(n * 7) % 60:02d}", "timezone": ZONES[n % len(ZONES)],
            "days": "0,1,2,3,4,5,6", "mode": "digest",
            "filters": '{"topics": [], "sources": [], "keywords": [], "exclude": []}',
            "paused": n % 97 == 0,
            "next_push_at": NOW - timedelta(seconds=n % 300) if due
            else NOW + timedelta(minutes=1 + n % 1440),
            "failures": 0, "created_at": NOW, "updated_at": NOW,
        })  # fmt: skip
    async with core.engine.begin() as conn:
        for start in range(0, len(rows), 10000):
            await conn.execute(subscriptions_table.insert(), rows[start : start + 10000])
    await core.close()


async def scan_once(url: str, token: str) -> tuple[float, int]:
    settings = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
    core = build_core(settings, clock=FrozenClock(NOW))
    await core.start()
    await core.subscriptions.count()  # open the pool before timing
    start = time.perf_counter()
    await core.ledger.release_stale(older_than=NOW - CLAIM_LEASE)
    claimed = await core.claims.claim_due(
        NOW, token, stale_before=NOW - CLAIM_LEASE, platforms=("slack", "discord")
    )
    elapsed = (time.perf_counter() - start) * 1000
    await core.close()
    return elapsed, len(claimed)


def scan_process(url: str, token: str, results: Any) -> None:
    """A bot process that only scans: its resident peak is the scan's memory cost."""
    tune_gc()  # the process set up as `signalbot run` sets it up
    elapsed, claimed = asyncio.run(scan_once(url, token))
    results.put((elapsed, claimed, resident_peak_mb()))


def resident_peak_mb() -> float:
    """This process's peak resident memory. Not ``getrusage``'s ``ru_maxrss``: Linux carries
    that across ``exec``, so a spawned child would report the parent's peak (the parent built
    the database); the kernel's high-water mark of this process's own memory is VmHWM."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux


def main() -> None:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    best = float("inf")
    peak = 0.0
    with tempfile.TemporaryDirectory() as folder:
        for round_ in range(3):  # a fresh database each time: every scan claims its 10%
            url = f"sqlite+aiosqlite:///{Path(folder) / f'scan-{round_}.db'}"
            asyncio.run(prepare(url))
            child = context.Process(target=scan_process, args=(url, f"bench-{round_}", results))
            child.start()
            elapsed, claimed, rss = results.get(timeout=300)
            child.join()
            best, peak = min(best, elapsed), max(peak, rss)
            print(f"scan {round_ + 1}: claimed {claimed:,} due pushes (every unpaused one of "
                  f"{SUBSCRIPTIONS:,} subscriptions, {DUE_SHARE:.0%} due) in {elapsed:.1f} ms; "
                  f"process peak {rss:.0f} MB")  # fmt: skip
    print(f"due_scan_ms={best:.1f} peak_mb={peak:.0f}")


if __name__ == "__main__":
    main()
