"""The Slack adapter: slack-bolt's AsyncApp mapped onto the core's commands, and a Sender."""

from adapters.slack.app import (
    SlackAdapter,
    installation_store,
    tokens_from,
    web_client,
)
from adapters.slack.sender import SlackSender

__all__ = [
    "SlackAdapter",
    "SlackSender",
    "installation_store",
    "tokens_from",
    "web_client",
]
