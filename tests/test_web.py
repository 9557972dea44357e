"""The web app as a person uses it: chat as a customer, review in the console, see the reply."""

import asyncio
import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bot.i18n import localtime, use_locale
from bot.web.app import create_app
from bot.web.security import hash_password
from db.engine import session_scope
from db.models import AuditLog, Contact, Draft, Message, Ticket, User


@pytest.fixture
def app(services, settings):
    settings.pipeline.worker_enabled = False  # tests drive the worker explicitly
    with session_scope(services.engine) as session:
        session.add(
            User(username="mei", password_hash=hash_password("correct horse"), role="agent")
        )
        session.add(
            User(username="boss", password_hash=hash_password("supervisor pw"), role="supervisor")
        )
    return create_app(settings, services)


@pytest.fixture
def customer(app):
    with TestClient(app) as client:
        client.get("/chat")
        yield client


@pytest.fixture
def agent(app):
    with TestClient(app) as client:
        response = client.post(
            "/console/login",
            data={"username": "mei", "password": "correct horse"},
            follow_redirects=False,
        )
        assert response.status_code == 303
        yield client


def csrf_of(client) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get("/console").text).group(1)


def drain(services):
    asyncio.run(services.worker.run_until_idle())


def say(client, text, client_id="abcdefgh01"):
    return client.post("/chat/api/messages", json={"text": text, "client_id": client_id})


def test_healthz_answers(app):
    with TestClient(app) as client:
        body = client.get("/healthz").json()
    assert body["status"] == "ok" and "web" in body["channels"]


