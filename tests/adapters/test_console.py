"""The console channel end to end with piped input: what it reads, what it prints (answers and
pushes), and the real ``signalbot run`` command. What each command answers is tested once, in
``tests/commands``."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from bot.app import Core
from bot.commands import REGISTRY
from tests.adapters.console_session import session
from tests.conftest import SIGNALBOT, command_env


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("subscribe europe", "Commands start with /signals (did you mean /signals subscribe?)"),
        ("hello", "Commands start with /signals; type /signals help for the list."),
    ],
)
async def test_a_line_that_is_not_a_command_gets_a_hint(
    core: Core, line: str, message: str
) -> None:
    out = await session(core, line)
    assert message in out
    assert await core.subscriptions.count() == 0


async def test_the_console_maps_every_declared_command(core: Core) -> None:
    out = await session(core, *(f"/signals {name}" for name in REGISTRY), "# a comment", "")
    assert "I don't know the command" not in out
    assert "Commands start with" not in out
    assert "Traceback" not in out


async def test_answers_and_pushes_read_as_in_a_channel(core: Core) -> None:
    out = await session(
        core, "/signals subscribe europe", "/signals preview", "/signals send-now",
        "/signals story nosuchid",
    )  # fmt: skip
    assert "The next Europe push at Thu 26 Nov 07:00 CET (in 18 h) would hold 3 stories:" in out
    assert "[#general] signalbot (message 1):\n== Europe · Wednesday, November 25 ==" in out
    assert out.count("== Europe · Wednesday, November 25 ==") == 2  # preview + the one push
    assert "Sent the Europe digest: 3 stories." in out
    assert "Post to channel" not in out  # buttons are for platforms that have them


async def test_a_member_is_told_who_may_change_the_channel(core: Core) -> None:
    out = await session(core, "/signals subscribe asia", "/signals list", member=True)
    assert "Only people who can manage this channel can use /signals subscribe" in out
    assert "This channel has no subscriptions yet" in out


def test_piped_demo_through_the_real_command(tmp_path: Path) -> None:
    env = command_env(tmp_path / "demo.db")
    result = subprocess.run(
        [SIGNALBOT, "run", "--samples"],
        input="/signals subscribe europe\n/signals send-now\n",
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Subscribed to Europe (europe)" in result.stdout
    assert re.search(r"Sent the Europe digest: \d+ stor", result.stdout)
    assert "#general> " not in result.stdout  # no prompt when input is piped
    assert "Traceback" not in result.stderr


def test_sigterm_stops_the_bot_even_while_it_waits_for_input(tmp_path: Path) -> None:
    env = command_env(tmp_path / "term.db")
    process = subprocess.Popen(
        [SIGNALBOT, "run"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
    )  # fmt: skip
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write("/signals subscribe europe\n")
    process.stdin.flush()
    first = process.stdout.readline()  # the bot is up and answering; input stays open
    assert first.startswith("Subscribed to Europe"), first
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert time.monotonic() - started < 15
    assert "Traceback" not in err
