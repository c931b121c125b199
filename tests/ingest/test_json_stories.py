from __future__ import annotations

import json

import pytest

from bot.ingest.errors import StoryFileError
from bot.ingest.json_stories import parse_story_json

GOOD = {
    "url": "https://www.semafor.com/article/11/20/2026/river-ports-dredging",
    "kind": "signals",
    "title": "River ports start dredging early",
    "published_at": "2026-11-20T07:00:00-05:00",
    "region": "Europe",
    "verticals": ["business"],
    "insights": [
        {"title": "Low water costs", "sources": ["Handelsblatt"], "body": "Barges ran light."}
    ],
}


def test_single_list_and_wrapped_forms() -> None:
    one = parse_story_json(json.dumps(GOOD))
    many = parse_story_json(json.dumps([GOOD, {**GOOD, "url": GOOD["url"] + "-2"}]))
    wrapped = parse_story_json(json.dumps({"stories": [GOOD]}))
    assert len(one) == 1 and len(many) == 2 and len(wrapped) == 1
    assert one[0].region == "europe"
    assert one[0].id == wrapped[0].id and len(one[0].id) == 8


def test_round_trip_through_parse_output() -> None:
    (story,) = parse_story_json(json.dumps(GOOD))
    (again,) = parse_story_json(story.model_dump_json())
    assert again == story


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"title": ""}, "title"),
        ({"published_at": "2026-11-20T07:00:00"}, "published_at"),
        ({"region": "atlantis"}, "region"),
        ({"kind": "podcast"}, "kind"),
        ({"insights": [{"title": "x", "sources": "FT"}]}, "insights.0.sources"),
        ({"colour": "red"}, "colour"),
        ({"url": "ftp://example.org/x"}, "url"),
    ],
)
def test_schema_errors_name_the_field(change: dict[str, object], field: str) -> None:
    with pytest.raises(StoryFileError) as caught:
        parse_story_json(json.dumps([GOOD, {**GOOD, **change}]))
    message = str(caught.value)
    assert message.startswith("story 1: ")
    assert f"'{field}'" in message


def test_not_json_says_where() -> None:
    with pytest.raises(StoryFileError, match="line 2"):
        parse_story_json('{"title": "x",\n oops}')
