"""Replicas: two real ``signalbot run`` processes on one PostgreSQL database share 10,000 pushes
due at once, against the fake Slack and the fake Discord each in a process of its own; then
one process does the same work, in the same run.

The fakes enforce no per-channel limits (every push has a channel of its own anyway), but the
fake Discord keeps its 50 requests a second for the bot, so ``global_429`` says whether the two
processes together stay under it. This machine has two cores shared with PostgreSQL and the
fakes, so wall time cannot show scaling; the work each process did and what it cost can:

- ``split``: the larger process's share of the messages sent (aim <= 0.6);
- ``cpu_over_one``: the two processes' CPU seconds from just before the pushes were due to the
  last message, over the one process's on the same work (aim <= 1.15);
- ``duplicates``, ``lost`` (over every run) and ``global_429`` (the two processes' runs).

CPU time on this shared machine varies by a third from run to run, so the pair is run
``BENCH_ROUNDS`` times (5): ``cpu_over_one`` is the median round's, ``split`` the worst.

The pushes are paced by the platforms' limits, not by the CPU, and two processes each keep
half of the bot's limits: each sends at half the pace of one process alone. A control run
shows what that pace costs by itself: one process while a second seems live (its heartbeat
row, nothing more), so that it keeps half the limits and does all the work at half pace
(``BENCH_CONTROL=0`` leaves it out). Its CPU over the one process's at full pace is printed
as ``half_pace_over_one``: where it is close to ``cpu_over_one``, the two processes' extra
CPU is what a process pays on this machine for sending slower (waking more often to less
work, its caches cold), not the cost of coordinating them.

Needs ``SIGNALBOT_TEST_POSTGRES_URL`` (as the tests do). Last line:
``split=<r> cpu_over_one=<r> duplicates=<n> lost=<n> global_429=<n>``.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import POSTGRES_ENV, scratch_postgres  # noqa: E402
from tests.replicas import Fakes, Plan, deliver, tally  # noqa: E402

PLAN = Plan(
    slack=int(os.environ.get("BENCH_SLACK", "9000")),
    discord=int(os.environ.get("BENCH_DISCORD", "1000")),
    workspaces=60,
)
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
CONTROL = os.environ.get("BENCH_CONTROL", "1") != "0"
LEAD = 15.0  # seconds from start to due: the processes are up and beating by then


async def run(url: str, processes: int, folder: Path, idle: int = 0) -> dict[str, float]:
    fakes = Fakes(PLAN, channel_limits=False, global_limit=True)
    try:
        done = await deliver(url, PLAN, fakes, processes, folder, lead=LEAD, idle=idle)
    finally:
        fakes.close()
    shares = done.by_process
    duplicates, lost = tally(done.seen.posted, PLAN)
    split = max(shares.values()) / max(1, sum(shares.values()))
    by_process = sorted(shares.values(), reverse=True)
    who = f"{processes} process(es)" + (f" and {idle} idle" if idle else "")
    print(f"{who}: {len(done.seen.posted):,} channels in {done.elapsed:.1f} s, "
          f"{done.cpu:.1f} CPU s, messages by process {by_process}, duplicates {duplicates}, "
          f"lost {lost}, Discord 429s {done.seen.discord_429 or 'none'}")  # fmt: skip
    return {"split": split, "cpu": done.cpu, "duplicates": duplicates, "lost": lost,
            "global_429": done.seen.discord_429.get("global", 0)}  # fmt: skip


def main() -> None:
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        sys.exit(f"bench/replicas.py: set {POSTGRES_ENV} (a PostgreSQL server, as for the tests)")
    splits, ratios, controls, duplicates, lost, global_429 = [], [], [], 0, 0, 0
    with tempfile.TemporaryDirectory() as folder:
        for round_ in range(1, ROUNDS + 1):
            with scratch_postgres(base, "bench_two") as url:
                two = asyncio.run(run(url, 2, Path(folder)))
            with scratch_postgres(base, "bench_one") as url:
                one = asyncio.run(run(url, 1, Path(folder)))
            splits.append(two["split"])
            ratios.append(two["cpu"] / one["cpu"])
            duplicates += int(two["duplicates"] + one["duplicates"])
            lost += int(two["lost"] + one["lost"])
            global_429 += int(two["global_429"])
            line = f"round {round_}: split {splits[-1]:.2f}, CPU two over one {ratios[-1]:.2f}"
            if CONTROL:
                with scratch_postgres(base, "bench_half") as url:
                    half = asyncio.run(run(url, 1, Path(folder), idle=1))
                controls.append(half["cpu"] / one["cpu"])
                duplicates += int(half["duplicates"])
                lost += int(half["lost"])
                line += f", one at half pace over one {controls[-1]:.2f}"
            print(line)
    if controls:
        print(f"half_pace_over_one={statistics.median(controls):.2f} (the control's median)")
    print(
        f"split={max(splits):.2f} cpu_over_one={statistics.median(ratios):.2f} "
        f"duplicates={duplicates} lost={lost} global_429={global_429}"
    )


if __name__ == "__main__":
    main()
