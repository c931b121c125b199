"""Compare a parsed story with a fixture's ``*.expected.json`` (a subset of the story's fields)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.domain import Story

DERIVED = {"news_count", "news_startswith", "section_names", "insights"}


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def page_for(expected: Path) -> Path:
    stem = expected.name.removesuffix(".expected.json")
    (page,) = [p for p in expected.parent.glob(stem + ".*") if not p.name.endswith(".json")]
    return page


def mismatches(story: Story, expected: dict[str, Any]) -> list[str]:
    """Each field where ``story`` differs from the expectation, described."""
    data = story.model_dump(mode="json")
    problems: list[str] = []
    for key, want in expected.items():
        if key.startswith("_"):
            continue
        if key == "news_count":
            got: Any = len(data["news"])
        elif key == "news_startswith":
            got = data["news"][0][: len(want)] if data["news"] else ""
        elif key == "section_names":
            got = list(data["sections"])
        elif key == "insights":
            got = [
                {
                    "title": have["title"],
                    "sources": have["sources"],
                    "body_startswith": have["body"][: len(spec.get("body_startswith", ""))],
                }
                for have, spec in zip(data["insights"], want, strict=False)
            ]
            if len(data["insights"]) != len(want):
                got = [i["title"] for i in data["insights"]]
                want = [i["title"] for i in want]
        else:
            got = data[key]
        if got != want:
            problems.append(f"{key}: got {got!r}, want {want!r}")
    return problems
