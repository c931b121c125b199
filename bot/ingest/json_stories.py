"""JSON story files: one story object, a list of them, or ``{"stories": [...]}``.

The schema is :class:`bot.domain.Story` as ``signalbot parse`` prints it; ``id`` may be left out
(it is derived from ``url``). A schema error names the field and the story it is in.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from bot.domain import Story
from bot.ingest.errors import StoryFileError


def _describe(error: ValidationError, index: int | None) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "(story)"
    prefix = f"story {index}: " if index is not None else ""
    return f"{prefix}field '{where}': {first['msg']}"


def parse_story_json(text: str) -> list[Story]:
    """Every story in a JSON story file; raises :class:`StoryFileError` naming the bad field."""
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as error:
        raise StoryFileError(f"not valid JSON (line {error.lineno}: {error.msg})") from None
    if isinstance(data, dict) and isinstance(data.get("stories"), list):
        data = data["stories"]
    items = data if isinstance(data, list) else [data]
    stories: list[Story] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise StoryFileError(
                f"story {index}: expected a JSON object, got {type(item).__name__}"
            )
        try:
            stories.append(Story.model_validate(item))
        except ValidationError as error:
            raise StoryFileError(
                _describe(error, index if isinstance(data, list) else None)
            ) from None
    return stories
