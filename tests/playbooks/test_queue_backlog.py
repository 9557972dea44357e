"""The review queue with a backlog: the database orders and pages it the way the README says
(crisis-related first, then deadlines about to be missed, then complaints), a request runs the
same number of queries with five pending messages or many pages of them, and open tabs hear of
changes through server-sent events read from the database."""

from __future__ import annotations

import asyncio
import random
import re
import signal
import time
from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlmodel import Session, select

from bot.review.queue import PAGE_SIZE, QueueFilters, build_queue, count_queue, queue_version
from bot.services import Services
from bot.web import queue_live
from bot.web.app import create_app
from bot.web.routes import console
from bot.web.security import hash_password
from db.engine import make_engine, session_scope
from db.models import Assignment, Contact, Conversation, Draft, Message, StageTransition, User
from db.types import utcnow
from tests.playbooks.support import LabelClassifier
from tests.support import ServeProcess, migrated_sqlite

NOW = utcnow()


@pytest.fixture
def classifier():
    return LabelClassifier()


@pytest.fixture
def services(settings, classifier):
    settings.pipeline.worker_enabled = False
    built = Services.build(settings, classifier=lambda: classifier)
    with session_scope(built.engine) as session:
        session.add(User(username="mei", password_hash=hash_password("mei" * 4), role="agent"))
    yield built
    built.engine.dispose()


@pytest.fixture
def app(services, settings):
    return create_app(settings, services)


def login(client: TestClient) -> TestClient:
    response = client.post("/console/login", data={"username": "mei", "password": "mei" * 4},
                           follow_redirects=False)  # fmt: skip
    assert response.status_code == 303
    return client


def add_pending(services, count: int, seed: int = 1, **fixed) -> list[int]:
    """`count` customer messages waiting for review, each in its own conversation with two
    earlier messages, a stage move and two candidate drafts; random urgency unless `fixed`."""
    rng = random.Random(seed)
    ids = []
    with session_scope(services.engine) as session:
        for n in range(count):
            contact = Contact(channel="web", platform_user_id=f"u{seed}-{n}", display_name="客人")
            session.add(contact)
            session.flush()
            conversation = Conversation(channel="web", chat_id=f"c{seed}-{n}",
                                        contact_id=contact.id)  # fmt: skip
            session.add(conversation)
            session.flush()
            session.add(StageTransition(contact_id=contact.id, from_stage="identification",
                                        to_stage="relationship", reason="friendly"))  # fmt: skip
            for k in range(2):
                session.add(_message(conversation, contact, f"earlier {k}", "question"))
            values = {
                "type": rng.choice(["question", "complaint", "troll"]),
                "priority": rng.choice([0, 0, 0, 5, 100]),
                "incident_id": rng.choice([None] * 9 + [1]),
                "due_at": NOW + timedelta(minutes=rng.randint(-120, 300)),
                **fixed,
            }
            message = _message(conversation, contact, f"第 {n} 則", **values)
            session.add(message)
            session.flush()
            for rank in range(2):
                session.add(Draft(message_id=message.id, conversation_id=conversation.id,
                                  rank=rank, text=f"draft {rank}", original_text="draft",
                                  policy={"first_response_minutes": 30}))  # fmt: skip
            ids.append(message.id)
    return ids


def _message(conversation, contact, text, type, **values) -> Message:
    return Message(channel="web", conversation_id=conversation.id, contact_id=contact.id,
                   text=text, state="processed", type=type, language="zh-Hant",
                   received_at=NOW - timedelta(hours=1), **values)  # fmt: skip


def reference_order(session, warn_minutes: int) -> list[int]:
    """The README's order, computed in Python over every pending message."""
    pending = session.exec(
        select(Message).where(Message.id.in_(select(Draft.message_id).where(Draft.status == "pending")))
    ).all()  # fmt: skip

    def key(m: Message):
        crisis = m.incident_id is not None or m.priority >= 100
        soon = m.due_at - NOW <= timedelta(minutes=warn_minutes)
        return (not crisis, -m.priority, not soon, m.type != "complaint", m.due_at, m.id)

    return [m.id for m in sorted(pending, key=key)]


