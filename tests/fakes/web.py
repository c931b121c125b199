"""A small web server on loopback that plays a news site: pages, feeds, ETags, failures."""

from __future__ import annotations

import asyncio
import hashlib
import multiprocessing
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult


@dataclass
class Route:
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    etag: bool = True
    fail_first: int = 0  # answer 503 this many times before serving
    delay: float = 0.0
    status: int = 200
    hits: int = 0


@dataclass
class FakeSite:
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0

    def add(self, path: str, body: bytes | str, **options: Any) -> Route:
        data = body.encode("utf-8") if isinstance(body, str) else body
        route = Route(data, **options)
        self.routes[path] = route
        return route

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append({"path": request.path_qs, "headers": dict(request.headers)})
        route = self.routes.get(request.path)
        if route is None:
            return web.Response(status=404, text="not found")
        route.hits += 1
        if route.delay:
            await asyncio.sleep(route.delay)
        if route.fail_first >= route.hits:
            return web.Response(status=503, headers={"Retry-After": "0"}, text="busy")
        if route.status != 200:
            return web.Response(status=route.status, text="error")
        tag = '"' + hashlib.sha1(route.body).hexdigest()[:16] + '"'
        if route.etag and request.headers.get("If-None-Match") == tag:
            return web.Response(status=304)
        headers = {"Content-Type": route.content_type}
        if route.etag:
            headers["ETag"] = tag
        return web.Response(body=route.body, headers=headers)


@asynccontextmanager
async def serve_app(app: web.Application, *, backlog: int = 128) -> AsyncIterator[int]:
    """Serve an aiohttp application on a free loopback port; yields the port."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock, backlog=backlog).start()
    try:
        yield sock.getsockname()[1]
    finally:
        await runner.cleanup()


@asynccontextmanager
async def serve(site: FakeSite) -> AsyncIterator[FakeSite]:
    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", site.handle)
    async with serve_app(app) as port:
        site.port = port
        yield site


class LoopbackResolver(AbstractResolver):
    """Resolves every host name to 127.0.0.1, so real-looking URLs reach the fake site."""

    async def resolve(
        self, host: str, port: int = 0, family: int = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            {
                "hostname": host,
                "host": "127.0.0.1",
                "port": port,
                "family": socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
        ]

    async def close(self) -> None:
        return None


class ChildServer:
    """A fake served by a process of its own, as a real endpoint would be (for benchmarks:
    the fake's work then does not share the event loop it is measured against).

    ``target(ports, *args)`` serves, puts its port on ``ports``, and runs until terminated.
    """

    def __init__(self, target: Callable[..., None], *args: Any) -> None:
        context = multiprocessing.get_context("spawn")
        ports = context.Queue()
        self.process = context.Process(target=target, args=(ports, *args), daemon=True)
        self.process.start()
        self.port: int = ports.get(timeout=60)

    async def call(self, method: str, path: str) -> Any:
        """A JSON endpoint of the fake's own (``/stats``, ``/reset``)."""
        return await call_json(self.port, method, path)

    def close(self) -> None:
        self.process.terminate()
        self.process.join(10)


async def call_json(port: int, method: str, path: str) -> Any:
    """Ask a fake on loopback one of its own JSON endpoints."""
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, f"http://127.0.0.1:{port}{path}") as response,
    ):
        return await response.json()
