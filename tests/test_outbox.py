"""Sending: approved drafts go out once, in order per conversation; failures are retried or
recorded with the reason."""

import asyncio

from sqlmodel import Session, select

from bot.pipeline.ingest import store_events
from bot.review import decisions as review
from db.engine import session_scope
from db.models import Draft, Message, User
from handlers.base import InboundEvent, SendResult
from tests.fakes.channel import FakeChannel


def approve_all(services):
    asyncio.run(services.worker.run_until_idle())
    with session_scope(services.engine) as session:
        user = User(username="a", password_hash="x", role="admin")
        session.add(user)
        session.flush()
        for draft in session.exec(select(Draft).where(Draft.rank == 0).order_by(Draft.id)).all():
            review.approve(session, draft.id, user, text=f"reply to {draft.message_id}")


def put(services, *texts, user="u1"):
    store_events(
        services.engine,
        [
            InboundEvent(channel="web", event_id=f"{user}-{i}", chat_id=user, user_id=user, text=t)
            for i, t in enumerate(texts)
        ],
    )


def test_transient_failure_is_retried_then_sent_once(services):
    channel = FakeChannel(
        results={"send": [SendResult(False, error="503 from platform", retry_after=0.01)]}
    )
    services.outbox.channels["web"] = channel
    put(services, "question: a")
    approve_all(services)
    asyncio.run(services.outbox.send_due())
    with Session(services.engine) as session:
        draft = session.exec(select(Draft).where(Draft.status != "superseded")).one()
        assert draft.status == "edited" and draft.error == "503 from platform"
    asyncio.run(asyncio.sleep(0.02))
    asyncio.run(services.outbox.send_due())
    asyncio.run(services.outbox.send_due())
    with Session(services.engine) as session:
        draft = session.exec(select(Draft).where(Draft.status != "superseded")).one()
        out = session.exec(select(Message).where(Message.direction == "out")).all()
    assert draft.status == "sent" and draft.send_attempts == 2
    assert channel.texts == ["reply to 1"] and len(out) == 1


def test_permanent_failure_marks_the_draft_failed_with_the_reason(services):
    services.outbox.channels["web"] = FakeChannel(
        results={"send": [SendResult(False, error="quota exhausted", permanent=True)]}
    )
    put(services, "question: a")
    approve_all(services)
    asyncio.run(services.outbox.send_due())
    with Session(services.engine) as session:
        draft = session.exec(select(Draft).where(Draft.status == "failed")).one()
    assert draft.error == "quota exhausted"
    assert not draft.maybe_sent  # a refusal is certain: nothing reached the customer


def test_a_draft_that_got_no_answer_fails_flagged_as_maybe_sent(services):
    """A timeout may have delivered the reply; after the last attempt a definite refusal
    must not erase that doubt."""
    services.outbox.max_attempts = 2
    services.outbox.channels["web"] = FakeChannel(
        results={
            "send": [
                SendResult(False, error="timed out", unknown=True, retry_after=0.01),
                SendResult(False, error="429 slow down", retry_after=0.01),
            ]
        }
    )
    put(services, "question: a")
    approve_all(services)
    for _ in range(2):
        asyncio.run(services.outbox.send_due())
        asyncio.run(asyncio.sleep(0.02))
    with Session(services.engine) as session:
        draft = session.exec(select(Draft).where(Draft.status == "failed")).one()
    assert draft.maybe_sent and draft.error == "429 slow down"


def test_replies_in_one_conversation_go_out_in_order(services):
    channel = FakeChannel()
    services.outbox.channels["web"] = channel
    put(services, "question: one", "question: two", "question: three")
    approve_all(services)
    for _ in range(5):
        asyncio.run(services.outbox.send_due())
    assert channel.texts == ["reply to 1", "reply to 2", "reply to 3"]


def test_an_unconfigured_channel_fails_the_draft_clearly(services):
    store_events(
        services.engine,
        [
            InboundEvent(
                channel="line", event_id="x", chat_id="U1", user_id="U1", text="question: hi"
            )
        ],
    )
    approve_all(services)
    asyncio.run(services.outbox.send_due())
    with Session(services.engine) as session:
        draft = session.exec(select(Draft).where(Draft.status == "failed")).one()
    assert draft.error == "channel line is not configured"
