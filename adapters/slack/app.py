"""slack-bolt's AsyncApp, mapped onto the core: the ``/signals`` command, the buttons under
the bot's answers, and the events that say a channel or the workspace is gone.

Every request is acknowledged at once (Slack allows 3 s), then answered: a lookup privately
through the command's ``response_url``; a change in the channel with ``chat.postMessage``, so
a channel the bot cannot post to is found before anything is kept (the change is undone and
the user told how to invite the bot). Errors are private sentences; no traceback reaches Slack.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization.async_authorize import AsyncInstallationStoreAuthorize
from slack_bolt.oauth.async_callback_options import (
    AsyncCallbackOptions,
    AsyncFailureArgs,
    AsyncSuccessArgs,
)
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.sender import CLIENT_LOG, PLATFORM, SCOPES
from bot.platform import (
    FAILED,
    PREFIX,
    REGISTRY,
    Bot,
    ChannelRef,
    CommandContext,
    Reply,
    Settings,
    SettingsError,
    WebServer,
    parse_command_name,
    payload_target,
    render_reply,
    slack_button,
    slack_home_view,
    workspace_overview,
)

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
STATE_SECONDS = 600  # an install must finish within ten minutes
ADMIN_CACHE_SECONDS = 600.0
ADMINS = "workspace admins and owners"  # who may change subscriptions with SLACK_MANAGERS=admins
CANNOT_POST = (
    "I can't post in this channel, so nothing was changed. Invite me first: type "
    "/invite @signalbot here, then try again."
)
# Events that say the bot can no longer post in a channel, and why (the pause reason).
CHANNEL_GONE = {
    "channel_deleted": "the channel was deleted",
    "channel_archive": "the channel was archived",
    "group_deleted": "the channel was deleted",
    "group_archive": "the channel was archived",
    "group_left": "signalbot was removed from the channel",
}

# Every event the app takes (the manifest subscribes to exactly these), and the bot scopes
# its calls need.
EVENTS = (*CHANNEL_GONE, "member_left_channel", "app_home_opened", "app_uninstalled",
          "tokens_revoked")  # fmt: skip
SCOPES_NEEDED = ("commands", "chat:write", "users:read", "channels:read", "groups:read")

Respond = Callable[..., Awaitable[Any]] | None  # None where the request had no response_url


class _ClientGiven(logging.Filter):
    """bolt also reads SLACK_BOT_TOKEN from the environment and warns that the client we give
    (on that same token, pointed at SLACK_API_URL) wins over it: that is the intent."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("As you gave `client` as well")


log.addFilter(_ClientGiven())


def refused(setting: str, error: SlackApiError) -> SettingsError:
    """Slack refused a setting's token at start: ``signalbot run`` names it and stops."""
    return SettingsError(f"{setting}: Slack refused it ({_error_name(error)})")


