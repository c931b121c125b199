"""What ``signalbot doctor`` asks Slack: whether it takes the bot's tokens (``auth.test``), the
app-level token (``apps.connections.open``), and which workspaces installed the app.

Each check answers with a verdict (``ok``, ``refused`` or ``unreachable``) and a sentence:
what Slack said, or why not. No sentence holds a token.
"""

from __future__ import annotations

from typing import Literal

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.slack.app import installation_store
from adapters.slack.sender import CLIENT_LOG, delivery_error

TIMEOUT = 10  # seconds for each call
Verdict = Literal["ok", "refused", "unreachable"]


def _client(token: str, api_url: str) -> AsyncWebClient:
    return AsyncWebClient(token=token, base_url=api_url, timeout=TIMEOUT, logger=CLIENT_LOG)


def _failed(error: SlackApiError, api_url: str) -> tuple[Verdict, str]:
    """A refusal names the token; Slack's own trouble (a 429, a 5xx, ``internal_error``)
    says nothing about it: the token is not blamed for that, as the sender does not."""
    failure = delivery_error(error)
    if failure.scope == "message" and not failure.permanent:
        return "unreachable", f"Slack could not answer at {api_url} ({failure.reason})"
    data = error.response.data
    name = data.get("error") if isinstance(data, dict) else None
    if name:
        return "refused", f"Slack refused it ({name})"
    return "unreachable", f"Slack answered HTTP {error.response.status_code} at {api_url}"


def _unreachable(api_url: str, error: Exception) -> str:
    return f"cannot reach Slack at {api_url} ({type(error).__name__})"


async def identify(token: str, api_url: str) -> tuple[Verdict, str]:
    """``auth.test`` on a bot token: the workspace and the bot's name, or why not."""
    try:
        answer = await _client(token, api_url).auth_test()
    except SlackApiError as error:
        return _failed(error, api_url)
    except (aiohttp.ClientError, TimeoutError, OSError) as error:
        return "unreachable", _unreachable(api_url, error)
    return "ok", f"{answer.get('team')} ({answer.get('team_id')}) as {answer.get('user')}"


async def app_token_accepted(app_token: str, api_url: str) -> tuple[Verdict, str]:
    """``apps.connections.open`` on the app-level token (Socket Mode): whether Slack would
    take a connection (the address it gives is left unused)."""
    try:
        await _client(app_token, api_url).apps_connections_open(app_token=app_token)
    except SlackApiError as error:
        return _failed(error, api_url)
    except (aiohttp.ClientError, TimeoutError, OSError) as error:
        return "unreachable", _unreachable(api_url, error)
    return "ok", "Slack would open a Socket Mode connection"


async def installed_bots(engine: AsyncEngine, client_id: str) -> list[tuple[str, str, str]]:
    """Each workspace (or organisation) that installed the app: its id, its name and the
    bot token of its newest installation."""
    bots = installation_store(engine, client_id).bots.c
    query = (
        select(bots.team_id, bots.enterprise_id, bots.team_name, bots.enterprise_name,
               bots.bot_token)
        .where(bots.client_id == client_id)
        .order_by(bots.installed_at.desc(), bots.id.desc())
    )  # fmt: skip
    newest: dict[str, tuple[str, str, str]] = {}
    async with engine.connect() as conn:
        for team, enterprise, team_name, enterprise_name, token in await conn.execute(query):
            key = str(team or enterprise)
            if token and key not in newest:
                newest[key] = (key, str(team_name or enterprise_name or key), str(token))
    return sorted(newest.values())
