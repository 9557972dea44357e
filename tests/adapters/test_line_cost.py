"""LINE's cost of waiting: the console says whether approving now still uses the free reply
token or will cost a push, and how many pushes the month has left (from LINE's quota API,
here the fake's)."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlmodel import select

from bot.pipeline.ingest import store_events
from bot.services import Services
from bot.web.app import create_app
from bot.web.routes import console
from bot.web.security import hash_password
from db.engine import session_scope
from db.models import Message, User
from db.types import utcnow
from handlers.base import InboundEvent
from handlers.line import LineChannel
from tests.fakes import line_webhooks as lw
from tests.fakes.live_app import line_api, platform_settings  # noqa: F401 (fixture)
from tests.playbooks.support import LabelClassifier


def test_the_push_quota_comes_from_line(line_api):  # noqa: F811
    channel = LineChannel(lw.CHANNEL_SECRET, line_api.access_token, api_base=line_api.api_base,
                          content_api_base=line_api.api_base)  # fmt: skip
    assert asyncio.run(channel.push_quota()) == (200, 0)
    line_api.quota_exhausted = True
    assert asyncio.run(channel.push_quota()) == (200, 200)


def test_the_console_shows_free_reply_or_push_and_the_quota_left(line_api, database_url):  # noqa: F811
    settings = platform_settings(database_url, line=line_api)
    settings.pipeline.worker_enabled = False
    services = Services.build(settings, classifier=lambda: LabelClassifier())
    console._QUOTA.clear()
    try:
        now = utcnow()
        store_events(services.engine, [
            InboundEvent(channel="line", event_id=f"e{n}", chat_id=f"U{n}", user_id=f"U{n}", user_name="小美",
                         text=text, reply_token=f"token{n}", sent_at=now)
            for n, text in enumerate(["question: 請問週日有開嗎", "question: 可以刷卡嗎"])
        ])  # fmt: skip
        services.pipeline.process_pending()
        with session_scope(services.engine) as session:
            session.add(User(username="mei", password_hash=hash_password("mei" * 4)))
            late = session.exec(select(Message).where(Message.text == "question: 可以刷卡嗎")).one()
            late.received_at = utcnow() - timedelta(minutes=5)  # its reply token has expired
            fresh = session.exec(select(Message).where(Message.text == "question: 請問週日有開嗎"))
            fresh = fresh.one()
            fresh.received_at = utcnow()  # as if it came just now (drafting took its time)
            session.add_all([late, fresh])
        client = TestClient(create_app(settings, services))
        client.post("/console/login", data={"username": "mei", "password": "mei" * 4})
        page = client.get("/console").text
        free = re.findall(r"uses the free reply token \((\d+) s left\)", page)
        assert len(free) == 1 and 0 < int(free[0]) <= settings.line.reply_token_max_age_seconds
        assert page.count("approving now sends a push") == 1
        assert "200 of 200 pushes left this month" in page
    finally:
        services.engine.dispose()
