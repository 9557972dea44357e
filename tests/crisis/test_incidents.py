"""Incidents: a signal opens one with its explanation and messages, later signals about the same
story join it, people move it open → acknowledged → resolved, and every reply to a message in
an open incident is a holding statement a supervisor must approve."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from bot.crisis import incidents
from bot.crisis.signals import Signal
from bot.errors import DomainError
from bot.pipeline.ingest import store_events
from bot.review.decisions import approve
from bot.web.errors import http_status
from bot.web.security import hash_password
from db.engine import session_scope
from db.models import Draft, Incident, IncidentMessage, IncidentNote, Message, User
from db.types import utcnow
from handlers.base import InboundEvent


def ev(event_id, text, user="u1", channel="web", at=None):
    return InboundEvent(
        channel=channel, event_id=event_id, chat_id=user, user_id=user, text=text,
        sent_at=at or utcnow(),
    )  # fmt: skip


def drain(services):
    asyncio.run(services.worker.run_until_idle())


def stored(services, *events) -> list[int]:
    ids = [s.message_id for s in store_events(services.engine, list(events))]
    drain(services)
    return ids


def spike(ids, channel="web", severity=5, metric="complaint") -> Signal:
    return Signal(
        kind="volume",
        key=f"volume:{metric}:{channel}:5",
        at=utcnow(),
        severity=severity,
        title=f"Spike in complaints on {channel}",
        explanation=f"{len(ids)} complaints from different people on {channel} in the last 5 "
        "minutes, where about 0.3 is normal at this hour and weekday (20.0×).",
        channels=[channel],
        message_ids=list(ids),
        figures={"metric": metric, "count": len(ids), "expected": 0.3},
    )


@pytest.fixture
def people(services):
    with session_scope(services.engine) as session:
        boss = User(username="boss", password_hash=hash_password("x" * 12), role="supervisor",
                    telegram_user_id="900")  # fmt: skip
        mei = User(username="mei", password_hash=hash_password("x" * 12), role="agent")
        session.add(boss)
        session.add(mei)
    with Session(services.engine) as session:
        return {u.username: u for u in session.exec(select(User)).all()}


def test_a_legal_threat_through_the_pipeline_opens_an_incident_with_holding_statements(services):
    [message_id] = stored(services, ev("1", "complaint: 你們再不退款我就提告"))
    with Session(services.engine) as session:
        incident = session.exec(select(Incident)).one()
        linked = session.exec(select(IncidentMessage.message_id)).all()
        drafts = session.exec(select(Draft).where(Draft.message_id == message_id)).all()
    assert incident.status == "open" and incident.kinds == ["severity"]
    assert incident.severity >= 6 and "legal threat" in incident.title
    assert "提告" in incident.explanation and "Examples:" in incident.explanation
    assert list(linked) == [message_id]
    live = [d for d in drafts if d.status == "pending"]
    assert live and all(d.required_role == "supervisor" for d in live)
    assert all(d.playbook.startswith("crisis/legal") for d in live)
    assert not [d for d in drafts if d.status == "pending" and d.playbook.startswith("complaint")]


def test_a_spike_opens_once_and_later_signals_about_it_join_with_rising_severity(services):
    ids = stored(
        services, *[ev(f"c{i}", f"complaint: 付款被扣兩次 {i}", user=f"u{i}") for i in range(6)]
    )
    [first] = services.crisis.handle([spike(ids[:5])])
    assert first.opened
    # every pending reply to those messages is now a holding statement for a supervisor
    with Session(services.engine) as session:
        pending = session.exec(
            select(Draft).where(Draft.message_id.in_(ids[:5]), Draft.status == "pending")
        ).all()
        superseded = session.exec(
            select(Draft).where(Draft.message_id.in_(ids[:5]), Draft.status == "superseded")
        ).all()
    assert pending and all(d.required_role == "supervisor" for d in pending)
    assert superseded and all("crisis playbook" in d.reason for d in superseded)
    assert all(d.playbook.startswith("crisis/") for d in pending)
    assert {d.message_id for d in pending} == set(ids[:5])
    ranks = [(d.message_id, d.rank) for d in pending + superseded]
    assert len(set(ranks)) == len(ranks)  # the holding statements come after the old drafts

    # the same spike on the negative-message series, with one more message: it joins
    later = spike(ids, metric="negative", severity=6)
    later.kind, later.key = "share", "share:web:30"
    [joined] = services.crisis.handle([later])
    assert not joined.opened and joined.incident.id == first.incident.id
    assert joined.severity_rose and joined.incident.severity == 7  # corroborated by another kind
    assert joined.new_message_ids == [ids[5]]
    with Session(services.engine) as session:
        assert len(session.exec(select(Incident)).all()) == 1
        assert len(session.exec(select(IncidentMessage)).all()) == 6


def test_an_unrelated_severe_message_opens_its_own_incident(services):
    ids = stored(services, *[ev(f"c{i}", f"complaint: late {i}", user=f"u{i}") for i in range(5)])
    services.crisis.handle([spike(ids, channel="web")])
    stored(services, ev("x", "complaint: 我吃了你們的便當食物中毒", user="other", channel="line"))
    with Session(services.engine) as session:
        found = session.exec(select(Incident).order_by(Incident.id)).all()
    assert [i.kinds for i in found] == [["volume"], ["severity"]]


def test_a_new_message_in_an_open_incident_gets_the_crisis_playbook_and_joins_it(services):
    ids = stored(
        services, *[ev(f"c{i}", f"complaint: 扣款兩次 {i}", user=f"u{i}") for i in range(5)]
    )
    [recorded] = services.crisis.handle([spike(ids)])
    opened = recorded.incident
    [angry, happy] = stored(
        services,
        ev("n1", "complaint: 我也被扣了兩次", user="new1"),
        ev("n2", "advocate: 你們的咖啡真好喝", user="new2"),
    )
    with Session(services.engine) as session:
        members = set(
            session.exec(
                select(IncidentMessage.message_id).where(IncidentMessage.incident_id == opened.id)
            ).all()
        )
        angry_drafts = session.exec(select(Draft).where(Draft.message_id == angry)).all()
        happy_drafts = session.exec(select(Draft).where(Draft.message_id == happy)).all()
    assert angry in members and happy not in members
    assert angry_drafts and all(d.required_role == "supervisor" for d in angry_drafts)
    assert all(d.playbook == "crisis/default" for d in angry_drafts)
    assert happy_drafts and all(d.playbook.startswith("advocate/") for d in happy_drafts)


def test_holding_statements_wait_for_a_supervisor(services, people):
    [message_id] = stored(services, ev("1", "complaint: 我要找記者爆料"))
    with Session(services.engine) as session:
        draft = session.exec(
            select(Draft).where(Draft.message_id == message_id, Draft.status == "pending")
        ).first()
    with pytest.raises(DomainError) as refused, session_scope(services.engine) as session:
        approve(session, draft.id, people["mei"])
    assert http_status(refused.value) == 403
    with session_scope(services.engine) as session:
        assert approve(session, draft.id, people["boss"]).status == "approved"


def test_open_acknowledged_resolved_with_notes_and_only_by_a_supervisor(services, people):
    stored(services, ev("1", "complaint: 你們再不退款我就提告"))
    with Session(services.engine) as session:
        incident_id = session.exec(select(Incident.id)).one()

    with pytest.raises(DomainError) as refused, session_scope(services.engine) as s:
        incidents.acknowledge(s, incident_id, people["mei"])
    assert http_status(refused.value) == 403
    with session_scope(services.engine) as session:
        incidents.acknowledge(session, incident_id, people["boss"], note="calling the customer")
    with (
        pytest.raises(DomainError, match="already acknowledged by boss"),
        session_scope(services.engine) as session,
    ):
        incidents.acknowledge(session, incident_id, people["boss"])
    with session_scope(services.engine) as session:
        incidents.add_note(session, incident_id, people["boss"], "legal team informed")
    with pytest.raises(DomainError) as empty, session_scope(services.engine) as s:
        incidents.resolve(s, incident_id, people["boss"], note="  ")
    assert http_status(empty.value) == 422
    with session_scope(services.engine) as session:
        incidents.resolve(session, incident_id, people["boss"], note="refunded and apologised")

    with Session(services.engine) as session:
        incident = session.get(Incident, incident_id)
        notes = session.exec(select(IncidentNote).order_by(IncidentNote.id)).all()
    assert incident.status == "resolved" and incident.resolved_by == "boss"
    assert incident.acknowledged_at <= incident.resolved_at
    assert [(n.action, n.text) for n in notes] == [
        ("acknowledge", "calling the customer"),
        ("note", "legal team informed"),
        ("resolve", "refunded and apologised"),
    ]


def test_the_tail_of_a_resolved_incident_does_not_open_a_new_one(services, people):
    ids = stored(services, *[ev(f"c{i}", f"complaint: 斷貨 {i}", user=f"u{i}") for i in range(5)])
    [recorded] = services.crisis.handle([spike(ids)])
    opened = recorded.incident
    with session_scope(services.engine) as session:
        incidents.resolve(session, opened.id, people["boss"], note="restocked")
    assert services.crisis.handle([spike(ids)]) == []
    more = stored(
        services, *[ev(f"d{i}", f"complaint: 又斷貨 {i}", user=f"v{i}") for i in range(5)]
    )
    [again] = services.crisis.handle([spike(more)])
    assert again.opened and again.incident.id != opened.id


def test_an_incident_lists_its_messages_in_time_order(services):
    now = utcnow()
    ids = stored(
        services,
        *[ev(f"c{i}", f"complaint: {i}", user=f"u{i}", at=now - timedelta(minutes=5 - i))
          for i in range(5)],
    )  # fmt: skip
    [recorded] = services.crisis.handle([spike(list(reversed(ids)))])
    incident = recorded.incident
    with Session(services.engine) as session:
        listed = incidents.messages_of(session, incident.id)
    assert [m.id for m in listed] == ids
    assert all(isinstance(m, Message) for m in listed)
