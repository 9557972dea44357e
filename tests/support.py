"""Helpers shared by tests: databases on SQLite and PostgreSQL, a scripted classifier."""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from db.migrate import upgrade
from nlp.types import COMMENTER_TYPES, Classification

ROOT = Path(__file__).resolve().parents[1]
POSTGRES_URL = os.environ.get(
    "REPLYLINE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def postgres_available() -> str | None:
    """None when PostgreSQL answers, else why not."""
    try:
        engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as error:  # any failure to connect means: skip with the reason
        return f"PostgreSQL not reachable at {POSTGRES_URL}: {type(error).__name__}"


# Databases with the schema are copies of one migrated once per test run: running the
# migrations for every test would take minutes of the suite.
_TEMPLATES: dict[str, str] = {}


def migrated_sqlite(path: Path) -> str:
    """The URL of a new SQLite database at `path` with the current schema."""
    template = _TEMPLATES.get("sqlite")
    if template is None:
        folder = Path(tempfile.mkdtemp(prefix="replyline-template-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        template = str(folder / "template.db")
        upgrade(f"sqlite:///{template}")
        _TEMPLATES["sqlite"] = template
    with closing(sqlite3.connect(template)) as source, closing(sqlite3.connect(path)) as copy:
        source.backup(copy)
    return f"sqlite:///{path}"


def _postgres_template(admin) -> str:
    """A database with the current schema that new test databases are created from."""
    if "postgresql" not in _TEMPLATES:
        name = f"replyline_template_{uuid.uuid4().hex[:12]}"
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        atexit.register(_drop_database, name)
        upgrade(_database_url(name))
        _TEMPLATES["postgresql"] = name
    return _TEMPLATES["postgresql"]


def _database_url(name: str) -> str:
    return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)


def _drop_database(name: str) -> None:
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@contextmanager
def fresh_postgres_database(migrated: bool = False) -> Iterator[str]:
    """A new database for one test, empty or (`migrated`) with the current schema; dropped
    afterwards."""
    name = f"replyline_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    template = f' TEMPLATE "{_postgres_template(admin)}"' if migrated else ""
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"{template}'))
    try:
        yield _database_url(name)
    finally:
        admin.dispose()
        _drop_database(name)


class ScriptedClassifier:
    """A test double for pipeline mechanics: the type is the first word when it names one
    (e.g. "question: where is my order"), else `other`. Real classification is tested in
    tests/nlp against the real model."""

    name = "scripted"

    def __init__(self):
        self.calls: list[list[str]] = []

    def classify(self, texts: list[str]) -> list[Classification]:
        self.calls.append(list(texts))
        return [self._one(t) for t in texts]

    def _one(self, text: str) -> Classification:
        head = text.split(":", 1)[0].strip().lower()
        kind = head if head in COMMENTER_TYPES else "other"
        scores = {t: (0.9 if t == kind else 0.025) for t in COMMENTER_TYPES}
        return Classification(
            type=kind,
            scores=scores,
            sentiment={"advocate": 0.8, "complaint": -0.6, "troll": -0.8}.get(kind, 0.0),
            language="zh-Hant" if any("\u4e00" <= c <= "\u9fff" for c in text) else "en",
            suggestion="suggest" in text.lower() or "建議" in text,
            subtype="unhappy" if kind == "complaint" else None,
            confidence=0.9,
            model=self.name,
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServeProcess:
    """A real `replyline serve` on a free port, started and ready (its /healthz answers)."""

    def __init__(self, db_url: str, log: Path, **settings: str):
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "REPLYLINE_DATABASE_URL": db_url,
            "REPLYLINE_PORT": str(free_port()),
            "REPLYLINE_SECRET_KEY": "serve-process-test",
            **{f"REPLYLINE_{k.upper()}": v for k, v in settings.items()},
        }
        self.url = f"http://127.0.0.1:{env['REPLYLINE_PORT']}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve"],
            cwd=ROOT,
            env=env,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        self.kill()
        raise AssertionError("server did not start: " + log.read_text()[-2000:])

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)


def wait_for(predicate, seconds: float = 120) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False
