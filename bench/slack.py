"""Slack: slash commands against the running bot, the Slack sender's throughput, and pacing.

1. 500 signed slash commands (latest, search, story mixed), 50 in flight, posted to a running
   ``signalbot run`` (its own process, 100,000 stories in SQLite) whose Slack is a fake on
   loopback in this process: p99 time to the ack (the HTTP answer), and to the answer at the
   command's ``response_url``.
2. 10,000 story messages through the real Slack sender (slack-sdk's AsyncWebClient: it
   renders each card, then posts) to the fake Slack in a process of its own, against a bare
   aiohttp client posting the same bodies, already rendered, as JSON to the same fake, 64 in
   flight each, in paired rounds: ``sender_over_bare`` is the sender's rate over the bare
   client's (the median round).
3. 1,000 messages to 100 channels (10 each, ten workspaces) through the engine's sending path
   (limits, 429 waits) against a fake that allows one message a second per channel and
   answers 429 with ``Retry-After`` past it: the floor is 9 s; ``elapsed_over_limit`` is the
   elapsed time over it, with duplicates and lost messages counted at the fake.

Last line: ``ack_p99_ms=<n> answer_p99_ms=<n> sender_over_bare=<r> elapsed_over_limit=<r>
duplicates=<n> lost=<n>``.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
from slack_sdk.signature import SignatureVerifier

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from adapters.slack.sender import SlackSender  # noqa: E402
from bench.commands import COMMON, RARE, load  # noqa: E402
from bench.pairs import bench_story, paired_rounds, percentile  # noqa: E402
from bot.delivery.attempts import Attempts  # noqa: E402
from bot.domain import ChannelRef  # noqa: E402
from bot.platform import Outgoing, RateLimits, render_push  # noqa: E402
from bot.render.model import card_from_story  # noqa: E402
from tests.fakes.slack import FakeSlack, run_slack_process, serve_slack  # noqa: E402
from tests.fakes.web import ChildServer  # noqa: E402

STORIES = int(os.environ.get("BENCH_STORIES", "100000"))
COMMANDS = int(os.environ.get("BENCH_COMMANDS", "500"))
IN_FLIGHT = 50
MESSAGES = int(os.environ.get("BENCH_MESSAGES", "10000"))
CONCURRENCY = 64
ROUNDS = 5
PACED = 1000  # messages, 10 to each of 100 channels
SECRET = "bench-signing-secret"
rng = random.Random(11)



# ---- 1. slash commands against the running bot --------------------------------------------


async def commands_part(folder: Path) -> tuple[float, float]:
    url = f"sqlite+aiosqlite:///{folder / 'slack.db'}"
    started = time.perf_counter()
    ids = await load(url, STORIES)
    print(f"loaded {len(ids):,} stories in {time.perf_counter() - started:.1f} s")
    slack = FakeSlack()
    team = slack.team("T1")
    async with serve_slack(slack):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SIGNALBOT_", "SLACK_"))}
        env.update(
            SIGNALBOT_DATABASE_URL=url, SLACK_BOT_TOKEN=team.token, SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=slack.api_url, SIGNALBOT_HTTP_HOST="127.0.0.1",
            SIGNALBOT_HTTP_PORT="0", SIGNALBOT_LOG_LEVEL="WARNING",
        )  # fmt: skip
        bot = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).parent / "signalbot"), "run", env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert bot.stderr is not None
        line = (await asyncio.wait_for(bot.stderr.readline(), 60)).decode()
        endpoint = line.split(" at ", 1)[1].strip()
        try:
            acks, answers = await fire(slack, endpoint, ids)
        finally:
            bot.terminate()
            await bot.wait()
    ack, answer = percentile(acks, 0.99), percentile(answers, 0.99)
    print(
        f"{len(acks)} commands, {IN_FLIGHT} in flight: ack p50={statistics.median(acks):.1f} ms "
        f"p99={ack:.1f} ms; answer p50={statistics.median(answers):.1f} ms p99={answer:.1f} ms"
    )
    return ack, answer


def command_text(ids: list[str]) -> str:
    kind = rng.choice(["latest", "search", "story"])
    if kind == "latest":
        return rng.choice(["latest", "latest 10", "latest europe 5", "latest asia", "latest bxl 3"])
    if kind == "search":
        words = rng.choice([rng.choice(COMMON), f"{rng.choice(COMMON)} {rng.choice(COMMON)}",
                            rng.choice(RARE)])  # fmt: skip
        return f"search {words}" + rng.choice(["", " in africa", " in middle east"])
    return f"story {rng.choice(ids)}"


async def fire(slack: FakeSlack, endpoint: str, ids: list[str]) -> tuple[list[float], list[float]]:
    verifier = SignatureVerifier(SECRET)
    gate = asyncio.Semaphore(IN_FLIGHT)
    acks: list[float] = []
    answers: list[float] = []

    async def one(session: aiohttp.ClientSession, warm: bool) -> None:
        key = uuid.uuid4().hex
        body = urlencode({
            "team_id": "T1", "channel_id": "C1", "user_id": "U1", "command": "/signals",
            "text": command_text(ids), "response_url": slack.response_url(key),
        })  # fmt: skip
        stamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": verifier.generate_signature(timestamp=stamp, body=body),
        }
        async with gate:
            sent = time.perf_counter()
            async with session.post(endpoint, data=body, headers=headers) as response:
                await response.read()
                acked = time.perf_counter()
                assert response.status == 200, response.status
            await slack.answered(key).wait()
        if not warm:
            acks.append((acked - sent) * 1000)
            answers.append((slack.answered_at[key] - sent) * 1000)

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=IN_FLIGHT)) as session:
        await asyncio.gather(*(one(session, True) for _ in range(30)))  # warm up
        await asyncio.gather(*(one(session, False) for _ in range(COMMANDS)))
    return acks, answers


# ---- 2. the sender against a bare client -------------------------------------------------


class SlackProcess(ChildServer):
    """The fake Slack in a process of its own, as Slack would be."""

    def __init__(self, teams: list[tuple[str, str]], channel_limit: Any = None) -> None:
        super().__init__(run_slack_process, teams, channel_limit)
        self.api_url = f"http://127.0.0.1:{self.port}/api/"




async def sender_run(fake: SlackProcess, token: str, messages: list[Outgoing]) -> float:
    await fake.call("POST", "/reset")

    async def token_for(workspace: str) -> str | None:
        return token

    gate = asyncio.Semaphore(CONCURRENCY)
    async with SlackSender(token_for, api_url=fake.api_url, limits=RateLimits()) as sender:

        async def one(message: Outgoing) -> None:
            async with gate:
                await sender.send(message)

        started = time.perf_counter()
        await asyncio.gather(*(one(m) for m in messages))
        return time.perf_counter() - started


async def bare_run(fake: SlackProcess, token: str, bodies: list[dict[str, Any]]) -> float:
    """The same messages as JSON bodies, each encoded as it is posted (as any client posting
    distinct messages must), by aiohttp alone."""
    await fake.call("POST", "/reset")
    headers = {"Authorization": f"Bearer {token}"}
    gate = asyncio.Semaphore(CONCURRENCY)
    url = f"{fake.api_url}chat.postMessage"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256)) as session:

        async def one(body: dict[str, Any]) -> None:
            async with gate, session.post(url, json=body, headers=headers) as response:
                answer = await response.json()
                assert answer["ok"], answer

        started = time.perf_counter()
        await asyncio.gather(*(one(b) for b in bodies))
        return time.perf_counter() - started


async def sender_part() -> float:
    token = "xoxb-bench-1"
    fake = SlackProcess([("T1", token)])
    try:
        cards = [card_from_story(bench_story(n, "slack")) for n in range(MESSAGES)]
        messages = [
            Outgoing(ChannelRef("slack", "T1", f"C{n % 500}"), card) for n, card in enumerate(cards)
        ]
        bodies = []
        for message in messages:  # rendered beforehand: the bare side only posts
            payload = render_push(message.content, "slack")
            assert isinstance(payload, dict)
            bodies.append({"channel": message.channel.channel, **payload})
        ratio = await paired_rounds(
            ROUNDS, MESSAGES,
            lambda: sender_run(fake, token, messages), lambda: bare_run(fake, token, bodies),
        )  # fmt: skip
    finally:
        fake.close()
    return ratio


# ---- 3. pacing against Slack's one message a second per channel ---------------------------


async def paced_part() -> tuple[float, int, int]:
    teams = [(f"T{w}", f"xoxb-bench-paced-{w}") for w in range(10)]
    tokens = dict(teams)
    fake = SlackProcess(teams, channel_limit=(1, 1.0))
    try:

        async def token_for(workspace: str) -> str | None:
            return tokens.get(workspace)

        async with SlackSender(token_for, api_url=fake.api_url) as sender:
            attempts = Attempts({"slack": sender}, concurrency=CONCURRENCY)
            channels = [ChannelRef("slack", f"T{n // 10}", f"P{n}") for n in range(100)]
            card = card_from_story(bench_story(0, "slack"))
            messages = [Outgoing(channel, card) for _ in range(10) for channel in channels]
            started = time.perf_counter()
            results = await asyncio.gather(*(attempts.deliver(m) for m in messages))
            elapsed = time.perf_counter() - started
        stats = await fake.call("GET", "/stats")
    finally:
        fake.close()
    sent = Counter(status for status, _, _ in results)
    posted = Counter(stats["posted"])
    duplicates = sum(max(0, n - 10) for n in posted.values())
    lost = sum(max(0, 10 - posted.get(c.channel, 0)) for c in channels)
    print(f"paced: {PACED:,} messages in {elapsed:.1f} s (floor 9 s), {sent['sent']} sent, "
          f"{stats['rejected_429']} answered 429")  # fmt: skip
    return elapsed / 9.0, duplicates, lost


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        ack, answer = asyncio.run(commands_part(Path(folder)))
    ratio = asyncio.run(sender_part())
    over, duplicates, lost = asyncio.run(paced_part())
    print(
        f"ack_p99_ms={ack:.1f} answer_p99_ms={answer:.1f} sender_over_bare={ratio:.2f} "
        f"elapsed_over_limit={over:.3f} duplicates={duplicates} lost={lost}"
    )


if __name__ == "__main__":
    main()
