"""The loop that moves stored messages through the pipeline and approved drafts out.

It wakes when a webhook stores something or a draft is approved, and also polls, so work
left over from before a restart is picked up without anyone asking. Now and then it also runs
housekeeping (purging message text past the retention period), if configured."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from sqlalchemy.exc import OperationalError

from bot import heap
from bot.delivery.outbox import Outbox
from bot.pipeline.process import Pipeline

log = logging.getLogger(__name__)


# PostgreSQL's deadlock_detected, serialization_failure and lock_not_available: another
# transaction was in the way, the database itself is fine
CONFLICTS = {"40P01", "40001", "55P03"}


def is_conflict(error: OperationalError) -> bool:
    """A transaction that lost to another one, not a database that is away."""
    orig = error.orig
    return getattr(orig, "sqlstate", None) in CONFLICTS or "database is locked" in str(orig)


class Worker:
    def __init__(
        self, pipeline: Pipeline, outbox: Outbox, batch_size: int = 32, poll_seconds: float = 1.0
    ):
        self.pipeline = pipeline
        self.outbox = outbox
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.jobs: list[Callable[[], Awaitable[int]]] = []  # more work each round (staff cards)
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.gather_seconds = 0.0  # wait this long after waking before taking a batch
        self.housekeeping: Callable[[], int] | None = None
        self.housekeeping_seconds = 3600.0
        self._housekept_at: float | None = None
        self.forward: Callable[[], None] | None = None  # the worker runs in a child process
        self.refresh: Callable[[], object] | None = None  # reload what other processes changed
        self._settled = False

    def notify(self) -> None:
        """Safe to call from any thread: new work is waiting."""
        if self.forward is not None:
            self.forward()
        elif self._loop and self._wake:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def step(self) -> int:
        """One round: process a batch of messages, send what is due, then run the jobs."""
        processed = await asyncio.to_thread(self._process)
        sent = await self.outbox.send_due()
        done = [await job() for job in self.jobs]
        return processed + sent + sum(done)

    def _process(self) -> int:
        if self.refresh is not None:  # a reload elsewhere counts from this round's drafts on
            self.refresh()
        return self.pipeline.process_pending(self.batch_size)

    async def housekeep(self) -> None:
        """Run the housekeeping job when it is due (every `housekeeping_seconds`)."""
        now = time.monotonic()
        if self.housekeeping is None or (
            self._housekept_at is not None and now - self._housekept_at < self.housekeeping_seconds
        ):
            return
        self._housekept_at = now
        purged = await asyncio.to_thread(self.housekeeping)
        if purged:
            log.info("retention: purged the text of %d old messages", purged)

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        while True:
            try:
                await self.housekeep()
                busy = await self.step()
            except asyncio.CancelledError:
                raise
            except OperationalError as error:  # wait, then try again
                what = "conflict" if is_conflict(error) else "unavailable"
                log.warning("database %s (%s); retrying", what, type(error.orig).__name__)
                busy = 0
            except Exception:  # a bug must not stop the pipeline for everything else
                log.exception("pipeline step failed; retrying")
                busy = 0
            self.settle(busy)
            if not busy:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
                self._wake.clear()
            if busy < self.batch_size and self.gather_seconds:
                # Let messages arriving in a burst gather into one batch: far fewer queries
                # and commits per message, for a few milliseconds more before the draft.
                await asyncio.sleep(self.gather_seconds)

    def settle(self, busy: int) -> None:
        """Between rounds, holding no lock: after the first round that did work (the model
        and playbooks are loaded by then), and whenever a full collection was slow, move
        what lives long out of the garbage collector's way (bot/heap.py)."""
        if busy and not self._settled:
            self._settled = heap.settle()
        else:
            heap.settle_if_slow()

    async def run_until_idle(self, max_rounds: int = 10_000) -> None:
        """Process and send until nothing is left that is due now (for simulate and tests)."""
        for _ in range(max_rounds):
            if not await self.step():
                return
