"""The engine and sessions: SQLite (WAL) by default, PostgreSQL with the same code."""

from __future__ import annotations

import fcntl
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import Session, create_engine

# What SQLAlchemy raises when the database is away (stopped, restarting, unreachable) or no
# pooled connection is free in time: worth a 503 and a retry later, not a traceback.
DATABASE_AWAY = (OperationalError, InterfaceError, PoolTimeout)


def normalize_url(url: str) -> str:
    """Let users write `postgresql://`; we drive it with psycopg 3."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str, *, pool_size: int = 10, connect_timeout: int = 5) -> Engine:
    """`hide_parameters`: database errors never carry stored values (customer text, hashes)
    into logs. `connect_timeout`: with PostgreSQL unreachable, requests fail fast (503)."""
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=pool_size,
            hide_parameters=True,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        on_disk = parsed.database if parsed.database not in (None, "", ":memory:") else None
        WriterQueue(engine, Path(f"{Path(on_disk).expanduser()}.writer.lock") if on_disk else None)
        return engine
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=10,
        pool_pre_ping=True,
        hide_parameters=True,
        connect_args={"connect_timeout": connect_timeout},
    )


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """WAL lets the web app read while the worker writes; FULL sync makes a commit durable
    before a platform is told 200."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class WriterQueue:
    """SQLite takes one writer at a time, and a writer that finds the database busy sleeps
    and retries (up to 100 ms a nap), which shows up as latency spikes under load. Writers
    queue instead and start the moment the previous one has committed: on a lock within the
    process, and on an flock of `<database>.writer.lock` across processes (`serve` with its
    worker in a child process), which the kernel hands over at once and frees if its holder
    dies.

    pysqlite opens a write transaction at the first INSERT/UPDATE/DELETE; the queue is joined
    just before that statement and left after the transaction's COMMIT or ROLLBACK has
    returned (SQLAlchemy's commit event comes before the COMMIT, too early)."""

    WRITES = ("INSERT", "UPDATE", "DELETE", "REPLAC")

    def __init__(self, engine: Engine, path: Path | None = None, timeout: float = 30.0):
        self.lock = threading.Lock()
        self.timeout = timeout
        self.file = open(path, "a+b") if path else None  # noqa: SIM115 (lives with the engine)
        self._holder: int | None = None  # id() of the DBAPI connection in the queue's head
        event.listen(engine, "before_cursor_execute", self.before_execute)
        dialect = engine.dialect
        for name in ("do_commit", "do_rollback"):
            setattr(dialect, name, self._then_release(getattr(dialect, name)))

    def before_execute(self, connection, cursor, statement, parameters, context, many) -> None:
        dbapi = connection.connection.dbapi_connection
        if self._holder == id(dbapi) or statement.lstrip()[:6].upper() not in self.WRITES:
            return
        if not self.lock.acquire(timeout=self.timeout):
            raise sqlite3.OperationalError("database is locked (writer queue timed out)")
        if self.file is not None:
            try:
                fcntl.flock(self.file.fileno(), fcntl.LOCK_EX)
            except BaseException:
                self.lock.release()
                raise
        self._holder = id(dbapi)

    def _then_release(self, end):
        def ended(connection) -> None:  # the pool's proxy of a DBAPI connection
            try:
                end(connection)
            finally:
                if self._holder == id(getattr(connection, "dbapi_connection", connection)):
                    self._holder = None
                    if self.file is not None:
                        fcntl.flock(self.file.fileno(), fcntl.LOCK_UN)
                    self.lock.release()

        return ended


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
