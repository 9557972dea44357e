"""The pipeline: stored → classified → stage → drafts, once each, in order, across crashes."""

import asyncio
import threading
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from bot.pipeline.ingest import store_events
from bot.services import Services
from db.models import AuditLog, Contact, Draft, Message, StageTransition
from handlers.base import InboundEvent


def ev(event_id, text, user="u1", **kw):
    return InboundEvent(
        channel="web", event_id=event_id, chat_id=user, user_id=user, text=text, **kw
    )


def drain(services):
    asyncio.run(services.worker.run_until_idle())


def test_a_message_is_classified_staged_and_drafted(services):
    store_events(services.engine, [ev("1", "question: when do you open?")])
    drain(services)
    with Session(services.engine) as session:
        message = session.exec(select(Message)).one()
        drafts = session.exec(select(Draft).order_by(Draft.rank)).all()
    assert message.state == "processed" and message.type == "question"
    assert message.stage == "identification" and message.language == "en"
    assert message.type_scores["question"] == pytest.approx(0.9)
    assert len(drafts) >= 1 and all(d.status == "pending" for d in drafts)
    assert all(d.playbook.startswith("question/") for d in drafts)


def test_a_crash_between_stored_and_drafted_finishes_exactly_once(settings, classifier):
    settings = settings.updated(pipeline={"message_retry_seconds": 0})  # retry at once
    first = Services.build(settings, classifier=lambda: classifier)
    store_events(first.engine, [ev("1", "complaint: my order is late")])

    def crash(_ctx):
        raise RuntimeError("power cut while drafting")

    first.pipeline.playbooks.draft = crash
    first.pipeline.process_pending()  # the failed attempt is counted, nothing else stored
    with Session(first.engine) as session:
        message = session.exec(select(Message)).one()
        assert (message.state, message.attempts) == ("received", 1)
        assert session.exec(select(Draft)).all() == []
        assert session.exec(select(Contact)).one().message_count == 0

    restarted = Services.build(settings, classifier=lambda: classifier)
    drain(restarted)
    drain(restarted)
    with Session(restarted.engine) as session:
        assert session.exec(select(Message)).one().state == "processed"
        drafts = session.exec(select(Draft)).all()
        assert len(drafts) == len({d.rank for d in drafts}) >= 1
        assert session.exec(select(Contact)).one().message_count == 1


def test_two_workers_racing_on_one_message_draft_it_once(services, classifier):
    store_events(services.engine, [ev("1", "question: price?")])
    message = services.pipeline.pending(10)[0]
    result = classifier.classify([message.text])[0]
    from db.engine import session_scope

    outcomes = []
    for _ in range(2):
        with session_scope(services.engine) as session:
            outcomes.append(services.pipeline.process_one(session, message, result))
    assert outcomes == [True, False]
    with Session(services.engine) as session:
        ranks = sorted(d.rank for d in session.exec(select(Draft)).all())
    assert ranks == list(range(len(ranks))) and ranks  # one set of candidates, not two


def test_a_webhook_is_stored_while_the_pipeline_holds_its_sender(services):
    """Drafting can take seconds (a crisis incident, a cold model) with the sender's contact
    row locked and drafts of the conversation written; the sender's next message is stored
    meanwhile, not after (the platform would time out), and last_seen_at still moves on when
    that message is processed."""
    if services.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time")
    store_events(services.engine, [ev("1", "question: first")])
    drain(services)
    with Session(services.engine) as session:
        contact = session.exec(select(Contact)).one()
        first = session.exec(select(Message)).one()
    later = contact.last_seen_at + timedelta(minutes=5)
    stored = threading.Event()
    webhook = threading.Thread(
        target=lambda: (
            store_events(services.engine, [ev("2", "question: next", sent_at=later)]),
            stored.set(),
        )
    )
    with Session(services.engine) as drafting:  # as the pipeline's transaction, rolled back
        services.pipeline.lock_contacts(drafting, [first])
        drafting.add(  # its foreign keys lock the message and conversation rows (KEY SHARE)
            Draft(
                message_id=first.id,
                conversation_id=first.conversation_id,
                text="",
                original_text="",
            )
        )
        drafting.flush()
        webhook.start()
        stored_meanwhile = stored.wait(30)
        drafting.rollback()
    webhook.join(30)
    assert stored_meanwhile, "the webhook waited for the pipeline's transaction"
    drain(services)
    with Session(services.engine) as session:
        contact = session.exec(select(Contact)).one()
    assert contact.last_seen_at == later and contact.message_count == 2


