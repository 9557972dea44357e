"""Group commit: concurrent webhook requests share transactions, yet each is answered only
once its own events are durable, with its own results; a bad request spoils no other."""

import threading
from datetime import datetime

import pytest
from sqlalchemy import event
from sqlmodel import Session, select

from bot.pipeline.ingest import store_events
from db.models import Message
from handlers.base import InboundEvent


def ev(event_id, user="u1", **kw):
    return InboundEvent(
        channel="web", event_id=event_id, chat_id=user, user_id=user, text="hi", **kw
    )


def concurrently(calls):
    results, errors = {}, {}
    barrier = threading.Barrier(len(calls))

    def run(key, fn):
        barrier.wait()
        try:
            results[key] = fn()
        except Exception as error:  # noqa: BLE001 (collected for the assertions)
            errors[key] = error

    threads = [threading.Thread(target=run, args=item) for item in calls.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results, errors


def test_concurrent_requests_share_commits_and_each_gets_its_own_answer(engine):
    commits = []
    event.listen(engine, "commit", lambda connection: commits.append(1))
    calls = {
        i: (lambda i=i: store_events(engine, [ev(f"e{i}", user=f"u{i % 5}"), ev(f"e{i}b")]))
        for i in range(40)
    }
    calls["again"] = lambda: store_events(engine, [ev("e0")])  # a redelivery among them
    results, errors = concurrently(calls)
    assert not errors
    with Session(engine) as session:
        stored = {m.platform_event_id: m.id for m in session.exec(select(Message))}
    assert len(stored) == 80
    for i in range(40):
        first, second = results[i]
        assert (first.event_id, first.message_id) == (f"e{i}", stored[f"e{i}"])
        assert second.message_id == stored[f"e{i}b"]
    assert results["again"][0].message_id == stored["e0"]
    assert sum(not s.duplicate for r in results.values() for s in r) == 80
    assert len(commits) < 41, "no request shared a commit"


def test_a_request_that_cannot_be_stored_fails_alone(engine):
    naive = datetime(2026, 1, 1)  # refused by the storage layer
    calls = {i: (lambda i=i: store_events(engine, [ev(f"ok{i}")])) for i in range(10)}
    calls["bad"] = lambda: store_events(engine, [ev("bad", sent_at=naive)])
    results, errors = concurrently(calls)
    assert set(errors) == {"bad"}
    with pytest.raises(Exception, match="naive datetime"):
        raise errors["bad"]
    with Session(engine) as session:
        ids = {m.platform_event_id for m in session.exec(select(Message))}
    assert ids == {f"ok{i}" for i in range(10)}


def test_on_sqlite_a_failed_write_lets_the_next_writer_in(sqlite_url):
    from db.engine import make_engine, session_scope
    from db.models import AppMeta

    engine = make_engine(sqlite_url)
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        session.add(AppMeta(key="a", value="1"))
        session.flush()  # holds SQLite's write lock and the process's writer queue
        raise RuntimeError("the request failed midway")
    results, errors = concurrently(
        {i: (lambda i=i: store_events(engine, [ev(f"after{i}")])) for i in range(3)}
    )
    assert not errors and len(results) == 3
    engine.dispose()
