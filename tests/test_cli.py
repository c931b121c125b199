"""The installed ``signalbot`` command, run as a user runs it (a real process, real SQLite)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, ROOT, SEED, SIGNALBOT, command_env

GOOD_PAGES = [
    "01_signals_order_a.txt",
    "02_signals_order_b_2023_dubai.txt",
    "15_article_plain_sections.txt",
]


def run(*args: str, db: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    settings = {"SIGNALBOT_FETCH_RETRIES": "0", "SIGNALBOT_FETCH_TIMEOUT": "3", **env}
    environ = command_env(db, **settings)
    return subprocess.run(
        [SIGNALBOT, *args], capture_output=True, text=True, env=environ, timeout=60, check=False
    )


def assert_clean_failure(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("signalbot: ")
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0]


@pytest.mark.skipif(not SEED.exists(), reason="the sample page in ../shared/seeds is not here")
def test_parse_sample_page() -> None:
    result = run("parse", str(SEED))
    assert result.returncode == 0, result.stderr
    story = json.loads(result.stdout)
    assert story["kind"] == "signals"
    assert story["published_at"] == "2024-02-27T08:43:00-05:00"
    assert story["region"] == "europe"
    assert story["verticals"] == ["security"]
    assert story["insights_from"] == ["Financial Times", "Bloomberg"]
    assert [i["sources"] for i in story["insights"]] == [["Financial Times"], ["Bloomberg"]]
    assert set(story) == {
        "id",
        "url",
        "kind",
        "title",
        "published_at",
        "updated_at",
        "region",
        "verticals",
        "insights_from",
        "news",
        "sections",
        "insights",
        "image",
    }


def test_parse_with_url_gives_link_and_slug_title() -> None:
    page = FIXTURES / "pages" / "03_stripped_starts_at_the_news.txt"
    expected = json.loads(page.with_name(page.stem + ".expected.json").read_text(encoding="utf-8"))
    result = run("parse", str(page), "--url", expected["_url"])
    assert result.returncode == 0, result.stderr
    story = json.loads(result.stdout)
    assert story["title"] == expected["title"]
    assert story["url"].startswith("https://www.semafor.com/article/")


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["parse", "no/such/page.txt"], ["no/such/page.txt", "no such file"]),
        (["parse", str(FIXTURES / "pages" / "17_newsletter_refused.txt")], ["newsletter"]),
        (["parse", str(FIXTURES / "pages" / "19_not_a_story_recipe.txt")], ["not a story"]),
        (["parse", str(FIXTURES / "html" / "not_a_story.html")], ["not a story"]),
        (["parse", "http://127.0.0.1:9/article/01/01/2026/x"], ["127.0.0.1:9", "unreachable"]),
        (["preview", "abcdefgh"], ["abcdefgh", "no stored story"]),
        (
            ["preview", str(FIXTURES / "pages" / "01_signals_order_a.txt"), "--format", "xml"],
            ["--format"],
        ),
        (["stories", "list", "--region", "eurpoe"], ["eurpoe", 'Did you mean "europe"']),
        (["stories", "search", "?!"], ["search", "at least one word"]),
        (["stories", "search", "x", "--since", "yesterday"], ["--since", "YYYY-MM-DD"]),
    ],
)
def test_bad_input_exits_2_with_one_clear_line(
    tmp_path: Path, args: list[str], needles: list[str]
) -> None:
    assert_clean_failure(run(*args, db=tmp_path / "s.db"), *needles)


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("mysql://root@localhost/db", "unsupported database"),
        ("postgresql+asyncpg://nobody@127.0.0.1:1/none", "cannot use the database"),
        ("::nonsense::", "not a database URL"),
    ],
)
def test_bad_database_url_names_the_setting(url: str, needle: str) -> None:
    result = run("stories", "list", SIGNALBOT_DATABASE_URL=url)
    assert_clean_failure(result, "SIGNALBOT_DATABASE_URL", needle)


def test_ingest_preview_list_search_round_trip(tmp_path: Path) -> None:
    pages = tmp_path / "pages"
    pages.mkdir()
    for name in GOOD_PAGES:
        shutil.copy(FIXTURES / "pages" / name, pages / name)
    shutil.copy(FIXTURES / "html" / "rsc_signals_2026.html", pages)
    db = tmp_path / "bot.db"

    first = run("ingest", str(pages), db=db)
    assert first.returncode == 0, first.stderr
    assert first.stdout.split()[-4:] == ["4", "0", "0", "0"]
    again = run("ingest", str(pages), db=db)
    assert again.stdout.split()[-4:] == ["0", "0", "4", "0"]

    listed = run("stories", "list", "--region", "asia", db=db)
    assert listed.returncode == 0 and "east-asia" in listed.stdout
    story_id = listed.stdout.splitlines()[1].split()[0]

    slack_payload = json.loads(run("preview", story_id, "--format", "slack", db=db).stdout)
    assert slack_payload["blocks"][0]["type"] == "section" and slack_payload["text"]
    discord_payload = json.loads(run("preview", story_id, "-f", "discord", db=db).stdout)
    assert discord_payload["allowed_mentions"] == {"parse": []}
    text = run("preview", story_id, db=db).stdout
    assert f"[{story_id}]" in text

    shown = json.loads(run("stories", "show", story_id, db=db).stdout)
    assert shown["id"] == story_id
    found = run("stories", "search", shown["title"].split()[0], db=db)
    assert story_id in found.stdout


def test_ingest_reports_each_failure_and_keeps_the_rest(tmp_path: Path) -> None:
    bad = FIXTURES / "pages" / "19_not_a_story_recipe.txt"
    good = FIXTURES / "pages" / GOOD_PAGES[0]
    result = run("ingest", str(good), str(bad), str(tmp_path / "missing.txt"), db=tmp_path / "b.db")
    assert result.returncode == 2
    assert result.stdout.split()[-4:] == ["1", "0", "0", "2"]
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 2 and all(line.startswith("signalbot: ") for line in errors)
    assert "Traceback" not in result.stderr


def test_db_upgrade_then_up_to_date(tmp_path: Path) -> None:
    db = tmp_path / "fresh" / "bot.db"
    assert run("db", "upgrade", db=db).stdout.strip() == "Database upgraded."
    assert run("db", "upgrade", db=db).stdout.strip() == "Database already up to date."


def test_db_downgrade_undoes_the_newest_migration_and_upgrade_puts_it_back(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    run("db", "upgrade", db=db)
    head = sorted((ROOT / "bot" / "store" / "migrations" / "versions").glob("0*.py"))
    newest, previous = head[-1].name[:4], head[-2].name[:4]
    down = run("db", "downgrade", db=db)
    assert down.stdout.strip() == f"Database downgraded to {previous}.", down.stderr
    assert run("db", "upgrade", db=db).stdout.strip() == "Database upgraded."
    assert newest != previous
