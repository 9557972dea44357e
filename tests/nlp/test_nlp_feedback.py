"""Review-queue corrections are read as training labels from SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import make_url
from sqlmodel import Session

from db.engine import make_engine
from db.models import Feedback
from nlp.feedback import load_feedback
from tests.support import fresh_postgres_database, migrated_sqlite, postgres_available

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
CORRECTIONS = [
    ("那超商取貨付款呢？", "type", "question", 0),
    ("小編回覆超快，給你們一個讚", "type", "troll", 1),
    ("小編回覆超快，給你們一個讚", "type", "advocate", 2),  # the later one wins
    ("退款到底什麼時候會到", "subtype", "angry", 3),
    ("退款到底什麼時候會到", "suggestion", "no", 4),
    ("隨便一句話", "stage", "relationship", 5),  # not a field the heads learn
    ("another line", "type", "spam", 6),  # not a label: skipped
]


def _store(url: str) -> None:
    engine = make_engine(url)
    with Session(engine) as session:
        for text, field, value, minutes in CORRECTIONS:
            session.add(
                Feedback(
                    text=text, field=field, value=value, created_at=T0 + timedelta(minutes=minutes)
                )
            )
        session.commit()
    engine.dispose()


EXPECTED = [
    {"text": "那超商取貨付款呢？", "field": "type", "value": "question"},
    {"text": "小編回覆超快，給你們一個讚", "field": "type", "value": "advocate"},
    {"text": "退款到底什麼時候會到", "field": "subtype", "value": "angry"},
    {"text": "退款到底什麼時候會到", "field": "suggestion", "value": False},
]


def test_corrections_are_read_from_sqlite(tmp_path):
    url = migrated_sqlite(tmp_path / "replyline.db")
    _store(url)
    assert load_feedback(url) == EXPECTED


def test_corrections_are_read_from_postgresql_with_the_url_users_write():
    reason = postgres_available()
    if reason:
        pytest.skip(reason)
    with fresh_postgres_database(migrated=True) as url:
        _store(url)
        # the URL as users write it, without a driver name
        plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        assert plain.startswith("postgresql://")
        assert load_feedback(plain) == EXPECTED
