"""Serve an aiohttp app on 127.0.0.1 (a free port) from a background thread with its own loop,
so a test (or a whole replyline app) can talk to it like to a real server."""

from __future__ import annotations

import asyncio
import threading

from aiohttp import web


class BackgroundServer:
    def __init__(self, app: web.Application):
        self.app = app
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    def start(self) -> str:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(timeout=10)
        return self.url

    async def _serve(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    def call(self, coroutine, timeout: float = 10):
        """Run a coroutine on the server's loop (to change its state safely)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def stop(self) -> None:
        if self._runner is not None:
            self.call(self._runner.cleanup())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> BackgroundServer:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
