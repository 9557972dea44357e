"""Nothing leaves the queue unanswered by accident: rejecting every candidate keeps the message
waiting (with an empty candidate to write in); a reply written from scratch, a redraft or an
audited "no reply" with a reason are the only ways out, from the console and the shell."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session, select

from bot.cli import main
from bot.config import get_settings
from bot.pipeline.ingest import store_events
from bot.review.decisions import WRITE_SLOT
from bot.services import Services
from db.models import AuditLog, Draft
from handlers.base import InboundEvent
from tests.support import ScriptedClassifier
from tests.test_cli import add_user, cli_env  # noqa: F401 (fixture)


def pending(engine, message_id):
    with Session(engine) as session:
        return session.exec(
            select(Draft).where(Draft.message_id == message_id, Draft.status == "pending")
        ).all()


@pytest.fixture
def queued(cli_env, monkeypatch, capsys):  # noqa: F811
    add_user(monkeypatch, "mei", "agent")
    services = Services.build(get_settings(), classifier=lambda: ScriptedClassifier())
    texts = ["complaint: the box arrived crushed", "question: do you ship to Japan?"]
    store_events(
        services.engine,
        [
            InboundEvent(channel="web", event_id=str(i), chat_id=f"v{i}", user_id=f"v{i}", text=t)
            for i, t in enumerate(texts)
        ],
    )
    services.pipeline.process_pending()
    capsys.readouterr()
    assert main(["drafts", "list", "--status", "pending", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    return services, rows


def test_rejecting_every_candidate_keeps_the_message_waiting(queued, capsys):
    services, rows = queued
    complaint = [r for r in rows if r["type"] == "complaint"]
    message_id = complaint[0]["message_id"]
    for row in complaint:
        assert (
            main(["drafts", "reject", str(row["id"]), "--reason", "too stiff", "--as", "mei"]) == 0
        )
    left = pending(services.engine, message_id)
    assert [(d.playbook, d.text) for d in left] == [(WRITE_SLOT, "")]
    # the empty candidate cannot be approved as it is, only with a text
    assert main(["drafts", "approve", str(left[0].id), "--as", "mei"]) == 2
    assert "cannot be empty" in capsys.readouterr().err
    assert main(["drafts", "approve", str(left[0].id), "--text", "Sorry! Fixing it.",
                 "--as", "mei"]) == 0  # fmt: skip
    assert pending(services.engine, message_id) == []
    with Session(services.engine) as session:
        assert session.get(Draft, left[0].id).status == "edited"


def test_a_reply_written_from_scratch_supersedes_the_candidates(queued, capsys):
    services, rows = queued
    message_id = next(r["message_id"] for r in rows if r["type"] == "question")
    assert main(["drafts", "reply", str(message_id), "--text", "  ", "--as", "mei"]) == 2
    assert main(["drafts", "reply", str(message_id), "--text", "No, Taiwan only for now.",
                 "--as", "mei"]) == 0  # fmt: skip
    assert pending(services.engine, message_id) == []
    with Session(services.engine) as session:
        written = session.exec(
            select(Draft).where(Draft.message_id == message_id, Draft.playbook == "manual")
        ).one()
        others = session.exec(
            select(Draft).where(Draft.message_id == message_id, Draft.playbook != "manual")
        ).all()
        audit = session.exec(select(AuditLog).where(AuditLog.action == "reply")).one()
    assert (written.status, written.text, written.original_text) == (
        "edited", "No, Taiwan only for now.", "")  # fmt: skip
    assert {d.status for d in others} == {"superseded"}
    assert (audit.username, audit.via, audit.draft_id) == ("mei", "cli", written.id)
    assert main(["drafts", "reply", "9999", "--text", "hi", "--as", "mei"]) == 2


def test_no_reply_needs_a_reason_and_is_audited(queued, capsys):
    services, rows = queued
    message_id = rows[0]["message_id"]
    assert main(["drafts", "no-reply", str(message_id), "--reason", " ", "--as", "mei"]) == 2
    assert "say why" in capsys.readouterr().err
    assert pending(services.engine, message_id)
    assert main(["drafts", "no-reply", str(message_id), "--reason", "spam", "--as", "mei"]) == 0
    assert pending(services.engine, message_id) == []
    with Session(services.engine) as session:
        audit = session.exec(select(AuditLog).where(AuditLog.action == "no_reply")).one()
    assert (audit.reason, audit.message_id) == ("spam", message_id)
