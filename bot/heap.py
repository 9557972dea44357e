"""Keep full garbage collections out of write transactions and requests.

CPython's oldest-generation collection walks every tracked object, and these processes hold
many that live as long as they do: FastAPI and SQLAlchemy in the web process, and the
transformer, its tokenizer and the playbooks in the worker (half a million objects; one
collection took 300 ms and more). In the worker such a pause can fall inside a write
transaction, and on SQLite every webhook queues behind the write lock meanwhile (the load
benchmark showed 300 ms acknowledgements, once or twice a run, from exactly this).

`settle()` collects once, at a moment that holds no lock, and moves the survivors to the
permanent generation (gc.freeze), so later full collections walk only what came after.
Whenever a full collection is still slow (long-lived objects piled up again: caches, indexes),
`settle_if_slow()` does it again at the caller's next quiet moment. Both do nothing until the
process's entry point (`replyline serve`, `replyline worker`) calls `enable()`: objects frozen
are never collected, which suits a server, not a test run that builds hundreds of apps."""

from __future__ import annotations

import gc
import time

SLOW_SECONDS = 0.05  # a full collection slower than this asks for a settle
_enabled = False
_started: float | None = None
_slow = False


def enable() -> None:
    """This process settles its heap (idempotent); its full collections are timed from now."""
    global _enabled
    if not _enabled:
        gc.callbacks.append(_timed)
        _enabled = True


def settle() -> bool:
    """Collect everything now and exempt the survivors from later full collections; whether
    it did (not before `enable`)."""
    global _slow
    if not _enabled:
        return False
    gc.collect()
    gc.freeze()
    _slow = False
    return True


def settle_if_slow() -> bool:
    """Settle if a full collection has been slow since the last settle; whether it did."""
    return _slow and settle()


def _timed(phase: str, info: dict) -> None:
    global _started, _slow
    if info.get("generation") != 2:
        return
    if phase == "start":
        _started = time.perf_counter()
    elif _started is not None and time.perf_counter() - _started > SLOW_SECONDS:
        _slow = True
