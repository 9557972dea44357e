"""Fixtures for calendar tests: an agent who plans posts and a supervisor who approves them;
the fake Telegram and LINE servers posts go out to."""

import pytest

from db.engine import session_scope
from db.models import User
from tests.fakes.live_app import line_api, telegram_api  # noqa: F401


@pytest.fixture
def staff(engine):
    with session_scope(engine) as session:
        agent = User(username="mei", password_hash="x", role="agent")
        boss = User(username="boss", password_hash="x", role="supervisor")
        session.add_all([agent, boss])
    return agent, boss
