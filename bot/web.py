"""The process's one HTTP server (aiohttp): platforms' requests (Slack's at ``/slack/...``),
and later health and metrics. Adapters add their routes before it starts."""

from __future__ import annotations

from aiohttp import web


class WebServer:
    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port  # 0: any free port, known once started
        self.app = web.Application(client_max_size=1024**2)
        self._runner: web.AppRunner | None = None

    @property
    def router(self) -> web.UrlDispatcher:
        return self.app.router

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, backlog=1024)
        await site.start()
        for address in self._runner.addresses:
            if isinstance(address, tuple):
                self.port = int(address[1])
                break

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
