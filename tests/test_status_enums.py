"""Statuses and roles are enums shared by the tables and the code; the database itself refuses
any other value (CHECK constraints from migration 0015), on SQLite and on PostgreSQL."""

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlmodel import Session, SQLModel, select

import db.models  # noqa: F401
from bot.pipeline.ingest import store_events
from db.engine import make_engine, session_scope
from db.enums import DraftStatus, MessageState, Role
from db.migrate import alembic_config
from db.models import Draft, Message, User
from handlers.base import InboundEvent


def checks_in_models() -> dict[str, set[str]]:
    return {
        table.name: {c.name for c in table.constraints if c.name and c.name.startswith("ck_")}
        for table in SQLModel.metadata.sorted_tables
    }


def checks_in_database(engine) -> dict[str, set[str]]:
    inspector = inspect(engine)
    return {
        name: {c["name"] for c in inspector.get_check_constraints(name)}
        for name in SQLModel.metadata.tables
    }


def test_the_migrated_database_has_every_check_the_models_declare(engine):
    declared = checks_in_models()
    assert declared["draft"] == {"ck_draft_status", "ck_draft_required_role"}
    assert declared["message"] == {"ck_message_state"} and declared["user"] == {"ck_user_role"}
    assert checks_in_database(engine) == declared


def test_the_database_refuses_a_status_no_enum_has(engine):
    store_events(engine, [InboundEvent(channel="web", event_id="e1", chat_id="c", user_id="u")])
    with engine.begin() as connection:
        connection.execute(text("UPDATE message SET state = 'processed'"))
    for statement in (
        "UPDATE message SET state = 'done'",
        'INSERT INTO "user" (username, password_hash, role, active, must_change_password, '
        "created_at) VALUES ('x', 'h', 'owner', true, false, CURRENT_TIMESTAMP)",
    ):
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(text(statement))
    with Session(engine) as session:
        assert session.exec(select(Message)).one().state is MessageState.PROCESSED
        assert session.exec(select(User)).all() == []


def test_the_code_reads_members_and_refuses_unknown_text_before_writing(engine):
    with session_scope(engine) as session:
        session.add(User(username="ann", password_hash="h", role="supervisor"))
    with Session(engine) as session:
        ann = session.exec(select(User)).one()
        assert ann.role is Role.SUPERVISOR and ann.role == "supervisor"
        assert f"{ann.role}" == "supervisor"
    refused = pytest.raises(StatementError, match="'owner' is not a valid Role")
    with refused, session_scope(engine) as session:
        session.add(User(username="bob", password_hash="h", role="owner"))
    with Session(engine) as session:
        assert session.exec(select(Draft).where(Draft.status == DraftStatus.SENT)).all() == []


def test_the_checks_come_off_and_back_on_again(sqlite_url):
    config = alembic_config(sqlite_url)
    command.downgrade(config, "0014_security")
    engine = make_engine(sqlite_url)
    assert all(not names for names in checks_in_database(engine).values())
    command.upgrade(config, "heads")
    assert checks_in_database(engine) == checks_in_models()
    engine.dispose()
