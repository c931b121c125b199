"""The app manifest creates exactly the app the code serves: its command, its events, the
scopes its calls need, and one request URL for everything."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from adapters.slack.app import EVENTS, EVENTS_PATH, SCOPES_NEEDED
from bot.domain import PREFIX

DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "slack"


def load(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / name).read_text(encoding="utf-8"))
    return loaded


@pytest.mark.parametrize("name", ["manifest.yml", "manifest.socket.yml"])
def test_both_manifests_create_the_app_the_code_serves(name: str) -> None:
    manifest = load(name)
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == PREFIX
    settings = manifest["settings"]
    assert sorted(settings["event_subscriptions"]["bot_events"]) == sorted(EVENTS)
    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == sorted(SCOPES_NEEDED)
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["socket_mode_enabled"] is (name == "manifest.socket.yml")


def test_the_http_manifest_sends_everything_to_one_url() -> None:
    manifest = load("manifest.yml")
    (command,) = manifest["features"]["slash_commands"]
    settings = manifest["settings"]
    urls = {
        command["url"],
        settings["event_subscriptions"]["request_url"],
        settings["interactivity"]["request_url"],
    }
    assert len(urls) == 1 and urls.pop().endswith(EVENTS_PATH)


def test_the_socket_manifest_names_no_url() -> None:
    assert "url" not in str(load("manifest.socket.yml"))
