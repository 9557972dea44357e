"""A message whose processing always fails (a poison message) never blocks the worker: its
attempts are counted with backoff, and after a few it is marked failed with the reason, shown
in the console and in /metrics, while everything else goes on in order."""

import asyncio
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import Session, select

from bot.pipeline.ingest import store_events
from bot.services import Services
from bot.web.app import create_app
from bot.web.security import hash_password
from db.engine import session_scope
from db.models import Draft, Message, User
from db.types import utcnow
from handlers.base import InboundEvent
from tests.reliability.test_metrics import scrape, value
from tests.support import ScriptedClassifier


class PoisonedClassifier(ScriptedClassifier):
    """Fails on any batch holding a text with "poison", quoting it (as real errors do)."""

    def classify(self, texts):
        for text in texts:
            if "poison" in text:
                raise ValueError(f"cannot tokenize {text!r}")
        return super().classify(texts)


def ev(event_id, text, user):
    return InboundEvent(channel="web", event_id=event_id, chat_id=user, user_id=user, text=text)


def build(settings, classifier=None, **overrides):
    settings = settings.updated(pipeline={"worker_enabled": False, **overrides})
    return settings, Services.build(settings, classifier=lambda: classifier or PoisonedClassifier())


def drain(services):
    asyncio.run(services.worker.run_until_idle(max_rounds=50))


def messages(engine):
    with Session(engine) as session:
        return {m.text: m for m in session.exec(select(Message).order_by(Message.id))}


def time_passes(engine):
    """Every backoff has run out."""
    with session_scope(engine) as session:
        session.exec(
            update(Message)
            .where(Message.retry_at.is_not(None))
            .values(retry_at=utcnow() - timedelta(seconds=1))
        )


def test_a_poison_message_is_retried_with_backoff_then_marked_failed(settings):
    _, services = build(settings, message_max_attempts=3, message_retry_seconds=60)
    poison = "question: poison pill from mei@example.com"
    store_events(
        services.engine,
        [ev("1", poison, "u1"), ev("2", "question: are you open?", "u2")],
    )
    drain(services)  # returns: the worker is not stuck retrying
    rows = messages(services.engine)
    assert rows["question: are you open?"].state == "processed"
    first = rows[poison]
    assert (first.state, first.attempts) == ("received", 1)
    assert "ValueError" in first.error and "mei@example.com" not in first.error
    assert "[email]" in first.error
    wait = (first.retry_at - utcnow()).total_seconds()
    assert 50 < wait <= 60
    drain(services)  # within the backoff nothing is tried again
    assert messages(services.engine)[poison].attempts == 1

    time_passes(services.engine)
    drain(services)
    second = messages(services.engine)[poison]
    assert second.attempts == 2 and 110 < (second.retry_at - utcnow()).total_seconds() <= 120

    time_passes(services.engine)
    drain(services)
    given_up = messages(services.engine)[poison]
    assert (given_up.state, given_up.attempts, given_up.retry_at) == ("failed", 3, None)
    assert given_up.processed_at is not None
    time_passes(services.engine)
    drain(services)
    assert messages(services.engine)[poison].attempts == 3  # never tried again
    with Session(services.engine) as session:
        assert session.exec(select(Draft).where(Draft.message_id == given_up.id)).all() == []
    services.engine.dispose()


def test_later_messages_of_its_conversation_wait_and_stay_in_order(settings):
    _, services = build(settings, message_max_attempts=2, message_retry_seconds=0)
    store_events(
        services.engine,
        [
            ev("1", "question: first", "u1"),
            ev("2", "complaint: poison", "u1"),
            ev("3", "question: third", "u1"),
            ev("4", "advocate: love it", "u2"),
        ],
    )
    order = []
    services.pipeline.hooks.append(
        type(
            "Recorder",
            (),
            {
                "drafts": lambda self, *a: None,
                "processed": lambda self, ms, rs: order.extend(m.text for m in ms),
            },
        )()
    )
    services.pipeline.process_pending()
    rows = messages(services.engine)
    assert rows["question: first"].state == "processed"
    assert rows["advocate: love it"].state == "processed"
    assert rows["complaint: poison"].attempts == 1
    assert rows["question: third"].state == "received"  # waits behind the poison message
    drain(services)  # no backoff here: retried at once, given up, then the rest goes on
    rows = messages(services.engine)
    assert (rows["complaint: poison"].state, rows["complaint: poison"].attempts) == ("failed", 2)
    assert rows["question: third"].state == "processed"
    assert order.index("question: first") < order.index("question: third")
    services.engine.dispose()


def test_a_failure_while_drafting_counts_like_a_failure_to_classify(settings):
    _, services = build(
        settings, classifier=ScriptedClassifier(), message_max_attempts=2, message_retry_seconds=0
    )
    draft = services.pipeline.playbooks.draft

    def fragile(ctx):
        if "poison" in ctx.text:
            raise KeyError("template field missing")
        return draft(ctx)

    services.pipeline.playbooks.draft = fragile
    store_events(
        services.engine,
        [ev("1", "question: poison", "u1"), ev("2", "question: fine", "u2")],
    )
    drain(services)
    rows = messages(services.engine)
    assert rows["question: fine"].state == "processed"
    failed = rows["question: poison"]
    assert (failed.state, failed.attempts) == ("failed", 2)
    assert "KeyError" in failed.error and failed.type is None  # nothing half-stored
    with Session(services.engine) as session:
        assert session.exec(select(Draft).where(Draft.message_id == failed.id)).all() == []
    services.engine.dispose()


def test_a_classifier_that_cannot_load_fails_no_message(settings):
    def broken():
        raise OSError("model files missing")

    settings = settings.updated(pipeline={"worker_enabled": False, "message_retry_seconds": 0})
    services = Services.build(settings, classifier=broken)
    store_events(services.engine, [ev("1", "question: hello", "u1")])
    with pytest.raises(OSError):
        services.pipeline.process_pending()
    row = messages(services.engine)["question: hello"]
    assert (row.state, row.attempts) == ("received", 0)
    services.engine.dispose()


def test_failed_messages_show_in_the_console_and_in_metrics(settings):
    app_settings, services = build(settings, message_max_attempts=1)
    with session_scope(services.engine) as session:
        session.add(User(username="mei", password_hash=hash_password("correct horse")))
    store_events(services.engine, [ev("1", "question: poison <b>bold</b>", "u1")])
    drain(services)
    with TestClient(create_app(app_settings, services)) as client:
        client.post("/console/login", data={"username": "mei", "password": "correct horse"})
        page = client.get("/console").text
        assert "Could not be processed" in page
        assert "question: poison &lt;b&gt;bold&lt;/b&gt;" in page and "ValueError" in page
        metrics = scrape(client)
    assert value(metrics, "replyline_messages_failed") == 1
    assert value(metrics, "replyline_messages_unprocessed") == 0
    assert value(metrics, "replyline_processing_failures_total", kind="failed") >= 1
    services.engine.dispose()