def test_chat_message_gets_a_draft_and_the_approved_reply_reaches_the_chat(
    app, services, customer, agent
):
    assert say(customer, "question: 請問營業時間？").status_code == 200
    drain(services)
    page = agent.get("/console").text
    assert "請問營業時間" in page and "question" in page
    with Session(services.engine) as session:
        draft = session.exec(select(Draft).order_by(Draft.rank)).first()
    response = agent.post(
        f"/console/drafts/{draft.id}/approve",
        data={"csrf": csrf_of(agent), "text": "我們每天 9:00–18:00 營業，歡迎光臨！"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    drain(services)
    replies = [
        m for m in customer.get("/chat/api/messages").json()["messages"] if m["direction"] == "out"
    ]
    assert [r["text"] for r in replies] == ["我們每天 9:00–18:00 營業，歡迎光臨！"]
    with Session(services.engine) as session:
        audit = session.exec(select(AuditLog)).one()
    assert (audit.username, audit.action, audit.via) == ("mei", "edit", "console")
    assert audit.before_text == draft.text and audit.after_text.startswith("我們每天")
    assert "mei" in agent.get("/console/audit").text


def test_the_console_follows_an_approved_reply_until_it_is_delivered(
    app, services, customer, agent
):
    say(customer, "question: 請問營業時間？")
    drain(services)
    with Session(services.engine) as session:
        draft = session.exec(select(Draft).order_by(Draft.rank)).first()
    assert agent.get(f"/console/drafts/{draft.id}/delivery").json()["status"] == "pending"
    agent.post(f"/console/drafts/{draft.id}/approve", data={"csrf": csrf_of(agent)},
               headers={"x-requested-with": "fetch"})  # fmt: skip
    assert agent.get(f"/console/drafts/{draft.id}/delivery").json() == {
        "status": "approved",
        "retrying": False,
    }
    drain(services)
    assert agent.get(f"/console/drafts/{draft.id}/delivery").json()["status"] == "sent"
    assert agent.get("/console/drafts/999999/delivery").status_code == 404
    with TestClient(app) as stranger:
        refused = stranger.get(f"/console/drafts/{draft.id}/delivery", follow_redirects=False)
    assert refused.status_code in (303, 401)


def test_a_resent_chat_message_is_stored_once(customer, services):
    say(customer, "hello", client_id="samesame01")
    again = say(customer, "hello", client_id="samesame01").json()
    assert again["duplicates"] == 1
    with Session(services.engine) as session:
        assert len(session.exec(select(Message)).all()) == 1


def test_customer_html_is_shown_as_text_in_the_console(customer, agent, services):
    say(customer, '<script>alert(1)</script><img src=x onerror="alert(2)">')
    drain(services)
    page = agent.get("/console").text
    assert "<script>alert(1)</script>" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_bad_chat_bodies_get_4xx_and_store_nothing(customer, services):
    bad = [
        customer.post(
            "/chat/api/messages", content=b"{not json", headers={"content-type": "application/json"}
        ),
        customer.post("/chat/api/messages", json=["a list"]),
        customer.post("/chat/api/messages", json={"text": "", "client_id": "abcdefgh01"}),
        customer.post("/chat/api/messages", json={"text": "hi", "client_id": "no"}),
        customer.post("/chat/api/messages", json={"text": "x" * 6000, "client_id": "abcdefgh02"}),
        customer.post(
            "/chat/api/messages",
            content=b"x" * 300_000,
            headers={"content-type": "application/json"},
        ),
        customer.post(
            "/chat/api/messages",
            content=b"\xff\xfe\x00",
            headers={"content-type": "application/json"},
        ),
        customer.post("/chat/api/messages", data={"text": "form"}),
    ]
    assert [r.status_code for r in bad] == [400, 422, 422, 422, 413, 413, 400, 415]
    with Session(services.engine) as session:
        assert session.exec(select(Message)).all() == []


def test_chat_without_a_visitor_cookie_is_refused(app):
    with TestClient(app) as client:
        assert say(client, "hi").status_code == 401


def test_console_requires_login_and_csrf(app, agent, customer, services):
    with TestClient(app) as stranger:
        assert (
            stranger.get("/console", follow_redirects=False).headers["location"] == "/console/login"
        )
        wrong = stranger.post("/console/login", data={"username": "mei", "password": "nope"})
        assert wrong.status_code == 401
    say(customer, "question: stock?")
    drain(services)
    with Session(services.engine) as session:
        draft = session.exec(select(Draft)).first()
    forged = agent.post(f"/console/drafts/{draft.id}/approve", data={"csrf": "forged"})
    assert forged.status_code == 403
    with Session(services.engine) as session:
        assert session.get(Draft, draft.id).status == "pending"


def test_reject_needs_a_reason_and_is_audited(agent, customer, services):
    say(customer, "troll: you all suck")
    drain(services)
    with Session(services.engine) as session:
        draft = session.exec(select(Draft)).first()
    token = csrf_of(agent)
    assert (
        agent.post(
            f"/console/drafts/{draft.id}/reject", data={"csrf": token, "reason": " "}
        ).status_code
        == 422
    )
    agent.post(f"/console/drafts/{draft.id}/reject", data={"csrf": token, "reason": "don't feed"})
    with Session(services.engine) as session:
        assert session.get(Draft, draft.id).status == "rejected"
        assert session.exec(select(AuditLog)).one().reason == "don't feed"


def test_drafts_that_need_a_supervisor_refuse_an_agent(agent, customer, services):
    say(customer, "complaint: refund now")
    drain(services)
    with session_scope(services.engine) as session:
        draft = session.exec(select(Draft)).first()
        draft.required_role = "supervisor"
        session.add(draft)
    response = agent.post(f"/console/drafts/{draft.id}/approve", data={"csrf": csrf_of(agent)})
    assert response.status_code == 403


def test_a_web_chat_visitor_is_shown_by_a_nickname_never_by_their_cookie_token(
    app, services, customer, agent
):
    assert say(customer, "complaint: 東西壞了，我要找真人客服").status_code == 200
    drain(services)
    with Session(services.engine) as session:
        contact = session.exec(select(Contact)).one()
        token, number = contact.platform_user_id, contact.id
    nickname = f"Visitor #{number}"
    queue = agent.get("/console").text
    assert f'<span class="from">{nickname}</span>' in queue
    assert f'<span translate="no">{nickname}</span> asked at' in queue  # waiting for a person
    tickets = agent.get("/console/tickets").text
    assert f'<td class="from word">{nickname}</td>' in tickets
    with Session(services.engine) as session:
        opened = session.exec(select(Ticket)).one().created_at
    with use_locale("en", "Asia/Taipei"):
        assert f">{localtime(opened)}</time></td>" in tickets  # the brand's zone, not UTC
    assert "(UTC)" not in tickets
    fragment = agent.get("/console/queue.json").json()
    assert fragment["items"][0]["from"] == nickname
    for page in (queue, tickets, str(fragment)):
        assert token not in page
