"""What ``signalbot doctor`` makes of Slack's answers: a refusal blames the token, Slack's own
trouble does not."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from adapters.slack.doctor import _failed


def refused(name: str, status: int = 200) -> SlackApiError:
    response = AsyncSlackResponse(
        client=None, http_verb="POST", api_url="http://slack.test/api/auth.test", req_args={},
        data={"ok": False, "error": name}, headers={"Retry-After": "1"}, status_code=status,
    )  # fmt: skip
    return SlackApiError(name, response)


@pytest.mark.parametrize(
    ("name", "status", "verdict"),
    [
        ("invalid_auth", 200, "refused"),
        ("token_revoked", 200, "refused"),
        ("internal_error", 200, "unreachable"),
        ("ratelimited", 429, "unreachable"),
        ("fatal_error", 500, "unreachable"),
    ],
)
def test_only_a_refusal_blames_the_token(name: str, status: int, verdict: str) -> None:
    said, sentence = _failed(refused(name, status), "http://slack.test/api/")
    assert said == verdict
    assert ("refused" in sentence) == (verdict == "refused"), sentence
