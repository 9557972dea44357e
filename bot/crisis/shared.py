"""Crisis detection when several processes share one PostgreSQL database.

Each message is processed by exactly one process (bot/pipeline/claims.py), so the single-message
check (a legal threat, a safety issue, the media...) stays with the process that processed it. The
window tests (volume, share, story) need every message, so they run in one process only, as
if it saw all the traffic itself:

- every process adds a `crisisfeed` row per classified message in the message's own
  transaction (the pipeline's `stored` hook): a message is in the feed if and only if it is
  processed, never twice, never lost;
- the process holding an advisory lock (the detector's leader, like the scheduler's) reads and
  deletes the rows and feeds them to its detector. A new leader learns the baseline from the
  stored history and takes the whole feed in the same snapshot (REPEATABLE READ), so each
  message counts once: in the history, or later from the feed.

Incidents are recorded one at a time across processes (`recording`), so a signal seen by
two processes at the same moment opens one incident, and the second one joins it."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.scheduler import Leadership
from db.engine import session_scope

log = logging.getLogger(__name__)

LOCK_NAME = "replyline:crisis-detector"
INCIDENTS = 0x524C_0002  # two-key advisory lock namespace (bot/pipeline/claims.py uses 0x524C_0001)
ACQUIRE_SECONDS = 10  # how often a process that does not lead tries to take the lead
FEED_BATCH = 5000  # feed rows read per round; a backlog is read over the next rounds
_RECORDING = threading.Lock()

_TAKE = text(
    "DELETE FROM crisisfeed WHERE id IN (SELECT id FROM crisisfeed ORDER BY id LIMIT :n) "
    "RETURNING id, message_id, vector"
)
_TAKE_ALL = text("DELETE FROM crisisfeed RETURNING id, message_id, vector")
_LOCK_INCIDENTS = text("SELECT pg_advisory_xact_lock(:ns, 0)")


class Leader:
    """Whether this process runs the window tests: holds the detector's advisory lock. Taking
    the lead is tried at most every ACQUIRE_SECONDS (it opens a connection)."""

    def __init__(self, leadership: Leadership):
        self.leadership = leadership
        self.leading = False
        self._tried_at: datetime | None = None

    def check(self, now: datetime) -> bool:
        if self.leading:
            if self.leadership.holds():
                return True
            self.leading = False
            log.warning("crisis detection: lost the lead; another process takes over")
            return False
        tried = self._tried_at
        if tried is not None and timedelta(0) <= now - tried < timedelta(seconds=ACQUIRE_SECONDS):
            return False
        self._tried_at = now
        self.leading = self.leadership.try_acquire()
        if self.leading:
            log.info("crisis detection: this process now runs the window tests")
        return self.leading

    def release(self) -> None:
        if self.leading:
            self.leadership.release()
        self.leading = False


def take(session: Session, everything: bool = False) -> list[tuple[int, np.ndarray | None]]:
    """Delete feed rows and return (message id, vector) in the order they were added: the
    oldest FEED_BATCH, or `everything`."""
    query, params = (_TAKE_ALL, {}) if everything else (_TAKE, {"n": FEED_BATCH})
    rows = sorted(session.connection().execute(query, params).all())
    return [(message_id, to_vector(vector)) for _, message_id, vector in rows]


@contextmanager
def recording(engine: Engine) -> Iterator[Session]:
    """A transaction for recording one signal as an incident, while no other records one: on
    PostgreSQL an advisory lock every process takes until its transaction ends, so two
    processes that see the same crisis at once open one incident; on SQLite (one process per
    database) a lock of this process."""
    if engine.dialect.name == "postgresql":
        with session_scope(engine) as session:
            session.connection().execute(_LOCK_INCIDENTS, {"ns": INCIDENTS})
            yield session
        return
    with _RECORDING, session_scope(engine) as session:
        yield session


def to_bytes(vector: np.ndarray | None) -> bytes | None:
    return None if vector is None else np.asarray(vector, dtype=np.float32).tobytes()


def to_vector(raw: bytes | None) -> np.ndarray | None:
    return None if raw is None else np.frombuffer(raw, dtype=np.float32)


def known_vectors(rows: Iterable[tuple[int, np.ndarray | None]]) -> dict[int, np.ndarray]:
    return {message_id: vector for message_id, vector in rows if vector is not None}
