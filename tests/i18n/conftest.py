"""An app with one agent, on SQLite (the language choice touches one column of one table)."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from bot.config import Settings
from bot.services import Services
from bot.web.app import create_app
from bot.web.security import hash_password
from db.engine import session_scope
from db.models import User
from tests.support import ScriptedClassifier

PASSWORD = "mei-password"  # noqa: S105 (a test account)
CHINESE = {"Accept-Language": "zh-TW,zh;q=0.9,en;q=0.8"}
ENGLISH = {"Accept-Language": "en-US,en;q=0.9"}


@pytest.fixture
def settings(sqlite_url) -> Settings:
    return Settings(
        database={"url": sqlite_url},
        web={"secret_key": "test-secret-key"},
        pipeline={"worker_enabled": False},
        _env_file=None,
    )


@pytest.fixture
def services(settings):
    built = Services.build(settings, classifier=ScriptedClassifier)
    with session_scope(built.engine) as session:
        session.add(User(username="mei", password_hash=hash_password(PASSWORD), role="agent"))
        session.add(User(username="root", password_hash=hash_password(PASSWORD), role="admin"))
    yield built
    built.engine.dispose()


@pytest.fixture
def app(services, settings):
    return create_app(settings, services)


def browser(app, headers: dict, name: str | None = None) -> TestClient:
    """A browser sending these headers, logged in as `name` when given."""
    client = TestClient(app, headers=headers)
    if name:
        response = client.post(
            "/console/login",
            data={"username": name, "password": PASSWORD},
            follow_redirects=False,
        )
        assert response.status_code == 303
    return client


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)
