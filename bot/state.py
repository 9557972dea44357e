"""Cached state any process may change (playbooks, FAQ), kept in step through the database.

Every process caches it; a reload in the console changes it in one process.

The change bumps a counter in `stateversion` in its own transaction (`bump`). Every process
holds a `StateVersions`: it compares the counters with those it loaded (one small SELECT) at
the start of each worker round and about every second in the web process, and reloads what
another process changed. So a reload in one web process reaches the pipeline child, the other
replicas and their workers within about a second, with no process assuming it is alone."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import Session, col, select

from db.models import StateVersion
from db.types import utcnow

log = logging.getLogger(__name__)
PLAYBOOKS = "playbooks"  # the playbook folder: playbooks, brand, FAQ, crisis holding statements
FOLLOW_SECONDS = 1.0  # how often the web process looks


def bump(session: Session, name: str) -> None:
    """In the changing transaction: tell every process that `name` changed."""
    now = utcnow()
    done = session.exec(
        update(StateVersion)
        .where(col(StateVersion.name) == name)
        .values(version=col(StateVersion.version) + 1, updated_at=now)
    )
    if done.rowcount:
        return
    try:
        with session.begin_nested():
            session.add(StateVersion(name=name, version=1, updated_at=now))
    except IntegrityError:  # another process added it a moment ago
        session.exec(
            update(StateVersion)
            .where(col(StateVersion.name) == name)
            .values(version=col(StateVersion.version) + 1, updated_at=now)
        )


class StateVersions:
    """The versions this process has loaded, and how to reload each when it changed."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.loaded: dict[str, int] = {}
        self._reloaders: dict[str, Callable[[], object]] = {}
        self._lock = threading.Lock()

    def current(self) -> dict[str, int]:
        try:
            with Session(self.engine) as session:
                return dict(session.exec(select(StateVersion.name, StateVersion.version)).all())
        except SQLAlchemyError as error:  # a database not migrated yet, or briefly away
            log.warning("state versions unavailable: %s", type(error).__name__)
            return {}

    def watch(self, name: str, reload: Callable[[], object]) -> None:
        """Call `reload()` whenever another process bumps `name`. Taking the version now,
        before the caller loads the state, means a change made meanwhile is not missed."""
        self._reloaders[name] = reload
        self.loaded.setdefault(name, self.current().get(name, 0))

    def saw(self, name: str, session: Session) -> None:
        """After this process bumped `name` and reloaded itself: nothing left to reload."""
        version = session.exec(select(StateVersion.version).where(StateVersion.name == name))
        self.loaded[name] = version.first() or 0

    def check(self) -> list[str]:
        """Reload whatever changed since it was loaded here; the names reloaded."""
        if not self._reloaders:
            return []
        with self._lock:
            found = self.current()
            changed = [n for n in self._reloaders if found.get(n, 0) != self.loaded.get(n, 0)]
            for name in changed:
                try:
                    self._reloaders[name]()
                except Exception:  # keep what runs; the next change tries again
                    log.exception("reloading %s after a change in another process failed", name)
                else:
                    log.info("reloaded %s: changed in another process", name)
                self.loaded[name] = found.get(name, 0)
            return changed

    async def follow(self, seconds: float = FOLLOW_SECONDS) -> None:
        """For a process with no worker rounds (the web process): check every `seconds`."""
        while True:
            started = time.monotonic()
            await asyncio.to_thread(self.check)
            await asyncio.sleep(max(0.0, seconds - (time.monotonic() - started)))
