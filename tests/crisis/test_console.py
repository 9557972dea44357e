"""The console during a crisis: a banner on every page, the incidents list, and an incident's
page where a supervisor acknowledges, adds notes and resolves."""

from __future__ import annotations

import asyncio
import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bot.web.app import create_app
from bot.web.security import hash_password
from db.engine import session_scope
from db.models import Incident, IncidentNote, User


@pytest.fixture
def app(services, settings):
    settings.pipeline.worker_enabled = False  # tests drive the worker explicitly
    settings.calendar.scheduler_enabled = False
    with session_scope(services.engine) as session:
        session.add(User(username="mei", password_hash=hash_password("agent pw 123"), role="agent"))
        session.add(
            User(username="boss", password_hash=hash_password("super pw 123"), role="supervisor")
        )
    return create_app(settings, services)


def login(app, username, password):
    client = TestClient(app)
    client.__enter__()
    response = client.post(
        "/console/login",
        data={"username": username, "password": password},
        follow_redirects=False,
    )
    assert response.status_code == 303
    return client


@pytest.fixture
def agent(app):
    client = login(app, "mei", "agent pw 123")
    yield client
    client.__exit__(None, None, None)


@pytest.fixture
def boss(app):
    client = login(app, "boss", "super pw 123")
    yield client
    client.__exit__(None, None, None)


def csrf_of(client, path="/console") -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get(path).text).group(1)


def crisis(services, customer_text='complaint: 我要提告 <img src=x onerror="alert(1)">') -> int:
    from bot.pipeline.ingest import store_events
    from handlers.base import InboundEvent

    store_events(
        services.engine,
        [
            InboundEvent(
                channel="web", event_id="e1", chat_id="c1", user_id="c1", text=customer_text
            )
        ],
    )
    asyncio.run(services.worker.run_until_idle())
    with Session(services.engine) as session:
        return session.exec(select(Incident.id)).one()


def test_no_banner_without_an_incident(agent):
    assert "crisis-banner open" not in agent.get("/console").text


def test_every_console_page_shows_the_banner_while_an_incident_is_active(agent, services):
    incident_id = crisis(services)
    for page in ("/console", "/console/audit", "/console/incidents"):
        html = agent.get(page).text
        assert "Crisis alert" in html and f"/console/incidents/{incident_id}" in html, page
    fragment = agent.get("/console/incidents/banner").text
    assert "Possible legal threat" in fragment


def test_an_incident_page_explains_and_escapes_customer_text(agent, services):
    incident_id = crisis(services)
    html = agent.get(f"/console/incidents/{incident_id}").text
    assert "reads as a legal threat" in html and "提告" in html
    assert '<img src=x onerror="alert(1)">' not in html
    assert "&lt;img src=x" in html
    assert "crisis/legal" in html and "Supervisor needed" in html
    assert "A supervisor acknowledges and resolves incidents." in html  # an agent cannot
    assert agent.get("/console/incidents/999").status_code == 404
    assert agent.get("/console/incidents/abc").status_code == 422


def test_a_supervisor_acknowledges_notes_and_resolves_and_an_agent_cannot(agent, boss, services):
    incident_id = crisis(services)
    base = f"/console/incidents/{incident_id}"
    refused = agent.post(f"{base}/acknowledge", data={"csrf": csrf_of(agent)})
    assert refused.status_code == 403
    no_csrf = boss.post(f"{base}/acknowledge", data={"csrf": "forged"})
    assert no_csrf.status_code == 403

    token = csrf_of(boss, base)
    done = boss.post(
        f"{base}/acknowledge", data={"csrf": token, "note": "on it"}, follow_redirects=False
    )
    assert done.status_code == 303
    assert boss.post(f"{base}/acknowledge", data={"csrf": token}).status_code == 409
    assert boss.post(f"{base}/notes", data={"csrf": token, "text": ""}).status_code == 422
    boss.post(f"{base}/notes", data={"csrf": token, "text": "called the customer"})
    assert boss.post(f"{base}/resolve", data={"csrf": token, "note": " "}).status_code == 422
    boss.post(f"{base}/resolve", data={"csrf": token, "note": "refund agreed"})

    with Session(services.engine) as session:
        incident = session.get(Incident, incident_id)
        notes = session.exec(select(IncidentNote.action, IncidentNote.text)).all()
    assert incident.status == "resolved"
    assert list(notes) == [
        ("acknowledge", "on it"),
        ("note", "called the customer"),
        ("resolve", "refund agreed"),
    ]
    assert "Crisis" not in boss.get("/console").text.split("<main>")[0]  # banner gone
    listing = boss.get("/console/incidents").text
    assert "resolved" in listing and "Possible legal threat" in listing


def test_an_incident_reads_in_the_viewers_language_and_still_escapes_customer_text(agent, services):
    """The title, the why and the signals are written from the signal's figures in the
    language of whoever reads (the row keeps the English)."""
    incident_id = crisis(services)
    chinese = agent.get(
        f"/console/incidents/{incident_id}", headers={"Accept-Language": "zh-TW"}
    ).text
    assert "可能有法律威脅（網站聊天）" in chinese and "看來是法律威脅" in chinese
    assert "嚴重訊息" in chinese and "reads as a legal threat" not in chinese
    assert '<img src=x onerror="alert(1)">' not in chinese and "&lt;img src=x" in chinese
    # the kind, the examples and where each reply came from in Chinese words and punctuation
    assert '<span class="badge">嚴重訊息</span>' in chinese and "」（網站聊天）" in chinese
    assert ">危機暫時回應聲明</span>" in chinese and "“" not in chinese
    listing = agent.get("/console/incidents", headers={"Accept-Language": "zh-TW"}).text
    assert "可能有法律威脅（網站聊天）" in listing
    with Session(services.engine) as session:
        assert session.get(Incident, incident_id).title == "Possible legal threat on Web chat"
