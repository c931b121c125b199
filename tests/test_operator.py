"""The operator's commands, run as an operator runs them (real processes, real SQLite, and
PostgreSQL when configured): ``subscriptions list|export|import``, ``deliveries`` and
``doctor`` against the fake Slack and the fake Discord."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Connection, text

from bot.domain import ChannelRef, Filters, Subscription
from bot.lifecycle import scope_reason
from bot.operator import BadFile, read_subscription_file, subscription_file, subscription_record
from bot.schedule import next_push_for
from bot.store import db
from bot.store.ledger import Ask, DeliveryLedger
from bot.store.subscriptions import SubscriptionStore
from tests.conftest import SIGNALBOT, command_env, scratch_postgres
from tests.fakes.discord import FakeDiscord, serve_discord
from tests.fakes.slack import FakeSlack, serve_slack

NOW = datetime.now(UTC).replace(microsecond=0)  # the commands run on the real clock
C1 = ChannelRef("slack", "T1", "C1")
C2 = ChannelRef("slack", "T1", "C2")
GONE = ChannelRef("slack", "T2", "C9")
D1 = ChannelRef("discord", "1000", "5001")


def digest(channel: ChannelRef, region: str, at: time, zone: str, **fields: Any) -> Subscription:
    """A digest subscription, its next push at least an hour ahead (a test never sees it
    pass, which would make an import choose the one after)."""
    sub = Subscription(channel, region, at, zone, **fields)
    if "next_push_at" in fields:
        return sub
    return replace(sub, next_push_at=next_push_for(sub, NOW + timedelta(hours=1)))


SUBS = [
    digest(C1, "europe", time(7, 30), "Europe/Brussels", created_at=NOW - timedelta(days=40)),
    digest(
        C1,
        "asia",
        time(8, 0),
        "Asia/Singapore",
        days=(0, 1, 2, 3, 4),
        filters=Filters(topics=("security",), sources=("Financial Times",), exclude=("cricket",)),
    ),
    digest(
        C2,
        "middle-east",
        time(9, 0),
        "Asia/Dubai",
        paused=True,
        paused_reason="paused by Zoë on 2026-11-20 09:00 UTC",
        next_push_at=NOW - timedelta(days=5),
    ),
    Subscription(
        D1,
        "africa",
        time(7, 0),
        "Africa/Lagos",
        mode="instant",
        failures=2,
        last_result="alert failed: 503 Service Unavailable",
    ),
    digest(
        GONE,
        "americas",
        time(6, 0),
        "America/New_York",
        paused=True,
        paused_reason=scope_reason("token", "token_revoked"),
        last_push_at=NOW - timedelta(days=2),
        last_result="sent 3 stories",
        created_at=NOW - timedelta(days=90),
    ),
]


@dataclass
class Ran:
    code: int
    out: str
    err: str

    @property
    def both(self) -> str:
        return self.out + self.err


async def signalbot(*args: str, url: str, **settings: str) -> Ran:
    """``signalbot ARGS`` on the database at ``url``, with these settings and nothing of the
    developer's own; wide enough that no table row folds."""
    env = command_env(None, SIGNALBOT_DATABASE_URL=url, COLUMNS="250", **settings)
    process = await asyncio.create_subprocess_exec(
        SIGNALBOT, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    ran = Ran(process.returncode, out.decode(), err.decode())
    assert "Traceback" not in ran.both, ran.both
    return ran


def sqlite(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


async def seed(url: str, subs: list[Subscription]) -> list[Subscription]:
    """A migrated database holding these subscriptions as they are (records included)."""
    engine = db.create_engine(url)
    try:
        await db.upgrade(engine)
        store = SubscriptionStore(engine)
        for sub in subs:
            await store.save(sub, now=NOW, restore=True)
        return await store.matching()
    finally:
        await engine.dispose()


async def stored(url: str) -> tuple[list[Subscription], list[tuple[Any, ...]]]:
    """Every subscription (without its id) and when each row was last written."""
    engine = db.create_engine(url)
    try:
        found = await SubscriptionStore(engine).matching()
        async with engine.connect() as conn:
            written = await conn.execute(
                text("SELECT platform, workspace, channel, region, updated_at FROM subscriptions"
                     " ORDER BY platform, workspace, channel, region")
            )  # fmt: skip
            return [replace(s, id=None) for s in found], [tuple(r) for r in written]
    finally:
        await engine.dispose()


def table_rows(output: str) -> list[list[str]]:
    """A table's rows (after its header), cells split on runs of two spaces or more."""
    lines = [line for line in output.splitlines() if line.strip()]
    return [re.split(r"\s{2,}", line.strip()) for line in lines[1:-1]]


# --- subscriptions list ---------------------------------------------------------------------


async def test_list_shows_each_subscription_and_filters(tmp_path: Path) -> None:
    url = sqlite(tmp_path / "bot.db")
    await seed(url, SUBS)

    everything = await signalbot("subscriptions", "list", url=url)
    assert everything.code == 0, everything.err
    header = everything.out.splitlines()[0].split()
    assert header[:6] == ["platform", "workspace", "channel", "region", "schedule", "mode"]
    rows = {(r[0], r[2], r[3]): r for r in table_rows(everything.out)}
    assert len(rows) == 5
    assert rows[("slack", "C1", "europe")][4:] == [
        "daily 07:30 Europe/Brussels", "digest", "no", "0", "—",
    ]  # fmt: skip
    assert rows[("slack", "C1", "asia")][4] == "weekdays 08:00 Asia/Singapore"
    assert rows[("discord", "5001", "africa")][4:] == [
        "as stories arrive", "instant", "no", "2", "alert failed: 503 Service Unavailable",
    ]  # fmt: skip
    assert rows[("slack", "C2", "middle-east")][6] == "yes: paused by Zoë on 2026-11-20 09:00 UTC"
    assert everything.out.splitlines()[-1] == "5 subscriptions, 2 paused."

    discord = await signalbot("subscriptions", "list", "--platform", "discord", url=url)
    assert [r[:4] for r in table_rows(discord.out)] == [["discord", "1000", "5001", "africa"]]
    assert discord.out.splitlines()[-1] == "1 subscription, 0 paused."

    paused = await signalbot("subscriptions", "list", "--paused", url=url)
    assert sorted(r[3] for r in table_rows(paused.out)) == ["americas", "middle-east"]

    slack_paused = await signalbot("subscriptions", "list", "--paused", "--platform", "slack",
                                   url=sqlite(tmp_path / "empty.db"))  # fmt: skip
    assert slack_paused.out.strip() == "No subscriptions match."

    typo = await signalbot("subscriptions", "list", "--platform", "slak", url=url)
    assert typo.code == 2
    assert typo.err.strip() == "signalbot: --platform slak: use one of slack, discord, console"


# --- subscriptions export / import ---------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def two_databases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two empty databases: where subscriptions are exported from, and where imported."""
    if request.param == "sqlite":
        yield sqlite(tmp_path / "from.db"), sqlite(tmp_path / "to.db")
        return
    server = request.getfixturevalue("postgres_server")
    with (
        scratch_postgres(server, "signalbot_from") as source,
        scratch_postgres(server, "signalbot_to") as target,
    ):
        yield source, target


def rows_of(document: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(document)["subscriptions"]
    return rows


async def test_export_then_import_makes_the_same_and_again_changes_nothing(
    two_databases: tuple[str, str], tmp_path: Path
) -> None:
    source, target = two_databases
    await seed(source, SUBS)
    exported = tmp_path / "subscriptions.json"

    wrote = await signalbot("subscriptions", "export", "--output", str(exported), url=source)
    assert wrote.code == 0, wrote.err
    assert wrote.out.strip() == f"Exported 5 subscriptions to {exported}."
    document = json.loads(exported.read_text(encoding="utf-8"))
    assert (document["format"], document["version"]) == ("signalbot.subscriptions", 1)
    assert len(document["subscriptions"]) == 5

    first = await signalbot("subscriptions", "import", str(exported), url=target)
    assert first.code == 0, first.err
    assert first.out.strip() == f"{exported}: 5 subscriptions: 5 created, 0 updated, 0 unchanged."
    made, written = await stored(target)
    assert made == (await stored(source))[0]  # the same, records and creation times included

    again = await signalbot("subscriptions", "import", str(exported), url=target)
    assert again.code == 0, again.err
    assert again.out.strip() == (
        f"{exported}: nothing changed: its 5 subscriptions are stored as it has them."
    )
    assert await stored(target) == (made, written)  # not one row written

    copy = await signalbot("subscriptions", "export", url=target)  # to standard output
    assert copy.code == 0 and rows_of(copy.out) == rows_of(exported.read_text(encoding="utf-8"))


def _line(number: int, change: Callable[[str], str]) -> Callable[[str], str]:
    def changed(document: str) -> str:
        lines = document.splitlines()
        before = lines[number - 1]
        lines[number - 1] = change(before)
        assert lines[number - 1] != before
        return "\n".join(lines)

    return changed


def _field(name: str, value: str) -> Callable[[str], str]:
    return lambda line: re.sub(rf'"{name}": "[^"]*"', f'"{name}": "{value}"', line)


# The file holds SUBS, one a line from line 6: the third subscription is on line 8.
BAD_ROWS = {
    "unknown region": (
        _line(8, _field("region", "atlantis")),
        '8: subscription 3: "region": "atlantis" is not a region I know',
    ),
    "bad time": (
        _line(8, _field("time", "25:00")),
        '8: subscription 3: "time": "25:00" is not a time of day: use 24-hour HH:MM',
    ),
    "bad zone": (
        _line(8, _field("timezone", "Mars/Olympus")),
        '8: subscription 3: "timezone": "Mars/Olympus" is not a time zone I know',
    ),
    "missing field": (
        _line(8, lambda line: re.sub(r'"channel": "[^"]*", ', "", line)),
        '8: subscription 3: "channel" is missing',
    ),
    "malformed JSON": (
        _line(8, lambda line: line.replace('"time": "09:00",', '"time": "09:00"')),
        "8: not valid JSON: Expecting ',' delimiter",
    ),
}


@pytest.mark.parametrize("case", list(BAD_ROWS))
async def test_a_bad_row_is_named_and_nothing_is_written(case: str, tmp_path: Path) -> None:
    url = sqlite(tmp_path / "bot.db")
    already = replace(SUBS[0], push_time=time(6, 15))  # the file would change it
    await seed(url, [already])
    before = await stored(url)
    change, said = BAD_ROWS[case]
    good = subscription_file(SUBS, NOW)
    assert json.loads(good)["subscriptions"][2]["region"] == "middle-east"
    path = tmp_path / "subscriptions.json"
    path.write_text(change(good), encoding="utf-8")

    result = await signalbot("subscriptions", "import", str(path), url=url)
    assert result.code == 2, result
    lines = result.err.strip().splitlines()
    assert lines[0].startswith(f"signalbot: {path}:{said}"), lines
    assert (
        lines[-1]
        == f"signalbot: {path}: nothing was imported; correct the file and import it again"
    )
    assert len(lines) == 2 and result.out == ""
    assert await stored(url) == before  # the good rows too: all or nothing


def test_every_bad_row_is_named_by_the_line_it_starts_on() -> None:
    rows = [subscription_record(sub) for sub in SUBS]
    rows[0]["mode"] = "weekly"
    rows[1]["timzone"] = rows[1].pop("timezone")
    rows[2]["days"] = ["mon", "someday"]
    rows[4] = dict(rows[3])  # given twice
    document = json.dumps({"version": 1, "subscriptions": rows}, indent=2)
    starts = [n for n, line in enumerate(document.splitlines(), 1) if line == "    {"]
    with pytest.raises(BadFile) as bad:
        read_subscription_file(document, "subs.json", NOW)
    assert bad.value.problems == [
        f'subs.json:{starts[0]}: subscription 1: "mode" "weekly" is neither digest nor instant',
        f'subs.json:{starts[1]}: subscription 2: unknown field "timzone" (did you mean '
        '"timezone"?); "timezone" is missing',
        f'subs.json:{starts[2]}: subscription 3: "days" "someday" is not a day: use daily, '
        "weekdays, weekends or days like mon,wed,fri",
        f"subs.json:{starts[4]}: subscription 5: discord:1000/5001 africa is already "
        "subscription 4, above: give each channel's region once",
    ]


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ("", "f:1: not valid JSON: Expecting value (column 1)"),
        ('{"format": "other"}', "f: not a subscription file (its format is 'other', not "
         "'signalbot.subscriptions')"),
        ('{"version": 2, "subscriptions": []}', "f: written in format version 2; this "
         "signalbot reads version 1 (upgrade it)"),
        ('{"subscriptions": {}}', 'f: no "subscriptions" list in it (as "signalbot '
         'subscriptions export" writes)'),
        ('[\n  [1, 2]\n]', "f:2: subscription 1: is not an object (each subscription is a "
         "JSON object: {...})"),
    ],
)  # fmt: skip
def test_a_file_that_is_not_a_subscription_file_says_why(document: str, problem: str) -> None:
    with pytest.raises(BadFile) as bad:
        read_subscription_file(document, "f", NOW)
    assert bad.value.problems == [problem]


def test_a_file_keeps_next_pushes_ahead_and_makes_the_missed_again() -> None:
    ahead = NOW + timedelta(hours=3)
    rows = [subscription_record(replace(SUBS[0], next_push_at=ahead)),
            subscription_record(replace(SUBS[0], region="uk", next_push_at=NOW - timedelta(days=1))),
            subscription_record(SUBS[2]), subscription_record(SUBS[3])]  # fmt: skip
    del rows[3]["next_push_at"], rows[3]["days"], rows[3]["filters"], rows[3]["created_at"]
    read = read_subscription_file(json.dumps(rows), "f", NOW)
    assert read[0].next_push_at == ahead  # still ahead: kept
    assert read[1].next_push_at == next_push_for(read[1], NOW)  # missed: the next by schedule
    assert read[2].next_push_at == SUBS[2].next_push_at  # paused: resuming sets one
    assert read[3].next_push_at is None and read[3].days == (0, 1, 2, 3, 4, 5, 6)
    assert read[3].filters == Filters() and read[3].created_at is None  # made when imported


# --- deliveries --------------------------------------------------------------------------------


async def test_deliveries_shows_failures_first_then_the_newest_pushes(tmp_path: Path) -> None:
    url = sqlite(tmp_path / "bot.db")
    failing = replace(SUBS[0], failures=2, last_result="delivery failed (timeout); retrying")
    subs = {(s.channel, s.region): s for s in await seed(url, [failing, *SUBS[1:]])}
    engine = db.create_engine(url)
    try:
        ledger = DeliveryLedger(engine)
        asia, africa = subs[(C1, "asia")], subs[(D1, "africa")]
        assert asia.id is not None and africa.id is not None
        for token, ago, sub, stories, message in (
            ("a", timedelta(days=3), asia, ["s1", "s2", "s3"], "1790000001.000001"),
            ("b", timedelta(hours=5), africa, ["s4"], "1180000000000000100"),
            ("c", timedelta(hours=1), asia, ["s5", "s6"], "1790000002.000002"),
        ):
            ask = Ask(sub.id, sub.channel, sub.id, stories)
            await ledger.reserve([ask], token=token, at=NOW - ago)
            await ledger.settle(token=token, sent=[(sub.id, message)], released=[], at=NOW - ago)
        await ledger.reserve([Ask(1, D1, africa.id, ["s7"])], token="d", at=NOW)  # under way
    finally:
        await engine.dispose()

    shown = await signalbot("deliveries", url=url)
    assert shown.code == 0, shown.err
    rows = table_rows(shown.out)
    assert [(r[0], r[2], r[3]) for r in rows] == [
        ("failing", "discord:1000/5001", "africa"),  # most failures first
        ("failing", "slack:T1/C1", "europe"),
        ("paused", "slack:T2/C9", "americas"),  # the platform refused the workspace
        ("sending", "discord:1000/5001", "africa"),  # then the newest messages
        ("sent", "slack:T1/C1", "asia"),
        ("sent", "discord:1000/5001", "africa"),
        ("sent", "slack:T1/C1", "asia"),
    ]  # paused by a person (slack:T1/C2) is no failure
    assert rows[1][5].startswith("2 failures in a row, the last: delivery failed (timeout)")
    assert rows[1][5].endswith(f"next try {SUBS[0].next_push_at:%Y-%m-%d %H:%M} UTC")
    assert rows[2][5].startswith("the bot's access to this workspace was revoked")
    assert [r[4] for r in rows[4:]] == ["2", "1", "3"]
    assert rows[4][5] == "message 1790000002.000002"
    assert shown.out.splitlines()[-1] == "3 subscriptions failing; 4 pushes."

    only_failed = await signalbot("deliveries", "--failed", url=url)
    assert [r[0] for r in table_rows(only_failed.out)] == ["failing", "failing", "paused"]
    assert only_failed.out.splitlines()[-1] == "3 subscriptions failing."

    one_channel = await signalbot("deliveries", "--channel", "slack:T1/C1", "--since", "1d",
                                  url=url)  # fmt: skip
    assert [(r[0], r[3], r[4]) for r in table_rows(one_channel.out)] == [
        ("failing", "europe", "—"), ("sent", "asia", "2"),
    ]  # fmt: skip
    by_id = await signalbot("deliveries", "--channel", "5001", "--since",
                            f"{(NOW - timedelta(days=1)):%Y-%m-%d}", url=url)  # fmt: skip
    assert [r[0] for r in table_rows(by_id.out)] == ["failing", "sending", "sent"]

    wrong = await signalbot("deliveries", "--since", "last week", url=url)
    assert wrong.code == 2 and "--since last week: not a date or a time span" in wrong.err


# --- doctor ------------------------------------------------------------------------------------

DISCORD_TOKEN = "fake-bot-token.for-signalbot-doctor-tests"
APP_TOKEN = "xapp-1-A1-doctor"
SECRET = "doctor-signing-secret"


def doctor_lines(ran: Ran) -> dict[str, tuple[str, str]]:
    """Each check's line, by its name: (status, what it says)."""
    checks = {}
    for line in ran.out.splitlines()[:-1]:
        status, name, detail = re.split(r"\s{2,}", line.strip(), maxsplit=2)
        checks[name] = (status, detail)
    return checks


async def migrated(url: str, revision: str | None = None) -> None:
    engine = db.create_engine(url)
    try:
        if revision is None:
            await db.upgrade(engine)
            return

        def upgrade(connection: Connection) -> None:
            command.upgrade(db.alembic_config(connection), revision)

        async with engine.begin() as conn:
            await conn.run_sync(upgrade)
    finally:
        await engine.dispose()


async def test_doctor_finds_everything_fine(tmp_path: Path) -> None:
    url = sqlite(tmp_path / "bot.db")
    await migrated(url)
    slack, discord = FakeSlack(app_tokens={APP_TOKEN}), FakeDiscord(token=DISCORD_TOKEN)
    team = slack.team("T1")
    async with serve_slack(slack), serve_discord(discord):
        ran = await signalbot(
            "doctor", url=url, SLACK_BOT_TOKEN=team.token, SLACK_APP_TOKEN=APP_TOKEN,
            SLACK_API_URL=slack.api_url, DISCORD_TOKEN=DISCORD_TOKEN,
            SIGNALBOT_DISCORD_API_URL=discord.api_url,
        )  # fmt: skip
    assert ran.code == 0, ran.both
    assert ran.err == "", ran.err  # nothing logged on the way
    checks = doctor_lines(ran)
    assert checks["settings"] == (
        "ok", f"database: SQLite file {tmp_path / 'bot.db'}; Slack: one workspace over Socket "
        "Mode; Discord: set",
    )  # fmt: skip
    assert checks["database"][0] == "ok" and checks["database"][1].startswith("SQLite 3.")
    state = await _state(url)
    assert checks["migrations"] == ("ok", f"at {state.head}, the newest")
    assert checks["slack"] == ("ok", "Acme News (T1) as signalbot")
    assert checks["slack app"] == ("ok", "Slack would open a Socket Mode connection")
    assert checks["discord"] == ("ok", f"signalbot (id {discord.bot_user_id})")
    assert ran.out.splitlines()[-1] == "All checks passed."
    assert [c.method for c in slack.calls] == ["auth.test", "apps.connections.open"]
    assert [c.route for c in discord.calls] == ["GET /users/@me"]
    assert team.token not in ran.both and APP_TOKEN not in ran.both
    assert DISCORD_TOKEN not in ran.both


async def _state(url: str) -> db.MigrationState:
    engine = db.create_engine(url)
    try:
        return await db.migration_state(engine)
    finally:
        await engine.dispose()


async def test_doctor_names_each_refused_token_in_one_line(tmp_path: Path) -> None:
    url = sqlite(tmp_path / "bot.db")
    await migrated(url)
    slack, discord = FakeSlack(), FakeDiscord(token=DISCORD_TOKEN)
    slack.team("T1")
    wrong_slack, wrong_discord = "xoxb-not-the-bot-token", "not-the-discord-token.at-all-0"
    async with serve_slack(slack), serve_discord(discord):
        ran = await signalbot(
            "doctor", url=url, SLACK_BOT_TOKEN=wrong_slack, SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=slack.api_url, DISCORD_TOKEN=wrong_discord,
            SIGNALBOT_DISCORD_API_URL=discord.api_url,
        )  # fmt: skip
    assert ran.code == 1
    assert ran.err == "", ran.err  # nothing logged on the way
    checks = doctor_lines(ran)
    assert checks["slack"] == ("FAIL", "SIGNALBOT_SLACK_BOT_TOKEN: Slack refused it (invalid_auth)")
    assert checks["discord"] == (
        "FAIL", "SIGNALBOT_DISCORD_TOKEN: Discord refused it (401 Unauthorized)",
    )  # fmt: skip
    assert checks["database"][0] == checks["migrations"][0] == "ok"
    assert ran.out.splitlines()[-1] == "2 problems found."
    for secret in (wrong_slack, wrong_discord, SECRET):
        assert secret not in ran.both


async def test_doctor_checks_each_installed_workspace(tmp_path: Path) -> None:
    from slack_sdk.oauth.installation_store import Installation

    from adapters.slack import installation_store

    url = sqlite(tmp_path / "bot.db")
    await migrated(url)
    slack = FakeSlack()
    acme, beta = slack.team("T1", "Acme News"), slack.team("T2", "Beta Desk")
    slack.revoked.add(beta.token)
    engine = db.create_engine(url)
    try:
        store = installation_store(engine, slack.client_id)
        for team in (acme, beta):
            await store.async_save(
                Installation(app_id="A1", team_id=team.id, team_name=team.name,
                             bot_token=team.token, bot_id="B1", bot_user_id="UBOT",
                             user_id="UINSTALLER")
            )  # fmt: skip
    finally:
        await engine.dispose()
    async with serve_slack(slack):
        ran = await signalbot(
            "doctor", url=url, SLACK_CLIENT_ID=slack.client_id,
            SLACK_CLIENT_SECRET=slack.client_secret, SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=slack.api_url,
        )  # fmt: skip
    assert ran.code == 1
    assert ran.err == "", ran.err  # nothing logged on the way
    checks = doctor_lines(ran)
    assert "slack" not in checks and "slack T1" not in checks
    assert checks["slack T2"] == (
        "FAIL", "workspace Beta Desk: Slack refused it (token_revoked); install the app "
        "there again",
    )  # fmt: skip
    assert checks["discord"] == ("skip", "not configured (no SIGNALBOT_DISCORD_TOKEN)")
    assert acme.token not in ran.both and beta.token not in ran.both
    assert slack.client_secret not in ran.both


async def test_doctor_reports_a_database_behind_the_migrations(tmp_path: Path) -> None:
    url = sqlite(tmp_path / "old.db")
    await migrated(url, "0008")
    ran = await signalbot("doctor", url=url)
    assert ran.code == 1
    assert ran.err == "", ran.err  # nothing logged on the way
    state = await _state(url)
    assert state.behind is not None
    assert doctor_lines(ran)["migrations"] == (
        "FAIL", f"at 0008, {state.behind} behind the newest ({state.head}): run 'signalbot db "
        "upgrade' (the bot also does at start)",
    )  # fmt: skip
    assert doctor_lines(ran)["database"][0] == "ok"
    assert (await _state(url)).current == "0008"  # the doctor looked, and changed nothing


async def test_doctor_reports_a_database_it_cannot_reach(tmp_path: Path) -> None:
    url = "postgresql+asyncpg://signalbot:hunter2@127.0.0.1:1/signalbot"
    ran = await signalbot("doctor", url=url)
    assert ran.code == 1
    assert ran.err == "", ran.err  # nothing logged on the way
    checks = doctor_lines(ran)
    status, detail = checks["database"]
    assert status == "FAIL"
    assert detail.startswith(
        "SIGNALBOT_DATABASE_URL: cannot use the database at "
        "postgresql+asyncpg://signalbot:***@127.0.0.1:1/signalbot ("
    )
    assert checks["migrations"] == ("skip", "not checked: the database did not answer")
    assert "hunter2" not in ran.both

    missing = tmp_path / "nowhere" / "bot.db"
    ran = await signalbot("doctor", url=sqlite(missing))
    assert ran.code == 1
    assert ran.err == "", ran.err  # nothing logged on the way
    assert doctor_lines(ran)["database"] == (
        "FAIL", f"SIGNALBOT_DATABASE_URL: no database file at {missing} ('signalbot db "
        "upgrade' makes it)",
    )  # fmt: skip
    assert not missing.parent.exists()  # looked for, not made


async def test_doctor_reports_a_bad_setting_naming_it(tmp_path: Path) -> None:
    ran = await signalbot("doctor", url=sqlite(tmp_path / "bot.db"), SIGNALBOT_LOG_LEVEL="LOUD")
    assert ran.code == 1 and ran.err == ""
    assert ran.out.splitlines() == [
        "FAIL  settings    SIGNALBOT_LOG_LEVEL: 'LOUD' is not a logging level: use one of "
        "DEBUG, INFO, WARNING, ERROR, CRITICAL",
        "1 problem found: the other checks need the settings.",
    ]
    other = await signalbot("regions", url=sqlite(tmp_path / "bot.db"), SIGNALBOT_LOG_LEVEL="LOUD")
    assert other.code == 2 and "SIGNALBOT_LOG_LEVEL" in other.err  # any other command stops