def test_pages_follow_the_urgency_order_and_cover_every_pending_message(services):
    add_pending(services, 40)
    with session_scope(services.engine) as session:  # one message decided, one never drafted
        decided = session.exec(select(Draft).where(Draft.rank == 0)).first()
        for draft in session.exec(select(Draft).where(Draft.message_id == decided.message_id)):
            draft.status = "rejected"
            session.add(draft)
    hours = services.pipeline.playbooks.brand.hours
    with Session(services.engine) as session:
        user = session.exec(select(User)).one()
        seen = []
        for page in range(7):
            items = build_queue(session, hours, QueueFilters(), user, 10, NOW, limit=7,
                                offset=page * 7)  # fmt: skip
            seen += [item.message.id for item in items]
        assert seen == reference_order(session, 10)
        assert len(seen) == 39 == count_queue(session, QueueFilters(), user)
        assert decided.message_id not in seen
        first = build_queue(session, hours, QueueFilters(), user, 10, NOW)[0]
    assert first.crisis and [d.rank for d in first.drafts] == [0, 1]
    assert [c.text for c in first.context] == ["earlier 0", "earlier 1"]
    assert [s.to_stage for s in first.stages] == ["relationship"]


def test_filters_and_counts_apply_before_paging(services):
    add_pending(services, 12, type="complaint")
    add_pending(services, 9, seed=2, type="troll")
    hours = services.pipeline.playbooks.brand.hours
    with session_scope(services.engine) as session:
        user = session.exec(select(User)).one()
        troll = session.exec(select(Message).where(Message.type == "troll")).first()
        session.add(Assignment(message_id=troll.id, user_id=user.id))
    with Session(services.engine) as session:
        trolls = QueueFilters(type="troll")
        assert count_queue(session, trolls, user) == 9
        items = build_queue(session, hours, trolls, user, limit=5, offset=5)
        assert len(items) == 4 and {i.message.type for i in items} == {"troll"}
        mine = build_queue(session, hours, QueueFilters(assignee="me"), user)
        assert [i.message.id for i in mine] == [troll.id] and mine[0].assignee.username == "mei"
        assert count_queue(session, QueueFilters(type="troll", assignee="none"), user) == 8


def test_a_request_runs_as_many_queries_with_a_backlog_as_without(app, services, monkeypatch):
    monkeypatch.setattr(console, "STATS_SECONDS", 0)  # the week's figures read every time
    add_pending(services, 5)
    client = login(TestClient(app))
    statements = []
    event.listen(services.engine, "before_cursor_execute",
                 lambda *args, **kwargs: statements.append(args[2]))  # fmt: skip

    def queries(path: str) -> int:
        statements.clear()
        assert client.get(path).status_code == 200
        return len(statements)

    paths = ("/console", "/console/queue", "/console/queue.json", "/console/queue?type=troll")
    few = {path: queries(path) for path in paths}
    add_pending(services, 2 * PAGE_SIZE, seed=2)
    many = {path: queries(path) for path in paths}
    assert many == few
    assert max(few.values()) <= 25
    data = client.get("/console/queue.json").json()
    assert data["total"] == 5 + 2 * PAGE_SIZE and data["pages"] == 3
    assert len(data["items"]) == PAGE_SIZE
    last = client.get("/console/queue.json?page=3").json()["items"]
    assert len(last) == 5 and last[-1]["drafts"][0]["text"] == "draft 0"
    page = client.get("/console?page=2").text
    assert f"{5 + 2 * PAGE_SIZE} waiting · page 2 of 3" in page
    assert 'href="/console?page=1" rel="prev"' in page and 'href="/console?page=3"' in page


def test_bad_page_numbers_are_refused_clearly(app, services):
    add_pending(services, 2)
    client = login(TestClient(app))
    for bad in ("0", "-1", "x", "1e9"):
        assert client.get(f"/console/queue.json?page={bad}").status_code == 422
        assert client.get(f"/console/queue?page={bad}").status_code == 422
    beyond = client.get("/console/queue?page=9").text
    assert "2 waiting" in beyond and "back to the first page" in beyond


