"""The model computes in one thread of its own, at a lower CPU priority.

Classifying is the heaviest work replyline does, and a burst of messages can keep a core busy
for minutes. Webhooks must still be acknowledged at once, and the pipeline's database
transactions (which hold SQLite's one write lock) must not stall behind the model. On Linux
a thread has its own nice value, so only this thread yields: the web process and the
pipeline's transactions keep normal priority, the model uses whatever CPU they leave. Threads
the model starts (torch's intra-op pool) inherit the lower priority."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


class ModelThread:
    """Runs the model at `nice` (0: in the calling thread, as is)."""

    def __init__(self, nice: int = 10):
        self.nice = nice
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def run(self, fn: Callable[..., T], *args) -> T:
        """`fn(*args)` in the model thread; returns its result (or raises its exception)."""
        if not self.nice:
            return fn(*args)
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix="model", initializer=self._lower_priority
                )
        return self._executor.submit(fn, *args).result()

    def _lower_priority(self) -> None:
        with contextlib.suppress(OSError, AttributeError):  # not Linux: the same priority
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self.nice)
            return
        log.info("the model thread runs at normal priority here")
