"""Crisis detection with several processes on one PostgreSQL database: a spike whose messages
are processed half by one process and half by another is detected as if one process had seen
it all, and a crisis seen by two processes at the same moment opens one incident."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from bot.config import Settings
from bot.crisis.signals import Signal
from bot.pipeline.ingest import store_events
from bot.services import Services
from db.models import CrisisFeed, Incident, IncidentMessage
from db.types import utcnow
from handlers.base import InboundEvent
from tests.support import fresh_postgres_database, migrated_sqlite, postgres_available


@pytest.fixture
def urls(tmp_path):
    """Makes a fresh database of the kind asked for ("sqlite" or "postgresql")."""
    with contextlib.ExitStack() as stack:

        def make(kind: str) -> str:
            if kind == "sqlite":
                return migrated_sqlite(tmp_path / "replyline.db")
            if reason := postgres_available():
                pytest.skip(reason)
            return stack.enter_context(fresh_postgres_database(migrated=True))

        yield make


@pytest.fixture
def processes(classifier):
    """Build `replyline` processes (their Services) on one database; closed afterwards."""
    built: list[Services] = []

    def make(url: str, count: int) -> list[Services]:
        settings = Settings(
            database={"url": url}, web={"secret_key": "test-secret-key"}, _env_file=None
        )
        for _ in range(count):
            built.append(Services.build(settings, classifier=lambda: classifier))
        return built[-count:]

    yield make
    for services in built:
        services.crisis.close()
        services.engine.dispose()


def complaint(i: int, at) -> InboundEvent:
    return InboundEvent(
        channel="web", event_id=f"c{i}", chat_id=f"u{i}", user_id=f"u{i}",
        text=f"complaint: 付款被扣兩次了 {i}", sent_at=at,
    )  # fmt: skip


def incidents_in(services: Services) -> list[Incident]:
    with Session(services.engine) as session:
        return list(session.exec(select(Incident)).all())


@pytest.mark.parametrize("database, count", [("sqlite", 1), ("postgresql", 1), ("postgresql", 2)])
def test_a_spike_split_over_processes_opens_exactly_one_incident(urls, processes, database, count):
    group = processes(urls(database), count)
    start = utcnow()
    clock = [start - timedelta(minutes=5)]
    for services in group:  # every process is running (has learned the history) before it
        services.crisis.clock = lambda: clock[0]
        services.crisis.tick()
    clock[0] = start
    # six people complain within four minutes (a quiet brand: about one complaint an hour),
    # their messages processed by the processes in turn, each message by exactly one
    for i in range(6):
        services = group[i % count]
        sent = start - timedelta(minutes=4) + timedelta(seconds=36 * i)
        store_events(services.engine, [complaint(i, sent)])
        asyncio.run(services.worker.run_until_idle())
    assert not incidents_in(group[0])  # not yet: a spike must hold for half a minute

    for step in range(1, 7):  # the workers' idle rounds, every ten seconds for a minute
        clock[0] = start + timedelta(seconds=10 * step)
        for services in group:
            services.crisis.tick()

    [incident] = incidents_in(group[0])
    # a spike in volume or six people on one story: either way one incident, all six in it
    assert {"volume", "story"} & set(incident.kinds) and incident.channels == ["web"]
    with Session(group[0].engine) as session:
        linked = session.exec(
            select(IncidentMessage.message_id).where(IncidentMessage.incident_id == incident.id)
        ).all()
        assert len(set(linked)) == 6  # the evidence holds both processes' messages
        assert not session.exec(select(CrisisFeed)).all()  # every message was read, once
    leaders = [s for s in group if s.crisis.leader and s.crisis.leader.leading]
    assert len(leaders) == (1 if database == "postgresql" else 0)


def spike_signal(ids: list[int]) -> Signal:
    return Signal(
        kind="volume",
        key="volume:complaint:web:5",
        at=utcnow(),
        severity=5,
        title="Spike in complaints on web",
        explanation=f"{len(ids)} complaints from different people on web in the last 5 minutes.",
        channels=["web"],
        message_ids=ids,
        figures={"metric": "complaint", "count": len(ids), "expected": 0.3},
    )


def test_two_processes_recording_the_same_crisis_at_once_open_one_incident(urls, processes):
    first, second = processes(urls("postgresql"), 2)
    start = utcnow()
    ids = [
        s.message_id
        for s in store_events(
            first.engine, [complaint(i, start - timedelta(minutes=i)) for i in range(6)]
        )
    ]
    asyncio.run(first.worker.run_until_idle())
    gate = threading.Barrier(4)
    recorded = []

    def record(services: Services, evidence: list[int]) -> None:
        gate.wait(timeout=30)
        recorded.extend(services.crisis.handle([spike_signal(evidence)]))

    # two threads in each process, each with part of the evidence, all at the same moment
    threads = [
        threading.Thread(target=record, args=(services, ids[i : i + 5]))
        for i, services in enumerate((first, second, first, second))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(recorded) == 4
    assert [r.opened for r in recorded].count(True) == 1
    assert len(incidents_in(first)) == 1


def test_when_the_leading_process_goes_the_next_one_counts_what_it_had_read(urls, processes):
    first, second = processes(urls("postgresql"), 2)
    start = utcnow()
    clock = [start - timedelta(minutes=5)]
    for services in (first, second):
        services.crisis.clock = lambda: clock[0]
        services.crisis.tick()
    assert first.crisis.leader.leading and not second.crisis.leader.leading

    def arrive(i: int, services: Services) -> None:
        sent = start - timedelta(minutes=4) + timedelta(seconds=36 * i)
        store_events(services.engine, [complaint(i, sent)])
        asyncio.run(services.worker.run_until_idle())

    clock[0] = start - timedelta(seconds=30)
    for i in range(3):
        arrive(i, (first, second)[i % 2])
    clock[0] = start
    first.crisis.tick()  # the leader reads the feed: three complaints
    assert len(first.crisis.detector.window) == 3
    first.crisis.close()  # and goes away; one more complaint arrives before anyone leads
    arrive(3, first)
    clock[0] = start + timedelta(seconds=10)
    second.crisis.tick()  # takes the lead: learns the four from the history, none twice
    assert second.crisis.leader.leading and len(second.crisis.detector.window) == 4
    for i in (4, 5):  # the rest come through the feed, whichever process processes them
        arrive(i, (first, second)[i % 2])
    for step in range(2, 8):
        clock[0] = start + timedelta(seconds=10 * step)
        for services in (first, second):
            services.crisis.tick()
    assert not first.crisis.leader.leading
    assert sorted(o.message_id for o in second.crisis.detector.window) == [1, 2, 3, 4, 5, 6]
    [incident] = incidents_in(second)
    assert {"volume", "story"} & set(incident.kinds)
