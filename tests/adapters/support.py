"""Helpers for end-to-end adapter tests: console users and decisions, database reads."""

from __future__ import annotations

import re

import httpx
from sqlmodel import Session, select

from bot.web.security import hash_password
from db.engine import session_scope
from db.models import AuditLog, Draft, Message, User

PASSWORD = "correct horse battery"


def add_user(engine, username: str, role: str = "agent", telegram_id: str | None = None) -> int:
    with session_scope(engine) as session:
        user = User(
            username=username,
            password_hash=hash_password(PASSWORD),
            role=role,
            telegram_user_id=telegram_id,
        )
        session.add(user)
        session.flush()
        return user.id


def console(live, username: str) -> httpx.Client:
    """A logged-in console session on the live app."""
    client = httpx.Client(base_url=live.url, timeout=10)
    response = client.post("/console/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 303, response.text
    return client


def csrf(client: httpx.Client) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get("/console").text).group(1)


def approve_in_console(client: httpx.Client, draft_id: int, text: str | None = None) -> None:
    data = {"csrf": csrf(client)} | ({"text": text} if text is not None else {})
    response = client.post(f"/console/drafts/{draft_id}/approve", data=data)
    assert response.status_code == 303, response.text


def rows(engine, model, *where) -> list:
    with Session(engine) as session:
        return list(session.exec(select(model).where(*where).order_by(model.id)).all())


def top_draft(engine, message_id: int | None = None) -> Draft | None:
    where = [Draft.rank == 0] + ([Draft.message_id == message_id] if message_id else [])
    found = rows(engine, Draft, *where)
    return found[-1] if found else None


def inbound(engine) -> list[Message]:
    return rows(engine, Message, Message.direction == "in")


def audit(engine) -> list[AuditLog]:
    return rows(engine, AuditLog)