def test_messages_of_one_conversation_are_processed_in_order(services, classifier):
    store_events(services.engine, [ev(str(i), f"other: message {i}") for i in range(1, 8)])
    services.pipeline.process_pending(limit=3)
    services.pipeline.process_pending(limit=3)
    drain(services)
    seen = [t for call in classifier.calls for t in call]
    assert seen == [f"other: message {i}" for i in range(1, 8)]
    with Session(services.engine) as session:
        processed = session.exec(select(Message).order_by(Message.processed_at)).all()
    assert [m.platform_event_id for m in processed] == [str(i) for i in range(1, 8)]


def test_stickers_without_text_are_other_without_calling_the_model(services, classifier):
    store_events(services.engine, [ev("1", None, content_type="sticker")])
    drain(services)
    with Session(services.engine) as session:
        message = session.exec(select(Message)).one()
    assert message.type == "other" and classifier.calls == []


def test_a_returning_warm_contact_moves_to_relationship_with_a_reason(services):
    store_events(
        services.engine,
        [ev("1", "question: hours?"), ev("2", "advocate: love it"), ev("3", "advocate: best shop")],
    )
    drain(services)
    with Session(services.engine) as session:
        contact = session.exec(select(Contact)).one()
        transitions = session.exec(select(StageTransition)).all()
        stages = [m.stage for m in session.exec(select(Message).order_by(Message.id))]
    assert contact.stage == "relationship"
    assert stages == ["identification", "identification", "relationship"]
    assert len(transitions) == 1 and "warm" in transitions[0].reason


def test_automatic_sending_is_off_by_default(services):
    store_events(services.engine, [ev("1", "advocate: you are great")])
    drain(services)
    with Session(services.engine) as session:
        assert {d.status for d in session.exec(select(Draft))} == {"pending"}


def test_automatic_sending_when_enabled_sends_and_audits(settings, classifier):
    settings.replies.auto_send = True
    services = Services.build(settings, classifier=lambda: classifier)
    store_events(
        services.engine,
        [ev("1", "advocate: you are great"), ev("2", "complaint: broken", user="u2")],
    )
    drain(services)
    with Session(services.engine) as session:
        by_type = {
            m.type: m for m in session.exec(select(Message).where(Message.direction == "in"))
        }
        advocate = session.exec(
            select(Draft).where(Draft.message_id == by_type["advocate"].id).order_by(Draft.rank)
        ).all()
        complaint = session.exec(
            select(Draft).where(Draft.message_id == by_type["complaint"].id)
        ).all()
        audit = session.exec(select(AuditLog)).all()
        replies = session.exec(select(Message).where(Message.direction == "out")).all()
    assert [d.status for d in advocate][:1] == ["sent"] and advocate[0].auto
    assert {d.status for d in complaint} == {"pending"}
    assert [a.action for a in audit] == ["auto_approve"]
    assert [r.text for r in replies] == [advocate[0].text]


def test_worker_wakes_on_notify(services):
    async def scenario():
        await services.worker.run_until_idle()  # loads what the first round loads (slow on CI)
        services.worker.poll_seconds = 60  # only notify can wake it in time
        task = asyncio.create_task(services.worker.run())
        await asyncio.sleep(0.1)
        await asyncio.to_thread(store_events, services.engine, [ev("1", "question: hi")])
        threading.Thread(target=services.worker.notify).start()
        for _ in range(300):  # 15 s at most: far below the 60 s poll
            await asyncio.sleep(0.05)
            with Session(services.engine) as session:
                if session.exec(select(Message)).one().state == "processed":
                    break
        task.cancel()
        with Session(services.engine) as session:
            return session.exec(select(Message)).one().state

    assert asyncio.run(scenario()) == "processed"


class ContextRecordingClassifier:
    """The scripted classifier that also takes `contexts=`, as the model classifier does."""

    name = "scripted-with-context"

    def __init__(self):
        from tests.support import ScriptedClassifier

        self.scripted = ScriptedClassifier()
        self.contexts: list = []

    def classify(self, texts, contexts=None):
        self.contexts.append((list(texts), contexts))
        return self.scripted.classify(texts)


def test_a_follow_up_is_classified_with_the_turns_before_it(settings):
    recorder = ContextRecordingClassifier()
    services = Services.build(settings, classifier=lambda: recorder)
    try:
        store_events(services.engine, [ev("1", "請問運費怎麼算？")])
        drain(services)
        store_events(services.engine, [ev("2", "那超商取貨付款呢？"), ev("3", "謝謝你們")])
        drain(services)
    finally:
        services.engine.dispose()
    seen = {text: ctx for texts, ctxs in recorder.contexts for text, ctx in zip(texts, ctxs)}
    assert seen["請問運費怎麼算？"] == []  # nothing before it
    follow_up = seen["那超商取貨付款呢？"]
    assert follow_up and follow_up[0] == "請問運費怎麼算？"  # the question it continues
    assert seen["謝謝你們"] == []  # a full message is read alone
