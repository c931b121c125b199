"""Replicas: two real ``signalbot run`` processes on one PostgreSQL database share 10,000 pushes
due at once, against the fake Slack and the fake Discord each in a process of its own; then
one process does the same work, in the same run.

The cost of coordinating, with the rate limits off (as the issue asks): the fakes enforce no
limits and the processes keep none of their own (``SIGNALBOT_DISCORD_RATE`` and
``SIGNALBOT_SLACK_WORKSPACE_RATE`` at 0), so what a process spends is its work, not its waits.
This machine has two cores shared with PostgreSQL and the fakes, so wall time cannot show
scaling; the work each process did and what it cost can:

- ``split``: the larger process's share of the messages sent (aim <= 0.6), the worst of every
  two-process run, paced or not;
- ``cpu_over_one``: the two processes' CPU seconds from just before the pushes were due to the
  last message, over the one process's on the same work (aim <= 1.15);
- ``duplicates``, ``lost`` (over every run) and ``global_429``.

The limits held across replicas, as in production: ``BENCH_PACED_ROUNDS`` (3) rounds also run
the pair paced at the bot's default limits, against a fake Discord that keeps its 50 requests
a second for the bot: ``global_429`` counts its refusals. Paced, the pushes go at the
platforms' pace, each of the two at half of it; one process alone paced is run too, and the
paced pair's CPU over it is printed as ``paced_cpu_over_one`` (a process sending at half pace
pays more CPU a message on this machine: it wakes about twice as often for each one).

A process's CPU seconds for the same work swing by a third from one run to the next on this
shared machine (all of its code alike: the machine, not a part of the bot), so the unpaced
pair and the one process run in turns (which first alternates), ``BENCH_ROUNDS`` (9) rounds:
``cpu_over_one`` is the median round's.

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
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "9"))
PACED_ROUNDS = int(os.environ.get("BENCH_PACED_ROUNDS", "3"))
LEAD = 10.0  # seconds from start to due: the processes are up and beating by then


async def run(url: str, processes: int, folder: Path, *, paced: bool) -> dict[str, float]:
    fakes = Fakes(PLAN, channel_limits=False, global_limit=paced)
    try:
        done = await deliver(url, PLAN, fakes, processes, folder, lead=LEAD, paced=paced)
    finally:
        fakes.close()
    shares = done.by_process
    duplicates, lost = tally(done.seen.posted, PLAN)
    split = max(shares.values()) / max(1, sum(shares.values()))
    by_process = sorted(shares.values(), reverse=True)
    print(f"  {processes} process(es), {'paced' if paced else 'unpaced'}: "
          f"{len(done.seen.posted):,} channels in {done.elapsed:.1f} s, {done.cpu:.1f} CPU s, "
          f"messages by process {by_process}, duplicates {duplicates}, lost {lost}, "
          f"Discord 429s {done.seen.discord_429 or 'none'}")  # fmt: skip
    return {"split": split, "cpu": done.cpu, "duplicates": duplicates, "lost": lost,
            "global_429": done.seen.discord_429.get("global", 0)}  # fmt: skip


def once(base: str, folder: Path, processes: int, *, paced: bool) -> dict[str, float]:
    with scratch_postgres(base, f"bench_{processes}_{'paced' if paced else 'unpaced'}") as url:
        return asyncio.run(run(url, processes, folder, paced=paced))


def main() -> None:
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        sys.exit(f"bench/replicas.py: set {POSTGRES_ENV} (a PostgreSQL server, as for the tests)")
    splits, ratios, paced_ratios, duplicates, lost, global_429 = [], [], [], 0, 0, 0
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        for round_ in range(1, max(ROUNDS, PACED_ROUNDS) + 1):
            order = (2, 1) if round_ % 2 else (1, 2)  # which goes first alternates
            results: list[dict[str, float]] = []
            if round_ <= ROUNDS:
                unpaced = {n: once(base, folder, n, paced=False) for n in order}
                ratios.append(unpaced[2]["cpu"] / unpaced[1]["cpu"])
                splits.append(unpaced[2]["split"])
                results += unpaced.values()
                print(f"round {round_}: split {splits[-1]:.2f}, CPU two over one {ratios[-1]:.2f}")
            if round_ <= PACED_ROUNDS:
                paced = {n: once(base, folder, n, paced=True) for n in order}
                paced_ratios.append(paced[2]["cpu"] / paced[1]["cpu"])
                splits.append(paced[2]["split"])
                results += paced.values()
                print(f"round {round_} paced: split {splits[-1]:.2f}, "
                      f"CPU two over one {paced_ratios[-1]:.2f}")  # fmt: skip
            for result in results:
                duplicates += int(result["duplicates"])
                lost += int(result["lost"])
                global_429 += int(result["global_429"])
    print(f"cpu_over_one by round: {' '.join(f'{r:.2f}' for r in ratios)}")
    if paced_ratios:
        print(f"paced_cpu_over_one={statistics.median(paced_ratios):.2f} "
              "(the paced rounds' median)")  # fmt: skip
    print(
        f"split={max(splits):.2f} cpu_over_one={statistics.median(ratios):.2f} "
        f"duplicates={duplicates} lost={lost} global_429={global_429}"
    )


if __name__ == "__main__":
    main()
