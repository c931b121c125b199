"""What an operator sees of a running bot: ``GET /healthz`` and ``GET /metrics`` on the
process's HTTP server.

The gauges that describe the database (claims, reservations, paused subscriptions) are read
from it when ``/metrics`` is asked for, so every replica reports the same shared state; the
counters are the process's own (:mod:`bot.metrics`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY
from prometheus_client.exposition import generate_latest
from sqlalchemy import case, func, select, text

from bot.delivery.outcomes import PAUSED_AFTER
from bot.lifecycle import PAUSED_BY, TOKEN_REFUSED, UNINSTALLED
from bot.metrics import CLAIMS, PAUSED, RESERVED
from bot.store.tables import push_claims, sends, subscriptions

if TYPE_CHECKING:
    from bot.app import Core
    from bot.web import WebServer

log = logging.getLogger(__name__)

# A pause reason's beginning, and the label it is counted under.
PAUSE_KINDS = {
    PAUSED_BY: "member",
    PAUSED_AFTER: "failures",
    UNINSTALLED: "uninstalled",
    TOKEN_REFUSED: "token_refused",
}
CHECK_WITHIN = 3.0  # seconds a health check or a gauge's query may take

# A health check: None when all is well, else what is wrong (one line).
Check = Callable[[], Awaitable[str | None]]


class Health:
    """Named checks, each a coroutine saying what is wrong with its part (None: nothing)."""

    def __init__(self) -> None:
        self.checks: dict[str, Check] = {}

    def add(self, name: str, check: Check) -> None:
        self.checks[name] = check

    async def report(self) -> dict[str, str]:
        """Each check's answer: "ok" or what is wrong (a check that fails or hangs is down)."""

        async def one(check: Check) -> str:
            try:
                problem = await asyncio.wait_for(check(), CHECK_WITHIN)
            except TimeoutError:
                return f"no answer within {CHECK_WITHIN:.0f} s"
            except Exception as error:
                log.warning("health check failed", exc_info=True)
                return f"check failed ({type(error).__name__})"
            return "ok" if problem is None else problem

        answers = await asyncio.gather(*(one(check) for check in self.checks.values()))
        return dict(zip(self.checks, answers, strict=True))


def database_check(core: Core) -> Check:
    async def check() -> str | None:
        try:
            async with core.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as error:
            return f"cannot reach the database ({type(error).__name__})"
        return None

    return check


async def refresh_gauges(core: Core) -> None:
    """Read the database's state into the gauges (each replica reports the same)."""
    reason = subscriptions.c.paused_reason
    kind = case(
        *((reason.startswith(start), label) for start, label in PAUSE_KINDS.items()),
        else_="other",
    ).label("kind")
    paused = (
        select(kind, func.count())
        .where(subscriptions.c.paused.is_(True))
        .group_by(kind)
    )
    async with core.engine.connect() as conn:
        claims = (await conn.execute(select(func.count()).select_from(push_claims))).scalar()
        reserved = (
            await conn.execute(
                select(func.count()).select_from(sends).where(text("state = 'pending'"))
            )
        ).scalar()
        counts = {label: int(n) for label, n in await conn.execute(paused)}
    CLAIMS.set(claims or 0)
    RESERVED.set(reserved or 0)
    for label in (*PAUSE_KINDS.values(), "other"):
        PAUSED.labels(label).set(counts.get(label, 0))


def mount(server: WebServer, core: Core, health: Health) -> None:
    """``GET /healthz`` and ``GET /metrics`` on the process's HTTP server."""

    async def healthz(_: web.Request) -> web.Response:
        checks = await health.report()
        down = {name: answer for name, answer in checks.items() if answer != "ok"}
        body = {"status": "down" if down else "ok", "checks": checks}
        return web.json_response(body, status=503 if down else 200)

    async def metrics(_: web.Request) -> web.Response:
        try:
            await asyncio.wait_for(refresh_gauges(core), CHECK_WITHIN)
        except Exception:  # the counters still answer; the gauges keep their last values
            log.warning("reading the database's state for /metrics failed", exc_info=True)
        body = generate_latest(REGISTRY)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    server.router.add_get("/healthz", healthz)
    server.router.add_get("/metrics", metrics)

