"""A send the channel deferred for its rate limit costs no attempt: a long flood cannot fail
a draft, while real failures still do after the outbox's attempts."""

import asyncio

from sqlmodel import Session, select

from bot.pipeline.ingest import store_events
from bot.review import decisions as review
from db.engine import session_scope
from db.models import Draft, User
from handlers.base import InboundEvent, SendResult
from tests.fakes.channel import FakeChannel


def test_deferrals_do_not_use_up_attempts(services):
    flood = SendResult(False, error="flood", retry_after=0.001, deferred=True)
    channel = FakeChannel(results={"send": [flood] * 12})  # more deferrals than max_attempts
    services.outbox.channels["web"] = channel
    store_events(
        services.engine,
        [InboundEvent(channel="web", event_id="e", chat_id="u", user_id="u", text="question: a")],
    )
    asyncio.run(services.worker.run_until_idle())
    with session_scope(services.engine) as session:
        user = User(username="a", password_hash="x", role="admin")
        session.add(user)
        session.flush()
        draft = session.exec(select(Draft).where(Draft.rank == 0)).one()
        review.approve(session, draft.id, user)
    for _ in range(13):
        asyncio.run(services.outbox.send_due())
        asyncio.run(asyncio.sleep(0.002))
    with Session(services.engine) as session:
        draft = session.exec(select(Draft).where(Draft.rank == 0)).one()
    assert draft.status == "sent" and draft.send_attempts == 1 and len(channel.sent) == 1
