"""One SDK client per event loop: HTTP connection pools belong to the loop that opened them.

`replyline serve` runs a single loop, but the CLI and tests start several in one process
(`asyncio.run` per command); a client made in one loop must not be used from another."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class LoopLocal(Generic[T]):
    def __init__(self, make: Callable[[], T], close: Callable[[T], Awaitable[None]]):
        self._make = make
        self._close = close
        self._by_loop: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def get(self) -> T:
        """This loop's client, made on first use."""
        loop = asyncio.get_running_loop()
        client = self._by_loop.get(loop)
        if client is None:
            client = self._by_loop[loop] = self._make()
        return client

    async def close(self) -> None:
        """Close this loop's client, if it has one."""
        client = self._by_loop.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await self._close(client)
