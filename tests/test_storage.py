"""Storage: the schema migrations build is the schema the code uses; events are stored once;
datetimes are timezone-aware UTC."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import Session, SQLModel, select

import db.models  # noqa: F401
from bot.pipeline.ingest import store_events
from db.engine import session_scope
from db.models import Contact, Conversation, Message
from handlers.base import InboundEvent


def event(event_id="e1", text="hello", user="u1", chat=None, **kw) -> InboundEvent:
    return InboundEvent(
        channel="web", event_id=event_id, chat_id=chat or user, user_id=user, text=text, **kw
    )


def test_migrations_build_exactly_the_models_schema(engine):
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert diff == []


def test_the_same_event_posted_twice_is_stored_once(engine):
    first = store_events(engine, [event()])
    again = store_events(engine, [event(text="hello again")])
    assert not first[0].duplicate and again[0].duplicate
    assert again[0].message_id == first[0].message_id
    with Session(engine) as session:
        assert len(session.exec(select(Message)).all()) == 1
        assert session.exec(select(Message)).one().text == "hello"


def test_events_of_one_request_share_contact_and_conversation(engine):
    store_events(engine, [event("a", user="u1"), event("b", user="u1"), event("c", user="u2")])
    with Session(engine) as session:
        assert len(session.exec(select(Contact)).all()) == 2
        assert len(session.exec(select(Conversation)).all()) == 2


def test_group_messages_share_one_conversation_with_separate_contacts(engine):
    store_events(
        engine,
        [
            event("a", user="u1", chat="g1", chat_kind="group"),
            event("b", user="u2", chat="g1", chat_kind="group"),
        ],
    )
    with Session(engine) as session:
        conversation = session.exec(select(Conversation)).one()
        assert conversation.kind == "group" and conversation.contact_id is None
        assert {m.contact_id for m in session.exec(select(Message))} == {1, 2}


def test_datetimes_come_back_aware_in_utc(engine):
    taipei = timezone(timedelta(hours=8))
    written = datetime(2026, 11, 23, 9, 30, tzinfo=taipei)
    store_events(engine, [event(sent_at=written)])
    with Session(engine) as session:
        stored = session.exec(select(Message)).one().sent_at
    assert stored.tzinfo is not None and stored.utcoffset() == timedelta(0)
    assert stored == written and stored.hour == 1


def test_naive_datetimes_are_refused(engine):
    with pytest.raises(Exception, match="naive datetime"), session_scope(engine) as session:
        session.add(
            Contact(channel="web", platform_user_id="x", first_seen_at=datetime(2026, 1, 1))
        )


def test_non_message_events_are_stored_but_need_no_processing(engine):
    store_events(
        engine, [event("f", text=None, kind="follow"), event("s", text="hi", answerable=False)]
    )
    with Session(engine) as session:
        states = {m.platform_event_id: m.state for m in session.exec(select(Message))}
    assert states == {"f": "ignored", "s": "ignored"}


def test_received_at_is_set_to_now_in_utc(engine):
    before = datetime.now(UTC)
    store_events(engine, [event()])
    with Session(engine) as session:
        received = session.exec(select(Message)).one().received_at
    assert before - timedelta(seconds=1) <= received <= datetime.now(UTC) + timedelta(seconds=1)


def test_the_migrations_form_one_line():
    """Two helpers branching from the same revision leave two heads: `upgrade heads` hides it,
    a later migration cannot follow both."""
    from alembic.script import ScriptDirectory

    from db.migrate import alembic_config

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1, script.get_heads()