class SlackAdapter:
    """The Slack app for one bot: built from the settings, mounted on the process's server."""

    def __init__(
        self,
        bot: Bot,
        settings: Settings,
        client: AsyncWebClient,
        installations: AsyncSQLAlchemyInstallationStore | None = None,
    ) -> None:
        """``client``: the Web API client pointed at the Slack API, on the bot's token (one
        workspace) or none (many: ``installations`` holds each workspace's)."""
        secret = settings.slack_signing_secret
        self.bot = bot
        self.settings = settings
        self.client = client
        self.installations = installations
        oauth = None
        if installations is not None:
            client_secret = settings.slack_client_secret
            assert settings.slack_client_id is not None and client_secret is not None
            oauth = AsyncOAuthSettings(
                client_id=settings.slack_client_id,
                client_secret=client_secret.get_secret_value(),
                scopes=list(SCOPES_NEEDED),
                installation_store=installations,
                state_store=AsyncSQLAlchemyOAuthStateStore(
                    expiration_seconds=STATE_SECONDS, engine=bot.core.engine, logger=log
                ),
                install_path=INSTALL_PATH,
                redirect_uri_path=REDIRECT_PATH,
                callback_options=AsyncCallbackOptions(
                    success=self.on_installed, failure=self.on_install_failed
                ),
            )
        # Many workspaces: each request's token comes from its installation, remembered
        # (bolt's default reads the installation and calls auth.test on every request).
        authorize = None
        if installations is not None:
            authorize = AsyncInstallationStoreAuthorize(
                installation_store=installations, logger=log, bot_only=True,
                cache_enabled=True, client=client,
            )  # fmt: skip
        self.app = AsyncApp(  # the client carries the workspace's token, where there is one
            signing_secret=secret.get_secret_value() if secret else None,
            client=client,
            oauth_settings=oauth,
            authorize=cast(Any, authorize),  # bolt takes an AsyncAuthorize as it is
            logger=log,
        )
        self._admins: dict[tuple[str, str], tuple[bool, float]] = {}
        self.app.command(PREFIX)(self.on_command)
        self.app.action(re.compile(r"^signals-"))(self.on_button)
        for name in CHANNEL_GONE:
            self.app.event(name)(self.on_channel_gone)
        self.app.event("member_left_channel")(self.on_member_left)
        self.app.event("app_home_opened")(self.on_home_opened)
        self.app.event("app_uninstalled")(self.on_uninstalled)
        self.app.event("tokens_revoked")(self.on_uninstalled)
        self.app.error(self.on_error)

    def mount(self, server: WebServer) -> None:
        server.router.add_post(EVENTS_PATH, self.handle)
        if self.installations is not None:  # installs in many workspaces, through OAuth
            server.router.add_get(INSTALL_PATH, self.install)
            server.router.add_get(REDIRECT_PATH, self.installed)

    async def check(self, app_token: str | None = None) -> None:
        """Ask Slack whether it takes the bot token (and the app-level token): a refusal is a
        :class:`SettingsError` naming the setting, before anything else starts."""
        try:
            await self.client.auth_test()
        except SlackApiError as error:
            raise refused("SIGNALBOT_SLACK_BOT_TOKEN", error) from None
        if app_token is not None:
            try:
                await self.client.apps_connections_open(app_token=app_token)
            except SlackApiError as error:
                raise refused("SIGNALBOT_SLACK_APP_TOKEN", error) from None

    async def connect(self, app_token: str) -> AsyncSocketModeHandler:
        """Take Slack's requests over Socket Mode instead (no public URL needed): the same
        listeners answer them. Close the handler it returns to disconnect."""
        await self.check(app_token)
        handler = AsyncSocketModeHandler(self.app, app_token, logger=log, web_client=self.client)
        await handler.connect_async()  # type: ignore[no-untyped-call]
        return handler

    async def install(self, request: web.Request) -> web.Response:
        """The "Add to Slack" page: where an install starts (with its state in a cookie)."""
        flow = self.app.oauth_flow
        assert flow is not None
        started = await flow.handle_installation(await to_bolt_request(request))
        return await to_aiohttp_response(started)

    async def installed(self, request: web.Request) -> web.Response:
        """Where Slack sends the browser back: the code becomes the workspace's installation."""
        flow = self.app.oauth_flow
        assert flow is not None
        finished = await flow.handle_callback(await to_bolt_request(request))
        return await to_aiohttp_response(finished)

    async def on_installed(self, args: AsyncSuccessArgs) -> BoltResponse:
        """Installed (again): what the bot paused for the workspace's lost token or an
        uninstall goes back to pushing; the browser gets Slack's usual page."""
        team = args.installation.team_id
        if team:
            resumed = await self.bot.lifecycle.resume_workspace(PLATFORM, team)
            log.info("installed in %s: %d paused subscriptions resumed", team, resumed)
        return await args.default.success(args)

    async def on_install_failed(self, args: AsyncFailureArgs) -> BoltResponse:
        return await args.default.failure(args)

    async def handle(self, request: web.Request) -> web.Response:
        """Every request Slack sends: commands, buttons, events (verified by bolt)."""
        response = await self.app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(response)

    # ---- who may change a channel ----------------------------------------------------

    async def can_manage(self, client: AsyncWebClient, workspace: str, user: str) -> bool:
        """Everyone, or (SLACK_MANAGERS=admins) the workspace's admins and owners, asked of
        ``users.info`` and remembered for ten minutes."""
        if self.settings.slack_managers == "everyone":
            return True
        key = (workspace, user)
        known = self._admins.get(key)
        now = time.monotonic()
        if known is not None and now - known[1] < ADMIN_CACHE_SECONDS:
            return known[0]
        try:
            info = await client.users_info(user=user)
            person = info.get("user") or {}
            admin = bool(person.get("is_admin") or person.get("is_owner"))
        except SlackApiError as error:
            log.warning("users.info failed for a user of %s: %s", workspace, _error_name(error))
            return False
        self._admins[key] = (admin, now)
        return admin

    async def context(
        self, client: AsyncWebClient, workspace: str, channel: str, user: str, name: str
    ) -> tuple[CommandContext, list[Any] | None]:
        """Who asks where, and (for a change after which the bot posts here, made by someone
        allowed to) the channel's subscriptions as they stand, to put back if the channel
        turns out to refuse the bot."""
        command = REGISTRY.get(name)
        manages = command is not None and command.manages
        allowed = await self.can_manage(client, workspace, user) if manages else True
        who = {"managers": ADMINS} if self.settings.slack_managers == "admins" else {}
        ctx = CommandContext(ChannelRef(PLATFORM, workspace, channel), user, allowed, **who)
        posts = command is not None and command.posts and allowed
        before = await self.bot.core.subscriptions.for_channel(ctx.channel) if posts else None
        return ctx, before

    # ---- listeners ---------------------------------------------------------------------

    # Listeners take bolt's ``client``: the Web API on the token of the workspace the request
    # came from (one workspace's own, or the one its installation holds).

    async def on_command(
        self, ack: Any, body: dict[str, Any], respond: Respond, client: AsyncWebClient
    ) -> None:
        await ack()
        text = str(body.get("text") or "")
        name, _ = parse_command_name(text)
        team, channel, user = body["team_id"], body["channel_id"], body["user_id"]
        ctx, before = await self.context(client, team, channel, user, name)
        reply = await self.bot.commands.handle(text, ctx)
        await self.answer(client, reply, ctx, respond, before)

    async def on_button(
        self, ack: Any, body: dict[str, Any], respond: Respond, client: AsyncWebClient
    ) -> None:
        await ack()
        action = (body.get("actions") or [{}])[0]
        kind = slack_button(str(action.get("action_id") or ""))
        payload = str(action.get("value") or "")
        on_home = (body.get("view") or {}).get("type") == "home"
        name, acts_in = payload_target(payload)  # "" for a button the service cannot read
        channel = (
            acts_in
            or (body.get("channel") or {}).get("id")
            or (body.get("container") or {}).get("channel_id")
        )
        team = (body.get("team") or {}).get("id") or body.get("user", {}).get("team_id")
        user = (body.get("user") or {}).get("id")
        if kind is None or not channel or not team or not user:
            return
        ctx, before = await self.context(client, team, channel, user, name)
        reply = await self.bot.commands.press(kind, payload, ctx)
        if on_home:  # no response_url there: the channel hears of a change, the tab shows it
            if not reply.private:
                await self.answer(client, reply, ctx, respond, before)
            await self.publish_home(client, team, user)
            return
        await self.answer(client, reply, ctx, respond, before)

    async def on_home_opened(
        self, body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient
    ) -> None:
        if event.get("tab", "home") == "home" and event.get("user"):
            await self.publish_home(client, body["team_id"], str(event["user"]))

    async def publish_home(self, client: AsyncWebClient, team: str, user: str) -> None:
        """The App Home tab as this user may use it: the workspace's channels, their
        subscriptions and, for those who may change them, pause and resume buttons."""
        allowed = await self.can_manage(client, team, user)
        overview = await workspace_overview(
            self.bot.commands, PLATFORM, team, can_manage=allowed
        )
        try:
            await client.views_publish(user_id=user, view=slack_home_view(overview))
        except SlackApiError as error:
            log.warning("views.publish failed in %s: %s", team, _error_name(error))

    async def answer(
        self,
        client: AsyncWebClient,
        reply: Reply,
        ctx: CommandContext,
        respond: Respond,
        before: list[Any] | None,
    ) -> None:
        """A private answer through ``response_url``; a public one in the channel. Where the
        channel refuses the bot, a change after which it would post there (``before`` holds
        the channel as it was) is undone and the user told privately how to let the bot in;
        any other change (unsubscribe, pause) stands, confirmed privately."""
        payload = render_reply(reply, "slack")
        assert isinstance(payload, dict)
        if reply.private:
            if respond is not None:
                await respond(**payload)
            return
        message = {k: v for k, v in payload.items() if k != "response_type"}
        try:
            await client.chat_postMessage(channel=ctx.channel.channel, **message)
        except SlackApiError as error:
            name = _error_name(error)
            if SCOPES.get(name) != "channel" or before is None:
                log.info("posting an answer in %s failed: %s", ctx.channel, name)
                if respond is not None:
                    await respond(response_type="ephemeral", **message)
                return
            await self.undo(ctx.channel, before)
            if respond is not None:
                await respond(response_type="ephemeral", text=CANNOT_POST)

    async def undo(self, channel: ChannelRef, before: list[Any]) -> None:
        """Put the channel's subscriptions back as they were before a change it never saw."""
        store = self.bot.core.subscriptions
        kept = {s.region for s in before}
        added = [s.region for s in await store.for_channel(channel) if s.region not in kept]
        if added:
            await store.delete(channel, added)
        now = self.bot.core.clock.now()
        for sub in before:
            await store.save(sub, now=now, restore=True)

    async def on_channel_gone(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        if not await self.first_time(body):
            return
        channel = event.get("channel")
        if isinstance(channel, dict):
            channel = channel.get("id")
        reason = CHANNEL_GONE.get(str(event.get("type")), "the channel is gone")
        if channel:
            await self.bot.lifecycle.pause_channel(
                ChannelRef(PLATFORM, body["team_id"], str(channel)), reason
            )

    async def on_member_left(
        self, body: dict[str, Any], event: dict[str, Any], context: Any
    ) -> None:
        if event.get("user") != context.get("bot_user_id") or not await self.first_time(body):
            return
        channel = ChannelRef(PLATFORM, body["team_id"], str(event.get("channel")))
        await self.bot.lifecycle.pause_channel(channel, "signalbot was removed from the channel")

    async def on_uninstalled(self, body: dict[str, Any]) -> None:
        if await self.first_time(body):
            team = body["team_id"]
            await self.bot.lifecycle.forget_workspace(PLATFORM, team)
            if self.installations is not None:
                await self.installations.async_delete_all(enterprise_id=None, team_id=team)

    async def first_time(self, body: dict[str, Any]) -> bool:
        """False for an event already handled (Slack retries events): handled once."""
        event_id = body.get("event_id")
        if not event_id:
            return True
        return await self.bot.core.events.first_time(
            PLATFORM, str(event_id), now=self.bot.core.clock.now()
        )

    async def on_error(self, error: Exception, respond: Respond) -> None:
        """A failure no handler caught: logged, and where the request came with a
        ``response_url`` (a command, a button), a sentence for the user, never a traceback."""
        log.error("handling a Slack request failed: %s", type(error).__name__, exc_info=error)
        if respond is None:
            return
        try:
            await respond(response_type="ephemeral", text=FAILED)
        except Exception as failed:  # the user cannot be told: logged
            log.warning("could not tell the user: %s", type(failed).__name__)


def web_client(token: str | None, api_url: str) -> AsyncWebClient:
    """The Web API client the app answers with, on the bot's token (none for an app installed
    in many workspaces: each request's own is used)."""
    return AsyncWebClient(token=token, base_url=api_url, logger=CLIENT_LOG)


def installation_store(engine: Any, client_id: str) -> AsyncSQLAlchemyInstallationStore:
    """Each workspace's installation, in our own tables (see migration 0009)."""
    return AsyncSQLAlchemyInstallationStore(client_id=client_id, engine=engine, logger=log)


def tokens_from(store: AsyncSQLAlchemyInstallationStore) -> Callable[[str], Awaitable[str | None]]:
    """A workspace's bot token, as its installation holds it (for the sender)."""

    async def token_for(workspace: str) -> str | None:
        found = await store.async_find_bot(enterprise_id=None, team_id=workspace)
        return found.bot_token if found is not None else None

    return token_for


def _error_name(error: SlackApiError) -> str:
    data = error.response.data
    return str(data.get("error") or "") if isinstance(data, dict) else ""
