"""Fixtures: every storage and pipeline test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import logging

import httpx
import pytest
from starlette.testclient import TestClient

from bot.config import Settings
from bot.i18n import configure as configure_i18n
from bot.services import Services
from db.engine import make_engine
from tests.support import (
    ScriptedClassifier,
    fresh_postgres_database,
    migrated_sqlite,
    postgres_available,
)


@pytest.fixture(autouse=True)
def restore_logging():
    """A test that runs the CLI in-process installs its handler on pytest's captured stderr;
    put the root logger back so later tests do not log to a closed stream."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(autouse=True)
def brand_language():
    """Building services sets the brand's language and zone for the whole process (staff
    messages, the CLI); each test starts from the defaults, whatever the last one built."""
    configure_i18n("zh_Hant_TW", "Asia/Taipei")
    yield
    configure_i18n("zh_Hant_TW", "Asia/Taipei")


@pytest.fixture(autouse=True)
def english_browser(monkeypatch):
    """The console now speaks the brand's language (Traditional Chinese) unless the browser asks
    otherwise: test clients (TestClient and the httpx clients of live servers) ask for English,
    as most tests read English texts. Tests of the Chinese pages pass their own Accept-Language
    (headers= wins)."""
    for client_class in (TestClient, httpx.Client):  # TestClient stands on httpx2, not httpx
        monkeypatch.setattr(client_class, "__init__", asking_english(client_class.__init__))


def asking_english(original):
    def init(self, *args, headers=None, **kwargs):
        original(self, *args, headers={"Accept-Language": "en", **dict(headers or {})}, **kwargs)

    return init


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        yield migrated_sqlite(tmp_path / "replyline.db")
        return
    reason = postgres_available()
    if reason:
        pytest.skip(reason)
    with fresh_postgres_database(migrated=True) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path):
    return migrated_sqlite(tmp_path / "replyline.db")


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def settings(database_url) -> Settings:
    return Settings(
        database={"url": database_url}, web={"secret_key": "test-secret-key"}, _env_file=None
    )


@pytest.fixture
def classifier() -> ScriptedClassifier:
    return ScriptedClassifier()


@pytest.fixture
def services(settings, classifier):
    services = Services.build(settings, classifier=lambda: classifier)
    yield services
    if services.crisis is not None:
        services.crisis.close()
    services.engine.dispose()
