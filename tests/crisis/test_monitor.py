"""Crisis detection inside a running replyline: it learns the brand's normal from stored
history when it starts, and never lets a detection error stop the pipeline."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlmodel import Session, select

from bot.pipeline.ingest import store_events
from bot.services import Services
from db.models import Draft, Message
from db.types import utcnow
from handlers.base import InboundEvent


def test_a_restarted_worker_learns_the_baseline_from_stored_messages(settings, classifier):
    first = Services.build(settings, classifier=lambda: classifier)
    now = utcnow()
    events = [
        InboundEvent(channel="line", event_id=f"e{i}", chat_id=f"u{i}", user_id=f"u{i}",
                     text=f"complaint: 等太久了 {i}", sent_at=now - timedelta(hours=3 * i))
        for i in range(40)
    ]  # fmt: skip
    store_events(first.engine, events)
    asyncio.run(first.worker.run_until_idle())
    first.crisis.close()  # the first process is gone, and with it its lead (PostgreSQL)

    restarted = Services.build(settings, classifier=lambda: classifier)
    restarted.crisis.tick()
    detector = restarted.crisis.detector
    assert detector.baseline.hours_learned(("complaint", "line")) >= 24 * 4
    # about 40 complaints over five days: the learned rate is about one every three hours
    expected = detector.baseline.expected(("complaint", "*"), now, now + timedelta(hours=24))
    assert 3 <= expected <= 20
    assert [o.message_id for o in detector.window] == [1]  # only the last hour's message
    restarted.crisis.close()
    first.engine.dispose()
    restarted.engine.dispose()


def test_a_failing_detector_does_not_stop_the_pipeline(services):
    def broken(*_args, **_kw):
        raise RuntimeError("detector bug")

    services.crisis.detector.observe = broken  # one process (SQLite)
    services.crisis.detector.severity = broken  # several (PostgreSQL)
    store_events(
        services.engine,
        [InboundEvent(channel="web", event_id="e1", chat_id="c", user_id="c", text="question: hi")],
    )
    asyncio.run(services.worker.run_until_idle())
    with Session(services.engine) as session:
        assert session.exec(select(Message)).one().state == "processed"
        assert session.exec(select(Draft)).all()
