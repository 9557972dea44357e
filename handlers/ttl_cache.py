"""A small in-memory cache whose entries expire, bounded in size (oldest dropped first)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")
_MISSING = object()


class TTLCache(Generic[K, V]):
    def __init__(
        self, seconds: float, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic
    ):
        self.seconds = seconds
        self.max_entries = max_entries
        self.clock = clock
        self._items: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def get(self, key: K, default=_MISSING):
        """The cached value, or `default` (KeyError when none is given) if absent or expired."""
        item = self._items.get(key)
        if item is not None and item[0] > self.clock():
            return item[1]
        self._items.pop(key, None)
        if default is _MISSING:
            raise KeyError(key)
        return default

    def put(self, key: K, value: V) -> None:
        self._items.pop(key, None)
        self._items[key] = (self.clock() + self.seconds, value)
        while len(self._items) > self.max_entries:
            self._items.popitem(last=False)
