"""A fake Slack Web API on loopback that answers as Slack does, strictly.

It speaks Slack's HTTP protocol (``POST /api/<method>``, a bearer token, JSON or form bodies,
``{"ok": ...}`` answers), so slack-sdk and slack-bolt run unmodified against it. It refuses
what Slack refuses: an unknown or revoked token (``invalid_auth``, ``token_revoked``), a
message without ``text`` or ``blocks``, Block Kit past its limits (``invalid_blocks``,
``msg_blocks_too_long``, ``msg_too_long``), and, per channel on demand, more than one message
a second (429 with ``Retry-After``). Channels play the usual failures by name: ``gone-*``
(``channel_not_found``), ``outside-*`` (``not_in_channel``), ``archived-*`` (``is_archived``).
Every call is recorded.

Socket Mode too: ``apps.connections.open`` on an app-level token gives a WebSocket URL where
the fake says hello, sends envelopes (:meth:`FakeSlack.envelope`) and takes their acks, as
Slack's Socket Mode does.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

from tests.fakes.web import serve_app

MAX_BLOCKS = 50
MAX_HOME_BLOCKS = 100
SECTION_TEXT = 3000
HEADER_TEXT = 150
CONTEXT_ELEMENTS = 10
ACTION_ELEMENTS = 25
BLOCK_ID = 255
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
ACTION_ID = 255
# Slack refuses a message whose blocks carry too much text altogether (msg_blocks_too_long);
# it publishes no figure, so the fake refuses past the 10,000 our messages keep under.
BLOCKS_TEXT = 10000
MESSAGE_TEXT = 40000


def length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class Call:
    method: str
    token: str | None
    body: dict[str, Any]
    at: float


@dataclass
class Team:
    id: str
    name: str
    token: str
    bot_user: str = "UBOT"
    admins: set[str] = field(default_factory=set)


def block_errors(blocks: Any, *, most: int = MAX_BLOCKS) -> list[str]:
    """Why Slack would refuse these blocks (empty when it would take them)."""
    if not isinstance(blocks, list):
        return ["blocks must be an array"]
    errors: list[str] = []
    if len(blocks) > most:
        errors.append(f"no more than {most} items allowed [json-pointer:/blocks]")
    ids: set[str] = set()
    total = 0
    for n, block in enumerate(blocks):
        where = f"[json-pointer:/blocks/{n}"
        kind = block.get("type") if isinstance(block, dict) else None
        if kind not in {"section", "header", "context", "divider", "actions", "image"}:
            errors.append(f"unknown block type {where}]")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            if len(block_id) > BLOCK_ID or block_id in ids:
                errors.append(f"invalid or duplicate block_id {where}/block_id]")
            ids.add(block_id)
        if kind == "section":
            text = block.get("text") or {}
            if text.get("type") not in ("mrkdwn", "plain_text") or not text.get("text"):
                errors.append(f"section needs text {where}/text]")
            elif length(text["text"]) > SECTION_TEXT:
                errors.append(f"must be less than {SECTION_TEXT + 1} characters {where}/text/text]")
            total += length(text.get("text", ""))
        elif kind == "header":
            text = block.get("text") or {}
            if text.get("type") != "plain_text":
                errors.append(f"header text must be plain_text {where}/text]")
            if length(text.get("text", "")) > HEADER_TEXT:
                errors.append(f"must be less than {HEADER_TEXT + 1} characters {where}/text/text]")
            total += length(text.get("text", ""))
        elif kind == "context":
            elements = block.get("elements") or []
            if not 1 <= len(elements) <= CONTEXT_ELEMENTS:
                errors.append(f"context takes 1 to {CONTEXT_ELEMENTS} elements {where}/elements]")
            for element in elements:
                if length(element.get("text", "")) > SECTION_TEXT:
                    errors.append(f"context text too long {where}/elements]")
                total += length(element.get("text", ""))
        elif kind == "actions":
            elements = block.get("elements") or []
            if not 1 <= len(elements) <= ACTION_ELEMENTS:
                errors.append(f"actions take 1 to {ACTION_ELEMENTS} elements {where}/elements]")
            action_ids: set[str] = set()
            for element in elements:
                text = element.get("text") or {}
                action_id = element.get("action_id", "")
                if element.get("type") != "button" or text.get("type") != "plain_text":
                    errors.append(f"a button needs plain_text {where}/elements]")
                if not 0 < length(text.get("text", "")) <= BUTTON_TEXT:
                    errors.append(f"button text 1 to {BUTTON_TEXT} characters {where}/elements]")
                if len(element.get("value", "")) > BUTTON_VALUE:
                    errors.append(f"button value over {BUTTON_VALUE} characters {where}/elements]")
                if len(action_id) > ACTION_ID or action_id in action_ids:
                    errors.append(f"invalid or duplicate action_id {where}/elements]")
                action_ids.add(action_id)
    if total > BLOCKS_TEXT and not errors:
        errors.append("msg_blocks_too_long")
    return errors


@dataclass
class FakeSlack:
    teams: dict[str, Team] = field(default_factory=dict)
    revoked: set[str] = field(default_factory=set)  # tokens
    channel_limit: tuple[int, float] | None = None  # (messages, seconds) per channel
    fail_next: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    calls: list[Call] = field(default_factory=list)
    rejected_429: int = 0
    responses: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    answered_at: dict[str, float] = field(default_factory=dict)  # response_url key: first answer
    _answered: dict[str, asyncio.Event] = field(default_factory=dict)
    app_tokens: set[str] = field(default_factory=set)  # xapp- tokens for Socket Mode
    client_id: str = "111.222"  # the app's OAuth credentials
    client_secret: str = "client-secret"
    sockets: list[web.WebSocketResponse] = field(default_factory=list)
    acks: dict[str, dict[str, Any]] = field(default_factory=dict)  # envelope id: its ack
    _acked: dict[str, asyncio.Event] = field(default_factory=dict)
    _connected: asyncio.Event = field(default_factory=asyncio.Event)
    port: int = 0
    _sent: dict[str, deque[float]] = field(default_factory=lambda: defaultdict(deque))
    _ts: int = 0
    # The messages in each channel as they read now, by ts: chat.update edits them; a
    # person deleting one is ``delete``.
    messages: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, key: str) -> str:
        """A slash command's or a button's ``response_url`` (answers land in ``responses``)."""
        return f"http://127.0.0.1:{self.port}/response/{key}"

    async def respond(self, request: web.Request) -> web.Response:
        body = await request.json()
        errors = block_errors(body.get("blocks", []))
        if errors or not (body.get("text") or body.get("blocks")):
            return web.Response(status=400, text="invalid_blocks" if errors else "no_text")
        key = request.match_info["key"]
        self.answered_at.setdefault(key, time.perf_counter())
        self.answered(key).set()
        self.responses[key].append(body)
        return web.Response(text="ok")

    async def stats(self, request: web.Request) -> web.Response:
        """What Slack has seen (for a benchmark that runs it in another process)."""
        counts: dict[str, int] = defaultdict(int)
        for body in self.posted():
            counts[str(body["channel"])] += 1
        edits: dict[str, int] = defaultdict(int)
        for body in self.updated():
            edits[str(body["channel"])] += 1
        return web.json_response(
            {"posted": counts, "updated": edits, "rejected_429": self.rejected_429}
        )

    async def reset(self, request: web.Request) -> web.Response:
        self.calls.clear()
        self._sent.clear()
        self.rejected_429 = 0
        return web.json_response({"ok": True})

    async def link(self, request: web.Request) -> web.WebSocketResponse:
        """A Socket Mode connection: hello, then envelopes one way and acks the other."""
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        self.sockets.append(socket)
        await socket.send_json({"type": "hello", "num_connections": len(self.sockets),
                                "connection_info": {"app_id": "A1"},
                                "debug_info": {"host": "fake"}})  # fmt: skip
        self._connected.set()
        async for message in socket:
            if message.type == WSMsgType.TEXT:
                ack = json.loads(message.data)
                envelope_id = str(ack.get("envelope_id"))
                self.acks[envelope_id] = ack
                self._acked.setdefault(envelope_id, asyncio.Event()).set()
        return socket

    async def envelope(self, kind: str, payload: dict[str, Any], *, within: float = 5.0) -> dict[str, Any]:
        """Send an envelope over the open Socket Mode connection; its ack."""
        await asyncio.wait_for(self._connected.wait(), within)
        envelope_id = f"env-{len(self.acks)}-{time.monotonic_ns()}"
        acked = self._acked.setdefault(envelope_id, asyncio.Event())
        await self.sockets[-1].send_json({"envelope_id": envelope_id, "type": kind,
                                          "payload": payload, "accepts_response_payload": True,
                                          "retry_attempt": 0, "retry_reason": ""})  # fmt: skip
        await asyncio.wait_for(acked.wait(), within)
        return self.acks[envelope_id]

    def answered(self, key: str) -> asyncio.Event:
        """Set once an answer reached the response_url ``key``."""
        return self._answered.setdefault(key, asyncio.Event())

    def team(self, team_id: str = "T1", name: str = "Acme News", token: str | None = None) -> Team:
        team = self.teams[team_id] = Team(team_id, name, token or f"xoxb-{team_id}-fake")
        return team

    def posted(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Messages Slack accepted (in a channel, or everywhere), in order."""
        return [
            c.body for c in self.calls
            if c.method == "chat.postMessage" and c.body.get("_ok")
            and (channel is None or c.body.get("channel") == channel)
        ]  # fmt: skip

    def updated(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Edits Slack accepted (``chat.update``, in a channel or everywhere), in order."""
        return [
            c.body for c in self.calls
            if c.method == "chat.update" and c.body.get("_ok")
            and (channel is None or c.body.get("channel") == channel)
        ]  # fmt: skip

    def delete(self, channel: str, ts: str) -> None:
        """A person deletes a message from the channel."""
        del self.messages[(channel, ts)]

    def _team_of(self, token: str | None) -> Team | None:
        return next((t for t in self.teams.values() if t.token == token), None)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        raw = await request.read()
        if request.content_type == "application/json":
            body = json.loads(raw or b"{}")
        else:
            body = dict(parse_qsl(raw.decode()))
        body = {**request.query, **body}  # arguments may come in the query string too
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ").strip() or body.get("token")
        call = Call(method, token, body, time.monotonic())
        self.calls.append(call)
        if method == "oauth.v2.access":
            return self._oauth(request, body)
        if method == "apps.connections.open":
            if token not in self.app_tokens:
                return self._error("invalid_auth" if token else "not_authed")
            return self._ok(url=f"ws://127.0.0.1:{self.port}/link/?ticket={len(self.sockets)}")
        team = self._team_of(token)
        if token in self.revoked:
            return self._error("token_revoked")
        if team is None:
            return self._error("not_authed" if not token else "invalid_auth")
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            return self._error("unknown_method")
        answer: web.StreamResponse = await handler(team, body)
        return answer

    @staticmethod
    def _ok(**data: Any) -> web.Response:
        return web.json_response({"ok": True, **data})

    @staticmethod
    def _error(name: str, **data: Any) -> web.Response:
        return web.json_response({"ok": False, "error": name, **data})

    async def _auth_test(self, team: Team, body: dict[str, Any]) -> web.Response:
        return self._ok(url=f"https://{team.id.lower()}.slack.example/", team=team.name,
                        user="signalbot", team_id=team.id, user_id=team.bot_user, bot_id="B1")  # fmt: skip

    async def _chat_postMessage(self, team: Team, body: dict[str, Any]) -> web.Response:
        channel = str(body.get("channel") or "")
        if not channel:
            return self._error("channel_not_found")
        refused = self._refused(channel)
        if refused is not None:
            return refused
        if self.channel_limit:
            count, seconds = self.channel_limit
            now, sent = time.monotonic(), self._sent[channel]
            while sent and now - sent[0] >= seconds:
                sent.popleft()
            if len(sent) >= count:
                self.rejected_429 += 1
                wait = max(1, round(sent[0] + seconds - now + 0.5))
                return web.json_response({"ok": False, "error": "ratelimited"}, status=429,
                                         headers={"Retry-After": str(wait)})  # fmt: skip
            sent.append(now)
        invalid = self._invalid(body)
        if invalid is not None:
            return invalid
        self._ts += 1
        ts = f"{1_790_000_000 + self._ts}.{self._ts:06d}"
        body["_ok"] = True
        self.messages[(channel, ts)] = message = self._message(body, ts, team)
        return self._ok(channel=channel, ts=ts, message=message)

    async def _chat_update(self, team: Team, body: dict[str, Any]) -> web.Response:
        """An edit of a message the bot posted: the channel and the message's ``ts``."""
        channel, ts = str(body.get("channel") or ""), str(body.get("ts") or "")
        if not channel:
            return self._error("channel_not_found")
        if not ts:
            return self._error("invalid_arguments")
        refused = self._refused(channel)
        if refused is not None:
            return refused
        stored = self.messages.get((channel, ts))
        if stored is None:
            return self._error("message_not_found")
        if stored.get("bot_id") != "B1" or stored.get("team") != team.id:
            return self._error("cant_update_message")
        invalid = self._invalid(body)
        if invalid is not None:
            return invalid
        body["_ok"] = True
        self.messages[(channel, ts)] = message = {**self._message(body, ts, team),
                                                  "edited": {"user": team.bot_user, "ts": ts}}
        return self._ok(channel=channel, ts=ts, text=body.get("text", ""), message=message)

    def _refused(self, channel: str) -> web.Response | None:
        """What Slack answers for a channel the bot cannot post in (None: it can)."""
        if self.fail_next.get(channel):
            return self._error(self.fail_next[channel].pop(0))
        for prefix, error in (("gone-", "channel_not_found"), ("outside-", "not_in_channel"),
                              ("archived-", "is_archived")):  # fmt: skip
            if channel.startswith(prefix):
                return self._error(error)
        return None

    def _invalid(self, body: dict[str, Any]) -> web.Response | None:
        """What Slack answers for a message body it refuses (None: it takes it)."""
        blocks = body.get("blocks")
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
            body["blocks"] = blocks
        if not body.get("text") and not blocks:
            return self._error("no_text")
        if length(str(body.get("text", ""))) > MESSAGE_TEXT:
            return self._error("msg_too_long")
        if blocks is not None:
            errors = block_errors(blocks)
            if errors == ["msg_blocks_too_long"]:
                return self._error("msg_blocks_too_long")
            if errors:
                return self._error("invalid_blocks", errors=errors)
        return None

    @staticmethod
    def _message(body: dict[str, Any], ts: str, team: Team) -> dict[str, Any]:
        return {"type": "message", "text": body.get("text", ""), "blocks": body.get("blocks"),
                "ts": ts, "bot_id": "B1", "team": team.id, "user": team.bot_user}  # fmt: skip

    async def _views_publish(self, team: Team, body: dict[str, Any]) -> web.Response:
        view = body.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        if not body.get("user_id") or not isinstance(view, dict) or view.get("type") != "home":
            return self._error("invalid_arguments")
        errors = block_errors(view.get("blocks"), most=MAX_HOME_BLOCKS)
        if errors:
            return self._error("invalid_blocks", errors=errors)
        body["_ok"] = True
        return self._ok(view={"id": "V1", **view})

    async def _users_info(self, team: Team, body: dict[str, Any]) -> web.Response:
        user = str(body.get("user") or "")
        if not user.startswith("U"):
            return self._error("user_not_found")
        admin = user in team.admins
        return self._ok(user={"id": user, "team_id": team.id, "is_admin": admin,
                              "is_owner": False, "is_bot": False})  # fmt: skip

    def _oauth(self, request: web.Request, body: dict[str, Any]) -> web.Response:
        """oauth.v2.access: the app's own credentials (HTTP Basic, or in the body) and a code
        from an install the fake knows (``code-<team id>``)."""
        client_id, client_secret = body.get("client_id"), body.get("client_secret")
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            client_id, _, client_secret = base64.b64decode(auth[6:]).decode().partition(":")
        if client_id != self.client_id:
            return self._error("invalid_client_id")
        if client_secret != self.client_secret:
            return self._error("bad_client_secret")
        code = str(body.get("code") or "")
        team_id = code.removeprefix("code-")
        if not code.startswith("code-") or team_id not in self.teams:
            return self._error("invalid_code")
        team = self.teams[team_id]
        return self._ok(
            app_id="A1", authed_user={"id": "UINSTALLER"}, scope="chat:write,commands",
            token_type="bot", access_token=team.token, bot_user_id=team.bot_user,
            team={"id": team.id, "name": team.name}, enterprise=None,
            is_enterprise_install=False,
        )  # fmt: skip


@asynccontextmanager
async def serve_slack(slack: FakeSlack) -> AsyncIterator[FakeSlack]:
    app = web.Application()
    app.router.add_post("/api/{method}", slack.handle)
    app.router.add_get("/api/{method}", slack.handle)
    app.router.add_post("/response/{key}", slack.respond)
    app.router.add_get("/stats", slack.stats)
    app.router.add_get("/link/", slack.link)
    app.router.add_post("/reset", slack.reset)
    async with serve_app(app, backlog=1024) as port:
        slack.port = port
        try:
            yield slack
        finally:
            for socket in slack.sockets:
                await socket.close()


def run_slack_process(port_out: Any, teams: list[tuple[str, str]], channel_limit: Any) -> None:
    """Entry point of a child process serving a FakeSlack until it is terminated."""

    async def main() -> None:
        slack = FakeSlack(channel_limit=channel_limit)
        for team_id, token in teams:
            slack.team(team_id, token=token)
        async with serve_slack(slack):
            port_out.put(slack.port)
            await asyncio.Event().wait()

    asyncio.run(main())
