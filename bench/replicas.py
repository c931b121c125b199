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

What the second process costs, taken apart: each round also runs a control, two processes
apart (each alone on a database of its own with half the pushes, at the same time, sharing
nothing but the machine and the fakes). ``apart_over_one`` is their CPU over the one
process's: what running two at once costs on this machine, with no coordination at all;
``shared_over_apart`` is the pair's CPU over theirs: what coordinating through one database
costs. ``cpu_over_one`` is the product of the two.

A process's CPU seconds for the same work swing by a third from one run to the next on this
shared machine (all of its code alike: the machine, not a part of the bot), so the unpaced
runs of a round go in turns (the pair and the one process alternate going first, the control
between them), ``BENCH_ROUNDS`` (9) rounds: each ratio printed is the median round's.

Needs ``SIGNALBOT_TEST_POSTGRES_URL`` (as the tests do). Last line:
``split=<r> cpu_over_one=<r> duplicates=<n> lost=<n> global_429=<n>``.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
from contextlib import ExitStack
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


async def run(urls: list[str], processes: int, folder: Path, *, paced: bool) -> dict[str, float]:
    fakes = Fakes(PLAN, channel_limits=False, global_limit=paced)
    try:
        done = await deliver(urls, PLAN, fakes, processes, folder, lead=LEAD, paced=paced)
    finally:
        fakes.close()
    shares = done.by_process
    duplicates, lost = tally(done.seen.posted, PLAN)
    split = max(shares.values()) / max(1, sum(shares.values()))
    by_process = sorted(shares.values(), reverse=True)
    apart = " apart" if len(urls) > 1 else ""
    print(f"  {processes} process(es){apart}, {'paced' if paced else 'unpaced'}: "
          f"{len(done.seen.posted):,} channels in {done.elapsed:.1f} s, {done.cpu:.1f} CPU s, "
          f"messages by process {by_process}, duplicates {duplicates}, lost {lost}, "
          f"Discord 429s {done.seen.discord_429 or 'none'}")  # fmt: skip
    return {"split": split, "cpu": done.cpu, "duplicates": duplicates, "lost": lost,
            "global_429": done.seen.discord_429.get("global", 0)}  # fmt: skip


def once(base: str, folder: Path, kind: str, *, paced: bool) -> dict[str, float]:
    """One run: ``kind`` is ``one`` process, a ``pair`` on one database, or a pair ``apart``."""
    processes = 1 if kind == "one" else 2
    with ExitStack() as stack:
        urls = [
            stack.enter_context(scratch_postgres(base, f"bench_{kind}_{n}"))
            for n in range(2 if kind == "apart" else 1)
        ]
        return asyncio.run(run(urls, processes, folder, paced=paced))


def median(ratios: list[float]) -> str:
    return f"{statistics.median(ratios):.2f}"


def main() -> None:
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        sys.exit(f"bench/replicas.py: set {POSTGRES_ENV} (a PostgreSQL server, as for the tests)")
    splits: list[float] = []
    ratios: dict[str, list[float]] = {"over_one": [], "apart": [], "shared": [], "paced": []}
    duplicates = lost = global_429 = 0
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        for round_ in range(1, max(ROUNDS, PACED_ROUNDS) + 1):
            # the pair and the one process take turns going first; the control goes between
            order = ("pair", "apart", "one") if round_ % 2 else ("one", "apart", "pair")
            results: list[dict[str, float]] = []
            if round_ <= ROUNDS:
                unpaced = {kind: once(base, folder, kind, paced=False) for kind in order}
                pair, apart, one = (unpaced[k]["cpu"] for k in ("pair", "apart", "one"))
                ratios["over_one"].append(pair / one)
                ratios["apart"].append(apart / one)
                ratios["shared"].append(pair / apart)
                splits.append(unpaced["pair"]["split"])
                results += unpaced.values()
                print(f"round {round_}: split {splits[-1]:.2f}, CPU two over one "
                      f"{pair / one:.2f} (apart over one {apart / one:.2f}, "
                      f"shared over apart {pair / apart:.2f})")  # fmt: skip
            if round_ <= PACED_ROUNDS:
                paced = {kind: once(base, folder, kind, paced=True) for kind in order[::2]}
                ratios["paced"].append(paced["pair"]["cpu"] / paced["one"]["cpu"])
                splits.append(paced["pair"]["split"])
                results += paced.values()
                print(f"round {round_} paced: split {splits[-1]:.2f}, "
                      f"CPU two over one {ratios['paced'][-1]:.2f}")  # fmt: skip
            for result in results:
                duplicates += int(result["duplicates"])
                lost += int(result["lost"])
                global_429 += int(result["global_429"])
    print(f"cpu_over_one by round: {' '.join(f'{r:.2f}' for r in ratios['over_one'])}")
    if ratios["apart"]:
        print(f"apart_over_one={median(ratios['apart'])} (two processes apart over one: "
              "running two at once on this machine, nothing shared)")  # fmt: skip
        print(f"shared_over_apart={median(ratios['shared'])} (the pair on one database over "
              "two apart: what coordinating costs)")  # fmt: skip
    if ratios["paced"]:
        print(f"paced_cpu_over_one={median(ratios['paced'])} (the paced rounds' median)")
    print(
        f"split={max(splits):.2f} cpu_over_one={median(ratios['over_one'])} "
        f"duplicates={duplicates} lost={lost} global_429={global_429}"
    )


if __name__ == "__main__":
    main()