def test_customer_text_is_escaped_in_the_paged_queue(app, services, classifier):
    add_pending(services, 1)
    with session_scope(services.engine) as session:
        message = session.exec(select(Message).where(Message.text == "第 0 則")).one()
        message.text = "<img src=x onerror=alert(1)>"
        session.add(message)
    client = login(TestClient(app))
    page = client.get("/console/queue").text
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert client.get("/console/queue.json").json()["items"][0]["text"].startswith("<img")


def test_the_pipeline_stores_each_message_deadline(app, services, classifier):
    with TestClient(app) as customer:
        customer.get("/chat")
        classifier.labels["東西壞了"] = "complaint"
        assert customer.post("/chat/api/messages",
                             json={"text": "東西壞了", "client_id": "client0001"}).status_code == 200  # fmt: skip
    asyncio.run(services.worker.run_until_idle())
    hours = services.pipeline.playbooks.brand.hours
    with Session(services.engine) as session:
        message = session.exec(select(Message).where(Message.text == "東西壞了")).one()
        drafts = session.exec(select(Draft).where(Draft.message_id == message.id)).all()
    target = min(d.policy["first_response_minutes"] for d in drafts)
    assert message.due_at == hours.due(message.received_at, target)


def test_the_queue_version_changes_with_what_the_page_shows(services):
    add_pending(services, 3)

    def version() -> str:
        with services.engine.connect() as connection:
            return queue_version(connection)

    before = version()
    assert version() == before  # nothing changed, nothing to fetch
    with session_scope(services.engine) as session:
        draft = session.exec(select(Draft)).first()
        draft.status = "failed"
        session.add(draft)
    assert version() != before


def test_an_open_tab_hears_of_a_change_through_server_sent_events(app, services, monkeypatch):
    monkeypatch.setattr(queue_live, "STREAM_SECONDS", 4.0)
    monkeypatch.setattr(queue_live, "POLL_SECONDS", 0.2)
    add_pending(services, 2)
    with TestClient(app) as client:
        anonymous = client.get("/console/queue/events", follow_redirects=False)
        assert (
            anonymous.status_code in (303, 307)
            and "/console/login" in anonymous.headers["location"]
        )
        login(client)
        shown = re.search(r'data-version="([^"]+)"', client.get("/console/queue").text).group(1)
        versions = []
        with client.stream("GET", "/console/queue/events") as events:
            assert events.headers["content-type"].startswith("text/event-stream")
            for line in events.iter_lines():
                if line.startswith("data: "):
                    versions.append(line[6:])
                    if len(versions) == 1:  # a colleague claims a message meanwhile
                        token = re.search(
                            r'name="csrf" value="([^"]+)"', client.get("/console").text
                        )
                        message_id = services_pending_id(services)
                        claimed = client.post(f"/console/messages/{message_id}/assign",
                                              data={"csrf": token.group(1), "to": "me"},
                                              headers={"x-requested-with": "fetch"})  # fmt: skip
                        assert claimed.status_code == 200
                    if len(versions) == 2:
                        break
    assert len(versions) == 2 and versions[0] == shown != versions[1]


def services_pending_id(services) -> int:
    with Session(services.engine) as session:
        return session.exec(select(Draft.message_id).where(Draft.status == "pending")).first()


def test_serve_stops_promptly_while_a_tab_listens(tmp_path):
    """uvicorn waits for open responses before it exits; a listening tab must not hold a
    restart up until its stream would end (30 s)."""
    url = migrated_sqlite(tmp_path / "replyline.db")
    engine = make_engine(url)
    with session_scope(engine) as session:
        session.add(User(username="mei", password_hash=hash_password("mei" * 4), role="agent"))
    engine.dispose()
    server = ServeProcess(url, tmp_path / "serve.log")
    try:
        client = login(httpx.Client(base_url=server.url))
        with client.stream("GET", "/console/queue/events", timeout=30) as events:
            lines = events.iter_lines()
            assert next(line for line in lines if line.startswith("data: "))
            stopping = time.monotonic()
            server.proc.send_signal(signal.SIGTERM)
            assert server.proc.wait(15) in (0, -signal.SIGTERM)  # uvicorn re-raises it
            assert time.monotonic() - stopping < 10
    finally:
        server.kill()
