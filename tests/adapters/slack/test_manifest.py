"""The app manifest creates exactly the app the code serves: its command, its events, the
scopes its calls need, and one request URL for everything."""

from __future__ import annotations

from pathlib import Path

import yaml

from adapters.slack.app import EVENTS, EVENTS_PATH, SCOPES_NEEDED
from bot.domain import PREFIX

MANIFEST = Path(__file__).resolve().parents[3] / "deploy" / "slack" / "manifest.yml"


def test_the_manifest_matches_the_app() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == PREFIX
    settings = manifest["settings"]
    assert sorted(settings["event_subscriptions"]["bot_events"]) == sorted(EVENTS)
    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == sorted(SCOPES_NEEDED)
    urls = {
        command["url"],
        settings["event_subscriptions"]["request_url"],
        settings["interactivity"]["request_url"],
    }
    assert len(urls) == 1 and urls.pop().endswith(EVENTS_PATH)
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert settings["interactivity"]["is_enabled"] is True
