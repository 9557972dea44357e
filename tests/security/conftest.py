"""Fixtures of the security tests: apps built in-process on the shared test database, with
console users of every role already there."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from bot.web.security import hash_password
from db.engine import session_scope
from db.models import User
from tests.fakes.live_app import line_api, telegram_api  # noqa: F401
from tests.reliability.test_console_security import PASSWORD, make_app  # noqa: F401


@pytest.fixture
def app(make_app, services):  # noqa: F811 (the imported fixture)
    with session_scope(services.engine) as session:
        for name, role in (("ada", "admin"), ("mei", "agent"), ("sam", "supervisor")):
            session.add(User(username=name, password_hash=hash_password(PASSWORD), role=role))
    return make_app()


def login(client, username="ada", password=PASSWORD):
    return client.post(
        "/console/login",
        data={"username": username, "password": password},
        follow_redirects=False,
    )


def logged_in(app, username="ada", password=PASSWORD) -> TestClient:
    client = TestClient(app)
    assert login(client, username, password).status_code == 303
    return client


def csrf_of(client, path="/console") -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get(path).text).group(1)


def opens_console(client) -> bool:
    return client.get("/console", follow_redirects=False).status_code == 200
