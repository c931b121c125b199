"""What the platform benchmarks share: percentiles, a story of the usual size, and rounds
that time a sender against a bare client in alternating order."""

from __future__ import annotations

import statistics
from collections.abc import Awaitable, Callable

from bot.domain import Insight, Story


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(len(ordered) * share) - 1))]


def bench_story(n: int, platform: str) -> Story:
    return Story(
        url=f"https://www.semafor.com/article/12/01/2026/{platform}-bench-{n}", kind="signals",
        title=f"Grid operators agree on a shared reserve, round {n}", region="europe",
        news=["Regional operators signed a pact to pool reserve capacity for the winter."],
        insights=[Insight(title="Prices may ease", sources=["Bloomberg"], body="Analysts said.")],
    )  # fmt: skip


async def paired_rounds(
    rounds: int,
    messages: int,
    ours: Callable[[], Awaitable[float]],
    bare: Callable[[], Awaitable[float]],
) -> float:
    """The median over ``rounds`` of the bare client's time over the sender's (each round
    runs both, which goes first alternating)."""
    ratios = []
    for n in range(rounds):
        if n % 2:
            bare_s = await bare()
            ours_s = await ours()
        else:
            ours_s = await ours()
            bare_s = await bare()
        ratios.append(bare_s / ours_s)
        print(f"round {n + 1}: sender {messages:,} in {ours_s:.2f} s; bare {bare_s:.2f} s; "
              f"ratio {bare_s / ours_s:.2f}")  # fmt: skip
    return statistics.median(ratios)
