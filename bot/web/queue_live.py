"""Live review-queue updates for open console tabs, as server-sent events served from the
database: while tabs listen, each process reads the queue's version once a second and tells
its tabs when it changed, so any process can serve any tab and a hundred tabs cost one query a
second, not a full queue fetch every four seconds each."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator

from bot.review.queue import queue_version

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0
STREAM_SECONDS = 30.0  # a tab reconnects after this; keeps proxies and shutdowns from waiting
KEEPALIVE_SECONDS = 15.0
RETRY_MS = 2000  # how long a browser waits before reconnecting


class QueueWatch:
    """One per process: reads the queue version while someone listens and fans it out."""

    def __init__(self, engine, poll_seconds: float = POLL_SECONDS):
        self.engine = engine
        self.poll_seconds = poll_seconds
        self.version: str | None = None
        self._listeners: set[asyncio.Queue] = set()
        self._task: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def read(self) -> str:
        with self.engine.connect() as connection:
            return queue_version(connection)

    async def join(self) -> asyncio.Queue:
        """A new listener, told the current version at once and every change after it."""
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done() or self._loop is not loop:
            self._loop, self.version = loop, None
            self._listeners = set()
            self._task = loop.create_task(self._watch())
        listener: asyncio.Queue = asyncio.Queue(maxsize=1)
        self._listeners.add(listener)
        if self.version is None:
            self.version = await asyncio.to_thread(self.read)
        listener.put_nowait(self.version)
        return listener

    def leave(self, listener: asyncio.Queue) -> None:
        self._listeners.discard(listener)

    async def _watch(self) -> None:
        await asyncio.sleep(self.poll_seconds)
        while self._listeners and not _server_stopping():
            try:
                version = await asyncio.to_thread(self.read)
            except Exception as error:  # the database is away: the tabs keep their last view
                log.warning("queue version not read: %s", type(error).__name__)
            else:
                if version != self.version:
                    self.version = version
                    for listener in list(self._listeners):
                        _replace(listener, version)
            await asyncio.sleep(self.poll_seconds)
        for listener in list(self._listeners):
            _replace(listener, None)  # the server is stopping: end every stream now


def _replace(listener: asyncio.Queue, value: str | None) -> None:
    """Only the newest version matters to a tab that has not read the last one yet."""
    if listener.full():
        listener.get_nowait()
    listener.put_nowait(value)


def _server_stopping() -> bool:
    """True once uvicorn has been told to stop: open streams must end or it waits for them."""
    handler = signal.getsignal(signal.SIGTERM)
    return bool(getattr(getattr(handler, "__self__", None), "should_exit", False))


async def stream(watch: QueueWatch, seconds: float | None = None) -> AsyncIterator[str]:
    """The event stream of one tab: `version` events, comments to keep the line open."""
    listener = await watch.join()
    loop = asyncio.get_running_loop()
    ends = loop.time() + (seconds or STREAM_SECONDS)
    try:
        yield f"retry: {RETRY_MS}\n\n"
        while (left := ends - loop.time()) > 0:
            try:
                version = await asyncio.wait_for(listener.get(), min(left, KEEPALIVE_SECONDS))
            except TimeoutError:
                yield ": still here\n\n"
                continue
            if version is None:
                return
            yield f"event: version\ndata: {version}\n\n"
    finally:
        watch.leave(listener)
