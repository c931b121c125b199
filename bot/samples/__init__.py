"""The bundled sample stories (invented, in Semafor's shapes, every region) for demos."""

from __future__ import annotations

from datetime import datetime, timedelta
from importlib import resources

from bot.domain import Story
from bot.ingest.json_stories import parse_story_json


def sample_stories() -> list[Story]:
    """The bundled stories exactly as stored in ``stories.json``."""
    text = resources.files(__package__).joinpath("stories.json").read_text(encoding="utf-8")
    return parse_story_json(text)


def demo_stories(now: datetime, *, newest_age: timedelta = timedelta(hours=1)) -> list[Story]:
    """The samples moved in time so that the newest is ``newest_age`` old at ``now``.

    Their spacing is kept, so a demo's first digest has a day's worth of news to show.
    """
    stories = sample_stories()
    stamps = [s.published_at for s in stories if s.published_at is not None]
    if not stamps:
        return stories
    shift = (now - newest_age) - max(stamps)
    shift = timedelta(minutes=round(shift.total_seconds() / 60))  # keep times on the minute
    return [
        s.model_copy(
            update={
                "published_at": s.published_at + shift if s.published_at else None,
                "updated_at": s.updated_at + shift if s.updated_at else None,
            }
        )
        for s in stories
    ]
