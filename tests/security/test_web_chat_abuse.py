"""The public web chat against one hostile client (finding 4 of issue 16): visitor ids are
issued and signed by the server, posts are limited per visitor and per address (429 with
Retry-After), and crisis detection counts one address rotating ids as one person."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bot.crisis.monitor import observation
from bot.crisis.monitor import stored_classification as classified
from bot.web.routes.chat import VISITOR_COOKIE
from db.models import Message


def say(client, text: str, n: int):
    return client.post("/chat/api/messages", json={"text": text, "client_id": f"msg-{n:06d}"})


def visitor(app, address: str | None = None) -> TestClient:
    headers = {"X-Forwarded-For": address} if address else {}
    client = TestClient(app, headers=headers)
    assert client.get("/chat").status_code == 200
    return client


def test_a_made_up_visitor_id_is_refused_and_replaced(make_app, services):
    app = make_app()
    forged = TestClient(app)
    forged.cookies.set(VISITOR_COOKIE, "anyone-i-like-0001")
    assert say(forged, "hello", 1).status_code == 401
    assert forged.get("/chat/api/messages").json() == {"messages": []}
    page = forged.get("/chat")
    issued = page.cookies.get(VISITOR_COOKIE)
    assert issued and issued != "anyone-i-like-0001"
    tampered = TestClient(app)
    tampered.cookies.set(VISITOR_COOKIE, "someone-else-000" + issued[16:])
    assert say(tampered, "hello", 2).status_code == 401
    forged.cookies.set(VISITOR_COOKIE, issued)
    assert say(forged, "hello", 3).status_code == 200
    with Session(services.engine) as session:
        assert len(session.exec(select(Message)).all()) == 1


def test_posts_are_limited_per_visitor_and_per_address_with_retry_after(make_app):
    app = make_app(chat={"max_posts_per_visitor": 3, "max_posts_per_address": 5})
    one = visitor(app)
    answers = [say(one, "hi", n).status_code for n in range(4)]
    assert answers == [200, 200, 200, 429]
    refused = say(one, "hi", 9)
    assert refused.status_code == 429 and 1 <= int(refused.headers["retry-after"]) <= 60
    rotating = [visitor(app) for _ in range(3)]  # new ids from the same address
    answers = [say(c, "hi", 100 + n).status_code for n, c in enumerate(rotating)]
    assert answers == [200, 200, 429]  # 3 + 2 posts from this address, then refused


def test_one_address_rotating_visitor_ids_is_one_person_to_crisis_detection(make_app, services):
    app = make_app(web={"trusted_proxies": "*"})  # addresses come from X-Forwarded-For here
    for n in range(4):
        assert say(visitor(app, "203.0.113.7"), "complaint: awful", n).status_code == 200
    for n, address in enumerate(("198.51.100.1", "198.51.100.2")):
        assert say(visitor(app, address), "complaint: awful", 10 + n).status_code == 200
    with Session(services.engine) as session:
        messages = session.exec(select(Message).order_by(Message.id)).all()
    authors = [observation(m, classified(m), None).author for m in messages]
    assert len({m.contact_id for m in messages}) == 6  # six chats, each its own conversation
    assert len(set(authors[:4])) == 1 and len(set(authors)) == 3
    assert all("203.0.113.7" not in str(m.raw) for m in messages)  # a keyed hash, not the address
