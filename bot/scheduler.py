"""Timed jobs: APScheduler jobs kept in replyline's database, run by one leader process.

However many processes share the database, exactly one (the leader) runs the jobs.

Every process that starts a `Scheduler` can add, change and remove jobs; the table is shared.
Only the leader runs them. On PostgreSQL the leader holds a session advisory lock on a
dedicated connection; the others try again every `retry_seconds`, so when the leader dies (its
connection closes and PostgreSQL frees the lock) another process takes over within seconds. On
SQLite the processes share one machine, and an exclusive lock on a file next to the database
plays the same part.

Jobs are module-level functions given by reference ("package.module:function") with plain,
picklable arguments (ids, not objects). A job reaches the running app through `context()`:

    async def remind(alert_id: int) -> None:
        services = scheduler.context()
        ...

    services.scheduler.add_job(
        "bot.alerts:remind", DateTrigger(when), id=f"alert:{alert_id}", args=[alert_id],
        misfire_grace_time=300,
    )

A job that could not run within its `misfire_grace_time` (say the server was down) is
reported to the handler registered with `on_missed(prefix, handler)` for its id's prefix.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from io import BufferedRandom
from pathlib import Path
from typing import Any

from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.job import Job
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.base import BaseTrigger
from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.pool import NullPool
from sqlmodel import create_engine

from db.engine import make_engine, normalize_url
from db.models.scheduler import JOBS_TABLE

log = logging.getLogger(__name__)

LOCK_NAME = "replyline:scheduler"
MissedHandler = Callable[[str, datetime], None]
_missed_handlers: dict[str, MissedHandler] = {}
_leader: Scheduler | None = None
_opened: Scheduler | None = None  # the job table this process opened, leading or not


def on_missed(prefix: str, handler: MissedHandler) -> None:
    """`handler(job_id, scheduled_run_time)` runs (in a worker thread of the leader) when a
    job whose id starts with `prefix` missed its time by more than its grace period."""
    _missed_handlers[prefix] = handler


def context() -> Any:
    """What the leading scheduler of this process was given as `context` (the app's Services).
    Job functions call this; it fails when no scheduler in this process is leading."""
    if _leader is None:
        raise RuntimeError("no scheduler is leading in this process")
    return _leader.context


def current() -> Scheduler | None:
    """The scheduler this process started, leading or not: any process that opened the job
    table can add and remove jobs (a supervisor's acknowledgement ends an alert timer in
    whichever process receives it)."""
    return _leader or _opened


class Leadership(ABC):
    """The right to run jobs, held by at most one process at a time."""

    @abstractmethod
    def try_acquire(self) -> bool:
        """Take the lead if nobody holds it; never blocks."""

    @abstractmethod
    def holds(self) -> bool:
        """Whether this process still leads (checked every few seconds by the leader)."""

    @abstractmethod
    def release(self) -> None:
        """Give up the lead so another process can take it at once."""


class PostgresLeadership(Leadership):
    """A session advisory lock held on a connection of its own, outside any pool.

    PostgreSQL frees the lock the moment that session ends: the process exits or crashes, or
    the server's keepalives find the leader's machine gone (about 25 s, set per session)."""

    def __init__(self, database_url: str, name: str = LOCK_NAME):
        digest = hashlib.sha256(name.encode()).digest()
        self.key = int.from_bytes(digest[:8], "big", signed=True)
        self.engine = create_engine(
            normalize_url(database_url),
            poolclass=NullPool,
            connect_args={
                "connect_timeout": 5,
                "application_name": "replyline scheduler",
                "keepalives": 1,
                "keepalives_idle": 10,
                "keepalives_interval": 5,
                "keepalives_count": 3,
            },
        )
        self.connection: Connection | None = None

    def try_acquire(self) -> bool:
        try:
            connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except Exception as error:  # the database may be briefly away; try again later
            log.warning("scheduler: cannot reach the database to take the lead: %s", error)
            return False
        try:
            got = connection.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}
            ).scalar()
            if got:
                for setting in ("tcp_keepalives_idle = 10", "tcp_keepalives_interval = 5"):
                    connection.execute(text(f"SET {setting}"))
                connection.execute(text("SET tcp_keepalives_count = 3"))
                self.connection = connection
                return True
        except Exception as error:
            log.warning("scheduler: taking the lead failed: %s", error)
        connection.close()
        return False

    def holds(self) -> bool:
        if self.connection is None:
            return False
        try:
            self.connection.execute(text("SELECT 1"))
            return True
        except Exception as error:
            log.warning("scheduler: lost the lock connection: %s", error)
            self._drop()
            return False

    def release(self) -> None:
        if self.connection is None:
            return
        with contextlib.suppress(Exception):
            self.connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
        self._drop()

    def _drop(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.close()


class FileLeadership(Leadership):
    """An exclusive flock on `<database file>.scheduler.lock`; the OS frees it when the
    process ends, however it ends. For SQLite, whose processes share one machine."""

    def __init__(self, path: Path):
        self.path = path
        self.handle: BufferedRandom | None = None

    def try_acquire(self) -> bool:
        handle = open(self.path, "a+b")  # noqa: SIM115 (held open while leading)
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self.handle = handle
        return True

    def holds(self) -> bool:
        return self.handle is not None

    def release(self) -> None:
        if self.handle is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self.handle.fileno(), fcntl.LOCK_UN)
            self.handle.close()
            self.handle = None


class SoleLeadership(Leadership):
    """An in-memory SQLite database belongs to one process, which always leads."""

    def try_acquire(self) -> bool:
        return True

    def holds(self) -> bool:
        return True

    def release(self) -> None:
        pass


def leadership_for(database_url: str) -> Leadership:
    url = make_url(normalize_url(database_url))
    if url.get_backend_name() == "postgresql":
        return PostgresLeadership(database_url)
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            return SoleLeadership()
        return FileLeadership(Path(f"{Path(url.database).expanduser()}.scheduler.lock"))
    raise ValueError(f"no leader election for {url.get_backend_name()} databases")


class Scheduler:
    """An AsyncIOScheduler on the shared job table, started paused in every process and
    resumed only in the leader."""

    def __init__(
        self,
        database_url: str,
        *,
        context: Any = None,
        retry_seconds: float = 5.0,
        leadership: Leadership | None = None,
    ):
        self.context = context
        self.retry_seconds = retry_seconds
        self.leadership = leadership or leadership_for(database_url)
        # Its own small engine: APScheduler disposes the store's engine on shutdown.
        store = SQLAlchemyJobStore(
            engine=make_engine(database_url, pool_size=2), tablename=JOBS_TABLE
        )
        self.aps = AsyncIOScheduler(
            timezone=UTC,
            jobstores={"default": store},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
        )
        self.aps.add_listener(self._on_missed, EVENT_JOB_MISSED)
        self.is_leader = False
        self._starts = 0
        self._task: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self, lead: bool = True) -> None:
        """Open the job table (to add and remove jobs) and, with `lead`, compete to run jobs.
        Short-lived processes such as the CLI start with `lead=False`. Starting again while
        started (two test clients on one app) only counts; the last stop stops."""
        global _opened
        self._starts += 1
        if self._starts > 1:
            return
        self._loop = asyncio.get_running_loop()
        self.aps.start(paused=True)
        _opened = self
        if lead:
            self._task = asyncio.create_task(self._lead(), name="scheduler-leadership")

    async def stop(self) -> None:
        global _opened
        self._starts = max(0, self._starts - 1)
        if self._starts or not self.aps.running:
            return
        if _opened is self:
            _opened = None
        if self._loop is not asyncio.get_running_loop():
            # started on an event loop that has ended since: nothing left to await there
            self._task = None
            if self.is_leader:
                self._step_down()
            with contextlib.suppress(Exception):
                BaseScheduler.shutdown(self.aps, wait=False)
            return
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.is_leader:
            self._step_down()
        self.aps.shutdown(wait=False)
        await asyncio.sleep(0)  # AsyncIOScheduler shuts down on the loop's next turn

    async def _lead(self) -> None:
        """Take the lead when it is free; while leading, check the lock still holds and look
        for jobs other processes added since the last look."""
        while True:
            try:
                if self.is_leader:
                    if await asyncio.to_thread(self.leadership.holds):
                        self.aps.wakeup()
                    else:
                        self._step_down()
                elif await asyncio.to_thread(self.leadership.try_acquire):
                    self._take_over()
            except asyncio.CancelledError:
                raise
            except Exception:  # keep competing whatever happened this round
                log.exception("scheduler: leadership round failed")
            await asyncio.sleep(self.retry_seconds)

    def _take_over(self) -> None:
        global _leader
        _leader = self
        self.is_leader = True
        log.info("scheduler: this process now runs the scheduled jobs")
        self.aps.resume()

    def _step_down(self) -> None:
        global _leader
        self.aps.pause()
        self.is_leader = False
        if _leader is self:
            _leader = None
        self.leadership.release()
        log.info("scheduler: this process no longer runs the scheduled jobs")

    # -- jobs -------------------------------------------------------------------------------

    def add_job(
        self,
        func: str | Callable,
        trigger: BaseTrigger,
        *,
        id: str,
        args: list | tuple = (),
        misfire_grace_time: int | None,
        coalesce: bool = True,
        replace_existing: bool = True,
    ) -> Job:
        """Store a job (replacing one with the same id). `misfire_grace_time` is required: how
        many seconds late a run may still start (None: however late)."""
        return self.aps.add_job(
            func,
            trigger,
            id=id,
            args=list(args),
            misfire_grace_time=misfire_grace_time,
            coalesce=coalesce,
            replace_existing=replace_existing,
        )

    def ensure_job(
        self,
        func: str | Callable,
        trigger: BaseTrigger,
        *,
        id: str,
        args: list | tuple = (),
        misfire_grace_time: int | None,
        coalesce: bool = True,
    ) -> Job:
        """A standing job: add it if absent or if its trigger changed; otherwise leave it, so a
        run it is owed (the server was down at its time) is not lost by a restart."""
        job = self.get_job(id)
        if job is not None and str(job.trigger) == str(trigger) and list(job.args) == list(args):
            return job
        return self.add_job(
            func,
            trigger,
            id=id,
            args=args,
            misfire_grace_time=misfire_grace_time,
            coalesce=coalesce,
        )

    def get_job(self, job_id: str) -> Job | None:
        return self.aps.get_job(job_id)

    def remove_job(self, job_id: str) -> bool:
        """Remove a job; False if there was none."""
        try:
            self.aps.remove_job(job_id)
            return True
        except JobLookupError:
            return False

    def _on_missed(self, event: JobExecutionEvent) -> None:
        for prefix, handler in _missed_handlers.items():
            if event.job_id.startswith(prefix):
                assert self._loop is not None  # jobs are missed only once started
                future = self._loop.run_in_executor(
                    None, handler, event.job_id, event.scheduled_run_time
                )
                future.add_done_callback(_log_failure)
                return
        log.warning("scheduled job %s missed its time %s", event.job_id, event.scheduled_run_time)


def _log_failure(future: asyncio.Future) -> None:
    if not future.cancelled() and future.exception():
        log.error("handling a missed job failed", exc_info=future.exception())


@contextlib.asynccontextmanager
async def job_table(database_url: str) -> AsyncIterator[Scheduler]:
    """A scheduler that never leads, for short-lived processes (the CLI) that only add or
    remove jobs: `async with job_table(url) as scheduler: scheduler.add_job(...)`."""
    scheduler = Scheduler(database_url, leadership=SoleLeadership())
    await scheduler.start(lead=False)
    try:
        yield scheduler
    finally:
        await scheduler.stop()
